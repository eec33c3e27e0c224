//! Per-patient data keys: created wrapped, unwrapped on demand into a small cache bounded in
//! size and age, re-wrapped when the KEK rotates, destroyed to crypto-shred one patient.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lru::LruCache;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::{CryptoError, DataKey, KekProvider, KeyBytes, WrappedKey};
use crate::domain::Error;
use crate::domain::entities::data_key;

pub struct DataKeys {
    provider: Arc<dyn KekProvider>,
    cache: Mutex<LruCache<Uuid, (Arc<DataKey>, Instant)>>,
    ttl: Duration,
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys").field("kek_id", &self.provider.kek_id()).finish_non_exhaustive()
    }
}

impl DataKeys {
    pub fn new(provider: Arc<dyn KekProvider>, capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self { provider, cache: Mutex::new(LruCache::new(capacity)), ttl }
    }

    pub fn provider(&self) -> &Arc<dyn KekProvider> {
        &self.provider
    }

    /// Creates, wraps and stores a fresh data key for `subject_id` (a patient id).
    pub async fn create<C: ConnectionTrait>(
        &self,
        conn: &C,
        subject_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Arc<DataKey>, Error> {
        let id = Uuid::now_v7();
        let key = KeyBytes::random();
        let wrapped = self.provider.wrap(id, &key)?;
        data_key::ActiveModel {
            id: Set(id),
            subject_id: Set(subject_id),
            kek_id: Set(wrapped.kek_id),
            kek_version: Set(version_to_db(wrapped.kek_version)?),
            wrapped: Set(Some(wrapped.bytes)),
            created_at: Set(now),
            rewrapped_at: Set(None),
            destroyed_at: Set(None),
        }
        .insert(conn)
        .await?;
        let key = Arc::new(DataKey::new(id, &key));
        self.remember(key.clone());
        Ok(key)
    }

    /// The unwrapped data key `id`, from the cache when fresh.
    pub async fn get<C: ConnectionTrait>(&self, conn: &C, id: Uuid) -> Result<Arc<DataKey>, Error> {
        if let Some(key) = self.cached(id) {
            return Ok(key);
        }
        let row = data_key::Entity::find_by_id(id).one(conn).await?.ok_or(CryptoError::UnknownDataKey(id))?;
        let bytes = row.wrapped.ok_or(CryptoError::DestroyedDataKey(id))?;
        let wrapped = WrappedKey { kek_id: row.kek_id, kek_version: version_from_db(row.kek_version)?, bytes };
        let key = Arc::new(DataKey::new(id, &self.provider.unwrap(id, &wrapped)?));
        self.remember(key.clone());
        Ok(key)
    }

    /// The data key of a subject (patient), if it has one.
    pub async fn id_for_subject<C: ConnectionTrait>(&self, conn: &C, subject_id: Uuid) -> Result<Option<Uuid>, Error> {
        Ok(data_key::Entity::find()
            .filter(data_key::Column::SubjectId.eq(subject_id))
            .one(conn)
            .await?
            .map(|row| row.id))
    }

    /// Crypto-shredding: forgets the wrapped key, so everything sealed under it is unreadable.
    /// Other nodes drop their cached copy when its age passes the cache's time limit.
    pub async fn destroy<C: ConnectionTrait>(&self, conn: &C, id: Uuid, now: DateTime<Utc>) -> Result<(), Error> {
        let result = data_key::Entity::update_many()
            .col_expr(data_key::Column::Wrapped, Expr::value(Option::<Vec<u8>>::None))
            .col_expr(data_key::Column::DestroyedAt, Expr::value(now))
            .filter(data_key::Column::Id.eq(id))
            .exec(conn)
            .await?;
        self.lock().pop(&id);
        if result.rows_affected == 0 {
            return Err(CryptoError::UnknownDataKey(id).into());
        }
        Ok(())
    }

    /// Re-wraps every live data key not yet under the active KEK version, in batches, each
    /// batch in its own transaction. Returns how many were re-wrapped. PHI is not touched.
    pub async fn rewrap_all(&self, db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, Error> {
        let active = version_to_db(self.provider.active_version())?;
        let kek_id = self.provider.kek_id().to_owned();
        let mut total = 0;
        loop {
            let txn = db.begin().await?;
            let batch = data_key::Entity::find()
                .filter(data_key::Column::Wrapped.is_not_null())
                .filter(data_key::Column::KekVersion.ne(active).or(data_key::Column::KekId.ne(kek_id.as_str())))
                .order_by_asc(data_key::Column::Id)
                .limit(500)
                .all(&txn)
                .await?;
            if batch.is_empty() {
                txn.commit().await?;
                return Ok(total);
            }
            for row in batch {
                let Some(bytes) = row.wrapped else { continue };
                let old = WrappedKey { kek_id: row.kek_id, kek_version: version_from_db(row.kek_version)?, bytes };
                let key = self.provider.unwrap(row.id, &old)?;
                let new = self.provider.wrap(row.id, &key)?;
                data_key::ActiveModel {
                    id: Set(row.id),
                    kek_id: Set(new.kek_id),
                    kek_version: Set(version_to_db(new.kek_version)?),
                    wrapped: Set(Some(new.bytes)),
                    rewrapped_at: Set(Some(now)),
                    ..Default::default()
                }
                .update(&txn)
                .await?;
                total += 1;
            }
            txn.commit().await?;
        }
    }

    /// How many live data keys each KEK version wraps: what an operator checks before retiring one.
    pub async fn count_by_version<C: ConnectionTrait>(&self, conn: &C) -> Result<Vec<(String, i32, i64)>, Error> {
        let rows: Vec<(String, i32, i64)> = data_key::Entity::find()
            .select_only()
            .column(data_key::Column::KekId)
            .column(data_key::Column::KekVersion)
            .column_as(data_key::Column::Id.count(), "count")
            .filter(data_key::Column::Wrapped.is_not_null())
            .group_by(data_key::Column::KekId)
            .group_by(data_key::Column::KekVersion)
            .into_tuple()
            .all(conn)
            .await?;
        Ok(rows)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Uuid, (Arc<DataKey>, Instant)>> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached(&self, id: Uuid) -> Option<Arc<DataKey>> {
        let mut cache = self.lock();
        match cache.get(&id) {
            Some((key, at)) if at.elapsed() < self.ttl => Some(key.clone()),
            Some(_) => {
                cache.pop(&id);
                None
            }
            None => None,
        }
    }

    fn remember(&self, key: Arc<DataKey>) {
        self.lock().put(key.id(), (key, Instant::now()));
    }
}

fn version_to_db(version: u32) -> Result<i32, Error> {
    i32::try_from(version).map_err(|_| Error::Internal(anyhow::anyhow!("KEK version {version} out of range")))
}

fn version_from_db(version: i32) -> Result<u32, Error> {
    u32::try_from(version).map_err(|_| Error::Internal(anyhow::anyhow!("stored KEK version {version} out of range")))
}
