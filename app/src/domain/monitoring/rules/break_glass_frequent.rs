//! `break-glass-frequent`: one clinician declaring an emergency more than N times in a week.
//! Each declaration may be justified on its own; a clinician who needs break-glass every other
//! day is missing a care relationship, or using the emergency path as a way around the policy.
//! The threshold is the count at which it fires: the default 4 is "more than 3 in 7 days".

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection};

use super::bursts::{self, Event, Measure, Shape};
use super::window_rows::new_with_context;
use super::{Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::entities::audit_event;
use crate::domain::ids::{PatientId, UserId};
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "break-glass-frequent";

/// More than 3 declarations (4) by one clinician in 7 days, high.
pub fn default_settings() -> RuleSettings {
    RuleSettings { enabled: true, threshold: 4, window: Duration::days(7), severity: Severity::High, critical_at: None }
}

/// The audit rows of declarations that took effect.
pub(crate) fn declarations() -> Condition {
    Condition::all()
        .add(audit_event::Column::Action.eq("break_glass.declare"))
        .add(audit_event::Column::Outcome.eq("allowed"))
}

#[derive(Clone, Copy, Debug, Default)]
pub struct BreakGlassFrequent;

#[async_trait]
impl Rule for BreakGlassFrequent {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let rows = new_with_context(db, scan, declarations(), scan.settings.window).await?;
        let events = rows
            .iter()
            .filter_map(|row| {
                Some(Event {
                    seq: row.seq,
                    at: row.occurred_at,
                    key: row.actor_user_id?.to_string(),
                    weight: 1,
                    member: None,
                    patient: row.patient_id.map(PatientId),
                })
            })
            .collect();
        let actor = |key: &str| key.parse().ok().map(UserId);
        let shape = Shape { rule: NAME, measure: Measure::Occurrences, actor: &actor };
        bursts::findings(db, scan, &shape, events).await
    }
}
