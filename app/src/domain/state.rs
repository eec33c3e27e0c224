//! The application state handed to axum and to Leptos once: no globals.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sea_orm::DatabaseConnection;

use super::access::Guard;
use super::access_history::AccessHistory;
use super::accounts::AccountRequests;
use super::anonymous::AnonymousBudget;
use super::audit::{AuditChainer, AuditLog};
use super::break_glass::BreakGlassRepo;
use super::care::CareRepo;
use super::clock::Clock;
use super::crypto::{BlindIndexer, DataKeys, KekProvider};
use super::incidents::IncidentRepo;
use super::messaging::MessageRepo;
use super::monitoring::inbox::AlertInbox;
use super::notices::AccountNotices;
use super::passkeys::Passkeys;
use super::patients::PatientRepo;
use super::records::ChartRepo;
use super::scheduling::ScheduleRepo;
use super::sessions::DbSessionStore;
use super::telemedicine::VideoRepo;
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
    /// What anonymous calls may cost in audit and session rows, per address.
    pub anonymous: AnonymousBudget,
    pub chainer: Arc<AuditChainer>,
    pub guard: Guard,
    pub patients: PatientRepo,
    pub charts: ChartRepo,
    pub care: CareRepo,
    pub break_glass: BreakGlassRepo,
    /// The security officer's alert inbox.
    pub alerts: AlertInbox,
    /// Incident response: investigation, affected patients, breach assessment and notices.
    pub incidents: IncidentRepo,
    pub access_history: AccessHistory,
    pub schedule: ScheduleRepo,
    pub video: VideoRepo,
    pub messages: MessageRepo,
    pub users: UserRepo,
    /// Invitations, re-enrollments and re-enabling under the two-person rule.
    pub accounts: AccountRequests,
    pub sessions: DbSessionStore,
    pub passkeys: Arc<Passkeys>,
    /// Security notices to account owners (a passkey added), by email when mail is configured.
    pub notices: AccountNotices,
    pub session_policy: SessionPolicy,
    /// Where people reach the app: links in invitations point here.
    pub public_url: url::Url,
    /// Serving or draining (shutting down): readiness and open sockets follow it.
    pub lifecycle: super::lifecycle::Lifecycle,
}

/// Automatic logoff (45 CFR 164.312(a)(2)(iii)): a session ends after `idle` without a request
/// and after `absolute` in any case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: chrono::Duration,
    pub absolute: chrono::Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle: chrono::Duration::minutes(15), absolute: chrono::Duration::hours(12) }
    }
}

impl Services {
    pub fn new(db: DatabaseConnection, provider: Arc<dyn KekProvider>, clock: Arc<dyn Clock>) -> Self {
        let keys = Arc::new(DataKeys::new(provider.clone(), 10_000, std::time::Duration::from_secs(300)));
        let indexer = Arc::new(BlindIndexer::new(provider.as_ref()));
        let audit = Arc::new(AuditLog::new(provider.clone(), clock.clone()).with_group_commit(db.clone()));
        let anonymous = AnonymousBudget::new(db.clone(), audit.clone(), clock.clone());
        let chainer = Arc::new(AuditChainer::new(provider.clone(), clock.clone()));
        let guard = Guard::new(db.clone(), audit.clone(), clock.clone());
        let patients =
            PatientRepo::new(db.clone(), keys.clone(), indexer.clone(), audit.clone(), clock.clone(), guard.clone());
        let charts =
            ChartRepo::new(db.clone(), keys.clone(), audit.clone(), clock.clone(), guard.clone(), patients.clone());
        let care = CareRepo::new(db.clone(), audit.clone(), clock.clone(), guard.clone());
        let break_glass = BreakGlassRepo::new(db.clone(), keys.clone(), audit.clone(), clock.clone(), guard.clone());
        let alerts = AlertInbox::new(db.clone(), keys.clone(), audit.clone(), clock.clone(), guard.clone());
        let incidents = IncidentRepo::new(db.clone(), keys.clone(), audit.clone(), clock.clone(), guard.clone());
        let access_history = AccessHistory::new(db.clone(), audit.clone(), guard.clone());
        let schedule = ScheduleRepo::new(db.clone(), keys.clone(), audit.clone(), clock.clone(), guard.clone());
        let video = VideoRepo::new(db.clone(), keys.clone(), audit.clone(), clock.clone(), guard.clone());
        let messages = MessageRepo::new(db.clone(), keys.clone(), audit.clone(), clock.clone(), guard.clone());
        // tower-sessions stamps expiry dates from the system clock, so the store compares with
        // that clock too; the logoff policy itself is decided with `clock` (see api::context).
        let sessions = DbSessionStore::new(db.clone(), Arc::new(super::clock::SystemClock));
        let users = UserRepo::new(db.clone(), keys.clone(), audit.clone(), clock.clone(), sessions.clone());
        let notices = AccountNotices::new(db.clone(), keys.clone(), audit.clone(), clock.clone());
        let public_url = url::Url::parse("http://localhost:3000").expect("a valid literal URL");
        let accounts = AccountRequests::new(
            db.clone(),
            users.clone(),
            keys.clone(),
            audit.clone(),
            clock.clone(),
            public_url.clone(),
        );
        let localhost = url::Url::parse("http://localhost").expect("a valid literal URL");
        let passkeys = Arc::new(Passkeys::new(&localhost, clock.clone()).expect("WebAuthn accepts localhost"));
        Self {
            db,
            clock,
            keys,
            indexer,
            audit,
            anonymous,
            chainer,
            guard,
            patients,
            charts,
            care,
            break_glass,
            alerts,
            incidents,
            access_history,
            schedule,
            video,
            messages,
            users,
            accounts,
            sessions,
            passkeys,
            notices,
            session_policy: SessionPolicy::default(),
            public_url,
            lifecycle: super::lifecycle::Lifecycle::default(),
        }
    }

    /// Sets where people reach the app (the WebAuthn relying party) and the logoff policy.
    pub fn configure(mut self, public_url: &url::Url, policy: SessionPolicy) -> Result<Self, super::Error> {
        self.passkeys = Arc::new(Passkeys::new(public_url, self.clock.clone())?);
        self.session_policy = policy;
        self.public_url = public_url.clone();
        self.accounts.public_url = public_url.clone();
        Ok(self)
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}
