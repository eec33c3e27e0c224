//! Detector rules: each one a query over a window of the audit log that names what it found as
//! [`NewAlert`]s. The runner (`monitoring::runner`) holds the cluster-wide lease, tells each rule
//! which audit rows are new since its last run, and raises what it returns; dedup keys make a
//! finding seen again (by a later run, or by another node) a no-op.

// h5: sign-in, privilege and break-glass rules.
pub mod break_glass_frequent;
pub mod break_glass_unreviewed;
mod bursts;
pub mod privilege_change;
pub mod sign_in_failures_account;
pub mod sign_in_failures_address;
pub mod sign_in_spray;
mod window_rows;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;

use super::{NewAlert, Severity};
use crate::domain::Error;

/// A rule's tunable settings (`[monitoring.rules.<name>]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSettings {
    pub enabled: bool,
    /// The count at which the rule fires (distinct patients, failures, declarations...).
    pub threshold: i64,
    /// How far back one finding looks.
    pub window: Duration,
    pub severity: Severity,
    /// At this count the finding is critical: the account is disabled automatically. None: never.
    pub critical_at: Option<i64>,
}

/// What one run of one rule looks at.
#[derive(Clone, Debug)]
pub struct Scan {
    /// Audit rows with `seq > after_seq` are new to this rule.
    pub after_seq: i64,
    /// The last committed row this run considers (rows after it wait for the next run).
    pub up_to_seq: i64,
    pub now: DateTime<Utc>,
    pub settings: RuleSettings,
}

#[async_trait]
pub trait Rule: Send + Sync {
    /// Stable name: the alert's `kind`, the settings key, the `monitor_state` row.
    fn name(&self) -> &'static str;

    /// The findings among the rows new to this run (a finding may look back `settings.window`
    /// before `after_seq` for context, but is only raised when a new row completes it).
    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error>;
}
