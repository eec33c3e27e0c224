//! Connecting and migrating. SQLite is the embedded default; PostgreSQL the production database.

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

use super::Error;

/// How SQLite makes a commit durable (its `synchronous` setting, in WAL mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteDurability {
    /// Every commit reaches the disk before it returns: an audit row, once the reply that
    /// needed it is sent, survives a power loss. The server's default.
    #[default]
    Full,
    /// The write-ahead log is synced at checkpoints only: a power loss (not a crash of the
    /// process) can lose the newest commits. For throwaway databases (tests, benchmarks).
    Normal,
}

/// Connects to `url`; SQLite syncs only at checkpoints (tests, tools on a copy). The server
/// connects with [`connect_with`] and its configured durability.
pub async fn connect(url: &str) -> Result<DatabaseConnection, Error> {
    connect_with(url, SqliteDurability::Normal).await
}

/// Connects to `url`. For SQLite, one pooled connection: SQLite has a single writer, and every
/// audited read writes, so queueing in the pool beats failing with "database is locked".
pub async fn connect_with(url: &str, durability: SqliteDurability) -> Result<DatabaseConnection, Error> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        let synchronous = match durability {
            SqliteDurability::Full => sea_orm::sqlx::sqlite::SqliteSynchronous::Full,
            SqliteDurability::Normal => sea_orm::sqlx::sqlite::SqliteSynchronous::Normal,
        };
        options.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(synchronous)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
        });
    } else {
        options.max_connections(32).min_connections(1);
    }
    Ok(Database::connect(options).await?)
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), Error> {
    Migrator::up(db, None).await?;
    Ok(())
}

/// Migrates only when something is pending, so a connection without DDL rights (the app's
/// PostgreSQL role) gets through when the owner has already migrated.
pub async fn migrate_if_pending(db: &DatabaseConnection) -> Result<(), Error> {
    if !migrations_current(db).await? {
        migrate(db).await?;
    }
    Ok(())
}

/// True when every migration this build knows has been applied. Read-only: it never creates
/// the migrations table, so the app's restricted role can ask.
pub async fn migrations_current(db: &DatabaseConnection) -> Result<bool, Error> {
    Ok(Migrator::get_pending_migrations_read_only(db).await?.is_empty())
}

/// The tables the app's role may only INSERT into and SELECT from.
pub const AUDIT_TABLES: &[&str] = &["audit_event", "audit_chain"];

/// The role a connection acts as (PostgreSQL).
pub async fn current_role(db: &DatabaseConnection) -> Result<String, Error> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(DbBackend::Postgres, "SELECT current_user::text AS name"))
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("current_user returned no row")))?;
    Ok(row.try_get::<String>("", "name")?)
}

/// PostgreSQL, run as the schema owner after migrating: gives the app's `role` ordinary rights
/// on every table and sequence, but on the audit tables only INSERT and SELECT (no UPDATE,
/// DELETE, TRUNCATE, REFERENCES or TRIGGER; ALTER and DROP need ownership, which it never has),
/// and on the migrations table SELECT only. Idempotent: run after every migration, so new
/// tables get their grants.
pub async fn grant_app_role(owner: &DatabaseConnection, role: &str) -> Result<(), Error> {
    let valid = !role.is_empty()
        && role.len() <= 63
        && role.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !role.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        return Err(Error::validation("database role", "use lowercase letters, digits and _ (at most 63)"));
    }
    if owner.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    if current_role(owner).await? == role {
        return Err(Error::validation(
            "database role",
            "the app's role must not be the schema owner: give database.url another role than migration_url",
        ));
    }
    let audit = AUDIT_TABLES.join(", ");
    let statements = [
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM \"{role}\""),
        format!("GRANT USAGE ON SCHEMA public TO \"{role}\""),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{role}\""),
        format!("REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM \"{role}\""),
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON seaql_migrations FROM \"{role}\""),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO \"{role}\""),
    ];
    // Nodes starting together grant one at a time (concurrent GRANTs can collide).
    let txn = sea_orm::TransactionTrait::begin(owner).await?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({GRANT_LOCK_KEY})")).await?;
    for statement in statements {
        txn.execute_unprepared(&statement).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The advisory lock that serializes `grant_app_role` ("grant" in ASCII).
const GRANT_LOCK_KEY: i64 = 0x67_72_61_6e_74;

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match sea_orm::ConnectionTrait::get_database_backend(db) {
        DbBackend::Postgres => "postgres",
        DbBackend::Sqlite => "sqlite",
        _ => "other",
    }
}

#[cfg(all(test, feature = "test-support"))]
#[allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.
mod tests {
    use super::{SqliteDurability, connect_with};
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    async fn synchronous(durability: SqliteDurability) -> i64 {
        let dir = tempfile::tempdir().unwrap();
        let db = connect_with(&format!("sqlite://{}/d.db?mode=rwc", dir.path().display()), durability).await.unwrap();
        let row =
            db.query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA synchronous")).await.unwrap().unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    #[tokio::test]
    async fn full_durability_syncs_every_commit_and_normal_only_at_checkpoints() {
        // SQLite's codes: 1 NORMAL, 2 FULL.
        assert_eq!(synchronous(SqliteDurability::Full).await, 2);
        assert_eq!(synchronous(SqliteDurability::Normal).await, 1);
    }
}
