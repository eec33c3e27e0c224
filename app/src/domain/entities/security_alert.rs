use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "security_alert")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    /// The record the alert is about, e.g. a break-glass declaration.
    pub subject_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    /// open | closed
    pub status: String,
    pub closed_by: Option<Uuid>,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
