//! Connecting and migrating. SQLite is the embedded default; PostgreSQL the production database.

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};

use super::Error;

/// Connects to `url`. For SQLite, one pooled connection: SQLite has a single writer, and every
/// audited read writes, so queueing in the pool beats failing with "database is locked".
pub async fn connect(url: &str) -> Result<DatabaseConnection, Error> {
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        options.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
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

/// True when every migration this build knows has been applied.
pub async fn migrations_current(db: &DatabaseConnection) -> Result<bool, Error> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match sea_orm::ConnectionTrait::get_database_backend(db) {
        DbBackend::Postgres => "postgres",
        DbBackend::Sqlite => "sqlite",
        _ => "other",
    }
}
