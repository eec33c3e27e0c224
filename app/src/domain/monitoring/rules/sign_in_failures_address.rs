//! `sign-in-failures-address`: failed sign-ins from one client address (`audit_event.ip`, the
//! client's own address behind the trusted proxies), whatever account they named or none:
//! someone at that address is guessing. Summary rows of an address's suppressed anonymous
//! refusals count for the calls they stand for. The alert has no actor (an address is not an
//! account); its audit rows carry the address.

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::DatabaseConnection;

use super::bursts::{self, Event, Measure, Shape};
use super::window_rows::{failed_sign_ins, new_with_context, weight};
use super::{Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "sign-in-failures-address";

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
pub struct SignInFailuresAddress;

#[async_trait]
impl Rule for SignInFailuresAddress {
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
                    weight: weight(row),
                    member: None,
                    patient: None,
                })
            })
            .collect();
        let shape = Shape { rule: NAME, measure: Measure::Occurrences, actor: &|_| None };
        bursts::findings(db, scan, &shape, events).await
    }
}
