//! Video-visit signaling through the real server, printed as figures.
//!
//! `cargo bench -p server --bench signaling`. A patient and their clinician open the signaling
//! WebSocket of one video visit; the patient sends ICE-candidate-sized messages (each stored
//! sealed in `video_signal`, then delivered by a wake) and the clinician receives them. Three
//! set-ups: SQLite on one node; PostgreSQL on one node; PostgreSQL with the patient on one node
//! and the clinician on another, where every message crosses through LISTEN/NOTIFY. For each it
//! prints the one-way latency of 500 messages sent one at a time (p50/p99) and the rate of 2,000
//! sent back to back, and the process's peak resident memory at the end.
//!
//! `TEST_POSTGRES_URL` as for the tests. Without `--bench` it is a smoke pass of 20 messages.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark prints; a failed step stops it.

use std::time::{Duration, Instant};

use anyhow::Result;
use app::domain::audit::{Actor, AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::ids::UserId;
use app::domain::scheduling::{Booking, NewVisitType};
use app::domain::state::Services;
use app::domain::test_support::{Backend, TestDb};
use app::domain::users::{NewPasskey, NewUser};
use futures::{SinkExt, StreamExt};
use server::startup::{self, Application};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An ICE candidate as a browser sends it (synthetic addresses from the documentation ranges).
const CANDIDATE: &str = r#"{"candidate":"candidate:842163049 1 udp 1677729535 198.51.100.23 61874 typ srflx raddr 192.0.2.10 rport 61874 generation 0 ufrag Yx1c network-cost 999","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"Yx1c"}"#;

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let (sequential, burst) = if smoke { (20, 20) } else { (500, 2_000) };
    println!("signaling: {sequential} messages one at a time, then {burst} back to back"); // allow-print
    for (label, backend, two_nodes) in [
        ("sqlite, one node", Backend::Sqlite, false),
        ("postgres, one node", Backend::Postgres, false),
        ("postgres, two nodes", Backend::Postgres, true),
    ] {
        run(label, backend, two_nodes, sequential, burst).await?;
    }
    println!("peak resident memory of this process (server and clients): {} MiB", peak_rss_mib()); // allow-print
    Ok(())
}

async fn run(label: &str, backend: Backend, two_nodes: bool, sequential: usize, burst: usize) -> Result<()> {
    let db = TestDb::new(backend).await;
    let settings = server::config::Settings::ephemeral(&db.url);
    let clock = std::sync::Arc::new(app::domain::clock::SystemClock);
    let services = startup::services(&settings, clock.clone()).await?;
    let node_a = serve(&settings, services.clone()).await?;
    let node_b =
        if two_nodes { serve(&settings, startup::services(&settings, clock).await?).await? } else { node_a.clone() };

    let system = AuditContext::system("bench");
    let clinician = account(&services, Role::Clinician, None).await?;
    let new = app::domain::seed::synthetic_patient(&mut rand::rng(), "SIG", 1);
    let patient = services.patients.create(&system, new).await?;
    let patient_user = account(&services, Role::Patient, Some(patient)).await?;
    services.care.start(&system, patient, clinician, CareKind::Assignment).await?;
    let kind = NewVisitType {
        name: "Video visit".into(),
        video: true,
        duration_minutes: 30,
        self_schedule: true,
        requires_approval: false,
    };
    let kind = services.schedule.create_visit_type(&system, kind).await?;
    let starts_at = services.clock.now() + chrono::Duration::minutes(5);
    let booking = Booking { patient, clinician, visit_type: kind, starts_at, reason: "Medication review".into() };
    let (visit, _) = services.schedule.book(&system, booking).await?;
    let patient_ctx = AuditContext {
        actor: Actor { user_id: Some(patient_user), role: Role::Patient, patient_id: Some(patient) },
        ..AuditContext::system("bench")
    };
    services.video.enter_waiting_room(&patient_ctx, visit).await?;

    let patient_cookie = app::domain::test_support::signed_in_cookie(&services, patient_user).await;
    let clinician_cookie = app::domain::test_support::signed_in_cookie(&services, clinician).await;
    let mut sender = open(&node_a, visit, &patient_cookie).await;
    let mut receiver = open(&node_b, visit, &clinician_cookie).await;
    expect(&mut sender, "welcome").await;
    expect(&mut receiver, "welcome").await;

    let mut latencies = Vec::with_capacity(sequential);
    for _ in 0..sequential {
        let started = Instant::now();
        send(&mut sender).await;
        expect(&mut receiver, "ice").await;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];

    let started = Instant::now();
    let receiving = tokio::spawn(async move {
        for _ in 0..burst {
            expect(&mut receiver, "ice").await;
        }
    });
    for _ in 0..burst {
        send(&mut sender).await;
    }
    receiving.await?;
    let rate = burst as f64 / started.elapsed().as_secs_f64();
    // allow-print
    println!(
        "{label}: one-way latency p50 {:.2} ms, p99 {:.2} ms; {rate:.0} messages/s back to back",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}

/// Serves one node at an address of its own, which is its public URL (the only origin its
/// server functions accept).
async fn serve(settings: &server::config::Settings, services: Services) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://localhost:{}", listener.local_addr()?.port());
    let mut settings = settings.clone();
    settings.server.public_url = address.clone();
    let application = Application::with_listener(&settings, services, listener).await?;
    tokio::spawn(application.run_until_stopped());
    Ok(address)
}

async fn account(services: &Services, role: Role, patient: Option<app::domain::ids::PatientId>) -> Result<UserId> {
    let system = AuditContext::system("bench");
    let new = NewUser { role, display_name: format!("Bench {}", role.as_str()), patient_id: patient };
    let invitation = services.users.invite(&system, new, chrono::Duration::hours(1)).await?;
    let passkey = NewPasskey {
        credential_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
        passkey: "{}".to_owned(),
        name: "bench device".to_owned(),
    };
    Ok(services.users.enroll(&system, invitation.token.expose(), passkey).await?)
}

async fn open(address: &str, visit: uuid::Uuid, cookie: &str) -> Socket {
    let url = format!("{}/api/video/{visit}/signal", address.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("origin", address.parse().unwrap());
    request.headers_mut().insert("cookie", cookie.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.expect("signaling socket opens").0
}

async fn send(socket: &mut Socket) {
    let frame = serde_json::json!({ "kind": "ice", "payload": CANDIDATE }).to_string();
    socket.send(Message::Text(frame.into())).await.unwrap();
}

async fn expect(socket: &mut Socket, kind: &str) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = frame {
            let value: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
            if value["kind"] == kind {
                return;
            }
        }
    }
}

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
