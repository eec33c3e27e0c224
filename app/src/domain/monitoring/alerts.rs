//! Raising an alert: one row, the audit sequence numbers and patient ids behind it, never a PHI
//! value.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, TryInsertResult};
use uuid::Uuid;

use crate::domain::Error;
use crate::domain::entities::{security_alert, security_alert_event, security_alert_patient};
use crate::domain::ids::{PatientId, UserId};

/// How urgent an alert is; delivery channels and automatic responses are chosen by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// A finding, as a detector (or the incident deadlines) states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAlert {
    /// The rule's name, e.g. `bulk-access`.
    pub rule: String,
    pub severity: Severity,
    /// Whose activity it is about.
    pub actor: Option<UserId>,
    pub patients: Vec<PatientId>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// What the rule measured (distinct patients, failures, declarations).
    pub observed: Option<i64>,
    /// The audit rows that triggered it.
    pub seqs: Vec<i64>,
    /// What makes this finding the same finding when it is seen again, within the rule (the
    /// actor and the first triggering row, say). The rule's name is prefixed to it.
    pub dedup: String,
    /// The record the alert is about, if one (a break-glass declaration, an incident).
    pub subject_id: Option<Uuid>,
}

/// Writes `alert` in the caller's transaction. `Ok(None)`: this finding was raised before (by
/// this node or another), and nothing is written.
pub async fn raise<C: ConnectionTrait>(conn: &C, alert: NewAlert, now: DateTime<Utc>) -> Result<Option<Uuid>, Error> {
    let id = Uuid::now_v7();
    let row = security_alert::ActiveModel {
        id: Set(id),
        kind: Set(alert.rule.clone()),
        user_id: Set(alert.actor.map(|u| u.0)),
        patient_id: Set(match alert.patients.as_slice() {
            [one] => Some(one.0),
            _ => None,
        }),
        subject_id: Set(alert.subject_id),
        created_at: Set(now),
        status: Set("open".to_owned()),
        closed_by: Set(None),
        closed_at: Set(None),
        severity: Set(alert.severity.as_str().to_owned()),
        window_start: Set(Some(alert.window_start)),
        window_end: Set(Some(alert.window_end)),
        observed: Set(alert.observed),
        dedup_key: Set(Some(format!("{}:{}", alert.rule, alert.dedup))),
        response: Set(None),
        acknowledged_by: Set(None),
        acknowledged_at: Set(None),
        incident_id: Set(None),
        fanned_out: Set(false),
    };
    // ON CONFLICT DO NOTHING on the unique dedup key: a racing node's insert of the same
    // finding is a no-op on both backends, not an error that aborts the transaction.
    let inserted = security_alert::Entity::insert(row)
        .on_conflict_do_nothing_on([security_alert::Column::DedupKey])
        .exec_without_returning(conn)
        .await?;
    if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(None);
    }
    let mut seqs = alert.seqs;
    seqs.sort_unstable();
    seqs.dedup();
    for chunk in seqs.chunks(500) {
        security_alert_event::Entity::insert_many(
            chunk.iter().map(|&seq| security_alert_event::ActiveModel { alert_id: Set(id), seq: Set(seq) }),
        )
        .exec_without_returning(conn)
        .await?;
    }
    let mut patients = alert.patients;
    patients.sort_unstable();
    patients.dedup();
    for chunk in patients.chunks(500) {
        security_alert_patient::Entity::insert_many(
            chunk.iter().map(|p| security_alert_patient::ActiveModel { alert_id: Set(id), patient_id: Set(p.0) }),
        )
        .exec_without_returning(conn)
        .await?;
    }
    Ok(Some(id))
}
