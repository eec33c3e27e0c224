use sea_orm::entity::prelude::*;

use crate::domain::crypto::Sealed;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_attachment")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub message_id: Uuid,
    pub file_name: Sealed,
    /// Decided by the server from the file's first bytes: application/pdf, image/png or image/jpeg.
    pub content_type: String,
    pub size_bytes: i64,
    pub data: Sealed,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
