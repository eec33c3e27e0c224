//! Group commit of audit rows recorded on their own, on both backends: no caller returns before
//! its row is committed, one failed INSERT refuses every access in it, a caller that goes away
//! strands nothing, and rows that wait together go in one statement.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use app::domain::audit::{Action, AuditEntry, Outcome};
use app::domain::entities::audit_event;
use app::domain::state::Services;
use app::on_both_backends;
use common::{Backend, TestDb, TestServices, system};
use futures::FutureExt;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

fn entry(n: usize) -> AuditEntry {
    AuditEntry {
        action: Action::ChartRead,
        resource_type: "chart",
        resource_id: Some(format!("grouped-{n}")),
        patient_id: Some(uuid::Uuid::new_v4()),
        outcome: Outcome::Allowed,
        rule: Some("care-team".to_owned()),
    }
}

async fn rows(db: &DatabaseConnection) -> u64 {
    audit_event::Entity::find().filter(audit_event::Column::ResourceType.eq("chart")).count(db).await.unwrap()
}

/// Holds the audit table's write lock from a connection of its own until `release`: the app's
/// INSERT waits, as it would behind a slow disk.
struct WriteLock {
    conn: DatabaseConnection,
    backend: Backend,
}

impl WriteLock {
    async fn take(test: &TestDb) -> Self {
        let conn = match test.backend {
            // On SQLite the owner is the app's own single connection; another one takes the lock.
            Backend::Sqlite => app::domain::db::connect(&test.url).await.unwrap(),
            // One connection, so that COMMIT goes where BEGIN went.
            Backend::Postgres => {
                let mut options = sea_orm::ConnectOptions::new(test.owner_url.clone());
                options.max_connections(1).sqlx_logging(false);
                sea_orm::Database::connect(options).await.unwrap()
            }
        };
        let begin = match test.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN; LOCK TABLE audit_event IN SHARE MODE",
        };
        conn.execute_unprepared(begin).await.unwrap();
        Self { conn, backend: test.backend }
    }

    async fn release(self) {
        self.conn.execute_unprepared("COMMIT").await.unwrap();
        if self.backend == Backend::Postgres {
            self.conn.close().await.unwrap();
        }
    }
}

fn record_all(services: &Arc<Services>, count: usize) -> Vec<tokio::task::JoinHandle<Result<(), app::domain::Error>>> {
    (0..count)
        .map(|n| {
            let services = services.clone();
            tokio::spawn(async move { services.audit.record(&services.db, &system(), entry(n)).await })
        })
        .collect()
}

on_both_backends!(no_recorded_access_returns_before_its_row_is_committed, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let services = Arc::new(services);
    let lock = WriteLock::take(&test).await;

    let calls = record_all(&services, 48);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The database has committed nothing, so no caller may have been told its row is written.
    assert_eq!(calls.iter().filter(|call| call.is_finished()).count(), 0);

    lock.release().await;
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(rows(&test.db).await, 48);
});

on_both_backends!(when_the_grouped_insert_fails_every_access_in_it_is_refused, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let services = Arc::new(services);
    // The owner makes every audit INSERT fail, as a full disk or a revoked grant would.
    let (refuse, allow) = match backend {
        Backend::Sqlite => (
            vec!["CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event BEGIN SELECT RAISE(ABORT, 'refused'); END"],
            vec!["DROP TRIGGER refuse_audit"],
        ),
        Backend::Postgres => (
            vec![
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit()",
            ],
            vec!["DROP TRIGGER refuse_audit ON audit_event"],
        ),
    };
    for statement in refuse {
        test.owner.execute_unprepared(statement).await.unwrap();
    }

    for call in record_all(&services, 16) {
        let err = call.await.unwrap().unwrap_err();
        assert!(matches!(err, app::domain::Error::Internal(_)), "{err:?}");
    }
    assert_eq!(rows(&test.db).await, 0);

    // The writer is not stuck on the failure: once the database takes rows again, so does the log.
    for statement in allow {
        test.owner.execute_unprepared(statement).await.unwrap();
    }
    services.audit.record(&services.db, &system(), entry(99)).await.unwrap();
    assert_eq!(rows(&test.db).await, 1);
});

on_both_backends!(a_caller_that_goes_away_while_waiting_strands_no_row_behind_it, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let lock = WriteLock::take(&test).await;

    // Polled once (its row queued, the writer started), then dropped: the client hung up.
    let abandoned = services.audit.record(&services.db, &system(), entry(1)).now_or_never();
    assert!(abandoned.is_none(), "the row cannot be committed while the table is locked");
    lock.release().await;

    services.audit.record(&services.db, &system(), entry(2)).await.unwrap();
    // The abandoned row went in with the writer that had already taken it, or with this one.
    assert_eq!(rows(&test.db).await, 2);
});

/// PostgreSQL counts statements with a statement-level trigger; SQLite has only row triggers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_wait_behind_one_insert_go_in_together_in_the_next() {
    let test = TestDb::new(Backend::Postgres).await;
    let (services, _, _) = test.services();
    let services = Arc::new(services);
    for statement in [
        "CREATE TABLE insert_statement (n integer NOT NULL)",
        "CREATE FUNCTION count_insert() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS \
         $$ BEGIN INSERT INTO insert_statement VALUES (1); RETURN NULL; END $$",
        "CREATE TRIGGER count_insert AFTER INSERT ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION count_insert()",
    ] {
        test.owner.execute_unprepared(statement).await.unwrap();
    }
    let lock = WriteLock::take(&test).await;

    let calls = record_all(&services, 48);
    tokio::time::sleep(Duration::from_millis(500)).await;
    lock.release().await;
    for call in calls {
        call.await.unwrap().unwrap();
    }

    assert_eq!(rows(&test.db).await, 48);
    // The first INSERT took what was queued when it started and waited on the lock; all the
    // rows queued behind it went in the second. One INSERT a row would be 48.
    let statements = test
        .owner
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM insert_statement",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(statements, 2);
}
