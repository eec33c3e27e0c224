//! One alert reaches the inbox, a real SMTP sink, a webhook receiver that checks the Standard
//! Webhooks signature itself (and refuses a tampered request), and syslog receivers over TCP
//! and UDP that parse RFC 5424 and CEF; a receiver that is down gets the alert once it is back.
//! Every attempt is audited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::domain::clock::{Clock, FixedClock};
use app::domain::entities::{audit_event, security_alert};
use app::domain::ids::{PatientId, UserId};
use app::domain::monitoring::{NewAlert, Severity, raise};
use app::domain::test_support::officers::security_officer;
use app::domain::test_support::smtp_sink::SmtpSink;
use app::on_both_backends;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use server::config::Settings;
use sha2::Sha256;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app_configured};

/// 32 bytes of 0x2a, as the operator would configure it.
fn secret_bytes() -> Vec<u8> {
    vec![0x2a; 32]
}

fn secret_setting() -> String {
    format!("whsec_{}", STANDARD.encode(secret_bytes()))
}

/// What the webhook receiver saw: the headers, the body, and whether the signature held.
#[derive(Clone, Debug)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
    verified: bool,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// The receiver's own check, written from the specification: HMAC-SHA256 over
/// "{webhook-id}.{webhook-timestamp}.{body}", base64, after "v1,".
fn signature_holds(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (Some(id), Some(timestamp), Some(signature)) =
        (get("webhook-id"), get("webhook-timestamp"), get("webhook-signature"))
    else {
        return false;
    };
    // Any of the space-separated `v1,<base64>` signatures may match (key rotation).
    signature.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|s| {
        STANDARD.decode(s).is_ok_and(|given| {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&given).is_ok()
        })
    })
}

async fn hook(State((secret, log)): State<(Vec<u8>, Log)>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let verified = signature_holds(&secret, &headers, &body);
    let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned())).collect();
    log.lock().unwrap().push(Received { headers, body: String::from_utf8_lossy(&body).into_owned(), verified });
    if verified { StatusCode::NO_CONTENT } else { StatusCode::UNAUTHORIZED }
}

/// A webhook receiver on `listener`, checking signatures with `secret`.
fn start_receiver(listener: tokio::net::TcpListener, secret: Vec<u8>) -> Log {
    let log: Log = Arc::default();
    let router = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state((secret, log.clone()));
    tokio::spawn(async move { axum::serve(listener, router).await });
    log
}

/// A syslog message split as RFC 5424 section 6 defines it, and its CEF body parsed.
#[derive(Debug)]
struct Syslog {
    pri: u16,
    version: String,
    timestamp: chrono::DateTime<Utc>,
    app_name: String,
    msgid: String,
    structured_data: String,
    /// The seven CEF header fields after `CEF:0`, unescaped.
    cef_header: Vec<String>,
    cef: HashMap<String, String>,
}

fn parse_syslog(message: &str) -> Syslog {
    let fields: Vec<&str> = message.splitn(8, ' ').collect();
    assert_eq!(fields.len(), 8, "{message}");
    let (pri, version) = fields[0].strip_prefix('<').unwrap().split_once('>').unwrap();
    let msg = fields[7];
    assert!(msg.starts_with("CEF:0|"), "{msg}");
    // Header: fields separated by unescaped pipes; `\|` and `\\` are escapes.
    let mut header = vec![String::new()];
    let mut chars = msg["CEF:0|".len()..].chars();
    let mut rest = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => header.last_mut().unwrap().push(chars.next().unwrap()),
            '|' if header.len() == 6 => {
                rest = chars.collect();
                break;
            }
            '|' => header.push(String::new()),
            c => header.last_mut().unwrap().push(c),
        }
    }
    // Extension: `key=value` pairs; a value runs to the next ` key=` whose `=` is not escaped.
    let mut pairs: Vec<(String, String)> = Vec::new();
    for token in rest.split(' ') {
        let key_end = token.find('=').filter(|&i| i > 0 && token[..i].chars().all(|c| c.is_ascii_alphanumeric()));
        match key_end {
            Some(i) if !token[..i].ends_with('\\') => pairs.push((token[..i].to_owned(), token[i + 1..].to_owned())),
            _ => {
                let last = pairs.last_mut().unwrap();
                last.1.push(' ');
                last.1.push_str(token);
            }
        }
    }
    let unescape = |v: &str| v.replace("\\=", "=").replace("\\n", "\n").replace("\\\\", "\\");
    Syslog {
        pri: pri.parse().unwrap(),
        version: version.to_owned(),
        timestamp: chrono::DateTime::parse_from_rfc3339(fields[1]).unwrap().with_timezone(&Utc),
        app_name: fields[3].to_owned(),
        msgid: fields[5].to_owned(),
        structured_data: fields[6].to_owned(),
        cef_header: header,
        cef: pairs.into_iter().map(|(k, v)| (k, unescape(&v))).collect(),
    }
}

/// Reads one TCP connection to its end and splits the RFC 6587 octet-counted frames.
async fn tcp_frames(listener: &tokio::net::TcpListener) -> Vec<String> {
    use tokio::io::AsyncReadExt;
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let mut text = String::from_utf8(bytes).unwrap();
    let mut frames = Vec::new();
    while !text.is_empty() {
        let (length, rest) = text.split_once(' ').unwrap();
        let length: usize = length.parse().unwrap();
        frames.push(rest[..length].to_owned());
        text = rest[length..].to_owned();
    }
    frames
}

fn pinned() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()))
}

async fn app_with_clock(backend: app::domain::test_support::Backend, clock: &Arc<FixedClock>) -> TestApp {
    // The app's own delivery task stays off: the test runs the runner itself, step by step.
    spawn_app_configured(backend, clock.clone(), |_| {}).await
}

/// Raises a high alert about a synthetic patient (whose name must never leave) by a clinician.
async fn raise_about_patient(app: &TestApp) -> (Uuid, PatientId, UserId) {
    let system = app::domain::audit::AuditContext::system("test");
    let patient = app.services.patients.create(&system, sample_patient()).await.unwrap();
    let actor = UserId::new();
    let now = app.services.clock.now();
    let alert = NewAlert {
        rule: "bulk-access".into(),
        severity: Severity::High,
        actor: Some(actor),
        patients: vec![patient],
        window_start: now - chrono::Duration::minutes(10),
        window_end: now,
        observed: Some(31),
        seqs: vec![11, 12],
        dedup: format!("{actor}:11"),
        subject_id: None,
    };
    let id = raise(&app.services.db, alert, now).await.unwrap().unwrap();
    (id, patient, actor)
}

fn sample_patient() -> app::domain::patients::NewPatient {
    app::domain::patients::NewPatient {
        given_name: "Zephyrine".into(),
        family_name: "Quillfeather".into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1971, 3, 14).unwrap(),
        sex: app::domain::patients::Sex::Female,
        ssn: None,
        mrn: "MRN-ALERT".into(),
        phone: None,
        email: None,
        address: None,
    }
}

const PHI: [&str; 3] = ["Zephyrine", "Quillfeather", "MRN-ALERT"];

/// (outcome, rule) of the delivery audit rows about `alert`, oldest first.
async fn attempts(app: &TestApp, alert: Uuid) -> Vec<(String, String)> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("alert.deliver"))
        .filter(audit_event::Column::ResourceId.eq(alert.to_string()))
        .order_by_asc(audit_event::Column::Seq)
        .all(&app.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!((r.actor_role.as_str(), r.resource_type.as_str()), ("system", "security_alert"));
            (r.outcome, r.rule.unwrap_or_default())
        })
        .collect()
}

fn rows(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

fn delivering(app: &TestApp, change: impl FnOnce(&mut Settings)) -> app::domain::monitoring::delivery::DeliveryRunner {
    let mut settings = app.settings.clone();
    change(&mut settings);
    server::alerting::runner(&settings, &app.services).unwrap().unwrap()
}

on_both_backends!(one_alert_reaches_the_inbox_a_mailbox_a_signed_webhook_and_syslog_over_tcp, |backend| async move {
    let clock = pinned();
    let app = app_with_clock(backend, &clock).await;
    let sink = SmtpSink::start().await.unwrap();
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://127.0.0.1:{}/hook", hook_listener.local_addr().unwrap().port());
    let received = start_receiver(hook_listener, secret_bytes());
    let syslog = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let syslog_target = format!("tcp://{}", syslog.local_addr().unwrap());
    security_officer(&app.services, "officer@clinic.test", true).await;
    let (url, smtp_port) = (hook_url.clone(), sink.port);
    let runner = delivering(&app, move |s| {
        s.reminders.smtp.port = smtp_port;
        s.alerting.email.enabled = true;
        s.alerting.webhook.enabled = true;
        s.alerting.webhook.url = url;
        s.alerting.webhook.secret = Some(secret_setting().into());
        s.alerting.syslog.enabled = true;
        s.alerting.syslog.target = syslog_target;
    });
    let (alert, patient, actor) = raise_about_patient(&app).await;

    let (frames, sent) = tokio::join!(tcp_frames(&syslog), runner.tick());
    assert_eq!(sent.unwrap(), 3);

    // The inbox: the alert is listed open.
    let row = security_alert::Entity::find_by_id(alert).one(&app.services.db).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.fanned_out), ("open", true));
    let link = format!("{}/security/alerts/{alert}", app.address);

    // The mailbox.
    let mail = sink.messages().await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, ["officer@clinic.test"]);
    let data = mail[0].data.replace("=\n", "");
    assert!(data.contains("Subject: Security alert (high): bulk-access"), "{data}");
    assert!(data.contains("Rule: bulk-access") && data.contains(&link), "{data}");
    assert!(!data.contains(&patient.0.to_string()), "the email lists counts, not patient ids");

    // The webhook: signed, verified by the receiver, ids only.
    let hooks = received.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    let first = &hooks[0];
    assert!(first.verified, "the receiver's own check accepts the signature");
    assert_eq!(first.headers["webhook-id"], alert.to_string());
    assert_eq!(first.headers["webhook-timestamp"], clock.now().timestamp().to_string());
    assert!(first.headers["webhook-signature"].starts_with("v1,"));
    let body: serde_json::Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(body["type"], "security.alert");
    assert_eq!(body["alert_id"], alert.to_string());
    assert_eq!(body["rule"], "bulk-access");
    assert_eq!(body["severity"], "high");
    assert_eq!(body["actor_id"], actor.0.to_string());
    assert_eq!(body["patient_ids"], serde_json::json!([patient.0.to_string()]));
    assert_eq!(body["audit_seqs"], serde_json::json!([11, 12]));
    assert_eq!(body["observed"], 31);
    assert_eq!(body["link"], link);

    // A tampered body, or a signature made with another secret, is refused by the receiver.
    let client = reqwest::Client::new();
    let replay = |body: String, signature: String| {
        client
            .post(&hook_url)
            .header("webhook-id", &first.headers["webhook-id"])
            .header("webhook-timestamp", &first.headers["webhook-timestamp"])
            .header("webhook-signature", signature)
            .body(body)
            .send()
    };
    let tampered = first.body.replace("\"high\"", "\"low\"");
    assert_ne!(tampered, first.body);
    let status = replay(tampered, first.headers["webhook-signature"].clone()).await.unwrap().status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let forged = format!("v1,{}", STANDARD.encode([0u8; 32]));
    assert_eq!(replay(first.body.clone(), forged).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let status = replay(first.body.clone(), first.headers["webhook-signature"].clone()).await.unwrap().status();
    assert_eq!(status, StatusCode::NO_CONTENT, "the untouched request still verifies");

    // Syslog over TCP: one octet-counted RFC 5424 message with a CEF body.
    assert_eq!(frames.len(), 1);
    let message = parse_syslog(&frames[0]);
    assert_eq!(message.pri, 10 * 8 + 3, "authpriv, error for a high alert");
    assert_eq!(message.version, "1");
    assert_eq!(message.timestamp, clock.now());
    assert_eq!((message.app_name.as_str(), message.msgid.as_str()), ("clinic", "security-alert"));
    assert_eq!(message.structured_data, "-");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(message.cef_header, ["Clinic", "clinic", version, "bulk-access", "Security alert: bulk-access", "8"]);
    assert_eq!(message.cef["externalId"], alert.to_string());
    assert_eq!(message.cef["suser"], actor.0.to_string());
    assert_eq!(message.cef["cs2"], patient.0.to_string());
    assert_eq!(message.cef["cs3"], "11,12");
    assert_eq!(message.cef["cnt"], "31");
    assert_eq!(message.cef["start"], (clock.now() - chrono::Duration::minutes(10)).timestamp_millis().to_string());
    assert_eq!(message.cef["end"], clock.now().timestamp_millis().to_string());
    assert_eq!(message.cef["cs4"], link);

    for text in [data, first.body.clone(), frames[0].clone()] {
        for word in PHI {
            assert!(!text.contains(word), "{word} left the building");
        }
    }
    let mut audited = attempts(&app, alert).await;
    audited.sort();
    assert_eq!(
        audited,
        rows(&[
            ("allowed", "sending:email"),
            ("allowed", "sending:syslog"),
            ("allowed", "sending:webhook"),
            ("allowed", "sent:email"),
            ("allowed", "sent:syslog"),
            ("allowed", "sent:webhook"),
        ])
    );
});

on_both_backends!(a_webhook_receiver_that_is_down_gets_the_alert_once_it_is_back, |backend| async move {
    let clock = pinned();
    let app = app_with_clock(backend, &clock).await;
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let runner = delivering(&app, move |s| {
        s.alerting.webhook.enabled = true;
        s.alerting.webhook.url = format!("http://127.0.0.1:{port}/hook");
        s.alerting.webhook.secret = Some(secret_setting().into());
    });
    let (alert, _, _) = raise_about_patient(&app).await;

    assert_eq!(runner.tick().await.unwrap(), 0);
    assert_eq!(
        attempts(&app, alert).await,
        rows(&[("allowed", "sending:webhook"), ("error", "failed:webhook:connection")])
    );

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let received = start_receiver(listener, secret_bytes());
    clock.advance(chrono::Duration::seconds(29));
    assert_eq!(runner.tick().await.unwrap(), 0, "the retry waits 30 s");
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(runner.tick().await.unwrap(), 1);

    let hooks = received.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1);
    assert!(hooks[0].verified);
    assert_eq!(hooks[0].headers["webhook-timestamp"], clock.now().timestamp().to_string(), "signed when sent");
    assert_eq!(
        attempts(&app, alert).await,
        rows(&[
            ("allowed", "sending:webhook"),
            ("error", "failed:webhook:connection"),
            ("allowed", "sending:webhook"),
            ("allowed", "sent:webhook"),
        ])
    );
});

on_both_backends!(a_server_with_a_channel_on_delivers_alerts_by_itself_over_udp_syslog, |backend| async move {
    let receiver = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = format!("udp://{}", receiver.local_addr().unwrap());
    let app = spawn_app_configured(backend, Arc::new(app::domain::clock::SystemClock), move |s| {
        s.alerting.poll_seconds = 1;
        s.alerting.syslog.enabled = true;
        s.alerting.syslog.min_severity = "medium".into();
        s.alerting.syslog.target = target;
    })
    .await;
    let (alert, patient, _) = raise_about_patient(&app).await;

    let mut buffer = vec![0u8; 65_536];
    let read = tokio::time::timeout(std::time::Duration::from_secs(15), receiver.recv_from(&mut buffer)).await;
    let (length, _) = read.expect("the server's own task sends the alert").unwrap();
    let message = parse_syslog(std::str::from_utf8(&buffer[..length]).unwrap());
    assert_eq!(message.pri, 83);
    assert_eq!(message.cef_header[3], "bulk-access");
    assert_eq!(message.cef["cs1"], alert.to_string());
    assert_eq!(message.cef["cs2"], patient.0.to_string());
    assert_eq!(message.cef["cn1"], "1");
});
