//! Pass 2: the rows the chain does not (yet) reach, and copied rows.
//!
//! Young rows waiting for the chainer are normal; a row older than the grace period that is
//! still unlinked was hidden from the chain. Rows are unlinked only near the end of the log
//! (the chainer looks back a bounded window), so the tail is read directly, and on a full run
//! one count of the rows, in the same snapshot, shows whether an unlinked row hides further
//! back; only then is the whole log searched for it.

use std::collections::HashSet;

use sea_orm::sea_query::Expr;
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, ExprTrait, IsolationLevel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use uuid::Uuid;

use super::{Finding, VerifyReport};
use crate::domain::Error;
use crate::domain::audit::chain::{linked_subquery, newest_linked_seq};
use crate::domain::audit::mac::EventMac;
use crate::domain::entities::{audit_chain, audit_event};

const PAGE: u64 = 2_000;

pub(super) struct Scope {
    /// The chain's newest position when the run began.
    pub head_position: i64,
    /// The log's newest seq when the run began: rows after it are the next run's.
    pub newest_seq: i64,
    /// On a full run, how many rows pass 1 found linked; `None` when resuming, where rows
    /// before the checkpoint are not counted again.
    pub linked_events: Option<u64>,
    /// How far behind the newest linked row the tail is read directly.
    pub lookback_seqs: i64,
    pub now: chrono::DateTime<chrono::Utc>,
    pub grace: chrono::Duration,
}

pub(super) async fn check(
    db: &DatabaseConnection,
    mac: &EventMac,
    scope: &Scope,
    report: &mut VerifyReport,
) -> Result<(), Error> {
    let floor = newest_linked_seq(db, Some(scope.head_position)).await?.saturating_sub(scope.lookback_seqs);
    let duplicates = duplicates(db, scope, scope.linked_events.is_none().then_some(floor)).await?;
    for (seq, id) in &duplicates {
        report.found(Finding::DuplicateEvent { seq: *seq, id: *id });
    }
    let duplicates: HashSet<i64> = duplicates.into_iter().map(|(seq, _)| seq).collect();
    tracing::debug!(found = duplicates.len(), "audit verify: repeated ids looked for");

    // One snapshot for the tail and the count, so that rows committing meanwhile are in both
    // or in neither.
    let txn = match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?
        }
        _ => db.begin().await?,
    };
    let mut unlinked = walk(&txn, mac, scope, floor + 1, &duplicates, report).await?;
    if let Some(linked) = scope.linked_events {
        let rows =
            audit_event::Entity::find().filter(audit_event::Column::Seq.lte(scope.newest_seq)).count(&txn).await?;
        if rows > linked + unlinked {
            unlinked += walk(&txn, mac, &Scope { newest_seq: floor, ..*scope }, i64::MIN, &duplicates, report).await?;
        }
    }
    txn.commit().await?;
    tracing::debug!(unlinked, floor, "audit verify: unlinked rows checked");
    Ok(())
}

/// Checks every row in `from..=scope.newest_seq` that no link up to the head names.
async fn walk<C: ConnectionTrait>(
    conn: &C,
    mac: &EventMac,
    scope: &Scope,
    from: i64,
    duplicates: &HashSet<i64>,
    report: &mut VerifyReport,
) -> Result<u64, Error> {
    let mut after_seq = from.saturating_sub(1);
    let mut walked = 0;
    loop {
        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(after_seq))
            .filter(audit_event::Column::Seq.lte(scope.newest_seq))
            .filter(Expr::exists(linked_up_to(scope.head_position)).not())
            .order_by_asc(audit_event::Column::Seq)
            .limit(PAGE)
            .all(conn)
            .await?;
        let Some(last) = rows.last() else { break };
        after_seq = last.seq;
        for event in rows {
            walked += 1;
            report.events_checked += 1;
            if !mac.matches(&event) {
                report.found(Finding::EventAltered { seq: event.seq });
            } else if duplicates.contains(&event.seq) {
                // Named already.
            } else if event.occurred_at < scope.now - scope.grace {
                report.found(Finding::Unchained { seq: event.seq });
            } else {
                report.pending += 1;
            }
        }
    }
    Ok(walked)
}

/// `SELECT 1 FROM audit_chain WHERE event_seq = audit_event.seq AND position <= head`
fn linked_up_to(head_position: i64) -> sea_orm::sea_query::SelectStatement {
    let mut query = linked_subquery();
    query.and_where(Expr::col((audit_chain::Entity, audit_chain::Column::Position)).lte(head_position));
    query
}

/// Rows repeating an earlier row's id, in log order: over the whole log, or (resuming) among
/// the rows after `recent_after`, compared with every earlier row through the id's index.
async fn duplicates(
    db: &DatabaseConnection,
    scope: &Scope,
    recent_after: Option<i64>,
) -> Result<Vec<(i64, Uuid)>, Error> {
    let newest = scope.newest_seq;
    let sql = match recent_after {
        None => format!(
            "SELECT seq, id FROM audit_event WHERE seq <= {newest} AND id IN \
             (SELECT id FROM audit_event WHERE seq <= {newest} GROUP BY id HAVING COUNT(*) > 1) ORDER BY seq"
        ),
        Some(after) => format!(
            "SELECT e.seq, e.id FROM audit_event e WHERE e.seq > {after} AND e.seq <= {newest} AND EXISTS \
             (SELECT 1 FROM audit_event o WHERE o.id = e.id AND o.seq < e.seq) ORDER BY e.seq"
        ),
    };
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    let mut seen = HashSet::new();
    let mut repeats = Vec::new();
    for row in rows {
        let seq: i64 = row.try_get("", "seq")?;
        let id: Uuid = row.try_get("", "id")?;
        // Over the whole log every row of a repeated id comes back: the first is the original.
        if !seen.insert(id) || recent_after.is_some() {
            repeats.push((seq, id));
        }
    }
    Ok(repeats)
}
