//! Alert delivery through database jobs: the fan-out per channel and severity, retries with
//! backoff, and the audit row of every attempt, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use app::domain::audit::Role;
use app::domain::clock::Clock;
use app::domain::entities::{audit_event, job, security_alert};
use app::domain::ids::{PatientId, UserId};
use app::domain::monitoring::delivery::email::EmailChannel;
use app::domain::monitoring::delivery::{AlertFacts, Channel, Deliver, DeliveryRunner, Failure};
use app::domain::monitoring::{NewAlert, Severity, raise};
use app::domain::scheduling::reminders::{Mailer, SmtpMailer, SmtpSettings};
use app::domain::state::Services;
use app::domain::test_support::officers::security_officer;
use app::domain::test_support::smtp_sink::SmtpSink;
use app::on_both_backends;
use async_trait::async_trait;
use chrono::Duration;
use common::{TestDb, TestServices, sample_patient, staff, system};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

/// A channel that records what it was asked to deliver and fails while told to.
struct Recorder {
    channel: Channel,
    min: Severity,
    failing: AtomicBool,
    calls: Mutex<Vec<Uuid>>,
}

impl Recorder {
    fn new(channel: Channel, min: Severity) -> Arc<Self> {
        Arc::new(Self { channel, min, failing: AtomicBool::new(false), calls: Mutex::default() })
    }

    fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

#[async_trait]
impl Deliver for Recorder {
    fn channel(&self) -> Channel {
        self.channel
    }
    fn min_severity(&self) -> Severity {
        self.min
    }
    async fn deliver(&self, alert: &AlertFacts) -> Result<(), Failure> {
        self.calls.lock().unwrap().push(alert.id);
        if self.failing.load(Ordering::SeqCst) { Err(Failure::new("connection")) } else { Ok(()) }
    }
}

fn runner(services: &Services, channels: Vec<Arc<dyn Deliver>>) -> DeliveryRunner {
    DeliveryRunner::new(
        services.db.clone(),
        services.audit.clone(),
        services.clock.clone(),
        channels,
        "https://clinic.test",
    )
}

async fn raise_one(services: &Services, rule: &str, severity: Severity) -> Uuid {
    let now = services.clock.now();
    let alert = NewAlert {
        rule: rule.to_owned(),
        severity,
        actor: Some(UserId::new()),
        patients: vec![PatientId(Uuid::now_v7()), PatientId(Uuid::now_v7())],
        window_start: now - Duration::minutes(10),
        window_end: now,
        observed: Some(31),
        seqs: vec![1, 2, 3],
        dedup: format!("{rule}-{}", severity.as_str()),
        subject_id: None,
    };
    raise(&services.db, alert, now).await.unwrap().unwrap()
}

/// (alert rule, job kind) of every job, sorted.
async fn jobs_by_rule(services: &Services) -> Vec<(String, String)> {
    let alerts = security_alert::Entity::find().all(&services.db).await.unwrap();
    let mut out: Vec<(String, String)> = job::Entity::find()
        .all(&services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (alerts.iter().find(|a| a.id == j.subject_id).unwrap().kind.clone(), j.kind))
        .collect();
    out.sort();
    out
}

/// (outcome, rule) of every delivery audit row about `alert`, oldest first, all by the system.
async fn attempts(services: &Services, alert: Uuid) -> Vec<(String, String)> {
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("alert.deliver"))
        .filter(audit_event::Column::ResourceId.eq(alert.to_string()))
        .order_by_asc(audit_event::Column::Seq)
        .all(&services.db)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.actor_role == "system" && r.resource_type == "security_alert"));
    rows.into_iter().map(|r| (r.outcome, r.rule.unwrap_or_default())).collect()
}

fn pair(outcome: &str, rule: &str) -> (String, String) {
    (outcome.to_owned(), rule.to_owned())
}

on_both_backends!(fan_out_queues_one_job_per_channel_the_severity_reaches_and_never_twice, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let email = Recorder::new(Channel::Email, Severity::High);
    let webhook = Recorder::new(Channel::Webhook, Severity::Medium);
    let syslog = Recorder::new(Channel::Syslog, Severity::Low);
    let delivery = runner(&services, vec![email.clone(), webhook.clone(), syslog.clone()]);
    raise_one(&services, "r-low", Severity::Low).await;
    raise_one(&services, "r-medium", Severity::Medium).await;
    raise_one(&services, "r-high", Severity::High).await;
    raise_one(&services, "r-critical", Severity::Critical).await;
    // A break-glass declaration raises its own alert (severity high); it goes out too.
    let patient = services.patients.create(&system(), sample_patient("DLV")).await.unwrap();
    let emergency = staff(&services, Role::Clinician, "Dr. Emergency").await;
    services.break_glass.declare(&emergency, patient, "Collapsed in clinic, no chart access").await.unwrap();

    assert_eq!(delivery.fan_out().await.unwrap(), 5);
    assert_eq!(delivery.fan_out().await.unwrap(), 0, "an alert is fanned out once");
    clock.advance(Duration::minutes(1));
    delivery.tick().await.unwrap();

    let expected: Vec<(String, String)> = [
        ("break_glass", "alert-email"),
        ("break_glass", "alert-syslog"),
        ("break_glass", "alert-webhook"),
        ("r-critical", "alert-email"),
        ("r-critical", "alert-syslog"),
        ("r-critical", "alert-webhook"),
        ("r-high", "alert-email"),
        ("r-high", "alert-syslog"),
        ("r-high", "alert-webhook"),
        ("r-low", "alert-syslog"),
        ("r-medium", "alert-syslog"),
        ("r-medium", "alert-webhook"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(jobs_by_rule(&services).await, expected);
    assert_eq!((email.calls(), webhook.calls(), syslog.calls()), (3, 4, 5), "each job ran once");
    let alerts = security_alert::Entity::find().all(&services.db).await.unwrap();
    assert!(alerts.iter().all(|a| a.fanned_out && a.status == "open"), "fanned out, still open in the inbox");
    let jobs = job::Entity::find().all(&services.db).await.unwrap();
    assert!(jobs.iter().all(|j| j.status == "done" && j.attempts == 1 && j.last_error.is_none()));
});

on_both_backends!(a_failing_channel_is_retried_with_backoff_and_every_attempt_is_audited, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let webhook = Recorder::new(Channel::Webhook, Severity::Low);
    webhook.failing.store(true, Ordering::SeqCst);
    let delivery = runner(&services, vec![webhook.clone()]);
    let alert = raise_one(&services, "bulk-access", Severity::High).await;

    delivery.tick().await.unwrap();
    let first = job::Entity::find().one(&services.db).await.unwrap().unwrap();
    assert_eq!((first.status.as_str(), first.attempts), ("pending", 1));
    assert_eq!(first.last_error.as_deref(), Some("connection"));
    assert_eq!(first.run_at, clock.now() + Duration::seconds(30));
    assert!(first.locked_by.is_none());

    clock.advance(Duration::seconds(29));
    delivery.run_due().await.unwrap();
    assert_eq!(webhook.calls(), 1, "not due before 30 s");
    clock.advance(Duration::seconds(1));
    delivery.run_due().await.unwrap();
    assert_eq!(webhook.calls(), 2);
    let second = job::Entity::find().one(&services.db).await.unwrap().unwrap();
    assert_eq!(second.attempts, 2);
    assert_eq!(second.run_at, clock.now() + Duration::seconds(60), "the wait doubles");

    webhook.failing.store(false, Ordering::SeqCst);
    clock.advance(Duration::seconds(59));
    assert_eq!(delivery.run_due().await.unwrap(), 0);
    clock.advance(Duration::seconds(1));
    assert_eq!(delivery.run_due().await.unwrap(), 1);
    let done = job::Entity::find().one(&services.db).await.unwrap().unwrap();
    assert_eq!((done.status.as_str(), done.attempts, done.last_error), ("done", 3, None));
    assert_eq!(done.finished_at, Some(clock.now()));

    assert_eq!(
        attempts(&services, alert).await,
        vec![
            pair("allowed", "sending:webhook"),
            pair("error", "failed:webhook:connection"),
            pair("allowed", "sending:webhook"),
            pair("error", "failed:webhook:connection"),
            pair("allowed", "sending:webhook"),
            pair("allowed", "sent:webhook"),
        ]
    );
    clock.advance(Duration::hours(2));
    assert_eq!(delivery.run_due().await.unwrap(), 0, "a delivered alert is not sent again");
    assert_eq!(webhook.calls(), 3);
});

fn mailer(sink: &SmtpSink) -> Arc<dyn Mailer> {
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port,
        security: "none".into(),
        username: None,
        password: None,
        from: "Clinic <security@clinic.test>".into(),
    };
    Arc::new(SmtpMailer::new(&settings).unwrap())
}

on_both_backends!(email_goes_to_active_security_officers_and_extra_addresses_only, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let sink = SmtpSink::start().await.unwrap();
    let channel = Arc::new(EmailChannel {
        db: services.db.clone(),
        keys: services.keys.clone(),
        mailer: mailer(&sink),
        min_severity: Severity::Low,
        extra_recipients: vec![],
    });
    let delivery = runner(&services, vec![channel.clone()]);
    let alert = raise_one(&services, "failed-sign-in", Severity::Medium).await;

    // No officer has an address yet: a failure, retried, never dropped.
    delivery.tick().await.unwrap();
    assert_eq!(attempts(&services, alert).await[1], pair("error", "failed:email:no-recipients"));

    security_officer(&services, "officer.one@clinic.test", true).await;
    security_officer(&services, "not.yet.enrolled@clinic.test", false).await;
    let with_extra =
        Arc::new(EmailChannel { extra_recipients: vec!["soc@clinic.test".into()], ..clone_channel(&channel) });
    let delivery = runner(&services, vec![with_extra]);
    clock.advance(Duration::seconds(30));
    assert_eq!(delivery.run_due().await.unwrap(), 1);

    let mut to: Vec<String> = sink.messages().await.into_iter().flat_map(|m| m.to).collect();
    to.sort();
    assert_eq!(to, ["officer.one@clinic.test", "soc@clinic.test"]);
    // Quoted-printable: soft line breaks undone.
    let message = sink.messages().await[0].data.replace("=\n", "");
    assert!(message.contains("Subject: Security alert (medium): failed-sign-in"), "{message}");
    assert!(message.contains(&format!("https://clinic.test/security/alerts/{alert}")), "{message}");
    assert_eq!(attempts(&services, alert).await.last(), Some(&pair("allowed", "sent:email")));
});

fn clone_channel(channel: &EmailChannel) -> EmailChannel {
    EmailChannel {
        db: channel.db.clone(),
        keys: channel.keys.clone(),
        mailer: channel.mailer.clone(),
        min_severity: channel.min_severity,
        extra_recipients: channel.extra_recipients.clone(),
    }
}
