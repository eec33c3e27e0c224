//! Shared test fixtures: both-backend test generation, a rotatable keyring, synthetic patients.
#![allow(dead_code, unused_imports)]

use std::sync::{Arc, RwLock};

use app::domain::audit::{Actor, AuditContext, Purpose, Role};
use app::domain::clock::{Clock, FixedClock};
use app::domain::crypto::{AuditKeyKind, CryptoError, KekProvider, KeyBytes, LocalKeyring, WrappedKey};
use app::domain::ids::{PatientId, UserId};
use app::domain::patients::{NewPatient, PostalAddress, Sex};
use app::domain::state::Services;
pub use app::domain::test_support::{Backend, TestDb};
use chrono::{NaiveDate, TimeZone, Utc};

pub trait TestServices {
    fn services(&self) -> (Services, Arc<TestKeys>, Arc<FixedClock>);
}

impl TestServices for TestDb {
    /// Services over this database with a fresh keyring and a clock pinned at a known instant.
    fn services(&self) -> (Services, Arc<TestKeys>, Arc<FixedClock>) {
        let keys = Arc::new(TestKeys::new());
        let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()));
        let services = Services::new(self.db.clone(), keys.clone(), clock.clone() as Arc<dyn Clock>);
        (services, keys, clock)
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

    /// `server keys rotate-audit`: a fresh version of the audit keys becomes active.
    pub fn rotate_audit(&self) -> u32 {
        self.0.write().unwrap().add_audit_version()
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
    fn audit_active_version(&self) -> u32 {
        self.0.read().unwrap().audit_active_version()
    }
    fn audit_key(&self, version: u32, kind: AuditKeyKind) -> Result<KeyBytes, CryptoError> {
        self.0.read().unwrap().audit_key(version, kind)
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

pub fn by_mrn(mrn: &str) -> app::domain::patients::SearchCriteria {
    app::domain::patients::SearchCriteria { mrn: Some(mrn.to_owned()), ..Default::default() }
}

/// An invited account of `role` and the audit context of a request made by it.
pub async fn staff(services: &Services, role: Role, name: &str) -> AuditContext {
    let new = app::domain::users::NewUser { role, display_name: name.to_owned(), patient_id: None };
    let invitation = services.users.invite(&system(), new, chrono::Duration::hours(1)).await.unwrap();
    AuditContext { actor: Actor { user_id: Some(invitation.user_id), role, patient_id: None }, ..ctx(role, None) }
}

/// A patient's own account and its request context.
pub async fn patient_account(services: &Services, patient: PatientId) -> AuditContext {
    let new = app::domain::users::NewUser {
        role: Role::Patient,
        display_name: "Patient Account".to_owned(),
        patient_id: Some(patient),
    };
    let invitation = services.users.invite(&system(), new, chrono::Duration::hours(1)).await.unwrap();
    AuditContext {
        actor: Actor { user_id: Some(invitation.user_id), role: Role::Patient, patient_id: Some(patient) },
        ..ctx(Role::Patient, Some(patient))
    }
}

pub fn user_of(ctx: &AuditContext) -> UserId {
    ctx.actor.user_id.unwrap()
}

/// A set of vital signs taken the day before the pinned clock's "now".
pub fn vital(systolic: u16, diastolic: u16) -> app::clinical::EntryBody {
    app::clinical::EntryBody::Vital(app::clinical::Vital {
        taken_at: Utc.with_ymd_and_hms(2026, 11, 23, 10, 30, 0).unwrap(),
        systolic: Some(systolic),
        diastolic: Some(diastolic),
        heart_rate: Some(72),
        temperature_c: Some(36.8),
        weight_kg: Some(70.5),
        height_cm: Some(172.0),
        spo2: Some(98),
    })
}

/// Everything the database holds as bytes an attacker with a copy would see: the SQLite file
/// and its write-ahead log, or a `pg_dump` of the PostgreSQL database.
pub async fn database_dump(test: &TestDb) -> String {
    match test.backend {
        Backend::Sqlite => {
            let path = test.url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
            let mut bytes = std::fs::read(&path).unwrap();
            if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                bytes.extend(wal);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Backend::Postgres => {
            let output = std::process::Command::new("pg_dump")
                .args(["--data-only", "--no-owner", &test.url])
                .output()
                .expect("pg_dump is installed with PostgreSQL's client tools");
            assert!(output.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&output.stderr));
            let dump = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(dump.contains("COPY public.patient"), "the dump holds the patient table");
            dump
        }
    }
}
