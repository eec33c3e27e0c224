//! Delivering alerts to people and to a SIEM (issue 13, item 3): email to the security
//! officers, a signed webhook (Standard Webhooks), and syslog (RFC 5424) carrying CEF.
//!
//! Two steps, both through the database so that nothing is lost to a restart or a dead node:
//! - Fan-out, under the `alert-delivery` task lease (one node per period): each alert not yet
//!   fanned out gets, in one transaction, one job per channel whose `min_severity` it reaches,
//!   and is marked `fanned_out`. The mark is a conditional update, so two nodes never queue the
//!   same alert twice even if the lease were lost.
//! - The worker claims due jobs under a job lease (`domain::jobs`), sends, and marks them done.
//!   A failure records a PHI-free reason and is retried with exponential backoff (capped; never
//!   dropped). Every attempt is audited (`AlertDeliver`, System actor): a `sending:<channel>` row
//!   before anything leaves (fail closed: no row, no send), then `sent:<channel>` or
//!   `failed:<channel>:<reason>`.
//!
//! What leaves carries ids, counts, times and a link only, never a PHI value.

pub mod cef;
pub mod email;
pub mod syslog;
pub mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use uuid::Uuid;

use super::Severity;
use crate::domain::Error;
use crate::domain::audit::{Action, AuditContext, AuditEntry, AuditLog, Outcome};
use crate::domain::clock::Clock;
use crate::domain::entities::{job, security_alert, security_alert_event, security_alert_patient};
use crate::domain::jobs;
use crate::domain::lease::TaskLease;

/// The task lease of the fan-out (its row is created by the migration).
pub const LEASE: &str = "alert-delivery";

/// Where an alert can go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Webhook,
    Syslog,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Webhook, Channel::Syslog];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
            Channel::Syslog => "syslog",
        }
    }

    /// The `job.kind` of this channel's deliveries.
    pub fn job_kind(self) -> &'static str {
        match self {
            Channel::Email => "alert-email",
            Channel::Webhook => "alert-webhook",
            Channel::Syslog => "alert-syslog",
        }
    }

    pub fn from_job_kind(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.job_kind() == kind)
    }
}

/// Why an attempt failed, as a short kind (`connection`, `timeout`, `http-503`): never a reply's
/// text, which can quote an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure(String);

impl Failure {
    pub fn new(kind: &'static str) -> Self {
        Self(kind.to_owned())
    }

    /// An HTTP status that is not 2xx.
    pub fn status(code: u16) -> Self {
        Self(format!("http-{code}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a delivery says about an alert: ids, counts and times, read from the alert's rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertFacts {
    pub id: Uuid,
    pub rule: String,
    pub severity: Severity,
    pub actor: Option<Uuid>,
    pub patients: Vec<Uuid>,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub observed: Option<i64>,
    pub seqs: Vec<i64>,
    pub created_at: DateTime<Utc>,
    /// `{public_url}/security/alerts/{id}`: where the security officer reads the rest.
    pub link: String,
}

impl AlertFacts {
    pub async fn load(db: &DatabaseConnection, id: Uuid, public_url: &str) -> Result<Self, Error> {
        let row = security_alert::Entity::find_by_id(id).one(db).await?.ok_or(Error::NotFound)?;
        let mut patients: Vec<Uuid> = security_alert_patient::Entity::find()
            .filter(security_alert_patient::Column::AlertId.eq(id))
            .all(db)
            .await?
            .into_iter()
            .map(|p| p.patient_id)
            .collect();
        // Break-glass alerts name their one patient on the alert row only.
        patients.extend(row.patient_id);
        patients.sort_unstable();
        patients.dedup();
        let seqs = security_alert_event::Entity::find()
            .filter(security_alert_event::Column::AlertId.eq(id))
            .order_by_asc(security_alert_event::Column::Seq)
            .all(db)
            .await?
            .into_iter()
            .map(|e| e.seq)
            .collect();
        Ok(Self {
            id,
            severity: Severity::parse(&row.severity).unwrap_or(Severity::Medium),
            rule: row.kind,
            actor: row.user_id,
            patients,
            window_start: row.window_start,
            window_end: row.window_end,
            observed: row.observed,
            seqs,
            created_at: row.created_at,
            link: format!("{}/security/alerts/{id}", public_url.trim_end_matches('/')),
        })
    }
}

/// One configured channel.
#[async_trait]
pub trait Deliver: Send + Sync {
    fn channel(&self) -> Channel;
    /// Alerts below this are not sent here.
    fn min_severity(&self) -> Severity;
    async fn deliver(&self, alert: &AlertFacts) -> Result<(), Failure>;
}

/// Retry delays: `base` after the first failed attempt, doubling, never above `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::seconds(30), cap: Duration::hours(1) }
    }
}

impl Backoff {
    /// The delay after attempt number `attempts` (1 = the first) failed.
    pub fn after(&self, attempts: i32) -> Duration {
        let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let delay = self.base.checked_mul(1 << doublings.min(20)).unwrap_or(self.cap);
        delay.min(self.cap)
    }
}

/// The fan-out and the worker, for every configured channel.
pub struct DeliveryRunner {
    db: DatabaseConnection,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    channels: Vec<Arc<dyn Deliver>>,
    lease: TaskLease,
    /// How long the fan-out lease is held: a little less than the poll period.
    pub fan_out_period: Duration,
    /// How long a claimed job stays this node's.
    pub job_lease: Duration,
    pub backoff: Backoff,
    public_url: String,
}

impl std::fmt::Debug for DeliveryRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let channels: Vec<&str> = self.channels.iter().map(|c| c.channel().as_str()).collect();
        f.debug_struct("DeliveryRunner").field("node", &self.lease.node()).field("channels", &channels).finish()
    }
}

impl DeliveryRunner {
    pub fn new(
        db: DatabaseConnection,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        channels: Vec<Arc<dyn Deliver>>,
        public_url: &str,
    ) -> Self {
        let lease = TaskLease::new(db.clone(), clock.clone(), LEASE);
        Self {
            db,
            audit,
            clock,
            channels,
            lease,
            fan_out_period: Duration::seconds(9),
            job_lease: Duration::minutes(2),
            backoff: Backoff::default(),
            public_url: public_url.to_owned(),
        }
    }

    /// One round: the fan-out if this node takes the period's lease, then every due job.
    /// Returns the number of deliveries that succeeded.
    pub async fn tick(&self) -> Result<u64, Error> {
        if self.lease.acquire(self.fan_out_period).await? {
            self.fan_out().await?;
        }
        self.run_due().await
    }

    /// Queues the jobs of every alert not yet fanned out; returns how many alerts it took.
    pub async fn fan_out(&self) -> Result<u64, Error> {
        let pending = security_alert::Entity::find()
            .filter(security_alert::Column::FannedOut.eq(false))
            .order_by_asc(security_alert::Column::CreatedAt)
            .limit(500)
            .all(&self.db)
            .await?;
        let mut taken = 0;
        for alert in pending {
            let severity = Severity::parse(&alert.severity).unwrap_or(Severity::Medium);
            let now = self.clock.now();
            let txn = self.db.begin().await?;
            let marked = security_alert::Entity::update_many()
                .col_expr(security_alert::Column::FannedOut, Expr::value(true))
                .filter(security_alert::Column::Id.eq(alert.id))
                .filter(security_alert::Column::FannedOut.eq(false))
                .exec(&txn)
                .await?;
            if marked.rows_affected != 1 {
                // Another node took it between the read and the update.
                txn.rollback().await?;
                continue;
            }
            for channel in self.channels.iter().filter(|c| severity >= c.min_severity()) {
                jobs::enqueue(&txn, channel.channel().job_kind(), alert.id, now, now).await?;
            }
            txn.commit().await?;
            tracing::info!(alert_id = %alert.id, rule = %alert.kind, severity = severity.as_str(), "alert fanned out");
            taken += 1;
        }
        Ok(taken)
    }

    /// Runs every due delivery job once; returns how many were delivered.
    pub async fn run_due(&self) -> Result<u64, Error> {
        let kinds: Vec<&str> = self.channels.iter().map(|c| c.channel().job_kind()).collect();
        let mut sent = 0;
        while let Some(job) = jobs::claim(&self.db, &kinds, self.lease.node(), self.job_lease, self.clock.now()).await?
        {
            if self.run(&job).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    async fn run(&self, job: &job::Model) -> Result<bool, Error> {
        let Some(channel) = self.channels.iter().find(|c| Some(c.channel()) == Channel::from_job_kind(&job.kind))
        else {
            return Ok(false);
        };
        let name = channel.channel().as_str();
        let alert = match AlertFacts::load(&self.db, job.subject_id, &self.public_url).await {
            Ok(alert) => alert,
            Err(Error::NotFound) => {
                self.finish(job, None, "done", Some("alert-missing"), None).await?;
                return Ok(false);
            }
            Err(err) => return Err(err),
        };
        let ctx = AuditContext::system("alert-delivery");
        let entry = |outcome, rule: String| AuditEntry {
            action: Action::AlertDeliver,
            resource_type: "security_alert",
            resource_id: Some(alert.id.to_string()),
            patient_id: None,
            outcome,
            rule: Some(rule),
        };
        // Audited before anything leaves: if this row cannot be written, nothing is sent.
        self.audit.record(&self.db, &ctx, entry(Outcome::Allowed, format!("sending:{name}"))).await?;
        match channel.deliver(&alert).await {
            Ok(()) => {
                let row = entry(Outcome::Allowed, format!("sent:{name}"));
                self.finish(job, Some((&ctx, row)), "done", None, None).await?;
                tracing::info!(job_id = %job.id, alert_id = %alert.id, channel = name, "alert delivered");
                Ok(true)
            }
            Err(failure) => {
                let row = entry(Outcome::Error, format!("failed:{name}:{}", failure.as_str()));
                let retry_at = self.clock.now() + self.backoff.after(job.attempts);
                self.finish(job, Some((&ctx, row)), "pending", Some(failure.as_str()), Some(retry_at)).await?;
                tracing::warn!(
                    job_id = %job.id, alert_id = %alert.id, channel = name, failure = failure.as_str(),
                    attempts = job.attempts, "alert not delivered; will retry"
                );
                Ok(false)
            }
        }
    }

    /// Writes the attempt's outcome row and the job's new state in one transaction, and gives
    /// the job up (a pending job runs again at `retry_at`).
    async fn finish(
        &self,
        job: &job::Model,
        audit: Option<(&AuditContext, AuditEntry)>,
        status: &str,
        note: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), Error> {
        let txn = self.db.begin().await?;
        if let Some((ctx, row)) = audit {
            self.audit.append(&txn, ctx, row).await?;
        }
        let mut update = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(status))
            .col_expr(job::Column::LastError, Expr::value(note))
            .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
            .col_expr(job::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None));
        update = match retry_at {
            Some(at) => update.col_expr(job::Column::RunAt, Expr::value(at)),
            None => update.col_expr(job::Column::FinishedAt, Expr::value(self.clock.now())),
        };
        update
            .filter(job::Column::Id.eq(job.id))
            .filter(job::Column::LockedBy.eq(self.lease.node()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_thirty_seconds_then_double_up_to_an_hour() {
        let backoff = Backoff::default();
        let waits: Vec<i64> = (1..=9).map(|n| backoff.after(n).num_seconds()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff.after(1000).num_seconds(), 3600);
    }

    #[test]
    fn every_channel_has_its_own_job_kind() {
        assert_eq!(Channel::from_job_kind("alert-email"), Some(Channel::Email));
        assert_eq!(Channel::from_job_kind("alert-webhook"), Some(Channel::Webhook));
        assert_eq!(Channel::from_job_kind("alert-syslog"), Some(Channel::Syslog));
        assert_eq!(Channel::from_job_kind("appointment_reminder"), None);
    }
}
