//! `probing`: one signed-in user refused again and again, whatever the rule that refused them:
//! someone trying records, pages or actions their role does not reach.
//!
//! Counts `denied` rows per actor (anonymous refusals such as failed sign-ins belong to the
//! sign-in rules); default 10 in 15 minutes, severity high. Cost: denied rows are rare, so the
//! scan is one range read of few rows.

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection};

use super::window::{Measure, alerted_until, sliding, window_rows};
use super::{Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::entities::audit_event;
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "probing";

pub fn default_settings() -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold: 10,
        window: Duration::minutes(15),
        severity: Severity::High,
        critical_at: None,
    }
}

#[derive(Debug, Default)]
pub struct Probing;

#[async_trait]
impl Rule for Probing {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let condition = Condition::all()
            .add(audit_event::Column::Outcome.eq("denied"))
            .add(audit_event::Column::ActorUserId.is_not_null());
        let (rows, from) = window_rows(db, scan, condition).await?;
        let Some(from) = from else { return Ok(Vec::new()) };
        let alerted = alerted_until(db, NAME, from).await?;
        Ok(sliding(NAME, rows, scan, scan.settings.threshold, Measure::Count, |_| 1, &alerted))
    }
}
