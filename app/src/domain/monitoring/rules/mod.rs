//! Detector rules: each one a query over a window of the audit log that names what it found as
//! [`NewAlert`]s. The runner (`monitoring::runner`) holds the cluster-wide lease, tells each rule
//! which audit rows are new since its last run, and raises what it returns; dedup keys make a
//! finding seen again (by a later run, or by another node) a no-op.

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

pub mod after_hours;
pub mod bulk_access;
pub mod large_listing;
pub mod probing;
pub mod self_access;
mod settings;
pub mod unexplained;
pub mod window;

pub use after_hours::WorkingHours;
pub use settings::{RuleOverride, default_settings, resolve};

/// The actions that open one patient's record: what "opening a patient" means to the rules.
pub const PATIENT_OPENS: [&str; 2] = ["patient.read", "chart.read"];

/// The actions that show or change PHI of the patient the row names.
pub const PHI_ACTIONS: [&str; 10] = [
    "patient.read",
    "patient.update",
    "patient.search",
    "patient.list",
    "chart.read",
    "chart.entry.create",
    "chart.entry.update",
    "chart.entry.delete",
    "message.read",
    "message.attachment.read",
];

/// The workforce roles (`audit_event.actor_role`): everyone who reaches other people's records.
pub const WORKFORCE: [&str; 3] = ["clinician", "admin", "security_officer"];

/// What some rules need to know about the clinic.
#[derive(Clone, Debug, Default)]
pub struct ClinicContext {
    pub hours: WorkingHours,
}

/// Every rule, in the order the runner runs them. A rule's name is its settings key and its
/// alerts' kind.
pub fn registry(clinic: &ClinicContext) -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(bulk_access::BulkAccess),
        Box::new(after_hours::AfterHours { hours: clinic.hours.clone() }),
        Box::new(large_listing::LargeListing),
        Box::new(self_access::SelfAccess),
        Box::new(unexplained::UnexplainedAccess),
        Box::new(probing::Probing),
        Box::new(sign_in_failures_account::SignInFailuresAccount),
        Box::new(sign_in_failures_address::SignInFailuresAddress),
        Box::new(sign_in_spray::SignInSpray),
        Box::new(privilege_change::PrivilegeChange),
        Box::new(break_glass_unreviewed::BreakGlassUnreviewed),
        Box::new(break_glass_frequent::BreakGlassFrequent),
    ]
}

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
