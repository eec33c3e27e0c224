//! The affected individuals of an incident: every patient whose PHI the investigated person
//! used or saw in the window, from the audit log alone (45 CFR 164.312(b) makes the log the
//! record of who accessed what). An access counts when it was allowed and was one of the actions
//! that show or change a patient's information; refusals disclosed nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::domain::Error;
use crate::domain::audit::{Action, Outcome};
use crate::domain::entities::audit_event;
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
