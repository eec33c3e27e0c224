//! The detector runner and the access rules over a synthetic clinic day (issue 13, acceptance
//! points 1, 2 and 5): planted incidents raise exactly their alerts, once; a normal day of
//! 10,000 events raises none; two nodes raise each alert once; self-access through blind
//! indexes never puts a surname or address anywhere.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use std::sync::{Arc, Mutex, OnceLock};

use app::domain::audit::Role;
use app::domain::clock::{Clock, FixedClock};
use app::domain::entities::{audit_event, security_alert, security_alert_event, security_alert_patient};
use app::domain::ids::{PatientId, UserId};
use app::domain::monitoring::Monitor;
use app::domain::monitoring::rules::{ClinicContext, WorkingHours};
use app::domain::state::Services;
use app::domain::test_support::audit_stream::{self as stream, DayPlan, Planted, SyntheticClinic};
use app::domain::test_support::plant_auth;
use app::domain::users::WorkforceIdentity;
use app::on_both_backends;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use common::*;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

/// Tuesday.
fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
}

fn hours() -> WorkingHours {
    let days: Vec<String> = ["mon", "tue", "wed", "thu", "fri"].map(str::to_owned).to_vec();
    WorkingHours::parse("America/New_York", "07:00-19:00", &days).unwrap()
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    stream::local(&hours(), day(), NaiveTime::from_hms_opt(h, m, 0).unwrap())
}

fn monitor(services: &Services, clock: &Arc<FixedClock>) -> Monitor {
    let clinic = ClinicContext { hours: hours() };
    Monitor::with_defaults(services.db.clone(), services.audit.clone(), clock.clone() as Arc<dyn Clock>, &clinic)
        .unwrap()
}

fn plan(events: usize) -> DayPlan {
    DayPlan { seed: 13, day: day(), events, clinicians: 4, patients_per_clinician: 4 }
}

const ACCESS_RULES: [&str; 6] =
    ["bulk-access", "after-hours", "large-listing", "self-access", "unexplained-access", "probing"];

/// One alert as the tables hold it: rule, actor, observed, its seqs and its patients.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Stored {
    rule: String,
    actor: Option<UserId>,
    observed: Option<i64>,
    seqs: Vec<i64>,
    patients: Vec<PatientId>,
}

async fn stored(services: &Services) -> Vec<Stored> {
    let mut out = Vec::new();
    for alert in security_alert::Entity::find().all(&services.db).await.unwrap() {
        let seqs = security_alert_event::Entity::find()
            .filter(security_alert_event::Column::AlertId.eq(alert.id))
            .order_by_asc(security_alert_event::Column::Seq)
            .all(&services.db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.seq)
            .collect();
        let mut patients: Vec<PatientId> = security_alert_patient::Entity::find()
            .filter(security_alert_patient::Column::AlertId.eq(alert.id))
            .all(&services.db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| PatientId(p.patient_id))
            .collect();
        patients.sort();
        out.push(Stored {
            rule: alert.kind,
            actor: alert.user_id.map(UserId),
            observed: alert.observed,
            seqs,
            patients,
        });
    }
    out.sort();
    out
}

struct Plants {
    planted: Vec<Planted>,
    /// What each planted alert must say: rule, observed count, the patients (hand-listed).
    expected: Vec<Stored>,
    /// The sign-in, privilege and break-glass plants (their counts are proven rule by rule in
    /// monitoring_auth_rules.rs): the rule and actor of each alert they must raise.
    auth: Vec<(String, Option<UserId>)>,
}

fn on(date: (i32, u32, u32), h: u32) -> DateTime<Utc> {
    let date = NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap();
    stream::local(&hours(), date, NaiveTime::from_hms_opt(h, 0, 0).unwrap())
}

/// Writes one incident of each access rule, each by its own actor, into `clinic`'s day.
async fn plant_all(services: &Services, clock: &FixedClock, clinic: &SyntheticClinic) -> Plants {
    let (db, audit) = (&services.db, services.audit.as_ref());
    let bulk_patients: Vec<PatientId> = (0..35).map(|_| PatientId::new()).collect();
    let bulk = stream::plant_bulk_access(db, audit, clock, at(10, 0), UserId::new(), &bulk_patients).await.unwrap();
    let night_patient = clinic.panels[1][0];
    let night = stream::plant_after_hours(db, audit, clock, at(22, 30), UserId::new(), night_patient).await.unwrap();
    let listing = stream::plant_large_listing(db, audit, clock, at(11, 0), UserId::new(), 250).await.unwrap();
    let member = user_of(&staff(services, Role::Clinician, "Member").await);
    let own = clinic.panels[2][0];
    let selfie = stream::plant_self_access(db, audit, clock, at(12, 0), member, own).await.unwrap();
    let refused_patients = [PatientId::new(), PatientId::new(), PatientId::new()];
    let refusals =
        stream::plant_unexplained_refusals(db, audit, clock, at(13, 0), UserId::new(), refused_patients).await.unwrap();
    let consent_patient = clinic.panels[3][1];
    let consent =
        stream::plant_consent_without_visit(db, audit, clock, at(14, 0), UserId::new(), consent_patient).await.unwrap();
    let probe = stream::plant_probing(db, audit, clock, at(15, 0), UserId::new()).await.unwrap();

    let account = UserId::new();
    let tried = plant_auth::plant_sign_in_failures_account(db, audit, at(8, 0), account).await.unwrap();
    let from = plant_auth::plant_sign_in_failures_address(db, audit, at(8, 30), "203.0.113.7").await.unwrap();
    let spray = plant_auth::plant_sign_in_spray(db, audit, at(9, 0), "203.0.113.99").await.unwrap();
    let reenrolled =
        plant_auth::plant_privilege_change(db, audit, at(16, 0), clinic.admin, UserId::new()).await.unwrap();
    let (glass_clinician, glass_patient) = (clinic.clinicians[0], clinic.panels[0][0]);
    // Monday 09:00, never reviewed: more than 24 hours old at the run on Tuesday night.
    let unreviewed =
        plant_auth::plant_break_glass_unreviewed(db, audit, on((2026, 11, 23), 9), glass_clinician, glass_patient)
            .await
            .unwrap();
    // One a day, Tuesday to Friday of the week before, each reviewed: four in seven days.
    let frequent_clinician = clinic.clinicians[1];
    let frequent = plant_auth::plant_break_glass_frequent(
        db,
        audit,
        on((2026, 11, 17), 10),
        frequent_clinician,
        clinic.panels[1][1],
    )
    .await
    .unwrap();
    let mut auth = vec![
        ("sign-in-failures-account".to_owned(), Some(account)),
        ("sign-in-failures-address".to_owned(), None),
        ("sign-in-spray".to_owned(), None),
        // Ten failures from the spraying address are also ten from one address.
        ("sign-in-failures-address".to_owned(), None),
        ("privilege-change".to_owned(), Some(clinic.admin)),
        ("break-glass-unreviewed".to_owned(), Some(glass_clinician)),
        ("break-glass-frequent".to_owned(), Some(frequent_clinician)),
    ];
    auth.sort();

    let sorted = |mut p: Vec<PatientId>| {
        p.sort();
        p
    };
    let expect = |p: &Planted, observed: i64, seqs: Vec<i64>, patients: Vec<PatientId>| Stored {
        rule: p.rule.to_owned(),
        actor: p.actor,
        observed: Some(observed),
        seqs,
        patients: sorted(patients),
    };
    let expected = vec![
        // The 30th distinct patient completes the window: its first 30 rows, not the 35.
        expect(&bulk, 30, bulk.seqs[..30].to_vec(), bulk_patients[..30].to_vec()),
        expect(&night, 2, night.seqs.clone(), vec![night_patient]),
        expect(&listing, 250, listing.seqs.clone(), vec![]),
        expect(&selfie, 1, selfie.seqs.clone(), vec![own]),
        expect(&refusals, 3, refusals.seqs.clone(), refused_patients.to_vec()),
        expect(&consent, 1, consent.seqs.clone(), vec![consent_patient]),
        expect(&probe, 10, probe.seqs.clone(), vec![]),
    ];
    let mut expected = expected;
    expected.sort();
    Plants {
        planted: vec![
            bulk, night, listing, selfie, refusals, consent, probe, tried, from, spray, reenrolled, unreviewed,
            frequent,
        ],
        expected,
        auth,
    }
}

on_both_backends!(planted_incidents_each_raise_exactly_their_alert_once, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _keys, clock) = test.services();
    let clinic = stream::normal_day(&services, &clock, &hours(), &plan(1500)).await.unwrap();
    let plants = plant_all(&services, &clock, &clinic).await;
    // One of each rule of the registry.
    let mut rules: Vec<&str> = plants.planted.iter().map(|p| p.rule).collect();
    rules.sort_unstable();
    rules.dedup();
    assert_eq!(rules.len(), 12);
    let monitor = monitor(&services, &clock);

    let first = monitor.run_once(at(23, 59)).await.unwrap();
    assert_eq!(first.raised.len(), 14, "{first:?}");
    let (access, auth): (Vec<Stored>, Vec<Stored>) =
        stored(&services).await.into_iter().partition(|a| ACCESS_RULES.contains(&a.rule.as_str()));
    assert_eq!(access, plants.expected);
    let mut auth: Vec<(String, Option<UserId>)> = auth.into_iter().map(|a| (a.rule, a.actor)).collect();
    auth.sort();
    assert_eq!(auth, plants.auth);
    type Window = (String, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let windows: Vec<Window> = security_alert::Entity::find()
        .filter(security_alert::Column::Kind.is_in(["bulk-access", "probing"]))
        .order_by_asc(security_alert::Column::Kind)
        .all(&services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.severity, a.window_start, a.window_end))
        .collect();
    assert_eq!(
        windows,
        vec![
            // 30 rows, 8 s apart: 10:00:00 to 10:03:52; ten refusals a minute apart.
            ("high".to_owned(), Some(at(10, 0)), Some(at(10, 3) + chrono::Duration::seconds(52))),
            ("high".to_owned(), Some(at(15, 0)), Some(at(15, 9))),
        ]
    );

    // The same rows again (a second period, a restart): nothing new.
    let second = monitor.run_once(at(23, 59)).await.unwrap();
    assert!(second.raised.is_empty(), "{second:?}");
    assert_eq!(security_alert::Entity::find().count(&services.db).await.unwrap(), 14);

    // Each run is audited as the system, with its counts.
    let runs: Vec<Option<String>> = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("monitor.run"))
        .order_by_asc(audit_event::Column::Seq)
        .all(&services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!((r.actor_role.as_str(), r.actor_user_id), ("system", None));
            r.rule.map(|rule| rule.split(" up_to").next().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        runs,
        vec![
            Some("rules=12 findings=14 raised=14 raced=0".to_owned()),
            // The second run sees only the first run's own audit rows, and the unreviewed
            // break-glass again (time, not a new row, makes it): found, and not raised twice.
            Some("rules=12 findings=1 raised=0 raced=0".to_owned()),
        ]
    );
});

on_both_backends!(a_normal_clinic_day_of_10000_events_raises_nothing, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _keys, clock) = test.services();
    let plan = DayPlan { seed: 2026, day: day(), events: 10_000, clinicians: 8, patients_per_clinician: 6 };
    stream::normal_day(&services, &clock, &hours(), &plan).await.unwrap();
    let rows = audit_event::Entity::find().count(&services.db).await.unwrap();
    assert!(rows >= 10_000, "{rows} rows");

    let report = monitor(&services, &clock).run_once(at(23, 59)).await.unwrap();
    assert!(report.up_to_seq >= 10_000, "every row was scanned: {report:?}");
    assert!(report.raised.is_empty(), "{report:?}");
    assert_eq!(security_alert::Entity::find().count(&services.db).await.unwrap(), 0);
});

on_both_backends!(rows_written_after_a_run_are_scanned_by_the_next_one, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _keys, clock) = test.services();
    let clinic = stream::normal_day(&services, &clock, &hours(), &plan(300)).await.unwrap();
    let monitor = monitor(&services, &clock);
    assert!(monitor.run_once(at(19, 0)).await.unwrap().raised.is_empty());

    let probe = stream::plant_probing(&services.db, &services.audit, &clock, at(20, 0), UserId::new()).await.unwrap();
    let report = monitor.run_once(at(21, 0)).await.unwrap();
    let raised: Vec<(&str, Option<UserId>)> = report.raised.iter().map(|r| (r.rule, r.actor)).collect();
    assert_eq!(raised, vec![("probing", probe.actor)]);
    let _ = clinic;
});

/// Two nodes whose lease expired mid-run (or a test that skips the lease) running every rule
/// at the same moment over the same rows: each alert exists once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_monitors_running_at_once_on_postgres_raise_each_alert_once() {
    let test = TestDb::new(Backend::Postgres).await;
    let (services, _keys, clock) = test.services();
    let clinic = stream::normal_day(&services, &clock, &hours(), &plan(1500)).await.unwrap();
    let plants = plant_all(&services, &clock, &clinic).await;
    let (a, b) = (monitor(&services, &clock), monitor(&services, &clock));

    let (ra, rb) = tokio::join!(a.run_once(at(23, 59)), b.run_once(at(23, 59)));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.raised.len() + rb.raised.len(), 14, "{ra:?} {rb:?}");
    let access: Vec<Stored> =
        stored(&services).await.into_iter().filter(|a| ACCESS_RULES.contains(&a.rule.as_str())).collect();
    assert_eq!(access, plants.expected);
    assert_eq!(security_alert::Entity::find().count(&services.db).await.unwrap(), 14);

    // Through the lease, only one of the two runs in a period.
    stream::plant_probing(&services.db, &services.audit, &clock, at(23, 0), UserId::new()).await.unwrap();
    stream::set_clock(&clock, at(23, 59));
    let period = chrono::Duration::seconds(60);
    let (ta, tb) = tokio::join!(a.tick(period), b.tick(period));
    let ran: Vec<_> = [ta.unwrap(), tb.unwrap()].into_iter().flatten().collect();
    assert_eq!(ran.len(), 1, "one node took the lease");
    assert_eq!(ran[0].raised.len(), 1);
    assert_eq!(security_alert::Entity::find().count(&services.db).await.unwrap(), 15);
}

/// Everything the process logs, at debug level, from every test of this binary.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || Sink(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

on_both_backends!(self_access_through_blind_indexes_fires_and_stores_no_surname_or_address, |backend| async move {
    let logs = captured_logs();
    let test = TestDb::new(backend).await;
    let (services, _keys, clock) = test.services();
    stream::set_clock(&clock, at(9, 0));
    let admin = staff(&services, Role::Admin, "Admin").await;
    let doctor = staff(&services, Role::Clinician, "Doctor").await;
    // The clinician registers two patients (so both are on their care team): a relative (same
    // surname and address) and a namesake who lives elsewhere.
    let relative = sample_patient("Selfaccess");
    let relative_id = services.patients.create(&doctor, relative.clone()).await.unwrap();
    let mut namesake = sample_patient("Selfaccess");
    namesake.mrn = "MRN-Namesake".to_owned();
    namesake.address.as_mut().unwrap().line1 = "99 Elsewhere Road".to_owned();
    let namesake_id = services.patients.create(&doctor, namesake).await.unwrap();

    // Typed differently than the patient's own record: case and spacing do not matter.
    let identity = WorkforceIdentity {
        family_name: Some("  QUILLFEATHERselfaccess ".to_owned()),
        address_line1: Some("12  imaginary LANE".to_owned()),
        postal_code: Some(" 00000".to_owned()),
        own_patient_id: None,
    };
    // Only an admin may set it; the clinician is refused.
    assert!(matches!(
        services.users.set_workforce_identity(&doctor, user_of(&doctor), identity.clone()).await,
        Err(app::domain::Error::Forbidden)
    ));
    services.users.set_workforce_identity(&admin, user_of(&doctor), identity).await.unwrap();
    services.patients.get(&doctor, relative_id).await.unwrap();
    services.patients.get(&doctor, namesake_id).await.unwrap();

    let report = monitor(&services, &clock).run_once(at(9, 30)).await.unwrap();
    let raised: Vec<(&str, Option<UserId>)> = report.raised.iter().map(|r| (r.rule, r.actor)).collect();
    assert_eq!(raised, vec![("self-access", Some(user_of(&doctor)))]);
    let alerts = stored(&services).await;
    assert_eq!(alerts[0].patients, vec![relative_id]);

    // No plaintext surname or address anywhere: the alert tables, the whole database, the logs.
    let needles = ["quillfeatherselfaccess", "imaginary lane", "elsewhere road"];
    let alert_rows = format!(
        "{:?}{:?}{:?}",
        security_alert::Entity::find().all(&services.db).await.unwrap(),
        security_alert_event::Entity::find().all(&services.db).await.unwrap(),
        security_alert_patient::Entity::find().all(&services.db).await.unwrap(),
    )
    .to_lowercase();
    let dump = database_dump(&test).await.to_lowercase();
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_lowercase();
    assert!(logged.contains("security alert raised"), "the logs were captured");
    for needle in needles {
        assert!(!alert_rows.contains(needle), "{needle} in an alert row");
        assert!(!dump.contains(needle), "{needle} in the database");
        assert!(!logged.contains(needle), "{needle} in the logs");
    }
    // The set is audited, naming the account, not the values.
    let set: Vec<_> = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.identity.set"))
        .all(&services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.outcome, r.resource_id))
        .collect();
    let doctor_id = user_of(&doctor).to_string();
    assert_eq!(set, vec![("denied".to_owned(), Some(doctor_id.clone())), ("allowed".to_owned(), Some(doctor_id))]);
});

/// Keys that cannot MAC an audit row: every audit append fails.
struct NoAuditKey(TestKeys);

impl app::domain::crypto::KekProvider for NoAuditKey {
    fn kek_id(&self) -> &str {
        self.0.kek_id()
    }
    fn active_version(&self) -> u32 {
        self.0.active_version()
    }
    fn wrap(
        &self,
        id: uuid::Uuid,
        key: &app::domain::crypto::KeyBytes,
    ) -> Result<app::domain::crypto::WrappedKey, app::domain::crypto::CryptoError> {
        self.0.wrap(id, key)
    }
    fn unwrap(
        &self,
        id: uuid::Uuid,
        wrapped: &app::domain::crypto::WrappedKey,
    ) -> Result<app::domain::crypto::KeyBytes, app::domain::crypto::CryptoError> {
        self.0.unwrap(id, wrapped)
    }
    fn derive_secret(&self, purpose: &str) -> app::domain::crypto::KeyBytes {
        self.0.derive_secret(purpose)
    }
    fn audit_active_version(&self) -> u32 {
        self.0.audit_active_version()
    }
    fn audit_key(
        &self,
        version: u32,
        _kind: app::domain::crypto::AuditKeyKind,
    ) -> Result<app::domain::crypto::KeyBytes, app::domain::crypto::CryptoError> {
        Err(app::domain::crypto::CryptoError::UnknownAuditKey(version))
    }
}

on_both_backends!(a_run_whose_audit_row_cannot_be_written_raises_nothing_and_skips_nothing, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _keys, clock) = test.services();
    let probe = stream::plant_probing(&services.db, &services.audit, &clock, at(10, 0), UserId::new()).await.unwrap();
    let broken = Arc::new(app::domain::audit::AuditLog::new(Arc::new(NoAuditKey(TestKeys::new())), clock.clone()));
    let clinic = ClinicContext { hours: hours() };
    let blind = Monitor::with_defaults(services.db.clone(), broken, clock.clone() as Arc<dyn Clock>, &clinic).unwrap();

    assert!(blind.run_once(at(11, 0)).await.is_err());
    assert_eq!(security_alert::Entity::find().count(&services.db).await.unwrap(), 0, "fail closed");

    // The rows were not skipped: a working monitor raises the alert from them.
    let report = monitor(&services, &clock).run_once(at(11, 0)).await.unwrap();
    let raised: Vec<(&str, Option<UserId>)> = report.raised.iter().map(|r| (r.rule, r.actor)).collect();
    assert_eq!(raised, vec![("probing", probe.actor)]);
});

// A critical finding is answered by the run that raised it: within one detector period the
// account is disabled and the alert says so (its sessions ending, and enabling waiting for
// the alert to close, are proven in monitoring_response.rs and the HTTP tests).
on_both_backends!(a_critical_burst_disables_the_account_in_the_run_that_raised_it, |backend| async move {
    use app::domain::entities::app_user;
    use app::domain::monitoring::rules::{self, RuleSettings};
    let test = TestDb::new(backend).await;
    let (services, _keys, clock) = test.services();
    let clinician = user_of(&staff(&services, Role::Clinician, "Dr Burst").await);
    let clinic = ClinicContext { hours: hours() };
    let chosen: Vec<(Box<dyn rules::Rule>, RuleSettings)> = rules::registry(&clinic)
        .into_iter()
        .map(|rule| {
            let mut settings = rules::default_settings(rule.name()).unwrap();
            if rule.name() == "bulk-access" {
                settings.critical_at = Some(40);
            }
            (rule, settings)
        })
        .collect();
    let monitor = Monitor::new(services.db.clone(), services.audit.clone(), clock.clone() as Arc<dyn Clock>, chosen);
    let patients: Vec<PatientId> = (0..45).map(|_| PatientId::new()).collect();
    stream::plant_bulk_access(&services.db, &services.audit, &clock, at(10, 0), clinician, &patients).await.unwrap();

    let report = monitor.run_once(at(10, 30)).await.unwrap();
    let raised: Vec<(&str, &str)> = report.raised.iter().map(|r| (r.rule, r.severity.as_str())).collect();
    assert_eq!(raised, vec![("bulk-access", "high"), ("bulk-access", "critical")]);
    let account = app_user::Entity::find_by_id(clinician.0).one(&services.db).await.unwrap().unwrap();
    assert_eq!(account.status, "disabled");
    let responses: Vec<(String, Option<String>)> = security_alert::Entity::find()
        .order_by_asc(security_alert::Column::Severity)
        .all(&services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.severity, a.response))
        .collect();
    assert_eq!(
        responses,
        vec![("critical".to_owned(), Some("account-disabled".to_owned())), ("high".to_owned(), None)]
    );
    let disabled = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.disable"))
        .filter(audit_event::Column::ResourceId.eq(clinician.to_string()))
        .count(&services.db)
        .await
        .unwrap();
    assert_eq!(disabled, 1);
});
