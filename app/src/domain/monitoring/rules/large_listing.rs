//! `large-listing`: listings and searches that hand one user many patients at once, the shape of
//! a bulk export.
//!
//! Convention: a repository call that returns a list of patients writes one summary audit row
//! whose `resource_id` starts with `rows:N` (N the number of patients returned; a search adds
//! `;` and the criteria used, e.g. `rows:3;name`), with no patient id. Today `patient.list`
//! (`PatientRepo::my_patients`) and `patient.search` (`PatientRepo::search`) write it; an export
//! added later should write the same. This rule reads only those rows.
//!
//! Fires on one call returning `threshold` rows or more (default 200), or on `5 x threshold`
//! (1000) within the window (default 10 minutes) summed over calls; severity medium. Cost: the
//! summary rows are one per call, so the scan reads few rows.

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection};

use super::window::{Event, Measure, alerted_until, sliding, window_rows};
use super::{Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::entities::audit_event;
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "large-listing";
/// The summed rows over the window that fire, as a multiple of the one-call threshold.
pub const WINDOW_MULTIPLE: i64 = 5;
const LISTINGS: [&str; 2] = ["patient.list", "patient.search"];

pub fn default_settings() -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold: 200,
        window: Duration::minutes(10),
        severity: Severity::Medium,
        critical_at: None,
    }
}

/// The N of a `rows:N` summary row (0 for any other row).
pub fn rows_returned(resource_id: Option<&str>) -> i64 {
    resource_id
        .and_then(|r| r.strip_prefix("rows:"))
        .and_then(|r| r.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[derive(Debug, Default)]
pub struct LargeListing;

#[async_trait]
impl Rule for LargeListing {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let condition = Condition::all()
            .add(audit_event::Column::Action.is_in(LISTINGS))
            .add(audit_event::Column::Outcome.eq("allowed"))
            .add(audit_event::Column::ActorUserId.is_not_null())
            .add(audit_event::Column::ResourceId.like("rows:%"));
        let (rows, from) = window_rows(db, scan, condition).await?;
        let Some(from) = from else { return Ok(Vec::new()) };
        let alerted = alerted_until(db, NAME, from).await?;
        let weight = |e: &Event| rows_returned(e.resource_id.as_deref());
        let threshold = scan.settings.threshold;
        // One call at the threshold is a finding on its own: a window of one row.
        let single =
            Scan { settings: RuleSettings { window: Duration::zero(), ..scan.settings.clone() }, ..scan.clone() };
        let mut found = sliding(NAME, rows.clone(), &single, threshold, Measure::Sum, weight, &alerted);
        let mut covered = alerted;
        for alert in &found {
            if let Some(actor) = alert.actor {
                covered.entry(actor.0).or_default().push((alert.window_end, alert.severity));
            }
        }
        found.extend(sliding(NAME, rows, scan, threshold * WINDOW_MULTIPLE, Measure::Sum, weight, &covered));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_count_is_read_from_the_summary_row() {
        assert_eq!(super::rows_returned(Some("rows:250")), 250);
        assert_eq!(super::rows_returned(Some("rows:3;name,mrn")), 3);
        assert_eq!(super::rows_returned(Some("name")), 0);
        assert_eq!(super::rows_returned(None), 0);
    }
}
