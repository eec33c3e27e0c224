use sea_orm::entity::prelude::*;

use crate::domain::crypto::Sealed;

/// A security incident under investigation (45 CFR 164.308(a)(6)). Sealed under its own data
/// key: the title, the four-factor assessment and the HHS report can describe what happened.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incident")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub data_key_id: Uuid,
    pub title: Sealed,
    /// open | closed
    pub status: String,
    pub opened_by: Uuid,
    pub opened_at: DateTimeUtc,
    /// The workforce member whose activity is investigated.
    pub subject_user_id: Option<Uuid>,
    pub window_start: Option<DateTimeUtc>,
    pub window_end: Option<DateTimeUtc>,
    /// The day the breach was discovered (164.404(a)(2)); the deadlines count from it.
    pub discovered_at: Date,
    /// JSON of the four factors and the keys answer.
    pub assessment: Option<Sealed>,
    /// not-a-breach | low-probability | breach
    pub decision: Option<String>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTimeUtc>,
    /// JSON of the HHS breach report's answers.
    pub hhs_report: Option<Sealed>,
    pub closed_at: Option<DateTimeUtc>,
    pub closed_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
