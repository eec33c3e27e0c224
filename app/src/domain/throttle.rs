//! Sign-in rate limits, counted from the audit log itself: every refused sign-in is already an
//! audit row with its client address and, where known, its account, and the log is shared by
//! every node, so the limit holds across a cluster with no extra state.
//!
//! What counts, and what does not:
//! - Per address: failed sign-ins in the window, but never the limit's own refusals
//!   (`rate-limited-*`). So a locked-out address that keeps trying stays locked only until its
//!   last counted failure leaves the window, and the address is the client's real one behind the
//!   trusted proxies (`client_address`), so one client cannot lock out everyone behind the proxy.
//! - Per account: only failures whose signature verified ([`SIGNED_BUT_REFUSED`]). A credential
//!   id is not a secret, so a forged assertion naming a patient's real credential must not let a
//!   stranger lock that patient out.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use super::Error;
use super::entities::audit_event;

/// Refused sign-ins allowed from one IP address within the window.
pub const MAX_FAILURES_PER_IP: u64 = 10;
/// Refused sign-ins allowed against one account within the window.
pub const MAX_FAILURES_PER_ACCOUNT: u64 = 5;
/// The rules the rate limits refuse with; rows with these rules are never counted.
pub const RATE_LIMIT_RULES: [&str; 2] = ["rate-limited-ip", "rate-limited-account"];
/// The rule of a sign-in whose signature verified and was still refused (a signature counter
/// that went backwards): the only failure that counts against the account.
pub const SIGNED_BUT_REFUSED: &str = "signature-counter-regressed";

pub fn window() -> Duration {
    Duration::minutes(15)
}

/// Whether `rule` is a refusal by the rate limit itself.
pub fn is_rate_limit(rule: &str) -> bool {
    RATE_LIMIT_RULES.contains(&rule)
}

pub async fn failures_from_ip(db: &DatabaseConnection, ip: &str, now: DateTime<Utc>) -> Result<u64, Error> {
    Ok(failures(now)
        .filter(audit_event::Column::Ip.eq(ip))
        .filter(audit_event::Column::Rule.is_not_in(RATE_LIMIT_RULES))
        .count(db)
        .await?)
}

pub async fn failures_for_account(db: &DatabaseConnection, user: uuid::Uuid, now: DateTime<Utc>) -> Result<u64, Error> {
    Ok(failures(now)
        .filter(audit_event::Column::ResourceId.eq(user.to_string()))
        .filter(audit_event::Column::Rule.eq(SIGNED_BUT_REFUSED))
        .count(db)
        .await?)
}

/// How many patient searches one clinician may run within `window`: enough for a day's
/// work, too few to walk the patient list by guessing identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchBudget {
    pub max: u64,
    pub window: Duration,
}

impl Default for SearchBudget {
    fn default() -> Self {
        Self { max: 60, window: Duration::minutes(15) }
    }
}

/// The resource type of the one audit row each patient search writes for itself (beside one
/// row per patient found): what the search budget counts.
pub const SEARCH_RESOURCE: &str = "patient_search";

/// Searches `user` ran within the budget's window, from the audit log (so every node counts
/// the same searches).
pub async fn searches_by<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user: uuid::Uuid,
    budget: SearchBudget,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    Ok(audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("patient.search"))
        .filter(audit_event::Column::ResourceType.eq(SEARCH_RESOURCE))
        .filter(audit_event::Column::ActorUserId.eq(user))
        .filter(audit_event::Column::Outcome.eq("allowed"))
        .filter(audit_event::Column::OccurredAt.gt(now - budget.window))
        .count(conn)
        .await?)
}

fn failures(now: DateTime<Utc>) -> sea_orm::Select<audit_event::Entity> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("auth.sign_in"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .filter(audit_event::Column::ResourceType.eq("session"))
        .filter(audit_event::Column::OccurredAt.gt(now - window()))
}
