//! `unexplained-access`: chart access that no clinical relationship explains. The access policy
//! already refuses a chart read with no assignment, care team, consent or break-glass behind it
//! (rule `no-care-relationship`); this rule counts those refusals per actor, and also flags the
//! reads the policy allowed only through the weakest rule, the patient's consent
//! (`patient-consent`), when that clinician has no appointment with that patient within
//! [`VISIT_SLACK_DAYS`] days either side.
//!
//! Refusals: default 3 in 60 minutes, severity medium. Consent without a visit: one alert per
//! clinician, patient and day, same severity. Cost: refusals are few; consent reads are
//! checked against the appointment table with one query per (clinician, patient) pair.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::window::{Measure, alerted_until, grouped, new_rows, sliding, window_rows};
use super::{PATIENT_OPENS, Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::entities::{appointment, audit_event};
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "unexplained-access";
/// How near an appointment must be for a consent-based read to count as explained.
pub const VISIT_SLACK_DAYS: i64 = 7;

pub fn default_settings() -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold: 3,
        window: Duration::minutes(60),
        severity: Severity::Medium,
        critical_at: None,
    }
}

#[derive(Debug, Default)]
pub struct UnexplainedAccess;

#[async_trait]
impl Rule for UnexplainedAccess {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let refused = Condition::all()
            .add(audit_event::Column::Outcome.eq("denied"))
            .add(audit_event::Column::Rule.eq("no-care-relationship"))
            .add(audit_event::Column::ActorUserId.is_not_null());
        let mut found = Vec::new();
        let (rows, from) = window_rows(db, scan, refused).await?;
        if let Some(from) = from {
            let alerted = alerted_until(db, NAME, from).await?;
            found = sliding(NAME, rows, scan, scan.settings.threshold, Measure::Count, |_| 1, &alerted);
            for alert in &mut found {
                alert.dedup = format!("refused:{}", alert.dedup);
            }
        }

        let consent = Condition::all()
            .add(audit_event::Column::Action.is_in(PATIENT_OPENS))
            .add(audit_event::Column::Outcome.eq("allowed"))
            .add(audit_event::Column::Rule.eq("patient-consent"))
            .add(audit_event::Column::ActorUserId.is_not_null())
            .add(audit_event::Column::PatientId.is_not_null());
        let reads = new_rows(db, scan, consent).await?;
        let slack = Duration::days(VISIT_SLACK_DAYS);
        let mut unexplained = BTreeSet::new();
        let pairs: BTreeSet<(Uuid, Uuid)> = reads.iter().filter_map(|e| Some((e.actor?, e.patient?))).collect();
        for (clinician, patient) in pairs {
            let times: Vec<_> = reads
                .iter()
                .filter(|e| e.actor == Some(clinician) && e.patient == Some(patient))
                .map(|e| e.at)
                .collect();
            let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else { continue };
            // Appointments near any of these reads; one query per pair, then each read checked.
            let visits: Vec<appointment::Model> = appointment::Entity::find()
                .filter(appointment::Column::ClinicianId.eq(clinician))
                .filter(appointment::Column::PatientId.eq(patient))
                .filter(appointment::Column::Status.ne("cancelled"))
                .filter(appointment::Column::StartsAt.lte(*last + slack))
                .filter(appointment::Column::EndsAt.gte(*first - slack))
                .all(db)
                .await?;
            for at in times {
                let near = visits.iter().any(|v| v.starts_at <= at + slack && v.ends_at >= at - slack);
                if !near {
                    unexplained.insert((clinician, patient, at));
                }
            }
        }
        found.extend(grouped(NAME, scan.settings.severity, 1, reads, |e| {
            let (actor, patient) = (e.actor?, e.patient?);
            unexplained
                .contains(&(actor, patient, e.at))
                .then(|| format!("consent:{actor}:{patient}:{}", e.at.date_naive()))
        }));
        Ok(found)
    }
}
