use sea_orm::entity::prelude::*;

/// An account change under the two-person rule: waiting for a second person (`pending`),
/// decided (`approved`, `refused`), or taken at once with the rule off (`applied`) and then
/// looked at by the security officer (`reviewed`, or `refused` after the fact).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_request")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// invite | enable | reenroll
    pub kind: String,
    pub user_id: Uuid,
    pub target_role: String,
    pub status: String,
    pub requested_by: Option<Uuid>,
    pub requested_at: DateTimeUtc,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
