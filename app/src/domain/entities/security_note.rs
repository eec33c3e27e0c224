use sea_orm::entity::prelude::*;

use crate::domain::crypto::Sealed;

/// A note on an alert or in an incident's investigation log. The body can name what the
/// officer found, so it is sealed (under the author's data key).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "security_note")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub alert_id: Option<Uuid>,
    pub incident_id: Option<Uuid>,
    pub author_id: Uuid,
    pub data_key_id: Uuid,
    pub body: Sealed,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
