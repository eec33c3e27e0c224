//! The affected individuals of an incident: every patient whose PHI the investigated person
//! used or saw in the window, from the audit log alone (45 CFR 164.312(b) makes the log the
//! record of who accessed what). An access counts when it was allowed and was one of the actions
//! that show or change a patient's information; refusals disclosed nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::Window;
use crate::domain::Error;
use crate::domain::audit::{Action, Outcome};
use crate::domain::entities::{audit_event, incident_patient, security_alert};
use crate::domain::ids::{PatientId, UserId};

/// The actions whose allowed rows put a patient in the set: chart and demographics reads and
/// writes, messages and attachments, appointments, video visits, emergency access. (Exports, when
/// they exist, belong here too.)
pub const DISCLOSING: [Action; 13] = [
    Action::PatientRead,
    Action::ChartRead,
    Action::PatientUpdate,
    Action::EntryCreate,
    Action::EntryUpdate,
    Action::EntryDelete,
    Action::MessageRead,
    Action::MessageSend,
    Action::AttachmentRead,
    Action::AppointmentRead,
    Action::VideoJoin,
    Action::BreakGlassDeclare,
    Action::AccessLogRead,
];

/// Distinct patients of allowed disclosing audit rows by `actor` in `[start, end]`, in id order.
pub async fn compute<C: ConnectionTrait>(
    conn: &C,
    actor: UserId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<PatientId>, Error> {
    let actions: Vec<&str> = DISCLOSING.iter().map(|a| a.as_str()).collect();
    let rows: Vec<Option<Uuid>> = audit_event::Entity::find()
        .select_only()
        .column(audit_event::Column::PatientId)
        .distinct()
        .filter(audit_event::Column::ActorUserId.eq(actor.0))
        .filter(audit_event::Column::OccurredAt.gte(start))
        .filter(audit_event::Column::OccurredAt.lte(end))
        .filter(audit_event::Column::Outcome.eq(Outcome::Allowed.as_str()))
        .filter(audit_event::Column::Action.is_in(actions))
        .filter(audit_event::Column::PatientId.is_not_null())
        .into_tuple()
        .all(conn)
        .await?;
    let set: BTreeSet<Uuid> = rows.into_iter().flatten().collect();
    Ok(set.into_iter().map(PatientId).collect())
}

/// The person and window an incident investigates: those of its alerts (all about one person),
/// or as given by hand.
pub(super) fn subject_and_window(
    alerts: &[security_alert::Model],
    subject: Option<UserId>,
    window: Option<Window>,
) -> Result<(Option<UserId>, Option<Window>), Error> {
    let mut subject = subject;
    let mut window = window;
    for alert in alerts {
        if let Some(actor) = alert.user_id.map(UserId) {
            match subject {
                Some(known) if known != actor => {
                    return Err(Error::validation(
                        "alert",
                        "these alerts are about different people: open one incident per person",
                    ));
                }
                _ => subject = Some(actor),
            }
        }
        let start = alert.window_start.unwrap_or(alert.created_at);
        let end = alert.window_end.unwrap_or(alert.created_at);
        window = Some(match window {
            Some((s, e)) => (s.min(start), e.max(end)),
            None => (start, end),
        });
    }
    if let Some((start, end)) = window
        && start > end
    {
        return Err(Error::validation("window_end", "the window must end after it starts"));
    }
    if subject.is_some() && window.is_none() {
        return Err(Error::validation("window_start", "give the window of activity to investigate"));
    }
    Ok((subject, window))
}

pub(super) async fn assign_alerts<C: ConnectionTrait>(conn: &C, incident: Uuid, alerts: &[Uuid]) -> Result<(), Error> {
    if alerts.is_empty() {
        return Ok(());
    }
    security_alert::Entity::update_many()
        .col_expr(security_alert::Column::IncidentId, Expr::value(incident))
        .filter(security_alert::Column::Id.is_in(alerts.to_vec()))
        .exec(conn)
        .await?;
    Ok(())
}

/// Adds the patients the audit log shows for `subject` in the window to the set; returns the
/// size of the set.
pub(super) async fn snapshot<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    subject: UserId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<usize, Error> {
    let patients = compute(conn, subject, start, end).await?;
    let known: std::collections::BTreeSet<Uuid> = incident_patient::Entity::find()
        .filter(incident_patient::Column::IncidentId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| p.patient_id)
        .collect();
    let fresh: Vec<_> = patients.iter().filter(|p| !known.contains(&p.0)).collect();
    for chunk in fresh.chunks(500) {
        incident_patient::Entity::insert_many(chunk.iter().map(|p| incident_patient::ActiveModel {
            incident_id: Set(id),
            patient_id: Set(p.0),
            notified_at: Set(None),
        }))
        .exec_without_returning(conn)
        .await?;
    }
    Ok(known.len() + fresh.len())
}
