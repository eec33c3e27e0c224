use sea_orm::entity::prelude::*;

/// One 15-minute cell of a clinician's time held by one appointment. The primary key is what
/// refuses a double booking.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "appointment_slot")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub clinician_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot_start: DateTimeUtc,
    pub appointment_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
