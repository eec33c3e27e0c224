use sea_orm::entity::prelude::*;

/// The waiting room of one video appointment. Ids and times only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "video_session")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub appointment_id: Uuid,
    /// waiting | admitted | ended
    pub state: String,
    pub waiting_since: Option<DateTimeUtc>,
    pub admitted_at: Option<DateTimeUtc>,
    pub admitted_by: Option<Uuid>,
    pub ended_at: Option<DateTimeUtc>,
    pub ended_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
