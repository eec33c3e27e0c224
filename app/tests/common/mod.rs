//! One way to get a fresh, migrated database for a test: SQLite in a temporary directory, or a
//! new PostgreSQL database created for the test and dropped after it. PostgreSQL is never
//! skipped: if it cannot be reached, the test fails and says how to start it.
#![allow(dead_code)]

use std::sync::{Arc, RwLock};

use app::domain::audit::{Actor, AuditContext, Purpose, Role};
use app::domain::clock::{Clock, FixedClock};
use app::domain::crypto::{CryptoError, KekProvider, KeyBytes, LocalKeyring, WrappedKey};
use app::domain::db;
use app::domain::ids::{PatientId, UserId};
use app::domain::patients::{NewPatient, PostalAddress, Sex};
use app::domain::state::Services;
use chrono::{NaiveDate, TimeZone, Utc};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from an async closure taking the backend.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

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

    /// Services over this database with a fresh keyring and a clock pinned at a known instant.
    pub fn services(&self) -> (Services, Arc<TestKeys>, Arc<FixedClock>) {
        let keys = Arc::new(TestKeys::new());
        let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()));
        let services = Services::new(self.db.clone(), keys.clone(), clock.clone() as Arc<dyn Clock>);
        (services, keys, clock)
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(slash) if base[..slash].contains("//") && slash > base.find("//").unwrap() + 1 => &base[..slash],
        _ => base,
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

/// A keyring the test can rotate while services hold it, as an operator would.
pub struct TestKeys(RwLock<LocalKeyring>);

impl TestKeys {
    pub fn new() -> Self {
        Self(RwLock::new(LocalKeyring::generate("test-master")))
    }

    pub fn rotate(&self) -> u32 {
        self.0.write().unwrap().add_version()
    }

    pub fn retire(&self, version: u32) {
        self.0.write().unwrap().retire_version(version).unwrap();
    }
}

impl KekProvider for TestKeys {
    fn kek_id(&self) -> &str {
        "test-master"
    }
    fn active_version(&self) -> u32 {
        self.0.read().unwrap().active_version()
    }
    fn wrap(&self, id: uuid::Uuid, key: &KeyBytes) -> Result<WrappedKey, CryptoError> {
        self.0.read().unwrap().wrap(id, key)
    }
    fn unwrap(&self, id: uuid::Uuid, wrapped: &WrappedKey) -> Result<KeyBytes, CryptoError> {
        self.0.read().unwrap().unwrap(id, wrapped)
    }
    fn derive_secret(&self, purpose: &str) -> KeyBytes {
        self.0.read().unwrap().derive_secret(purpose)
    }
}

pub fn ctx(role: Role, own: Option<PatientId>) -> AuditContext {
    AuditContext {
        actor: Actor { user_id: Some(UserId::new()), role, patient_id: own },
        purpose: Purpose::Treatment,
        justification: None,
        request_id: Some("req-test-1".to_owned()),
        ip: Some("192.0.2.10".to_owned()),
        user_agent: Some("test-agent/1.0".to_owned()),
    }
}

pub fn system() -> AuditContext {
    AuditContext::system("test")
}

/// A synthetic patient with values easy to grep for.
pub fn sample_patient(tag: &str) -> NewPatient {
    NewPatient {
        given_name: format!("Zephyrine{tag}"),
        family_name: format!("Quillfeather{tag}"),
        birth_date: NaiveDate::from_ymd_opt(1971, 3, 14).unwrap(),
        sex: Sex::Female,
        ssn: Some("900-12-3456".to_owned()),
        mrn: format!("MRN-{tag}"),
        phone: Some("(555) 555-0142".to_owned()),
        email: Some(format!("zephyrine.{}@example.org", tag.to_lowercase())),
        address: Some(PostalAddress {
            line1: "12 Imaginary Lane".to_owned(),
            line2: None,
            city: "Nowhereville".to_owned(),
            state: "ZZ".to_owned(),
            postal_code: "00000".to_owned(),
            country: "US".to_owned(),
        }),
    }
}
