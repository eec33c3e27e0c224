//! `self-access`: a workforce member opening their own chart, or the chart of someone who shares
//! their surname and home address (a family member), the accesses HIPAA's minimum-necessary
//! rule and every clinic's policy forbid without a care reason.
//!
//! Compared through blind indexes only: `app_user.family_name_bidx` / `address_bidx` (set by an
//! admin, `UserRepo::set_workforce_identity`) against the same indexes of the patient (set on
//! create and update), under the one key of [`SELF_ACCESS_TABLE`]. Neither name nor address is
//! ever opened. `app_user.own_patient_id` names the member's own record.
//!
//! One alert per actor, patient and day; severity high by default; `threshold` is the number of
//! opens that day (default 1). Cost: one range read of the new patient opens by workforce
//! roles, then two lookups by primary key (the actors, the patients).

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::window::{grouped, new_rows};
use super::{PATIENT_OPENS, Rule, RuleSettings, Scan, WORKFORCE};
use crate::domain::Error;
use crate::domain::entities::{app_user, audit_event, patient};
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "self-access";
/// The blind-index "table" both sides are indexed under, so a user's index equals a patient's
/// for the same normalized surname (or address), and equals no other column's index.
pub const SELF_ACCESS_TABLE: &str = "self-access";

pub fn default_settings() -> RuleSettings {
    RuleSettings { enabled: true, threshold: 1, window: Duration::days(1), severity: Severity::High, critical_at: None }
}

type Indexes = (Option<Vec<u8>>, Option<Vec<u8>>);

#[derive(Debug, Default)]
pub struct SelfAccess;

#[async_trait]
impl Rule for SelfAccess {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let condition = Condition::all()
            .add(audit_event::Column::Action.is_in(PATIENT_OPENS))
            .add(audit_event::Column::ActorRole.is_in(WORKFORCE))
            .add(audit_event::Column::Outcome.eq("allowed"))
            .add(audit_event::Column::ActorUserId.is_not_null())
            .add(audit_event::Column::PatientId.is_not_null());
        let rows = new_rows(db, scan, condition).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let actors: HashSet<Uuid> = rows.iter().filter_map(|e| e.actor).collect();
        let members: HashMap<Uuid, (Option<Uuid>, Indexes)> = app_user::Entity::find()
            .filter(app_user::Column::Id.is_in(actors))
            .filter(
                Condition::any()
                    .add(app_user::Column::OwnPatientId.is_not_null())
                    .add(app_user::Column::FamilyNameBidx.is_not_null()),
            )
            .select_only()
            .columns([
                app_user::Column::Id,
                app_user::Column::OwnPatientId,
                app_user::Column::FamilyNameBidx,
                app_user::Column::AddressBidx,
            ])
            .into_tuple::<(Uuid, Option<Uuid>, Option<Vec<u8>>, Option<Vec<u8>>)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(id, own, family, address)| (id, (own, (family, address))))
            .collect();
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let opened: HashSet<Uuid> = rows
            .iter()
            .filter(|e| e.actor.is_some_and(|a| members.contains_key(&a)))
            .filter_map(|e| e.patient)
            .collect();
        let patients: HashMap<Uuid, Indexes> = patient::Entity::find()
            .filter(patient::Column::Id.is_in(opened))
            .select_only()
            .columns([patient::Column::Id, patient::Column::FamilyNameBidx, patient::Column::AddressBidx])
            .into_tuple::<(Uuid, Option<Vec<u8>>, Option<Vec<u8>>)>()
            .all(db)
            .await?
            .into_iter()
            .map(|(id, family, address)| (id, (family, address)))
            .collect();
        let related = |actor: Uuid, patient: Uuid| -> bool {
            let Some((own, (family, address))) = members.get(&actor) else { return false };
            if *own == Some(patient) {
                return true;
            }
            let Some((p_family, p_address)) = patients.get(&patient) else { return false };
            matches!((family, address, p_family, p_address), (Some(f), Some(a), Some(pf), Some(pa)) if f == pf && a == pa)
        };
        Ok(grouped(NAME, scan.settings.severity, scan.settings.threshold, rows, |e| {
            let (actor, patient) = (e.actor?, e.patient?);
            related(actor, patient).then(|| format!("{actor}:{patient}:{}", e.at.date_naive()))
        }))
    }
}

/// The index of a surname, the same for a patient and a workforce member.
pub fn family_index(indexer: &crate::domain::crypto::BlindIndexer, family_name: &str) -> Vec<u8> {
    indexer.index(SELF_ACCESS_TABLE, "family_name", &crate::domain::crypto::normalize_text(family_name))
}

/// The index of a home address: its first line and postal code, normalized (case, spacing).
pub fn address_index(indexer: &crate::domain::crypto::BlindIndexer, line1: &str, postal_code: &str) -> Vec<u8> {
    use crate::domain::crypto::normalize_text;
    let value = format!("{}|{}", normalize_text(line1), normalize_text(postal_code));
    indexer.index(SELF_ACCESS_TABLE, "address", &value)
}
