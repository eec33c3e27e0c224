use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_key")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub subject_id: Uuid,
    pub kek_id: String,
    pub kek_version: i32,
    /// NULL once destroyed: the data it protected can never be opened again.
    pub wrapped: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
    pub rewrapped_at: Option<DateTimeUtc>,
    pub destroyed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
