//! The chart-read path under load, and search over a large patient index, printed as figures.
//!
//! `cargo bench -p server --bench chart` (or `bash scripts/bench.sh`). For each backend
//! (SQLite, then PostgreSQL) it seeds a demo clinic of `BENCH_PATIENTS` synthetic patients
//! (default 10,000, each with about sixteen chart entries, assignments and care teams), starts
//! the real server in this process, signs one clinician in, and drives `POST /api/chart/open`
//! with `wrk` at concurrency 32 over the patients that clinician may open, printing requests
//! per second and p50/p99 latency. Then it seeds `BENCH_SEARCH_PATIENTS` patients (default
//! 100,000, demographics only) and times 1,000 blind-index searches (name, date of birth, MRN,
//! phone), printing p50/p95/p99.
//!
//! Environment: `BENCH_SECONDS` (load duration, default 20), `TEST_POSTGRES_URL` (an admin URL,
//! as for the tests). Without `--bench` (as `cargo test --benches` runs it) it is a smoke pass
//! with a few patients and no load generator.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark prints; a failed step stops it.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use app::domain::audit::{AuditContext, Role};
use app::domain::patients::SearchCriteria;
use app::domain::test_support::{Backend, TestDb};
use server::startup::{self, Application};

#[path = "support/clinic.rs"]
mod clinic;
use clinic::{chart_reads, name, seed};

const CONCURRENCY: u32 = 32;

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let number = |name: &str, default: u64, smoke_default: u64| -> Result<u64> {
        match std::env::var(name) {
            Ok(value) => value.trim().parse().with_context(|| format!("{name} must be a whole number")),
            Err(_) => Ok(if smoke { smoke_default } else { default }),
        }
    };
    let patients = number("BENCH_PATIENTS", 10_000, 30)?;
    let search_patients = number("BENCH_SEARCH_PATIENTS", 100_000, 60)?;
    let seconds = number("BENCH_SECONDS", 20, 1)?;
    ensure!(patients >= 3 && search_patients >= 1, "seed at least 3 patients");
    if !smoke && which("wrk").is_none() {
        bail!("wrk is not installed: run scripts/bench.sh, which installs it from Debian");
    }
    for backend in [Backend::Sqlite, Backend::Postgres] {
        chart_load(backend, patients, seconds, smoke).await?;
        search(backend, search_patients).await?;
    }
    Ok(())
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(program))
        .find(|p| p.is_file())
}

async fn chart_load(backend: Backend, count: u64, seconds: u64, smoke: bool) -> Result<()> {
    let test = TestDb::new(backend).await;
    let mut settings = bench_settings(&test.url);
    // Server functions accept only the public origin: the bench's address is that URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://localhost:{}", listener.local_addr()?.port());
    settings.server.public_url = address.clone();
    let services = startup::services(&settings, std::sync::Arc::new(app::domain::clock::SystemClock)).await?;
    let application = Application::with_listener(&settings, services.clone(), listener).await?;
    tokio::spawn(application.run_until_stopped());

    let clinic::Clinic { mine, cookie } = clinic::seed_clinic(backend, &services, count).await?;

    // One request through the real stack before the load, to fail early and clearly.
    let probe = reqwest::Client::new()
        .post(format!("{address}/api/chart/open"))
        .header("origin", &address)
        .header("cookie", &cookie)
        .json(&serde_json::json!({"patient_id": mine[0]}))
        .send()
        .await?;
    ensure!(probe.status() == 200, "chart/open answered {} before the load", probe.status());
    if smoke {
        // allow-print
        println!("{:<8} chart/open smoke pass ok (no load generator without --bench)", name(backend));
        return Ok(());
    }

    let dir = tempfile::tempdir()?;
    let script = dir.path().join("chart.lua");
    std::fs::write(&script, clinic::lua_script(&mine, &cookie, &address))?;
    let run = clinic::wrk(&script, &format!("{address}/api/chart/open"), CONCURRENCY, seconds)?;
    // allow-print
    println!(
        "{:<8} chart/open over HTTP, {} patients, concurrency {CONCURRENCY}, {seconds} s: {} requests/s, p50 {}, p99 {}, \
         socket errors: {}; answered {} of {} sent",
        name(backend),
        count,
        run.requests_per_second,
        run.p50,
        run.p99,
        if run.errors.is_empty() { "none" } else { run.errors.as_str() },
        run.answered,
        run.sent,
    );
    let reads = chart_reads(&services).await?;
    // allow-print
    println!("{:<8} {} chart.read audit rows written during the run", name(backend), reads);
    Ok(())
}

async fn search(backend: Backend, count: u64) -> Result<()> {
    let test = TestDb::new(backend).await;
    let settings = bench_settings(&test.url);
    let mut services = startup::services(&settings, std::sync::Arc::new(app::domain::clock::SystemClock)).await?;
    // The benchmark's one clinician searches far more than a person would.
    services.patients.search_budget.max = u64::MAX;
    let started = Instant::now();
    let created = seed(backend, &services, count, "SRCH").await?;
    // allow-print
    println!("{:<8} seeded {count} patients (demographics) in {:.1?}", name(backend), started.elapsed());
    let new =
        app::domain::users::NewUser { role: Role::Clinician, display_name: "Bench Clinician".into(), patient_id: None };
    let invitation = services.users.invite(&AuditContext::system("bench"), new, chrono::Duration::hours(1)).await?;
    let ctx = AuditContext {
        actor: app::domain::audit::Actor { user_id: Some(invitation.user_id), role: Role::Clinician, patient_id: None },
        ..AuditContext::system("bench")
    };
    let searches = 1000.min(created.len() * 4);
    let mut timings = Vec::with_capacity(searches);
    let mut rng = rand::rng();
    for i in 0..searches {
        let (id, patient) = &created[rand::Rng::random_range(&mut rng, 0..created.len())];
        let name = SearchCriteria {
            given_name: Some(patient.given_name.clone()),
            family_name: Some(patient.family_name.clone()),
            ..Default::default()
        };
        let criteria = match i % 3 {
            0 => SearchCriteria { birth_date: Some(patient.birth_date), ..name },
            1 => SearchCriteria { mrn: Some(patient.mrn.clone()), ..Default::default() },
            _ if patient.phone.is_some() => SearchCriteria { phone: patient.phone.clone(), ..name },
            _ => SearchCriteria { birth_date: Some(patient.birth_date), ..name },
        };
        let started = Instant::now();
        let found = services.patients.search(&ctx, &criteria).await?;
        timings.push(started.elapsed());
        ensure!(found.iter().any(|m| m.id == *id) || found.len() == 25, "search missed a seeded patient");
    }
    timings.sort();
    let at = |q: f64| timings[((timings.len() as f64 * q) as usize).min(timings.len() - 1)];
    // allow-print
    println!(
        "{:<8} search over {count} patients ({} searches by name and birth date, MRN, name and phone): p50 {}, p95 {}, p99 {}",
        name(backend),
        timings.len(),
        ms(at(0.50)),
        ms(at(0.95)),
        ms(at(0.99)),
    );
    Ok(())
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn bench_settings(url: &str) -> server::config::Settings {
    let mut settings = server::config::Settings::ephemeral(url);
    settings.audit.chain_interval_ms = 1000;
    settings.log.filter = "warn".into();
    settings
}
