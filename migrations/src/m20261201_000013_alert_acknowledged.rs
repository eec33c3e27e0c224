//! An alert can be acknowledged (someone is looking at it) before it is closed: the status check
//! of `security_alert`, written when alerts were only open or closed, admits `acknowledged`.
//!
//! PostgreSQL replaces the named constraint. SQLite cannot alter a CHECK, so the table is
//! rebuilt by SQLite's documented procedure (foreign keys off, new table from the current one's
//! own definition with the check widened, copy, drop, rename, indexes back, foreign keys
//! checked and on again). The new definition is derived from the stored one rather than written
//! out, so columns other migrations added to the table survive. The app's SQLite pool has one
//! connection, so the pragmas apply to the statements that follow them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD_CHECK: &str = "CHECK (status IN ('open', 'closed'))";
const NEW_CHECK: &str = "CHECK (status IN ('open', 'acknowledged', 'closed'))";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                conn.execute_unprepared("ALTER TABLE security_alert DROP CONSTRAINT security_alert_status_check")
                    .await?;
                conn.execute_unprepared(&format!(
                    "ALTER TABLE security_alert ADD CONSTRAINT security_alert_status_check {NEW_CHECK}"
                ))
                .await?;
                Ok(())
            }
            DbBackend::Sqlite => rebuild_sqlite(conn).await,
            other => Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
        }
    }
}

async fn rebuild_sqlite<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    let sql_of = |kind: &str| {
        Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE type = ? AND tbl_name = 'security_alert' AND sql IS NOT NULL",
            [kind.into()],
        )
    };
    let table: String = conn
        .query_one_raw(sql_of("table"))
        .await?
        .ok_or_else(|| DbErr::Migration("security_alert is missing".to_owned()))?
        .try_get("", "sql")?;
    if !table.contains(OLD_CHECK) {
        return Err(DbErr::Migration(
            "security_alert's status check is not the one this migration replaces".to_owned(),
        ));
    }
    let rebuilt = table.replacen(OLD_CHECK, NEW_CHECK, 1).replacen(
        "CREATE TABLE security_alert",
        "CREATE TABLE security_alert_rebuild",
        1,
    );
    let mut indexes = Vec::new();
    for row in conn.query_all_raw(sql_of("index")).await? {
        indexes.push(row.try_get::<String>("", "sql")?);
    }
    let mut triggers = Vec::new();
    for row in conn.query_all_raw(sql_of("trigger")).await? {
        triggers.push(row.try_get::<String>("", "sql")?);
    }
    conn.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
    let steps = async {
        conn.execute_unprepared(&rebuilt).await?;
        conn.execute_unprepared("INSERT INTO security_alert_rebuild SELECT * FROM security_alert").await?;
        conn.execute_unprepared("DROP TABLE security_alert").await?;
        conn.execute_unprepared("ALTER TABLE security_alert_rebuild RENAME TO security_alert").await?;
        for statement in indexes.iter().chain(&triggers) {
            conn.execute_unprepared(statement).await?;
        }
        let broken = conn.query_all_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA foreign_key_check")).await?;
        if !broken.is_empty() {
            return Err(DbErr::Migration(format!("{} rows break a foreign key after the rebuild", broken.len())));
        }
        Ok(())
    }
    .await;
    conn.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    steps
}
