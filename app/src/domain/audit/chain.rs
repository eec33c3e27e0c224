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

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};
use sha2::Sha256;

use crate::domain::Error;
use crate::domain::clock::Clock;
use crate::domain::crypto::{KekProvider, KeyBytes};
use crate::domain::entities::{audit_chain, audit_event};

const BATCH: u64 = 500;
/// How far behind the newest linked row the chainer looks for rows that committed late.
pub const LOOKBACK_SEQS: i64 = 50_000;
pub const GENESIS: [u8; 32] = [0; 32];
/// The PostgreSQL advisory lock that serializes chainers (an arbitrary constant, "audit" in ASCII).
const CHAIN_LOCK_KEY: i64 = 0x61_75_64_69_74;

pub struct AuditChainer {
    key: KeyBytes,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for AuditChainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditChainer")
    }
}

impl AuditChainer {
    pub fn new(provider: &dyn KekProvider, clock: Arc<dyn Clock>) -> Self {
        Self { key: provider.derive_secret("audit-chain/v1"), clock }
    }

    pub fn link(&self, prev: &[u8], position: i64, event_seq: i64, event_mac: &[u8]) -> [u8; 32] {
        self.keyed(prev, position, event_seq, event_mac).finalize().into_bytes().into()
    }

    /// Whether `stored` is the link that follows `prev`, compared in constant time.
    pub fn link_matches(&self, prev: &[u8], position: i64, event_seq: i64, event_mac: &[u8], stored: &[u8]) -> bool {
        self.keyed(prev, position, event_seq, event_mac).verify_slice(stored).is_ok()
    }

    fn keyed(&self, prev: &[u8], position: i64, event_seq: i64, event_mac: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose()).expect("HMAC accepts any key length");
        mac.update(b"audit_chain/v1");
        mac.update(prev);
        mac.update(&position.to_be_bytes());
        mac.update(&event_seq.to_be_bytes());
        mac.update(event_mac);
        mac
    }

    /// Links every row committed so far. Returns how many rows were linked.
    pub async fn chain_pending(&self, db: &DatabaseConnection) -> Result<u64, Error> {
        let mut total = 0;
        let mut conflicts = 0;
        loop {
            match self.chain_batch(db).await {
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

    async fn chain_batch(&self, db: &DatabaseConnection) -> Result<u64, DbErr> {
        let txn = db.begin().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // Chainers on several nodes take turns; request transactions never take this lock.
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})")).await?;
        }
        let last = audit_chain::Entity::find().order_by_desc(audit_chain::Column::Position).one(&txn).await?;
        let newest_seq: Option<i64> = audit_chain::Entity::find()
            .select_only()
            .column_as(audit_chain::Column::EventSeq.max(), "max")
            .into_tuple()
            .one(&txn)
            .await?
            .flatten();
        let floor = newest_seq.unwrap_or(0).saturating_sub(LOOKBACK_SEQS);
        let pending = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(floor))
            .filter(Expr::exists(linked_subquery()).not())
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
        for event in pending {
            position += 1;
            let link = self.link(&prev, position, event.seq, &event.mac).to_vec();
            audit_chain::ActiveModel {
                position: Set(position),
                event_seq: Set(event.seq),
                link: Set(link.clone()),
                chained_at: Set(now),
            }
            .insert(&txn)
            .await?;
            prev = link;
        }
        txn.commit().await?;
        Ok(linked)
    }
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
