use sea_orm::entity::prelude::*;

/// Background work kept in the database, so it survives restarts and is run by one node at a
/// time under a lease. Carries ids only, never PHI.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "job")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub subject_id: Uuid,
    pub run_at: DateTimeUtc,
    /// pending | done | cancelled
    pub status: String,
    pub attempts: i32,
    /// What went wrong last, without PHI (an SMTP status, a kind of failure).
    pub last_error: Option<String>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
