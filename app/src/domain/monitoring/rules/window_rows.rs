//! Loading the audit rows a windowed rule looks at: the rows new to this run that match, and
//! the matching rows up to one window before the earliest of them (context, never reported
//! alone).

use chrono::Duration;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::Scan;
use crate::domain::Error;
use crate::domain::entities::audit_event;

/// The rows matching `filter` with `seq` in `(after_seq, up_to_seq]`, then those of them
/// that came before, back to one `window` before the earliest new one.
pub(crate) async fn new_with_context(
    db: &DatabaseConnection,
    scan: &Scan,
    filter: Condition,
    window: Duration,
) -> Result<Vec<audit_event::Model>, Error> {
    let mut rows = audit_event::Entity::find()
        .filter(filter.clone())
        .filter(audit_event::Column::Seq.gt(scan.after_seq))
        .filter(audit_event::Column::Seq.lte(scan.up_to_seq))
        .order_by_asc(audit_event::Column::Seq)
        .all(db)
        .await?;
    let Some(earliest) = rows.iter().map(|r| r.occurred_at).min() else { return Ok(rows) };
    let context = audit_event::Entity::find()
        .filter(filter)
        .filter(audit_event::Column::Seq.lte(scan.after_seq))
        .filter(audit_event::Column::OccurredAt.gt(earliest - window))
        .order_by_asc(audit_event::Column::Seq)
        .all(db)
        .await?;
    rows.extend(context);
    Ok(rows)
}

/// `auth.sign_in` refused: a failed sign-in, one per row, or a summary row of an address's
/// suppressed refusals (`resource_type = "anonymous_calls"`, the count in `resource_id`).
pub(crate) fn failed_sign_ins() -> Condition {
    Condition::all().add(audit_event::Column::Action.eq("auth.sign_in")).add(audit_event::Column::Outcome.eq("denied"))
}

/// How many sign-ins one failure row stands for.
pub(crate) fn weight(row: &audit_event::Model) -> i64 {
    if row.resource_type == "anonymous_calls" {
        row.resource_id.as_deref().and_then(|n| n.parse().ok()).unwrap_or(1)
    } else {
        1
    }
}

/// The account a failed sign-in named (the credential's owner), if any.
pub(crate) fn account(row: &audit_event::Model) -> Option<uuid::Uuid> {
    (row.resource_type == "session").then_some(row.resource_id.as_deref()).flatten().and_then(|id| id.parse().ok())
}
