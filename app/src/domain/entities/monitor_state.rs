use sea_orm::entity::prelude::*;

/// How far one detector rule has read the audit log.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "monitor_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub rule: String,
    pub last_seq: i64,
    pub last_run_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
