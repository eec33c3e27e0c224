//! One way to get a fresh, migrated database for a test or benchmark: SQLite in a temporary
//! directory, or a new PostgreSQL database created for it and dropped after. PostgreSQL is never
//! skipped: if it cannot be reached, the caller fails and is told how to start it.
#![allow(clippy::expect_used, clippy::panic)] // Test support: a broken fixture should stop the test loudly.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

use super::db;

pub mod smtp_sink;

/// Generates one test per backend from an async closure taking the backend.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[allow(unused_imports)]
            use $crate::domain::test_support::Backend;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)(Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                ($body)(Backend::Postgres).await
            }
        }
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub struct TestDb {
    pub backend: Backend,
    pub db: DatabaseConnection,
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
                let db = db::connect(&url).await.expect("open SQLite");
                db::migrate(&db).await.expect("migrate SQLite");
                Self { backend, db, url, pg_name: None, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = Database::connect(&admin_url).await.unwrap_or_else(|err| {
                    panic!(
                        "PostgreSQL is not reachable at {admin_url} ({err}). Data-layer tests run on \
                         PostgreSQL too and never skip: start it with \
                         `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                         or point TEST_POSTGRES_URL at a server"
                    )
                });
                let name = format!("test_{}", uuid::Uuid::new_v4().simple());
                admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create database");
                admin.close().await.ok();
                let url = replace_database(&admin_url, &name);
                let db = db::connect(&url).await.expect("open PostgreSQL");
                db::migrate(&db).await.expect("migrate PostgreSQL");
                Self { backend, db, url, pg_name: Some(name), _dir: None }
            }
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    // postgres://user@host:port/database: keep everything up to the last '/' after the host.
    let authority_start = base.find("//").map_or(0, |i| i + 2);
    let base = match base[authority_start..].rfind('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else { return };
        let admin_url = postgres_admin_url();
        // Drop runs outside async: drop the database from a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Signs `user` in exactly as a successful passkey sign-in leaves the session (user id,
/// sign-in time, last activity, passkey verification time) and returns the `Cookie` header value. For HTTP tests that
/// need a signed-in user without running the browser ceremony; not a route of the product.
pub async fn signed_in_cookie(services: &super::state::Services, user: super::ids::UserId) -> String {
    use tower_sessions::session::{Id, Record};
    use tower_sessions::session_store::SessionStore;

    let now = services.clock.now();
    let mut data = std::collections::HashMap::new();
    data.insert(super::sessions::USER_ID_KEY.to_owned(), serde_json::json!(user.0));
    data.insert(crate::api::context::SIGNED_IN_AT.to_owned(), serde_json::json!(now.timestamp_micros()));
    data.insert(crate::api::context::LAST_SEEN.to_owned(), serde_json::json!(now.timestamp_micros()));
    data.insert(crate::api::context::PASSKEY_VERIFIED_AT.to_owned(), serde_json::json!(now.timestamp_micros()));
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    let mut record = Record { id: Id::default(), data, expiry_date: expiry };
    services.sessions.create(&mut record).await.expect("store the session");
    format!("clinic_session={}", record.id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(super::replace_database("postgres://u@h:5432/postgres", "t1"), "postgres://u@h:5432/t1");
        assert_eq!(super::replace_database("postgres://u@h/db?sslmode=off", "t2"), "postgres://u@h/t2?sslmode=off");
        assert_eq!(super::replace_database("postgres://u@h", "t3"), "postgres://u@h/t3");
    }
}
