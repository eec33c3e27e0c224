//! The audit log (45 CFR 164.312(b)): every access to PHI, allowed, denied or failed, with who,
//! which patient, what, when, why and from where. Never a PHI value.
//!
//! Rows are appended in the caller's transaction ([`AuditLog::append`]) with a keyed MAC over
//! their content, so the audit row commits or rolls back with the access it records and no
//! global lock is held across commits. [`chain`] links committed rows shortly after, in order,
//! with a keyed hash chain; [`verify`] walks both and names the first row that does not hold.
//! A row with nothing to join commits in a group with the others of that moment
//! ([`group_commit`]), so concurrent audited reads share one disk flush.

pub mod chain;
pub mod checkpoint;
mod context;
mod group_commit;
mod mac;
pub mod query;
pub mod verify;

pub use chain::{AuditChainer, ChainHead};
pub use checkpoint::{Checkpoint, CheckpointSigner};
pub use context::{Action, Actor, AuditContext, Outcome, Purpose, Role};
pub use mac::EventMac;
pub use verify::{Finding, VerifyReport};

use std::sync::Arc;

use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, ConnectionTrait, DatabaseConnection};
use uuid::Uuid;

use crate::domain::Error;
use crate::domain::clock::Clock;
use crate::domain::crypto::KekProvider;
use crate::domain::entities::audit_event;

/// What happened, as the caller knows it. The context adds who, when and from where.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub action: Action,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub outcome: Outcome,
    /// The policy rule that decided, or the reason for an error outcome.
    pub rule: Option<String>,
}

pub struct AuditLog {
    mac: EventMac,
    clock: Arc<dyn Clock>,
    /// Set for the app's own database: rows committed on their own share flushes.
    grouped: Option<group_commit::GroupCommit>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

impl AuditLog {
    pub fn new(provider: Arc<dyn KekProvider>, clock: Arc<dyn Clock>) -> Self {
        Self { mac: EventMac::new(provider), clock, grouped: None }
    }

    /// Rows that [`record`](Self::record) commits on their own go to `db` in groups: those that
    /// arrive while one group is being flushed are inserted together in the next. For the app's
    /// own database, which every `record` call then writes to.
    pub fn with_group_commit(mut self, db: DatabaseConnection) -> Self {
        self.grouped = Some(group_commit::GroupCommit::new(db));
        self
    }

    /// Appends one row, committed on its own: for an event with no other write to join (a
    /// refusal, a read, a send about to happen). Returns once the row is committed. One INSERT
    /// is atomic by itself, so there is no BEGIN and COMMIT around it; with group commit set,
    /// it shares that INSERT and its disk flush with the rows recorded at the same moment.
    pub async fn record(&self, db: &DatabaseConnection, ctx: &AuditContext, entry: AuditEntry) -> Result<(), Error> {
        match &self.grouped {
            Some(group) => group.commit(self.row(ctx, entry, self.clock.now())?).await,
            None => self.append(db, ctx, entry).await,
        }
    }

    /// Appends one row in `conn`'s transaction. An error here must abort the caller's work:
    /// an access that cannot be recorded does not happen.
    pub async fn append<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        entry: AuditEntry,
    ) -> Result<(), Error> {
        self.insert(conn, ctx, entry, self.clock.now()).await.map(|_| ())
    }

    /// Appends one row stamped `at` instead of the clock's now, for synthetic audit streams in
    /// tests (a planted incident days ago). Never in the product: the log's times are its own.
    #[cfg(feature = "test-support")]
    pub async fn append_at<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        entry: AuditEntry,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64, Error> {
        self.insert(conn, ctx, entry, at).await
    }

    /// Builds the row, MACs it and inserts it; its sequence number.
    async fn insert<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        entry: AuditEntry,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<i64, Error> {
        let active = self.row(ctx, entry, at)?;
        let inserted = active.insert(conn).await.map_err(|err| append_failed(err.into()))?;
        Ok(inserted.seq)
    }

    /// The row for `entry`, stamped `at` and MACed, ready to insert.
    fn row(
        &self,
        ctx: &AuditContext,
        entry: AuditEntry,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<audit_event::ActiveModel, Error> {
        let mut row = audit_event::Model {
            seq: 0,
            id: Uuid::now_v7(),
            occurred_at: at,
            actor_user_id: ctx.actor.user_id.map(|id| id.0),
            actor_role: ctx.actor.role.as_str().to_owned(),
            patient_id: entry.patient_id,
            action: entry.action.as_str().to_owned(),
            resource_type: entry.resource_type.to_owned(),
            resource_id: entry.resource_id,
            outcome: entry.outcome.as_str().to_owned(),
            rule: entry.rule,
            purpose: Some(ctx.purpose.as_str().to_owned()),
            justification: ctx.justification.clone(),
            ip: ctx.ip.clone(),
            user_agent: ctx.user_agent.clone(),
            request_id: ctx.request_id.clone(),
            mac: Vec::new(),
            key_version: self.mac.active_version(),
        };
        row.mac = self
            .mac
            .compute(&row)
            .map_err(|err| {
                tracing::error!(error = %err, "audit key is not loaded; the access is refused");
                Error::Internal(anyhow::Error::new(err).context("audit MAC failed"))
            })?
            .to_vec();
        let mut active = audit_event::ActiveModel::from(row).reset_all();
        active.seq = NotSet;
        Ok(active)
    }

    pub fn event_mac(&self) -> &EventMac {
        &self.mac
    }
}

/// The error, logged, for an audit row that was not written: the access it records is refused.
fn append_failed(err: anyhow::Error) -> Error {
    tracing::error!(error = %err, "audit row could not be written; the access is refused");
    Error::Internal(err.context("audit append failed"))
}
