//! The application state handed to axum and to Leptos once: no globals.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sea_orm::DatabaseConnection;

use super::audit::{AuditChainer, AuditLog};
use super::clock::Clock;
use super::crypto::{BlindIndexer, DataKeys, KekProvider};
use super::patients::PatientRepo;
use super::sessions::DbSessionStore;
use super::users::UserRepo;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub services: Services,
}

/// The domain services, built once from a database connection, key provider and clock.
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<DataKeys>,
    pub indexer: Arc<BlindIndexer>,
    pub audit: Arc<AuditLog>,
    pub chainer: Arc<AuditChainer>,
    pub patients: PatientRepo,
    pub users: UserRepo,
    pub sessions: DbSessionStore,
}

impl Services {
    pub fn new(db: DatabaseConnection, provider: Arc<dyn KekProvider>, clock: Arc<dyn Clock>) -> Self {
        let keys = Arc::new(DataKeys::new(provider.clone(), 10_000, std::time::Duration::from_secs(300)));
        let indexer = Arc::new(BlindIndexer::new(provider.as_ref()));
        let audit = Arc::new(AuditLog::new(provider.as_ref(), clock.clone()));
        let chainer = Arc::new(AuditChainer::new(provider.as_ref(), clock.clone()));
        let patients = PatientRepo::new(db.clone(), keys.clone(), indexer.clone(), audit.clone(), clock.clone());
        let sessions = DbSessionStore::new(db.clone(), clock.clone());
        let users = UserRepo::new(db.clone(), keys.clone(), audit.clone(), clock.clone(), sessions.clone());
        Self { db, clock, keys, indexer, audit, chainer, patients, users, sessions }
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}
