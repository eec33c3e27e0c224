//! `sign-in-spray`: one client address failing to sign in as many distinct accounts (a
//! password spray's shape: a few tries against each of many accounts, under every per-account
//! limit). Critical by default. There is no account to disable for an address, so the automatic
//! response records `address-flagged` on the alert and disables nothing
//! (`monitoring::response`); blocking the address is the network's job, and the alert's audit
//! rows name it. A spray is also many failures from one address, so `sign-in-failures-address`
//! fires for the same rows too.

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::DatabaseConnection;

use super::bursts::{self, Event, Measure, Shape};
use super::window_rows::{account, failed_sign_ins, new_with_context};
use super::{Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "sign-in-spray";

/// 10 distinct accounts from one address in 15 minutes, critical.
pub fn default_settings() -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold: 10,
        window: Duration::minutes(15),
        severity: Severity::Critical,
        critical_at: None,
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SignInSpray;

#[async_trait]
impl Rule for SignInSpray {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let rows = new_with_context(db, scan, failed_sign_ins(), scan.settings.window).await?;
        let events = rows
            .iter()
            .filter_map(|row| {
                Some(Event {
                    seq: row.seq,
                    at: row.occurred_at,
                    key: row.ip.clone()?,
                    weight: 1,
                    member: Some(account(row)?.to_string()),
                    patient: None,
                })
            })
            .collect();
        let shape = Shape { rule: NAME, measure: Measure::DistinctMembers, actor: &|_| None };
        bursts::findings(db, scan, &shape, events).await
    }
}
