//! `bulk-access`: one user opening many distinct patients in a short window, the pattern of a
//! curious or compromised account paging through records (Protenus and FairWarning lead with it).
//!
//! Counts allowed `patient.read` and `chart.read` rows per actor; default 30 distinct patients
//! in 10 minutes, severity high, and critical at 90 (three times the threshold), which the
//! automatic response acts on. Cost: one indexed range scan of the new rows and the window
//! before them, then one pass per actor in memory.

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection};

use super::window::{Measure, alerted_until, sliding, window_rows};
use super::{PATIENT_OPENS, Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::entities::audit_event;
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "bulk-access";

pub fn default_settings() -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold: 30,
        window: Duration::minutes(10),
        severity: Severity::High,
        critical_at: Some(90),
    }
}

#[derive(Debug, Default)]
pub struct BulkAccess;

#[async_trait]
impl Rule for BulkAccess {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let condition = Condition::all()
            .add(audit_event::Column::Action.is_in(PATIENT_OPENS))
            .add(audit_event::Column::Outcome.eq("allowed"))
            .add(audit_event::Column::ActorUserId.is_not_null())
            .add(audit_event::Column::PatientId.is_not_null());
        let (rows, from) = window_rows(db, scan, condition).await?;
        let Some(from) = from else { return Ok(Vec::new()) };
        let alerted = alerted_until(db, NAME, from).await?;
        Ok(sliding(NAME, rows, scan, scan.settings.threshold, Measure::DistinctPatients, |_| 1, &alerted))
    }
}
