//! `audit verify`: walks the chain and the log and names the first row that does not hold.
//!
//! Pass 1 follows the chain by position: every link must follow its predecessor, point at an
//! existing row whose content matches its MAC, and hash correctly. The chain is cut into
//! stretches checked in parallel, each streamed in one query (link joined to row), so the
//! rate is bound by the cores, not by round trips. Pass 2 looks at rows not yet linked: each
//! must match its MAC, and only rows younger than the grace period may be unlinked; the count
//! of rows tells whether any unlinked row hides further back. Duplicate ids are asked of the
//! database. Together they find a changed row (MAC), a deleted row (a link to nothing, or a gap
//! in positions) and an inserted row (no valid MAC without the key, or a duplicate id).
//!
//! A run can resume from a signed checkpoint of an earlier clean run ([`VerifyOptions::resume`]):
//! it then proves that the checkpointed link is still the one stored, and checks only the links
//! after it and the rows not yet linked. Rows before the checkpoint are the full run's job.

mod sqlite_file;
mod stream;
mod unlinked;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sqlx};
use tokio::sync::mpsc;
use uuid::Uuid;

use self::stream::{Keys, Stretch, StretchReport};
use super::chain::{AuditChainer, ChainHead, GENESIS};
use super::checkpoint::Checkpoint;
use super::mac::EventMac;
use crate::domain::Error;
use crate::domain::entities::{audit_chain, audit_event};

const MAX_FINDINGS: usize = 100;
/// The smallest stretch of the chain one worker streams: below it, a query's set-up dominates.
const MIN_STRETCH: i64 = 65_536;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The row's content no longer matches its MAC: changed, or inserted without the key.
    EventAltered { seq: i64 },
    /// A link points at a row that is gone.
    EventMissing { seq: i64, position: i64 },
    /// A link is missing from the chain: its row and link were deleted together.
    ChainGap { position: i64 },
    /// A link's hash does not follow from its predecessor.
    ChainAltered { position: i64, seq: i64 },
    /// A second row with an id already seen: a copied row.
    DuplicateEvent { seq: i64, id: Uuid },
    /// A row older than the grace period that was never linked.
    Unchained { seq: i64 },
    /// The chain no longer holds the link a signed checkpoint of an earlier clean run names:
    /// rows were removed, or an older copy of the database was restored.
    CheckpointNotHeld { position: i64, seq: i64 },
}

impl Finding {
    /// The audit row this finding is about, where there is one.
    pub fn seq(&self) -> Option<i64> {
        match self {
            Finding::EventAltered { seq }
            | Finding::EventMissing { seq, .. }
            | Finding::ChainAltered { seq, .. }
            | Finding::DuplicateEvent { seq, .. }
            | Finding::Unchained { seq }
            | Finding::CheckpointNotHeld { seq, .. } => Some(*seq),
            Finding::ChainGap { .. } => None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::EventAltered { seq } => {
                write!(f, "audit row seq {seq} does not match its MAC: it was changed, or inserted without the key")
            }
            Finding::EventMissing { seq, position } => {
                write!(f, "audit row seq {seq} was deleted (chain position {position} points at it)")
            }
            Finding::ChainGap { position } => {
                write!(f, "chain position {position} is missing: a row and its link were deleted")
            }
            Finding::ChainAltered { position, seq } => {
                write!(f, "chain link at position {position} (audit row seq {seq}) does not follow from the one before")
            }
            Finding::DuplicateEvent { seq, id } => {
                write!(f, "audit row seq {seq} repeats the id {id} of an earlier row")
            }
            Finding::Unchained { seq } => write!(f, "audit row seq {seq} was never linked into the chain"),
            Finding::CheckpointNotHeld { position, seq } => write!(
                f,
                "chain position {position} (audit row seq {seq}) is not the link the last clean verify signed: \
                 rows were removed or an older copy of the database restored; the whole log was checked"
            ),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub events_checked: u64,
    pub links_checked: u64,
    /// Rows younger than the grace period, not yet linked: normal on a live system.
    pub pending: u64,
    pub findings: Vec<Finding>,
    /// The newest link checked: where the next run may resume.
    pub head: Option<ChainHead>,
    /// The chain position this run resumed after; `None` for a run over the whole log.
    pub resumed_from: Option<i64>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }

    pub fn first_problem(&self) -> Option<&Finding> {
        self.findings.first()
    }

    fn found(&mut self, finding: Finding) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(finding);
        }
    }
}

/// How one run goes.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub now: DateTime<Utc>,
    /// How long a row may stay unlinked before it counts as hidden from the chain.
    pub grace: Duration,
    /// A checkpoint of an earlier clean run, already found genuine by the caller: only the
    /// links after it, and the rows not yet linked, are checked.
    pub resume: Option<Checkpoint>,
    /// Stretches streamed at once; 0 means one per core.
    pub workers: usize,
    /// The fewest positions one stretch streams (below about this, a query's set-up dominates).
    pub stretch_positions: i64,
    /// How far behind the newest link unlinked rows are read directly (the chainer's own
    /// look-back); older unlinked rows are searched for only when the count says there are some.
    pub lookback_seqs: i64,
}

impl VerifyOptions {
    pub fn full(now: DateTime<Utc>, grace: Duration) -> Self {
        Self {
            now,
            grace,
            resume: None,
            workers: 0,
            stretch_positions: MIN_STRETCH,
            lookback_seqs: super::chain::LOOKBACK_SEQS,
        }
    }
}

/// Walks the whole log. `progress(done, total)` is called as rows are checked.
pub async fn verify(
    db: &DatabaseConnection,
    mac: &EventMac,
    chainer: &AuditChainer,
    now: DateTime<Utc>,
    grace: Duration,
    progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, Error> {
    verify_with(db, mac, chainer, &VerifyOptions::full(now, grace), progress).await
}

/// Walks the log as `options` say: all of it, or what is new since a checkpoint.
pub async fn verify_with(
    db: &DatabaseConnection,
    mac: &EventMac,
    chainer: &AuditChainer,
    options: &VerifyOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, Error> {
    let keys = Arc::new(Keys::load(mac, chainer));
    // The chain and the log as they stand now; what is written while this runs is the next
    // run's. The newest seq is read after the head, so every linked row is at or below it.
    let head_position = max_position(db).await?;
    let newest_seq = max_seq(db).await?;
    let mut report = VerifyReport::default();

    let mut start = (0, GENESIS.to_vec());
    if let Some(checkpoint) = &options.resume {
        if holds(db, checkpoint).await? {
            start = (checkpoint.position, checkpoint.link.clone());
            report.resumed_from = Some(checkpoint.position);
            report.head = Some(ChainHead {
                position: checkpoint.position,
                event_seq: checkpoint.event_seq,
                link: checkpoint.link.clone(),
            });
        } else {
            report.found(Finding::CheckpointNotHeld { position: checkpoint.position, seq: checkpoint.event_seq });
        }
    }

    let workers = match options.workers {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    };
    let started = std::time::Instant::now();
    let plan = Plan { start, head_position, workers, stretch_positions: options.stretch_positions.max(1) };
    let stretches = check_chain(db, keys.clone(), plan, &mut progress).await?;
    for stretch in stretches {
        report.links_checked += stretch.links;
        report.events_checked += stretch.events;
        report.head = stretch.last.or(report.head.take());
        for finding in stretch.findings {
            report.found(finding);
        }
    }

    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        links = report.links_checked,
        "audit verify: chain checked"
    );
    let linked_events = report.events_checked;
    let scope = unlinked::Scope {
        head_position,
        newest_seq,
        linked_events: report.resumed_from.is_none().then_some(linked_events),
        lookback_seqs: options.lookback_seqs,
        now: options.now,
        grace: options.grace,
    };
    unlinked::check(db, mac, &scope, &mut report).await?;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "audit verify: unlinked rows and duplicates checked"
    );
    progress(report.events_checked, report.events_checked);
    // Findings in log order, so the first one named is the earliest bad row.
    report.findings.sort_by_key(|f| f.seq().unwrap_or(i64::MAX));
    Ok(report)
}

/// True when the chain still holds, at the checkpoint's position, the very link it names.
async fn holds(db: &DatabaseConnection, checkpoint: &Checkpoint) -> Result<bool, Error> {
    let stored = audit_chain::Entity::find_by_id(checkpoint.position).one(db).await?;
    Ok(stored.is_some_and(|link| link.event_seq == checkpoint.event_seq && link.link == checkpoint.link))
}

async fn max_position(db: &DatabaseConnection) -> Result<i64, Error> {
    let max: Option<i64> = audit_chain::Entity::find()
        .select_only()
        .column_as(audit_chain::Column::Position.max(), "max")
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    Ok(max.unwrap_or(0))
}

async fn max_seq(db: &DatabaseConnection) -> Result<i64, Error> {
    let max: Option<i64> = audit_event::Entity::find()
        .select_only()
        .column_as(audit_event::Column::Seq.max(), "max")
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    Ok(max.unwrap_or(0))
}

/// What pass 1 covers: the positions after `start` up to `head_position`.
struct Plan {
    start: (i64, Vec<u8>),
    head_position: i64,
    workers: usize,
    stretch_positions: i64,
}

/// Pass 1, in stretches across the workers.
async fn check_chain(
    db: &DatabaseConnection,
    keys: Arc<Keys>,
    plan: Plan,
    progress: &mut impl FnMut(u64, u64),
) -> Result<Vec<StretchReport>, Error> {
    let Plan { start, head_position, workers, stretch_positions } = plan;
    let total = u64::try_from(head_position - start.0).unwrap_or(0);
    if total == 0 {
        return Ok(Vec::new());
    }
    let workers_i64 = i64::try_from(workers.max(1)).unwrap_or(1);
    let parts = workers_i64 * 4;
    let length = ((head_position - start.0 + parts - 1) / parts).max(stretch_positions);
    let mut queue = VecDeque::new();
    let mut first = start.0 + 1;
    while first <= head_position {
        let last = (first + length - 1).min(head_position);
        queue.push_back(first..=last);
        first = last + 1;
    }
    let workers = workers.min(queue.len());
    let queue = Arc::new(Mutex::new(queue));
    let pool = Pool::for_workers(db)?;
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (db, keys, pool, queue, sender) = (db.clone(), keys.clone(), pool.clone(), queue.clone(), sender.clone());
        let start = start.clone();
        tasks.spawn(async move {
            let mut done = Vec::new();
            loop {
                let next = queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop_front();
                let Some(positions) = next else { break };
                let (prev_position, prev_link) = if *positions.start() == start.0 + 1 {
                    start.clone()
                } else {
                    link_before(&db, *positions.start()).await?
                };
                let first = *positions.start();
                let stretch = Stretch { positions, prev_position, prev_link };
                done.push((first, pool.check(&keys, stretch, &sender).await?));
            }
            Ok::<_, Error>(done)
        });
    }
    drop(sender);
    let mut checked = 0;
    while let Some(rows) = receiver.recv().await {
        checked += rows;
        progress(checked, total);
    }
    let mut stretches = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let done = joined.map_err(|err| Error::Internal(anyhow::Error::new(err).context("audit verify worker")))??;
        stretches.extend(done);
    }
    stretches.sort_by_key(|(first, _)| *first);
    Ok(stretches.into_iter().map(|(_, report)| report).collect())
}

/// The newest link before `position`, or the genesis when there is none: the predecessor a
/// stretch starting at `position` must follow (a gap just before it is then found in it).
async fn link_before(db: &DatabaseConnection, position: i64) -> Result<(i64, Vec<u8>), Error> {
    let before = audit_chain::Entity::find()
        .filter(audit_chain::Column::Position.lt(position))
        .order_by_desc(audit_chain::Column::Position)
        .one(db)
        .await?;
    Ok(before.map_or((0, GENESIS.to_vec()), |link| (link.position, link.link)))
}

/// Where the stretches read: PostgreSQL's pool; a SQLite file, opened read-only by each
/// stretch on a blocking thread (the app's pool is one connection, the single writer); or an
/// in-memory SQLite database, which only the app's own connection can see.
#[derive(Clone)]
enum Pool {
    Postgres(sqlx::PgPool),
    SqliteFile(Arc<std::path::Path>),
    SqliteMemory(sqlx::SqlitePool),
}

impl Pool {
    fn for_workers(db: &DatabaseConnection) -> Result<Self, Error> {
        match db.get_database_backend() {
            DbBackend::Postgres => Ok(Self::Postgres(db.get_postgres_connection_pool().clone())),
            _ => {
                let shared = db.get_sqlite_connection_pool();
                let options = shared.connect_options();
                let path = options.get_filename();
                if path == std::path::Path::new(":memory:") {
                    return Ok(Self::SqliteMemory(shared.clone()));
                }
                Ok(Self::SqliteFile(Arc::from(path)))
            }
        }
    }

    async fn check(
        &self,
        keys: &Arc<Keys>,
        stretch: Stretch,
        progress: &mpsc::UnboundedSender<u64>,
    ) -> Result<StretchReport, Error> {
        match self {
            Self::Postgres(pool) => {
                stream::check_postgres(pool, keys, stretch, MAX_FINDINGS, progress).await.map_err(stream_error)
            }
            Self::SqliteMemory(pool) => {
                stream::check_sqlite(pool, keys, stretch, MAX_FINDINGS, progress).await.map_err(stream_error)
            }
            Self::SqliteFile(path) => {
                let (path, keys, progress) = (path.clone(), keys.clone(), progress.clone());
                tokio::task::spawn_blocking(move || sqlite_file::check(&path, &keys, stretch, MAX_FINDINGS, &progress))
                    .await
                    .map_err(|err| Error::Internal(anyhow::Error::new(err).context("audit verify worker")))?
                    .map_err(stream_error)
            }
        }
    }
}

fn stream_error(err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Internal(anyhow::Error::new(err).context("audit verify could not read the log"))
}
