//! A workforce member's identity for the self-access detector (`monitoring::rules::self_access`):
//! the blind indexes of their surname and home address, and the id of their own patient record
//! if they are a patient here too. The plaintext is indexed and dropped here; it is never stored,
//! logged or returned.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::{UserRepo, entry};
use crate::domain::Error;
use crate::domain::audit::{Action, AuditContext, Outcome, Role};
use crate::domain::crypto::BlindIndexer;
use crate::domain::entities::{app_user, patient};
use crate::domain::ids::{PatientId, UserId};
use crate::domain::monitoring::rules::self_access::{address_index, family_index};
use crate::error::FieldError;

/// What an admin types for one workforce member. All of surname, address line and postal code,
/// or none of them (which clears the indexes).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WorkforceIdentity {
    pub family_name: Option<String>,
    pub address_line1: Option<String>,
    pub postal_code: Option<String>,
    pub own_patient_id: Option<PatientId>,
}

impl std::fmt::Debug for WorkforceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names and addresses never reach a log line.
        f.debug_struct("WorkforceIdentity").field("own_patient_id", &self.own_patient_id).finish_non_exhaustive()
    }
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl WorkforceIdentity {
    fn validate(&self) -> Result<(), Error> {
        let mut errors = Vec::new();
        let parts = [
            ("family_name", given(&self.family_name), 100),
            ("address_line1", given(&self.address_line1), 200),
            ("postal_code", given(&self.postal_code), 20),
        ];
        let present = parts.iter().filter(|(_, v, _)| v.is_some()).count();
        for (field, value, max) in parts {
            match value {
                Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => errors.push(FieldError {
                    field: field.to_owned(),
                    message: format!("must be at most {max} characters, without control characters"),
                }),
                None if present > 0 => errors.push(FieldError {
                    field: field.to_owned(),
                    message: "give surname, address line and postal code together (or none)".to_owned(),
                }),
                _ => {}
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
    }
}

impl UserRepo {
    /// Stores the blind indexes of `identity` (and its own-patient link) on the workforce
    /// account `user`. Admin only; audited in the same transaction.
    #[tracing::instrument(skip_all, fields(user_id = %user))]
    pub async fn set_workforce_identity(
        &self,
        ctx: &AuditContext,
        user: UserId,
        identity: WorkforceIdentity,
    ) -> Result<(), Error> {
        let decision = self.authorize(ctx, Action::WorkforceIdentitySet, Some(user)).await?;
        identity.validate()?;
        let indexer = BlindIndexer::new(self.keys.provider().as_ref());
        let family = given(&identity.family_name).map(|f| family_index(&indexer, f));
        let address = match (given(&identity.address_line1), given(&identity.postal_code)) {
            (Some(line1), Some(postal)) => Some(address_index(&indexer, line1, postal)),
            _ => None,
        };
        let txn = self.db.begin().await?;
        let account = app_user::Entity::find_by_id(user.0).one(&txn).await?.ok_or(Error::NotFound)?;
        if Role::parse_user_role(&account.role).is_none_or(|r| r == Role::Patient) {
            return Err(Error::validation("user", "only workforce accounts have a workforce identity"));
        }
        if let Some(own) = identity.own_patient_id
            && patient::Entity::find_by_id(own.0).one(&txn).await?.is_none()
        {
            return Err(Error::validation("own_patient_id", "no patient has this id"));
        }
        app_user::Entity::update_many()
            .col_expr(app_user::Column::FamilyNameBidx, Expr::value(family))
            .col_expr(app_user::Column::AddressBidx, Expr::value(address))
            .col_expr(app_user::Column::OwnPatientId, Expr::value(identity.own_patient_id.map(|p| p.0)))
            .col_expr(app_user::Column::UpdatedAt, Expr::value(self.clock.now()))
            .col_expr(app_user::Column::UpdatedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .filter(app_user::Column::Id.eq(user.0))
            .exec(&txn)
            .await?;
        self.audit
            .append(
                &txn,
                ctx,
                entry(Action::WorkforceIdentitySet, user, identity.own_patient_id, Outcome::Allowed, decision.rule),
            )
            .await?;
        txn.commit().await?;
        Ok(())
    }
}
