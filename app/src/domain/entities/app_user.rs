use sea_orm::entity::prelude::*;

use crate::domain::crypto::Sealed;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "app_user")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub role: String,
    pub data_key_id: Uuid,
    /// A patient user's name is PHI, so every display name is sealed.
    pub display_name: Sealed,
    pub patient_id: Option<Uuid>,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub created_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
    pub updated_by: Option<Uuid>,
    /// Where the account's enrollment links are emailed: sealed like the display name.
    pub email: Option<Sealed>,
    /// Blind indexes of a workforce member's surname and home address, for the self-access
    /// detector: compared with the patients' own, never opened.
    pub family_name_bidx: Option<Vec<u8>>,
    pub address_bidx: Option<Vec<u8>>,
    /// A workforce member's own patient record, if they are also a patient here.
    pub own_patient_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
