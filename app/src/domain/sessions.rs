//! Server-side sessions in the database, behind tower-sessions, so that every app node sharing
//! one database sees the same sessions and a disabled user's sessions can be ended at once.
//!
//! Only the SHA-256 of a session id is stored: a copy of this table yields no usable cookie.
//! Session data holds ids and ceremony state, never PHI.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, SqlErr};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use uuid::Uuid;

use super::Error;
use super::clock::Clock;
use super::entities::session;
use super::lease::TaskLease;

/// The session data key that holds the signed-in user's id; copied to its own column so all of
/// a user's sessions can be found and ended.
pub const USER_ID_KEY: &str = "user_id";

#[derive(Clone)]
pub struct DbSessionStore {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessionStore")
    }
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    pub fn id_hash(id: &Id) -> String {
        hex::encode(Sha256::digest(id.to_string().as_bytes()))
    }

    /// Ends every session of `user_id` (sign-out everywhere, a disabled account).
    pub async fn end_all_for_user(&self, user_id: Uuid) -> Result<u64, Error> {
        let result = session::Entity::delete_many().filter(session::Column::UserId.eq(user_id)).exec(&self.db).await?;
        Ok(result.rows_affected)
    }

    /// Removes expired rows; expired sessions are already refused by `load`.
    pub async fn delete_expired(&self) -> Result<u64, Error> {
        let result = session::Entity::delete_many()
            .filter(session::Column::ExpiresAt.lte(self.clock.now()))
            .exec(&self.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// The cluster's periodic sweep: deletes expired rows if this node takes the sweep's lease
    /// for `period` (see [`TaskLease`]); None when another node has it.
    pub async fn sweep(&self, lease: &TaskLease, period: chrono::Duration) -> Result<Option<u64>, Error> {
        if !lease.acquire(period).await? {
            return Ok(None);
        }
        self.delete_expired().await.map(Some)
    }

    fn row(record: &Record) -> session_store::Result<session::ActiveModel> {
        let (user_id, data, expires_at) = Self::columns(record)?;
        Ok(session::ActiveModel {
            id_hash: Set(Self::id_hash(&record.id)),
            user_id: Set(user_id),
            data: Set(data),
            expires_at: Set(expires_at),
        })
    }

    /// The user id, the data and the expiry of `record`, as stored.
    fn columns(record: &Record) -> session_store::Result<(Option<Uuid>, String, DateTime<Utc>)> {
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let user_id = record.data.get(USER_ID_KEY).and_then(|value| serde_json::from_value::<Uuid>(value.clone()).ok());
        Ok((user_id, data, to_chrono(record.expiry_date)))
    }
}

fn to_chrono(at: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(at.unix_timestamp(), (at.nanosecond() / 1_000) * 1_000).unwrap_or_default()
}

fn to_time(at: DateTime<Utc>) -> session_store::Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.timestamp_micros()) * 1_000)
        .map_err(|e| session_store::Error::Decode(e.to_string()))
}

fn backend(err: DbErr) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh random id colliding is astronomically unlikely; if it happens, draw again
        // rather than overwrite someone else's session.
        for _ in 0..8 {
            match session::Entity::insert(Self::row(record)?).exec(&self.db).await {
                Ok(_) => return Ok(()),
                Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    record.id = Id::default();
                }
                Err(err) => return Err(backend(err)),
            }
        }
        Err(session_store::Error::Backend("could not allocate a session id".to_owned()))
    }

    /// Updates the session's row, never creates one: a session deleted meanwhile (signed out in
    /// another tab, ended by an admin, disabled, logged off) stays over, and a request or socket
    /// still holding its record cannot bring it back. Only [`create`](Self::create) inserts.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (user_id, data, expires_at) = Self::columns(record)?;
        let updated = session::Entity::update_many()
            .col_expr(session::Column::UserId, Expr::value(user_id))
            .col_expr(session::Column::Data, Expr::value(data))
            .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
            .filter(session::Column::IdHash.eq(Self::id_hash(&record.id)))
            .exec(&self.db)
            .await
            .map_err(backend)?;
        if updated.rows_affected == 0 {
            tracing::debug!("a session that has ended was not saved");
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = session::Entity::find_by_id(Self::id_hash(id))
            .filter(session::Column::ExpiresAt.gt(self.clock.now()))
            .one(&self.db)
            .await
            .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data = serde_json::from_str(&row.data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *id, data, expiry_date: to_time(row.expires_at)? }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        session::Entity::delete_by_id(Self::id_hash(id)).exec(&self.db).await.map_err(backend)?;
        Ok(())
    }
}
