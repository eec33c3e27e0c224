//! The detector run: once per period, on one node of the cluster (the `security-monitor` lease),
//! every enabled rule scans the audit rows committed since its last run and its findings are
//! raised.
//!
//! Progress is per rule (`monitor_state.last_seq`) and moves in the same transaction as the
//! alerts it produced, with a compare-and-set on the old value: a crash before commit re-runs
//! the same rows (and dedup keys make that harmless), never skips them; a second node running
//! at the same moment (a lease that expired mid-run) finds the value moved and raises nothing.
//! Each run is audited as a System row (`monitor.run`) in that transaction too: a run whose audit
//! row cannot be written raises nothing and moves no progress.
//!
//! Only committed rows are scanned. On SQLite rows commit in `seq` order (one writer). On
//! PostgreSQL a transaction holding seq 10 may commit after 11 (the audit chainer has the same
//! problem, see `audit::chain`), so the run stops before the first hole in the sequence that is
//! younger than [`Monitor::settle`]: the row may still commit. An older hole is a transaction
//! that rolled back (sequences never reuse a value) and is passed over.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use uuid::Uuid;

use super::rules::{Rule, RuleSettings, Scan};
use super::{Severity, raise};
use crate::domain::Error;
use crate::domain::audit::{Action, Actor, AuditContext, AuditEntry, AuditLog, Outcome, Purpose};
use crate::domain::clock::Clock;
use crate::domain::entities::{audit_event, monitor_state};
use crate::domain::ids::UserId;
use crate::domain::lease::{SECURITY_MONITOR, TaskLease};

/// An alert a run raised: what the automatic response and delivery need to pick it up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raised {
    pub id: Uuid,
    pub rule: &'static str,
    pub severity: Severity,
    pub actor: Option<UserId>,
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// The last audit row this run considered.
    pub up_to_seq: i64,
    pub rules_run: usize,
    /// Findings the rules returned (including ones raised before, which dedup dropped).
    pub findings: usize,
    pub raised: Vec<Raised>,
}

pub struct Monitor {
    db: DatabaseConnection,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    rules: Vec<(Box<dyn Rule>, RuleSettings)>,
    lease: TaskLease,
    /// How long a hole in the audit sequence may still be a transaction about to commit.
    pub settle: Duration,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.rules.iter().map(|(r, _)| r.name()).collect();
        f.debug_struct("Monitor").field("rules", &names).finish_non_exhaustive()
    }
}

impl Monitor {
    /// A monitor running `rules` with their settings (disabled rules are dropped here).
    pub fn new(
        db: DatabaseConnection,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        rules: Vec<(Box<dyn Rule>, RuleSettings)>,
    ) -> Self {
        let lease = TaskLease::new(db.clone(), clock.clone(), SECURITY_MONITOR);
        let rules = rules.into_iter().filter(|(_, s)| s.enabled).collect();
        Self { db, audit, clock, rules, lease, settle: Duration::seconds(30) }
    }

    /// Every rule of the registry with its default settings.
    pub fn with_defaults(
        db: DatabaseConnection,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        clinic: &super::rules::ClinicContext,
    ) -> Result<Self, Error> {
        let rules = super::rules::registry(clinic)
            .into_iter()
            .map(|rule| {
                let settings = super::rules::default_settings(rule.name())
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("rule {} has no default settings", rule.name())))?;
                Ok((rule, settings))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Self::new(db, audit, clock, rules))
    }

    pub fn rule_names(&self) -> Vec<&'static str> {
        self.rules.iter().map(|(r, _)| r.name()).collect()
    }

    /// One period's run, if this node takes the lease for `period`; None: another node has it.
    pub async fn tick(&self, period: Duration) -> Result<Option<RunReport>, Error> {
        if !self.lease.acquire(period).await? {
            return Ok(None);
        }
        self.run_once(self.clock.now()).await.map(Some)
    }

    /// Runs every enabled rule over the rows committed since its last run, now (no lease: the
    /// caller decides that this node runs).
    #[tracing::instrument(skip_all)]
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<RunReport, Error> {
        let names: Vec<String> = self.rules.iter().map(|(r, _)| r.name().to_owned()).collect();
        if !names.is_empty() {
            // The state rows appear on a rule's first run; a racing node's insert is a no-op.
            monitor_state::Entity::insert_many(names.iter().map(|name| monitor_state::ActiveModel {
                rule: Set(name.clone()),
                last_seq: Set(0),
                last_run_at: Set(None),
            }))
            .on_conflict_do_nothing_on([monitor_state::Column::Rule])
            .exec_without_returning(&self.db)
            .await?;
        }
        let states: Vec<monitor_state::Model> =
            monitor_state::Entity::find().filter(monitor_state::Column::Rule.is_in(names)).all(&self.db).await?;
        let last_of = |name: &str| states.iter().find(|s| s.rule == name).map_or(0, |s| s.last_seq);
        let floor = self.rules.iter().map(|(r, _)| last_of(r.name())).min().unwrap_or(0);
        let up_to = committed_horizon(&self.db, floor, now - self.settle).await?;

        let mut planned = Vec::with_capacity(self.rules.len());
        let mut report = RunReport { up_to_seq: up_to, ..Default::default() };
        for (rule, settings) in &self.rules {
            let after = last_of(rule.name());
            let findings = if after < up_to {
                let scan = Scan { after_seq: after, up_to_seq: up_to, now, settings: settings.clone() };
                rule.scan(&self.db, &scan).await?
            } else {
                Vec::new()
            };
            report.rules_run += 1;
            report.findings += findings.len();
            planned.push((rule.name(), after, findings));
        }

        let txn = self.db.begin().await?;
        let mut raced = 0;
        for (name, after, findings) in planned {
            let next = after.max(up_to);
            let moved = monitor_state::Entity::update_many()
                .col_expr(monitor_state::Column::LastSeq, Expr::value(next))
                .col_expr(monitor_state::Column::LastRunAt, Expr::value(now))
                .filter(monitor_state::Column::Rule.eq(name))
                .filter(monitor_state::Column::LastSeq.eq(after))
                .exec(&txn)
                .await?;
            if moved.rows_affected != 1 {
                // Another node ran this rule over these rows meanwhile: its alerts stand.
                raced += 1;
                continue;
            }
            for alert in findings {
                let (severity, actor) = (alert.severity, alert.actor);
                if let Some(id) = raise(&txn, alert, now).await? {
                    report.raised.push(Raised { id, rule: name, severity, actor });
                }
            }
        }
        let counts = format!(
            "rules={} findings={} raised={} raced={raced} up_to={up_to}",
            report.rules_run,
            report.findings,
            report.raised.len()
        );
        let entry = AuditEntry {
            action: Action::MonitorRun,
            resource_type: "monitor",
            resource_id: Some(up_to.to_string()),
            patient_id: None,
            outcome: Outcome::Allowed,
            rule: Some(counts),
        };
        self.audit.append(&txn, &monitor_context(), entry).await?;
        // A critical finding is answered in the run that raised it (45 CFR 164.308(a)(6)(ii)):
        // the account is disabled and signed out in this transaction, so the alert and the
        // response commit together or not at all.
        for raised in report.raised.iter().filter(|r| r.severity == Severity::Critical) {
            super::response::respond(&txn, &self.audit, raised.id, now).await?;
        }
        txn.commit().await?;
        for raised in &report.raised {
            tracing::warn!(alert_id = %raised.id, rule = raised.rule, severity = raised.severity.as_str(), "security alert raised");
        }
        Ok(report)
    }
}

fn monitor_context() -> AuditContext {
    AuditContext {
        actor: Actor::system(),
        purpose: Purpose::Operations,
        justification: Some("security monitor".to_owned()),
        request_id: None,
        ip: None,
        user_agent: None,
    }
}

#[derive(Debug, FromQueryResult)]
struct Gap {
    gap: i64,
}

/// The highest `seq` such that every row at or below it above `floor` has committed (or rolled
/// back long enough ago, `settled_before`, to be sure it never will).
pub async fn committed_horizon(
    db: &DatabaseConnection,
    floor: i64,
    settled_before: DateTime<Utc>,
) -> Result<i64, Error> {
    let max: Option<i64> = audit_event::Entity::find()
        .select_only()
        .column_as(audit_event::Column::Seq.max(), "max")
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let Some(max) = max else { return Ok(floor) };
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(max);
    }
    let mut from = floor;
    loop {
        // The first seq missing above `from`: a row not committed yet, or rolled back.
        let gap = Gap::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT a.seq + 1 AS gap FROM audit_event a WHERE a.seq >= $1 AND a.seq < $2 \
             AND NOT EXISTS (SELECT 1 FROM audit_event b WHERE b.seq = a.seq + 1) ORDER BY a.seq LIMIT 1",
            [from.into(), max.into()],
        ))
        .one(db)
        .await?;
        let Some(Gap { gap }) = gap else { return Ok(max) };
        // The row after the hole was written after the missing one took its seq.
        let after: Option<(i64, DateTime<Utc>)> = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(gap))
            .order_by_asc(audit_event::Column::Seq)
            .select_only()
            .columns([audit_event::Column::Seq, audit_event::Column::OccurredAt])
            .into_tuple()
            .one(db)
            .await?;
        match after {
            Some((_, at)) if at > settled_before => return Ok(gap - 1),
            Some((seq, _)) => from = seq,
            None => return Ok(gap - 1),
        }
    }
}
