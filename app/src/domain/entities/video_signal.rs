use sea_orm::entity::prelude::*;

use crate::domain::crypto::Sealed;

/// One signaling message of a video visit, in commit order by `seq`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "video_signal")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// Binds the sealed payload to its row.
    pub id: Uuid,
    pub appointment_id: Uuid,
    pub sender_id: Uuid,
    /// The browser connection that sent it, so it is not echoed back to that connection.
    pub connection_id: Uuid,
    pub kind: String,
    /// The patient's data key.
    pub data_key_id: Uuid,
    /// SDP or an ICE candidate: network addresses, sealed.
    pub payload: Option<Sealed>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
