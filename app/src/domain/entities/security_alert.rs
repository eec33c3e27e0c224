use sea_orm::entity::prelude::*;

/// A finding for the security officer: a break-glass declaration, or a detector's rule firing
/// over a window of audit rows. Ids, counts and times only, never a PHI value.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "security_alert")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The rule that raised it (`break_glass`, `bulk-access`, ...).
    pub kind: String,
    /// The actor the alert is about.
    pub user_id: Option<Uuid>,
    /// The one patient concerned, when there is one; `security_alert_patient` lists them all.
    pub patient_id: Option<Uuid>,
    /// The record the alert is about, e.g. a break-glass declaration.
    pub subject_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    /// open | acknowledged | closed
    pub status: String,
    pub closed_by: Option<Uuid>,
    pub closed_at: Option<DateTimeUtc>,
    /// low | medium | high | critical
    pub severity: String,
    /// The audit window the rule looked at.
    pub window_start: Option<DateTimeUtc>,
    pub window_end: Option<DateTimeUtc>,
    /// What the rule measured (distinct patients, failures, ...), against its threshold.
    pub observed: Option<i64>,
    /// Unique: the same finding over the same audit rows is raised once.
    pub dedup_key: Option<String>,
    /// What was done automatically (`account-disabled`).
    pub response: Option<String>,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub incident_id: Option<Uuid>,
    /// Delivery jobs have been queued for it.
    pub fanned_out: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
