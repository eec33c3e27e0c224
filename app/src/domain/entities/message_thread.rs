use sea_orm::entity::prelude::*;

use crate::domain::crypto::Sealed;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_thread")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub patient_id: Uuid,
    /// The patient's data key: everything in the thread is sealed under it.
    pub data_key_id: Uuid,
    pub subject: Sealed,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub last_message_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
