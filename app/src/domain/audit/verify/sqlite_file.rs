//! A stretch of a SQLite file's chain, read with rusqlite on a blocking thread, one read-only
//! connection per stretch. sqlx-sqlite runs each connection on a worker thread of its own and
//! hands every row to the async task through a channel: about 20 µs a row measured here over a
//! million rows, ten times the cost of checking it. Stepping the statement in the thread that
//! checks the row leaves SQLite's own work and the two MACs.
//!
//! The same query, the same [`Checker`] and the same findings as the streamed path. One
//! difference: where a column holds what the app never writes (a timestamp that is not RFC 3339,
//! which is what sqlx writes; an id that is not 16 bytes), the row is named as altered instead
//! of the whole run failing on it.

use std::path::Path;

use chrono::DateTime;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};
use tokio::sync::mpsc::UnboundedSender;

use super::stream::{Checker, EventRow, Keys, LinkRow, Progress, Stretch, StretchReport, select};
use crate::domain::audit::mac::EventFields;

pub(super) fn check(
    path: &Path,
    keys: &Keys,
    stretch: Stretch,
    max_findings: usize,
    progress: &UnboundedSender<u64>,
) -> rusqlite::Result<StretchReport> {
    let connection =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    let mut statement = connection.prepare(&select(&stretch.positions))?;
    let mut checker = Checker::new(keys, &stretch, max_findings);
    let mut rows = statement.query([])?;
    let mut progress = Progress::new(progress);
    while let Some(row) = rows.next()? {
        let link = LinkRow {
            position: row.get_ref(0)?.as_i64()?,
            event_seq: row.get_ref(1)?.as_i64()?,
            link: row.get_ref(2)?.as_blob()?,
            key_version: version(row.get_ref(3)?)?,
        };
        let event = match row.get_ref(4)?.as_i64_or_null()? {
            None => None,
            Some(seq) => Some(EventRow {
                seq,
                fields: fields(row),
                mac: row.get_ref(20)?.as_blob()?,
                key_version: version(row.get_ref(21)?)?,
            }),
        };
        checker.check(link, event);
        progress.row_checked();
    }
    progress.flush();
    Ok(checker.finish())
}

/// A key version; one out of `i32`'s range names no key, so its row does not match.
fn version(value: ValueRef<'_>) -> rusqlite::Result<i32> {
    Ok(i32::try_from(value.as_i64()?).unwrap_or(i32::MAX))
}

/// The MACed columns, or `None` when one of them is not what the app writes.
fn fields<'r>(row: &'r Row<'_>) -> Option<EventFields<'r>> {
    let text = |index: usize| row.get_ref(index).ok()?.as_str().ok();
    let optional_text = |index: usize| row.get_ref(index).ok()?.as_str_or_null().ok();
    let id = |index: usize| -> Option<[u8; 16]> { row.get_ref(index).ok()?.as_blob().ok()?.try_into().ok() };
    let optional_id = |index: usize| -> Option<Option<[u8; 16]>> {
        match row.get_ref(index).ok()?.as_blob_or_null().ok()? {
            None => Some(None),
            Some(bytes) => Some(Some(bytes.try_into().ok()?)),
        }
    };
    Some(EventFields {
        id: id(5)?,
        occurred_at_micros: DateTime::parse_from_rfc3339(text(6)?).ok()?.timestamp_micros(),
        actor_user_id: optional_id(7)?,
        actor_role: text(8)?,
        patient_id: optional_id(9)?,
        action: text(10)?,
        resource_type: text(11)?,
        resource_id: optional_text(12)?,
        outcome: text(13)?,
        rule: optional_text(14)?,
        purpose: optional_text(15)?,
        justification: optional_text(16)?,
        ip: optional_text(17)?,
        user_agent: optional_text(18)?,
        request_id: optional_text(19)?,
    })
}
