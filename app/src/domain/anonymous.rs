//! What anonymous calls may cost: a bounded number of audit rows and session rows per client
//! address and minute, across every node.
//!
//! Every refused anonymous call is still accounted for, exactly: the first
//! [`AUDITED_PER_WINDOW`] (a setting) refusals from one address in one window are audit rows of their own,
//! and each later one only adds one to a counter (`anonymous_budget`, keyed by address, bucket
//! and window, bumped by one upsert so nodes never lose each other's counts). Once the window
//! has closed, one summary row per address, action and rule says how many calls it stands for
//! (`resource_type = "anonymous_calls"`, the count in `resource_id`). The summary is written by
//! whoever comes first: the address's first call of a later window, or the sweep every node
//! runs; claiming the counter (`summarized` false to true) is one conditional update, so exactly
//! one node writes it, in the same transaction. A call that arrives for a window whose summary
//! is already written (a very slow request) is recorded in full instead, so no call is lost.
//!
//! Sign-in and enrollment challenges are kept in a session row; they get a budget of their own
//! ([`SESSIONS_PER_WINDOW`], a setting) so a flood of challenges cannot fill the session table, and a flood
//! of refusals cannot stop people behind the same address from signing in.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, ExprTrait, QueryFilter, Statement, TransactionTrait,
};

use super::Error;
use super::audit::{Action, Actor, AuditContext, AuditEntry, AuditLog, Outcome, Purpose, Role};
use super::clock::Clock;
use super::entities::anonymous_budget;

/// Length of one budget window.
pub const WINDOW_SECONDS: i64 = 60;
/// Anonymous refusals recorded one by one, per address and window, by default; the rest are
/// summarized (`audit.anonymous_rows_per_minute`).
pub const AUDITED_PER_WINDOW: i64 = 20;
/// Anonymous calls that may start a session (a sign-in or enrollment challenge), per address
/// and window, by default; past it the call is answered 429 and no session row is written
/// (`auth.anonymous_challenges_per_minute`).
pub const SESSIONS_PER_WINDOW: i64 = 30;

/// The two budgets, per address and window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub audited: i64,
    pub sessions: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { audited: AUDITED_PER_WINDOW, sessions: SESSIONS_PER_WINDOW }
    }
}
/// Counters are kept this long after their window, then deleted (once summarized).
const KEEP_SECONDS: i64 = 3600;

const REFUSALS: &str = "refusals";
const SESSIONS: &str = "sessions";
const SUPPRESSED: &str = "suppressed|";

/// The budget of anonymous calls; cheap to clone.
#[derive(Clone)]
pub struct AnonymousBudget {
    db: DatabaseConnection,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    limits: Limits,
}

impl std::fmt::Debug for AnonymousBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnonymousBudget")
    }
}

impl AnonymousBudget {
    pub fn new(db: DatabaseConnection, audit: Arc<AuditLog>, clock: Arc<dyn Clock>) -> Self {
        Self { db, audit, clock, limits: Limits::default() }
    }

    pub fn with_limits(self, limits: Limits) -> Self {
        Self { limits, ..self }
    }

    /// Audits an anonymous refusal, in full while the address's budget lasts, else by counting
    /// it toward that window's summary row.
    pub async fn record_refusal(&self, ctx: &AuditContext, entry: AuditEntry) -> Result<(), Error> {
        let address = address_of(ctx);
        let window = window_start(self.clock.now());
        let total = self.bump(&address, REFUSALS, window).await?;
        if total == Some(1) {
            // The address's first refusal of a new window: its closed windows are summarized now.
            self.summarize_closed(Some(&address)).await?;
        }
        if total.is_some_and(|calls| calls > self.limits.audited) {
            let bucket = suppressed_bucket(entry.action, entry.rule.as_deref());
            if self.bump(&address, &bucket, window).await?.is_some() {
                return Ok(());
            }
            // That window's summary is already written: this late call gets a row of its own.
        }
        self.audit.record(&self.db, ctx, entry).await
    }

    /// Whether an anonymous call from `ctx`'s address may write a session row now.
    pub async fn admit_session(&self, ctx: &AuditContext) -> Result<bool, Error> {
        let window = window_start(self.clock.now());
        let calls = self.bump(&address_of(ctx), SESSIONS, window).await?;
        Ok(calls.is_some_and(|calls| calls <= self.limits.sessions))
    }

    /// Writes the summary rows of every closed window (of one address, or of all), then deletes
    /// counters that are no longer needed. Returns how many summary rows were written.
    pub async fn sweep(&self) -> Result<u64, Error> {
        let written = self.summarize_closed(None).await?;
        let old = window_start(self.clock.now()) - KEEP_SECONDS;
        anonymous_budget::Entity::delete_many()
            .filter(anonymous_budget::Column::WindowStart.lt(old))
            .filter(
                anonymous_budget::Column::Summarized
                    .eq(true)
                    .or(anonymous_budget::Column::Bucket.not_like(format!("{SUPPRESSED}%"))),
            )
            .exec(&self.db)
            .await?;
        Ok(written)
    }

    async fn summarize_closed(&self, address: Option<&str>) -> Result<u64, Error> {
        let current = window_start(self.clock.now());
        let mut open = anonymous_budget::Entity::find()
            .filter(anonymous_budget::Column::Summarized.eq(false))
            .filter(anonymous_budget::Column::WindowStart.lt(current))
            .filter(anonymous_budget::Column::Bucket.like(format!("{SUPPRESSED}%")));
        if let Some(address) = address {
            open = open.filter(anonymous_budget::Column::Address.eq(address));
        }
        let mut written = 0;
        for counter in open.all(&self.db).await? {
            if self.summarize(&counter).await? {
                written += 1;
            }
        }
        Ok(written)
    }

    /// Claims one closed counter and writes its summary row in the same transaction; false if
    /// another node claimed it first.
    async fn summarize(&self, counter: &anonymous_budget::Model) -> Result<bool, Error> {
        let key = |select: sea_orm::Select<anonymous_budget::Entity>| {
            select
                .filter(anonymous_budget::Column::Address.eq(counter.address.as_str()))
                .filter(anonymous_budget::Column::Bucket.eq(counter.bucket.as_str()))
                .filter(anonymous_budget::Column::WindowStart.eq(counter.window_start))
        };
        let txn = self.db.begin().await?;
        let claimed = anonymous_budget::Entity::update_many()
            .col_expr(anonymous_budget::Column::Summarized, Expr::value(true))
            .filter(anonymous_budget::Column::Address.eq(counter.address.as_str()))
            .filter(anonymous_budget::Column::Bucket.eq(counter.bucket.as_str()))
            .filter(anonymous_budget::Column::WindowStart.eq(counter.window_start))
            .filter(anonymous_budget::Column::Summarized.eq(false))
            .exec(&txn)
            .await?;
        if claimed.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        // Read after the claim, under its row lock: every later bump sees `summarized` and
        // records its call in full instead, so this count is final.
        let Some(claimed) = key(anonymous_budget::Entity::find()).one(&txn).await? else {
            txn.rollback().await?;
            return Ok(false);
        };
        let (action, rule) = parse_suppressed(&claimed.bucket);
        let Some(action) = action else {
            tracing::warn!(bucket = %claimed.bucket, "anonymous budget counter of an unknown action left unsummarized");
            txn.commit().await?;
            return Ok(false);
        };
        let from = DateTime::<Utc>::from_timestamp(claimed.window_start, 0).unwrap_or_default();
        let ctx = AuditContext {
            actor: Actor { user_id: None, role: Role::Anonymous, patient_id: None },
            purpose: Purpose::Operations,
            justification: Some(format!(
                "{} further anonymous calls from this address in the {WINDOW_SECONDS} s from {}, beyond the first \
                 {} recorded one by one",
                claimed.calls,
                from.format("%Y-%m-%dT%H:%M:%SZ"),
                self.limits.audited,
            )),
            request_id: None,
            ip: (claimed.address != UNKNOWN).then(|| claimed.address.clone()),
            user_agent: None,
        };
        let entry = AuditEntry {
            action,
            resource_type: "anonymous_calls",
            resource_id: Some(claimed.calls.to_string()),
            patient_id: None,
            outcome: Outcome::Denied,
            rule,
        };
        self.audit.append(&txn, &ctx, entry).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Adds one call to a counter; its new count, or None when that window's summary has
    /// already been written.
    async fn bump(&self, address: &str, bucket: &str, window: i64) -> Result<Option<i64>, Error> {
        let backend = self.db.get_database_backend();
        let p = |n: usize| if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() };
        let sql = format!(
            "INSERT INTO anonymous_budget (address, bucket, window_start, calls, summarized) \
             VALUES ({}, {}, {}, 1, {}) \
             ON CONFLICT (address, bucket, window_start) DO UPDATE SET calls = anonymous_budget.calls + 1 \
             WHERE anonymous_budget.summarized = {} \
             RETURNING address, bucket, window_start, calls, summarized",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
        );
        let values: Vec<sea_orm::Value> =
            vec![address.to_owned().into(), bucket.to_owned().into(), window.into(), false.into(), false.into()];
        let row = anonymous_budget::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
            .one(&self.db)
            .await?;
        Ok(row.map(|row| row.calls))
    }
}

const UNKNOWN: &str = "unknown";

fn address_of(ctx: &AuditContext) -> String {
    ctx.ip.clone().unwrap_or_else(|| UNKNOWN.to_owned())
}

fn window_start(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(WINDOW_SECONDS) * WINDOW_SECONDS
}

fn suppressed_bucket(action: Action, rule: Option<&str>) -> String {
    format!("{SUPPRESSED}{}|{}", action.as_str(), rule.unwrap_or_default())
}

fn parse_suppressed(bucket: &str) -> (Option<Action>, Option<String>) {
    let rest = bucket.strip_prefix(SUPPRESSED).unwrap_or(bucket);
    let (action, rule) = rest.split_once('|').unwrap_or((rest, ""));
    let action = Action::ALL.into_iter().find(|candidate| candidate.as_str() == action);
    (action, (!rule.is_empty()).then(|| rule.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_start_on_the_minute() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_default();
        assert_eq!(window_start(at("2026-12-01T09:00:59Z")), 1_796_115_600);
        assert_eq!(window_start(at("2026-12-01T09:01:00Z")), 1_796_115_660);
    }

    #[test]
    fn a_suppressed_bucket_names_its_action_and_rule() {
        let bucket = suppressed_bucket(Action::ChartRead, Some("not-signed-in"));
        assert_eq!(parse_suppressed(&bucket), (Some(Action::ChartRead), Some("not-signed-in".to_owned())));
        assert_eq!(parse_suppressed("suppressed|no.such|x"), (None, Some("x".to_owned())));
    }
}
