//! `sign-in-failures-account`: failed sign-ins naming one account (its credential was offered
//! and refused), from any number of addresses: someone is trying to get into that account.
//! The alert names the account as its actor. Not critical by default: disabling the account
//! would lock its owner out on an attacker's say-so (the sign-in rate limit already slows the
//! attacker down).

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::DatabaseConnection;

use super::bursts::{self, Event, Measure, Shape};
use super::window_rows::{account, failed_sign_ins, new_with_context, weight};
use super::{Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::ids::UserId;
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "sign-in-failures-account";

/// 5 in 15 minutes, medium, never critical.
pub fn default_settings() -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold: 5,
        window: Duration::minutes(15),
        severity: Severity::Medium,
        critical_at: None,
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SignInFailuresAccount;

#[async_trait]
impl Rule for SignInFailuresAccount {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let rows = new_with_context(db, scan, failed_sign_ins(), scan.settings.window).await?;
        let events = rows
            .iter()
            .filter_map(|row| {
                let account = account(row)?;
                Some(Event {
                    seq: row.seq,
                    at: row.occurred_at,
                    key: account.to_string(),
                    weight: weight(row),
                    member: None,
                    patient: None,
                })
            })
            .collect();
        let actor = |key: &str| key.parse().ok().map(UserId);
        let shape = Shape { rule: NAME, measure: Measure::Occurrences, actor: &actor };
        bursts::findings(db, scan, &shape, events).await
    }
}
