use sea_orm::entity::prelude::*;

use crate::domain::crypto::Sealed;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "patient")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub data_key_id: Uuid,
    pub given_name: Sealed,
    pub family_name: Sealed,
    pub birth_date: Sealed,
    pub sex: Sealed,
    pub ssn: Option<Sealed>,
    pub mrn: Sealed,
    pub phone: Option<Sealed>,
    pub email: Option<Sealed>,
    pub address: Option<Sealed>,
    pub name_bidx: Vec<u8>,
    pub birth_date_bidx: Vec<u8>,
    pub mrn_bidx: Vec<u8>,
    pub phone_bidx: Option<Vec<u8>>,
    /// For the self-access detector: the surname and the address alone.
    pub family_name_bidx: Option<Vec<u8>>,
    pub address_bidx: Option<Vec<u8>>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
    pub updated_by: Option<Uuid>,
    pub deleted_at: Option<DateTimeUtc>,
    pub deleted_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
