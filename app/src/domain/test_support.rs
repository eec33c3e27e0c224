//! One way to get a fresh, migrated database for a test or benchmark: SQLite in a temporary
//! directory, or a new PostgreSQL database created for it and dropped after. PostgreSQL is never
//! skipped: if it cannot be reached, the caller fails and is told how to start it.
//!
//! On PostgreSQL the database is migrated by its owner and the test's connection (`db`, `url`)
//! is the restricted app role [`APP_TEST_ROLE`], granted exactly what production grants, so
//! every PostgreSQL test runs with the real privileges. A test that does what only the owner
//! may (drop a trigger, tamper with audit rows) uses `owner`.
#![allow(clippy::expect_used, clippy::panic)] // Test support: a broken fixture should stop the test loudly.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

use super::db;

pub mod audit_stream;
pub mod officers;
pub mod plant_auth;
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

/// The cluster-wide role PostgreSQL tests connect as (created once, shared by every test).
pub const APP_TEST_ROLE: &str = "clinic_app_test";

pub struct TestDb {
    pub backend: Backend,
    /// The app's connection: on PostgreSQL the restricted role, as in production.
    pub db: DatabaseConnection,
    pub url: String,
    /// The schema owner's connection (on SQLite the same as `db`).
    pub owner: DatabaseConnection,
    pub owner_url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh PostgreSQL database with the app role existing but nothing migrated or granted:
    /// for tests of the migrate-as-owner path itself.
    pub async fn new_postgres_unmigrated() -> Self {
        Self::postgres(false).await
    }

    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db?mode=rwc", dir.path().display());
                let db = db::connect(&url).await.expect("open SQLite");
                db::migrate(&db).await.expect("migrate SQLite");
                let owner = db.clone();
                Self { backend, db, owner, owner_url: url.clone(), url, pg_name: None, _dir: Some(dir) }
            }
            Backend::Postgres => Self::postgres(true).await,
        }
    }

    async fn postgres(migrate: bool) -> Self {
        let backend = Backend::Postgres;
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
        // Roles are cluster-wide and tests run in parallel: a second CREATE ROLE racing
        // this one fails with duplicate_object or unique_violation, both meaning "exists".
        admin
            .execute_unprepared(&format!(
                "DO $$ BEGIN CREATE ROLE {APP_TEST_ROLE} LOGIN; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ))
            .await
            .expect("create the app test role");
        admin.close().await.ok();
        let owner_url = replace_database(&admin_url, &name);
        let owner = db::connect(&owner_url).await.expect("open PostgreSQL as the owner");
        if migrate {
            db::migrate(&owner).await.expect("migrate PostgreSQL");
            db::grant_app_role(&owner, APP_TEST_ROLE).await.expect("grant the app role");
        }
        let url = with_user(&owner_url, APP_TEST_ROLE);
        let db = db::connect(&url).await.expect("open PostgreSQL as the app role");
        Self { backend, db, url, owner, owner_url, pg_name: Some(name), _dir: None }
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

/// `postgres://user@host/db` with another user (and no password: the test cluster trusts).
fn with_user(url: &str, user: &str) -> String {
    let Some(start) = url.find("//").map(|i| i + 2) else { return url.to_owned() };
    let rest = &url[start..];
    let host_part = match rest.find('@') {
        Some(at) if rest.find('/').is_none_or(|slash| at < slash) => &rest[at + 1..],
        _ => rest,
    };
    format!("{}{user}@{host_part}", &url[..start])
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

    #[test]
    fn the_user_is_replaced_and_the_rest_kept() {
        assert_eq!(super::with_user("postgres://postgres@h:5432/t1", "app"), "postgres://app@h:5432/t1");
        assert_eq!(super::with_user("postgres://u:pw@h/t2?sslmode=off", "app"), "postgres://app@h/t2?sslmode=off");
        assert_eq!(super::with_user("postgres://h/t3", "app"), "postgres://app@h/t3");
    }
}
