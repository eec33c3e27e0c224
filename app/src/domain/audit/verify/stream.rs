//! One stretch of the chain, streamed in a single query and checked row by row: the link
//! joined to its audit row, decoded by column index without copying strings, each MAC computed
//! from an HMAC state keyed once per key version. Stretches run in parallel, one per core, each
//! on its own connection. A SQLite file is read on blocking threads instead ([`super::sqlite_file`]).

use std::collections::HashMap;
use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use hmac::{Hmac, Mac};
use sea_orm::sqlx::{self, Row};
use sha2::Sha256;
use tokio::sync::mpsc::UnboundedSender;
use uuid::Uuid;

use super::Finding;
use crate::domain::audit::chain::{AuditChainer, ChainHead, feed_link};
use crate::domain::audit::mac::{EventFields, EventMac};

/// How many rows a stretch checks between progress reports.
const PROGRESS_EVERY: u64 = 16_384;

/// A stretch's checked rows, reported in batches rather than one message a row.
pub(super) struct Progress<'p> {
    sender: &'p UnboundedSender<u64>,
    unreported: u64,
}

impl<'p> Progress<'p> {
    pub(super) fn new(sender: &'p UnboundedSender<u64>) -> Self {
        Self { sender, unreported: 0 }
    }

    pub(super) fn row_checked(&mut self) {
        self.unreported += 1;
        if self.unreported == PROGRESS_EVERY {
            self.flush();
        }
    }

    pub(super) fn flush(&mut self) {
        let _ = self.sender.send(self.unreported);
        self.unreported = 0;
    }
}

/// The HMAC states for every loaded key version, keyed once.
pub(super) struct Keys {
    event: HashMap<i32, Hmac<Sha256>>,
    chain: HashMap<i32, Hmac<Sha256>>,
}

impl Keys {
    /// Versions 0 (keys derived from the HMAC root) to the active one; a version that is not
    /// loaded is left out, so rows naming it do not match.
    pub(super) fn load(mac: &EventMac, chainer: &AuditChainer) -> Self {
        let newest = mac.active_version().max(chainer.active_version());
        let event = (0..=newest).filter_map(|v| mac.keyed_state(v).ok().map(|state| (v, state))).collect();
        let chain = (0..=newest).filter_map(|v| chainer.keyed_state(v).ok().map(|state| (v, state))).collect();
        Self { event, chain }
    }

    fn event_matches(&self, version: i32, fields: &EventFields<'_>, stored: &[u8]) -> bool {
        self.event.get(&version).is_some_and(|state| {
            let mut mac = state.clone();
            fields.feed(&mut mac);
            mac.verify_slice(stored).is_ok()
        })
    }

    fn link_matches(
        &self,
        version: i32,
        prev: &[u8],
        position: i64,
        seq: i64,
        event_mac: &[u8],
        stored: &[u8],
    ) -> bool {
        self.chain.get(&version).is_some_and(|state| {
            let mut mac = state.clone();
            feed_link(&mut mac, prev, position, seq, event_mac);
            mac.verify_slice(stored).is_ok()
        })
    }
}

/// A stretch of positions, and the link just before it (the predecessor of its first row).
pub(super) struct Stretch {
    pub positions: RangeInclusive<i64>,
    pub prev_position: i64,
    pub prev_link: Vec<u8>,
}

#[derive(Default)]
pub(super) struct StretchReport {
    pub links: u64,
    pub events: u64,
    pub findings: Vec<Finding>,
    pub last: Option<ChainHead>,
}

/// The link and its row, side by side; the row's columns are `None` when it is gone.
pub(super) fn select(positions: &RangeInclusive<i64>) -> String {
    format!(
        "SELECT c.position, c.event_seq, c.link, c.key_version, e.seq, e.id, e.occurred_at, e.actor_user_id, \
         e.actor_role, e.patient_id, e.action, e.resource_type, e.resource_id, e.outcome, e.rule, e.purpose, \
         e.justification, e.ip, e.user_agent, e.request_id, e.mac, e.key_version \
         FROM audit_chain c LEFT JOIN audit_event e ON e.seq = c.event_seq \
         WHERE c.position BETWEEN {} AND {} ORDER BY c.position",
        positions.start(),
        positions.end()
    )
}

/// The checks of one streamed row, the same for every way of reading.
pub(super) struct Checker<'k> {
    keys: &'k Keys,
    expected: i64,
    prev: Vec<u8>,
    report: StretchReport,
    max_findings: usize,
    last: Option<(i64, i64)>,
}

impl<'k> Checker<'k> {
    pub(super) fn new(keys: &'k Keys, stretch: &Stretch, max_findings: usize) -> Self {
        Self {
            keys,
            expected: stretch.prev_position + 1,
            prev: stretch.prev_link.clone(),
            report: StretchReport::default(),
            max_findings,
            last: None,
        }
    }

    fn found(&mut self, finding: Finding) {
        if self.report.findings.len() < self.max_findings {
            self.report.findings.push(finding);
        }
    }

    pub(super) fn check(&mut self, link: LinkRow<'_>, event: Option<EventRow<'_>>) {
        if link.position != self.expected {
            self.found(Finding::ChainGap { position: self.expected });
        }
        self.expected = link.position + 1;
        self.report.links += 1;
        match event {
            None => self.found(Finding::EventMissing { seq: link.event_seq, position: link.position }),
            Some(event) => {
                self.report.events += 1;
                let content_matches = event
                    .fields
                    .as_ref()
                    .is_some_and(|fields| self.keys.event_matches(event.key_version, fields, event.mac));
                if !content_matches {
                    self.found(Finding::EventAltered { seq: event.seq });
                }
                if !self.keys.link_matches(link.key_version, &self.prev, link.position, event.seq, event.mac, link.link)
                {
                    self.found(Finding::ChainAltered { position: link.position, seq: event.seq });
                }
            }
        }
        self.prev.clear();
        self.prev.extend_from_slice(link.link);
        self.last = Some((link.position, link.event_seq));
    }

    pub(super) fn finish(mut self) -> StretchReport {
        self.report.last =
            self.last.map(|(position, event_seq)| ChainHead { position, event_seq, link: self.prev.clone() });
        self.report
    }
}

/// Streams and checks one stretch. `$pool` is a sqlx pool of either backend: the decoding is
/// the same code, and each backend's driver turns its column types into these Rust types.
macro_rules! check_stretch {
    ($pool:expr, $keys:expr, $stretch:expr, $max_findings:expr, $progress:expr) => {{
        let sql = select(&$stretch.positions);
        let mut checker = Checker::new($keys, &$stretch, $max_findings);
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch($pool);
        let mut progress = Progress::new($progress);
        while let Some(row) = rows.try_next().await? {
            let link = LinkRow {
                position: row.try_get(0)?,
                event_seq: row.try_get(1)?,
                link: row.try_get(2)?,
                key_version: row.try_get(3)?,
            };
            let event = match row.try_get::<Option<i64>, _>(4)? {
                None => None,
                Some(seq) => Some(EventRow {
                    seq,
                    fields: Some(EventFields {
                        id: row.try_get::<Uuid, _>(5)?.into_bytes(),
                        occurred_at_micros: row.try_get::<DateTime<Utc>, _>(6)?.timestamp_micros(),
                        actor_user_id: row.try_get::<Option<Uuid>, _>(7)?.map(Uuid::into_bytes),
                        actor_role: row.try_get(8)?,
                        patient_id: row.try_get::<Option<Uuid>, _>(9)?.map(Uuid::into_bytes),
                        action: row.try_get(10)?,
                        resource_type: row.try_get(11)?,
                        resource_id: row.try_get(12)?,
                        outcome: row.try_get(13)?,
                        rule: row.try_get(14)?,
                        purpose: row.try_get(15)?,
                        justification: row.try_get(16)?,
                        ip: row.try_get(17)?,
                        user_agent: row.try_get(18)?,
                        request_id: row.try_get(19)?,
                    }),
                    mac: row.try_get(20)?,
                    key_version: row.try_get(21)?,
                }),
            };
            checker.check(link, event);
            progress.row_checked();
        }
        progress.flush();
        Ok(checker.finish())
    }};
}

pub(super) async fn check_postgres(
    pool: &sqlx::PgPool,
    keys: &Keys,
    stretch: Stretch,
    max_findings: usize,
    progress: &UnboundedSender<u64>,
) -> Result<StretchReport, sqlx::Error> {
    check_stretch!(pool, keys, stretch, max_findings, progress)
}

pub(super) async fn check_sqlite(
    pool: &sqlx::SqlitePool,
    keys: &Keys,
    stretch: Stretch,
    max_findings: usize,
    progress: &UnboundedSender<u64>,
) -> Result<StretchReport, sqlx::Error> {
    check_stretch!(pool, keys, stretch, max_findings, progress)
}

pub(super) struct LinkRow<'r> {
    pub position: i64,
    pub event_seq: i64,
    pub link: &'r [u8],
    pub key_version: i32,
}

pub(super) struct EventRow<'r> {
    pub seq: i64,
    /// `None` when a column holds what the app never writes (a timestamp that is not RFC 3339,
    /// an id that is not 16 bytes): the row was changed outside the app.
    pub fields: Option<EventFields<'r>>,
    pub mac: &'r [u8],
    pub key_version: i32,
}
