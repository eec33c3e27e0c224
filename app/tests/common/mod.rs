//! Shared test fixtures: both-backend test generation, a rotatable keyring, synthetic patients.
#![allow(dead_code, unused_imports)]

use std::sync::{Arc, RwLock};

use app::domain::audit::{Actor, AuditContext, Purpose, Role};
use app::domain::clock::{Clock, FixedClock};
use app::domain::crypto::{CryptoError, KekProvider, KeyBytes, LocalKeyring, WrappedKey};
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
