//! The periodic check of breach deadlines: for every open incident decided a breach, a
//! deadline 14 days or fewer away raises a `breach-deadline` alert, and another at 3 days, each
//! once (the dedup key names the incident, the deadline and the stage). One node per period
//! runs it, under the `breach-deadlines` lease. Alerts carry the incident's id and the days
//! left, never a patient.

use chrono::{Duration, NaiveDate};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::{IncidentRepo, deadlines};
use crate::domain::Error;
use crate::domain::audit::{Action, Actor, AuditContext, AuditEntry, Outcome, Purpose};
use crate::domain::entities::{incident, security_alert};
use crate::domain::lease::TaskLease;
use crate::domain::monitoring::{NewAlert, Severity, raise};

/// The lease row of this task (created by the incidents migration).
pub const BREACH_DEADLINES: &str = "breach-deadlines";
pub const RULE: &str = "breach-deadline";

impl IncidentRepo {
    /// One round, if this node takes the lease for `period`: how many alerts it raised (None:
    /// another node holds the lease).
    pub async fn check_deadlines(&self, lease: &TaskLease, period: Duration) -> Result<Option<usize>, Error> {
        if !lease.acquire(period).await? {
            return Ok(None);
        }
        self.raise_deadline_alerts().await.map(Some)
    }

    /// Raises the alerts due now (no lease: tests and the lease holder call this).
    pub async fn raise_deadline_alerts(&self) -> Result<usize, Error> {
        let now = self.clock.now();
        let today = now.date_naive();
        let rows = incident::Entity::find()
            .filter(incident::Column::Status.eq("open"))
            .filter(incident::Column::Decision.eq("breach"))
            .all(&self.db)
            .await?;
        let mut raised = 0;
        for row in rows {
            let incident = self.load(&row).await?;
            let Some(due) = incident.deadlines.as_ref() else { continue };
            let everyone_notified = incident.affected.iter().all(|p| p.notified_at.is_some());
            let mut checks: Vec<(String, NaiveDate)> = Vec::new();
            if !everyone_notified {
                checks.push(("individuals".to_owned(), due.individuals));
            }
            checks.push(("hhs".to_owned(), due.hhs));
            checks.extend(due.media.iter().map(|(state, _, date)| (format!("media-{state}"), *date)));
            let txn = self.db.begin().await?;
            for (deadline, date) in checks {
                let left = (date - today).num_days();
                let Some(stage) = deadlines::stage(left) else { continue };
                let alert = NewAlert {
                    rule: RULE.to_owned(),
                    severity: if stage == "3d" { Severity::High } else { Severity::Medium },
                    actor: None,
                    patients: Vec::new(),
                    window_start: now,
                    window_end: date.and_hms_opt(23, 59, 59).map_or(now, |t| t.and_utc()),
                    observed: Some(left),
                    seqs: Vec::new(),
                    dedup: format!("{}:{deadline}:{stage}", row.id),
                    subject_id: Some(row.id),
                };
                if let Some(alert_id) = raise(&txn, alert, now).await? {
                    security_alert::Entity::update_many()
                        .col_expr(security_alert::Column::IncidentId, Expr::value(row.id))
                        .filter(security_alert::Column::Id.eq(alert_id))
                        .exec(&txn)
                        .await?;
                    let ctx = AuditContext {
                        actor: Actor::system(),
                        purpose: Purpose::Operations,
                        justification: Some(format!("task: {BREACH_DEADLINES}")),
                        request_id: None,
                        ip: None,
                        user_agent: None,
                    };
                    let entry = AuditEntry {
                        action: Action::MonitorRun,
                        resource_type: "security_alert",
                        resource_id: Some(alert_id.to_string()),
                        patient_id: None,
                        outcome: Outcome::Allowed,
                        rule: Some(format!("{RULE}:{deadline}:{stage}")),
                    };
                    self.audit.append(&txn, &ctx, entry).await?;
                    tracing::warn!(incident_id = %row.id, deadline, days_left = left, "breach deadline near");
                    raised += 1;
                }
            }
            txn.commit().await?;
        }
        Ok(raised)
    }
}
