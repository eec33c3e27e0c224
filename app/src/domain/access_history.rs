//! "Who looked at my record": a patient's own view of the audit log (45 CFR 164.528, an
//! accounting of disclosures, and the right of access). Every row that names the patient, allowed
//! or denied, with who, when, what and why; break-glass shown as such. Reading it is audited too.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use super::Error;
use super::access::Guard;
use super::audit::{Action, AuditContext, AuditLog};
use super::entities::audit_event;
use super::ids::{PatientId, UserId};

const LIMIT: u64 = 500;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRecord {
    pub at: DateTime<Utc>,
    pub actor: Option<UserId>,
    pub actor_role: String,
    pub action: String,
    pub outcome: String,
    pub purpose: Option<String>,
    pub rule: Option<String>,
    pub break_glass: bool,
}

#[derive(Clone)]
pub struct AccessHistory {
    db: DatabaseConnection,
    audit: Arc<AuditLog>,
    guard: Guard,
}

impl std::fmt::Debug for AccessHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessHistory")
    }
}

impl AccessHistory {
    pub fn new(db: DatabaseConnection, audit: Arc<AuditLog>, guard: Guard) -> Self {
        Self { db, audit, guard }
    }

    /// The newest accesses to `patient`'s record, newest first.
    #[tracing::instrument(skip_all, fields(patient_id = %patient, actor_role = ctx.actor.role.as_str()))]
    pub async fn for_patient(&self, ctx: &AuditContext, patient: PatientId) -> Result<Vec<AccessRecord>, Error> {
        let permit = self.guard.check(ctx, Action::AccessLogRead, "access_history", Some(patient)).await?;
        let txn = self.db.begin().await?;
        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::PatientId.eq(patient.0))
            .order_by_desc(audit_event::Column::Seq)
            .limit(LIMIT)
            .all(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.entry(Action::AccessLogRead, "access_history", None)).await?;
        txn.commit().await?;
        Ok(rows
            .into_iter()
            .map(|row| AccessRecord {
                at: row.occurred_at,
                actor: row.actor_user_id.map(UserId),
                break_glass: row.purpose.as_deref() == Some("emergency"),
                actor_role: row.actor_role,
                action: row.action,
                outcome: row.outcome,
                purpose: row.purpose,
                rule: row.rule,
            })
            .collect())
    }
}
