//! Links committed audit rows into a keyed hash chain, shortly after they commit.
//!
//! Request transactions only insert their row; this step, run in the background on any node,
//! appends one `audit_chain` row per event: `link = HMAC(k, prev_link || position || seq || mac)`.
//! Chainers on several nodes take turns through a transaction-scoped advisory lock that only
//! they take (and the position primary key would refuse a second link at one position), so no
//! lock is ever held across request commits.
//!
//! Rows can commit out of `seq` order (a transaction that took seq 10 may commit after 11), so
//! the chainer links whatever is unlinked, in `seq` order, looking back a bounded window behind
//! the newest linked row. A row that commits later than that window is never hidden: `verify`
//! reports it as unchained.
//!
//! Each link records the chain key version it was made with (`server keys rotate-audit` adds
//! one). The chainer also keeps its own health: one that has failed for longer than
//! [`AuditChainer::failure_grace`] makes `/readyz` say so.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use hmac::{Hmac, Mac};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};
use sha2::Sha256;

use crate::domain::Error;
use crate::domain::clock::Clock;
use crate::domain::crypto::{AuditKeyKind, CryptoError, KekProvider};
use crate::domain::entities::{audit_chain, audit_event};

const BATCH: u64 = 500;
/// How far behind the newest linked row the chainer looks for rows that committed late.
pub const LOOKBACK_SEQS: i64 = 50_000;
/// How far behind it looks in a [`Lookback::Recent`] round. A row commits late when its
/// transaction took its seq before another's and committed after it was linked: on PostgreSQL
/// under load that is milliseconds and a few seqs. Scanning the whole window on every round
/// cost PostgreSQL 100-400 ms a round at 60,000 rows (a hash anti join), most of the database's
/// time under the chart-read benchmark.
pub const RECENT_LOOKBACK_SEQS: i64 = 2_000;
pub const GENESIS: [u8; 32] = [0; 32];
/// The PostgreSQL advisory lock that serializes chainers (an arbitrary constant, "audit" in ASCII).
const CHAIN_LOCK_KEY: i64 = 0x61_75_64_69_74;

/// How far back a round of linking looks for rows that committed late.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookback {
    /// [`RECENT_LOOKBACK_SEQS`]: every round of a running node.
    Recent,
    /// [`LOOKBACK_SEQS`]: now and then on a running node, and whenever everything must be linked.
    Full,
}

impl Lookback {
    fn seqs(self) -> i64 {
        match self {
            Self::Recent => RECENT_LOOKBACK_SEQS,
            Self::Full => LOOKBACK_SEQS,
        }
    }
}

pub struct AuditChainer {
    provider: Arc<dyn KekProvider>,
    clock: Arc<dyn Clock>,
    health: Mutex<Health>,
}

#[derive(Clone, Copy, Debug)]
struct Health {
    /// Since when every attempt (linking or writing a checkpoint) has failed.
    failing_since: Option<DateTime<Utc>>,
    /// The ERROR line for this run of failures has been written.
    alarmed: bool,
    grace: Duration,
}

/// The newest link: what a checkpoint vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub position: i64,
    pub event_seq: i64,
    pub link: Vec<u8>,
}

impl std::fmt::Debug for AuditChainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditChainer")
    }
}

impl AuditChainer {
    pub fn new(provider: Arc<dyn KekProvider>, clock: Arc<dyn Clock>) -> Self {
        let health = Health { failing_since: None, alarmed: false, grace: Duration::minutes(5) };
        Self { provider, clock, health: Mutex::new(health) }
    }

    /// The chain key version new links are made with.
    pub fn active_version(&self) -> i32 {
        i32::try_from(self.provider.audit_active_version()).unwrap_or(i32::MAX)
    }

    /// `HMAC(chain key of key_version, prev || position || seq || mac)`.
    pub fn link(
        &self,
        prev: &[u8],
        position: i64,
        event_seq: i64,
        event_mac: &[u8],
        key_version: i32,
    ) -> Result<[u8; 32], CryptoError> {
        Ok(self.keyed(prev, position, event_seq, event_mac, key_version)?.finalize().into_bytes().into())
    }

    /// Whether `stored` is the link that follows `prev`, compared in constant time (`hmac`'s
    /// `verify_slice`). A link naming a key version that is not loaded does not match.
    pub fn link_matches(
        &self,
        prev: &[u8],
        position: i64,
        event_seq: i64,
        event_mac: &[u8],
        key_version: i32,
        stored: &[u8],
    ) -> bool {
        self.keyed(prev, position, event_seq, event_mac, key_version).is_ok_and(|mac| mac.verify_slice(stored).is_ok())
    }

    fn keyed(
        &self,
        prev: &[u8],
        position: i64,
        event_seq: i64,
        event_mac: &[u8],
        key_version: i32,
    ) -> Result<Hmac<Sha256>, CryptoError> {
        let mut mac = self.keyed_state(key_version)?;
        feed_link(&mut mac, prev, position, event_seq, event_mac);
        Ok(mac)
    }

    /// The HMAC state keyed for `key_version`, before any content (see `EventMac::keyed_state`).
    pub(super) fn keyed_state(&self, key_version: i32) -> Result<Hmac<Sha256>, CryptoError> {
        let version = u32::try_from(key_version).map_err(|_| CryptoError::UnknownAuditKey(u32::MAX))?;
        let key = self.provider.audit_key(version, AuditKeyKind::ChainLink)?;
        Ok(Hmac::<Sha256>::new_from_slice(key.expose()).expect("HMAC accepts any key length"))
    }

    /// How long the chainer may keep failing before `/readyz` reports it (default 5 minutes).
    pub fn set_failure_grace(&self, grace: Duration) {
        self.lock_health().grace = grace;
    }

    pub fn failure_grace(&self) -> Duration {
        self.lock_health().grace
    }

    /// A round of linking (and checkpointing) went through.
    pub fn note_success(&self) {
        let mut health = self.lock_health();
        if health.failing_since.take().is_some() && health.alarmed {
            tracing::info!("audit chainer recovered");
        }
        health.alarmed = false;
    }

    /// A round failed. Past the grace period this writes one line at ERROR level.
    pub fn note_failure(&self) {
        let now = self.clock.now();
        let mut health = self.lock_health();
        let since = *health.failing_since.get_or_insert(now);
        if !health.alarmed && now - since > health.grace {
            health.alarmed = true;
            tracing::error!(
                failing_since = %since.to_rfc3339(),
                grace_seconds = health.grace.num_seconds(),
                "audit chainer has failed for longer than its grace period: new audit rows are not \
                 being linked or checkpointed (each row is still protected by its MAC)"
            );
        }
    }

    /// False once the chainer has failed for longer than the grace period.
    pub fn is_healthy(&self) -> bool {
        let now = self.clock.now();
        let health = self.lock_health();
        health.failing_since.is_none_or(|since| now - since <= health.grace)
    }

    fn lock_health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Signs and checks checkpoints with the same key provider.
    pub fn checkpoint_signer(&self) -> super::checkpoint::CheckpointSigner {
        super::checkpoint::CheckpointSigner::new(self.provider.clone())
    }

    /// The newest link, if any row was ever linked.
    pub async fn head(&self, db: &DatabaseConnection) -> Result<Option<ChainHead>, Error> {
        let last = audit_chain::Entity::find().order_by_desc(audit_chain::Column::Position).one(db).await?;
        Ok(last.map(|row| ChainHead { position: row.position, event_seq: row.event_seq, link: row.link }))
    }

    /// Links every row committed so far. Returns how many rows were linked.
    pub async fn chain_pending(&self, db: &DatabaseConnection) -> Result<u64, Error> {
        self.chain_pending_within(db, Lookback::Full).await
    }

    /// Links the rows committed so far that lie within `lookback` of the newest link, and all
    /// newer ones. Returns how many rows were linked.
    pub async fn chain_pending_within(&self, db: &DatabaseConnection, lookback: Lookback) -> Result<u64, Error> {
        let mut total = 0;
        let mut conflicts = 0;
        loop {
            match self.chain_batch(db, lookback).await {
                // A batch that was not full saw every committed row: caught up. Looping on
                // would rescan the look-back window for each trickle of new rows while
                // requests keep writing, starving them of the (single SQLite) connection.
                Ok(linked) if linked < BATCH => return Ok(total + linked),
                Ok(linked) => total += linked,
                // Another node linked the same position first: start again from its link.
                Err(err) if is_unique_violation(&err) && conflicts < 20 => conflicts += 1,
                Err(err) => return Err(err.into()),
            }
        }
    }

    async fn chain_batch(&self, db: &DatabaseConnection, lookback: Lookback) -> Result<u64, DbErr> {
        let txn = db.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // Chainers on several nodes take turns; request transactions never take this lock.
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})")).await?;
        }
        let last = audit_chain::Entity::find().order_by_desc(audit_chain::Column::Position).one(&txn).await?;
        let floor = newest_linked_seq(&txn, None).await?.saturating_sub(lookback.seqs());
        // Both sides bounded by the window: unbounded, PostgreSQL hashed the whole chain.
        let linked_in_window = linked_subquery()
            .and_where(Expr::col((audit_chain::Entity, audit_chain::Column::EventSeq)).gt(floor))
            .to_owned();
        let pending = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(floor))
            .filter(Expr::exists(linked_in_window).not())
            .order_by_asc(audit_event::Column::Seq)
            .limit(BATCH)
            .all(&txn)
            .await?;
        let (mut position, mut prev) = match last {
            Some(row) => (row.position, row.link),
            None => (0, GENESIS.to_vec()),
        };
        let now = self.clock.now();
        let linked = pending.len() as u64;
        let key_version = self.active_version();
        for event in pending {
            position += 1;
            let link = self
                .link(&prev, position, event.seq, &event.mac, key_version)
                .map_err(|err| DbErr::Custom(format!("audit chain key: {err}")))?
                .to_vec();
            audit_chain::ActiveModel {
                position: Set(position),
                event_seq: Set(event.seq),
                link: Set(link.clone()),
                chained_at: Set(now),
                key_version: Set(key_version),
            }
            .insert(&txn)
            .await?;
            prev = link;
        }
        txn.commit().await?;
        Ok(linked)
    }
}

/// What a link's HMAC covers, after the key: `prev || position || seq || mac`.
pub(super) fn feed_link(mac: &mut Hmac<Sha256>, prev: &[u8], position: i64, event_seq: i64, event_mac: &[u8]) {
    mac.update(b"audit_chain/v1");
    mac.update(prev);
    mac.update(&position.to_be_bytes());
    mac.update(&event_seq.to_be_bytes());
    mac.update(event_mac);
}

/// The newest event seq the chain links (at positions up to `head_position`, if given); 0 for
/// an empty chain.
pub(super) async fn newest_linked_seq<C: ConnectionTrait>(conn: &C, head_position: Option<i64>) -> Result<i64, DbErr> {
    let mut query = audit_chain::Entity::find().select_only().column_as(audit_chain::Column::EventSeq.max(), "max");
    if let Some(head) = head_position {
        query = query.filter(audit_chain::Column::Position.lte(head));
    }
    let newest: Option<i64> = query.into_tuple().one(conn).await?.flatten();
    Ok(newest.unwrap_or(0))
}

/// `SELECT 1 FROM audit_chain WHERE audit_chain.event_seq = audit_event.seq`
pub(super) fn linked_subquery() -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(audit_chain::Entity)
        .and_where(
            Expr::col((audit_chain::Entity, audit_chain::Column::EventSeq))
                .equals((audit_event::Entity, audit_event::Column::Seq)),
        )
        .to_owned()
}

fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
