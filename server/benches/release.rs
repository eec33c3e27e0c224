//! The chart read as a clinic runs it: the release server in its own process, on SQLite and on
//! PostgreSQL, over a demo clinic of `BENCH_PATIENTS` synthetic patients (default 10,000), one
//! clinician signed in, `wrk` driving `POST /api/chart/open` at concurrency 16 and 64 for
//! `BENCH_SECONDS` (default 20) after a 5 s warm-up. It prints requests/s, p50, p99, errors,
//! the audit rows written against the requests answered, and the server's peak RSS. On
//! PostgreSQL it first runs pgbench with the same transaction shape (session row, relationship
//! row, patient row, the entries, one audit INSERT, COMMIT) and prints our rate against it.
//!
//! `bash scripts/bench.sh` builds the release server first; `BENCH_SERVER_BIN` names another.
//! Without `--bench` (as `cargo test --benches` runs it) it does nothing.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A benchmark prints; a failed step stops it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use app::domain::test_support::{Backend, TestDb};
use secrecy::ExposeSecret;
use server::startup;

#[path = "support/clinic.rs"]
mod clinic;
use clinic::{chart_reads, name};

const CONNECTIONS: [u32; 2] = [16, 64];
const WARM_UP_SECONDS: u64 = 5;
const PGBENCH_CLIENTS: u32 = 16;

#[tokio::main]
async fn main() -> Result<()> {
    if !std::env::args().any(|arg| arg == "--bench") {
        return Ok(());
    }
    let number = |name: &str, default: u64| -> Result<u64> {
        match std::env::var(name) {
            Ok(value) => value.trim().parse().with_context(|| format!("{name} must be a whole number")),
            Err(_) => Ok(default),
        }
    };
    let patients = number("BENCH_PATIENTS", 10_000)?;
    let seconds = number("BENCH_SECONDS", 20)?;
    let binary = server_binary()?;
    for backend in [Backend::Postgres, Backend::Sqlite] {
        run(backend, &binary, patients, seconds).await?;
    }
    Ok(())
}

fn server_binary() -> Result<PathBuf> {
    let binary = match std::env::var_os("BENCH_SERVER_BIN") {
        Some(path) => PathBuf::from(path),
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"), PathBuf::from);
            target.join("release/server")
        }
    };
    ensure!(binary.is_file(), "no release server at {}: run cargo leptos build --release first", binary.display());
    Ok(binary)
}

async fn run(backend: Backend, binary: &Path, patients: u64, seconds: u64) -> Result<()> {
    let test = TestDb::new(backend).await;
    let mut settings = server::config::Settings::ephemeral(&test.url);
    settings.log.filter = "warn".into();
    let services = startup::services(&settings, std::sync::Arc::new(app::domain::clock::SystemClock)).await?;
    let clinic = clinic::seed_clinic(backend, &services, patients).await?;

    let ceiling = match backend {
        Backend::Postgres => {
            let ceiling = pgbench(&test, &clinic, seconds).await?;
            // allow-print: a benchmark prints its figures.
            println!(
                "{:<8} pgbench, the same transaction shape, {PGBENCH_CLIENTS} clients: {ceiling:.0} transactions/s",
                name(backend)
            );
            Some(ceiling)
        }
        Backend::Sqlite => None,
    };

    let port = free_port()?;
    let address = format!("http://localhost:{port}");
    let material = settings.keys.material.as_ref().context("ephemeral settings carry their keys")?;
    let mut child = Command::new(binary)
        .arg("serve")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .env("APP_ENVIRONMENT", "development")
        .env("APP_SERVER__PORT", port.to_string())
        .env("APP_SERVER__PUBLIC_URL", &address)
        .env("APP_DATABASE__URL", &test.url)
        .env("APP_KEYS__MATERIAL", material.expose_secret())
        .env("APP_LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the release server")?;
    let measured = measure(backend, &mut child, &services, &clinic, &address, seconds, ceiling).await;
    let peak = peak_rss_kib(child.id());
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    measured?;
    // allow-print: a benchmark prints its figures.
    println!("{:<8} server peak RSS {:.1} MB", name(backend), peak.unwrap_or(0) as f64 / 1024.0);
    Ok(())
}

async fn measure(
    backend: Backend,
    child: &mut Child,
    services: &app::domain::state::Services,
    clinic: &clinic::Clinic,
    address: &str,
    seconds: u64,
    ceiling: Option<f64>,
) -> Result<()> {
    wait_ready(child, address).await?;
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("chart.lua");
    std::fs::write(&script, clinic::lua_script(&clinic.mine, &clinic.cookie, address))?;
    let url = format!("{address}/api/chart/open");
    for connections in CONNECTIONS {
        clinic::wrk(&script, &url, connections, WARM_UP_SECONDS)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = chart_reads(services).await?;
        let run = clinic::wrk(&script, &url, connections, seconds)?;
        // Requests cut off in flight at the end still finish on the server.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let audited = chart_reads(services).await? - before;
        let ratio = ceiling.and_then(|ceiling| {
            run.requests_per_second
                .parse::<f64>()
                .ok()
                .map(|ours| format!(", {:.0}% of pgbench", ours / ceiling * 100.0))
        });
        // allow-print: a benchmark prints its figures.
        println!(
            "{:<8} release server, chart/open, concurrency {connections}, {seconds} s: {} requests/s{}, p50 {}, p99 {}, \
             errors: {}; answered {}, sent {}, chart.read audit rows {audited}",
            name(backend),
            run.requests_per_second,
            ratio.unwrap_or_default(),
            run.p50,
            run.p99,
            if run.errors.is_empty() { "none".to_owned() } else { run.errors.clone() },
            run.answered,
            run.sent,
        );
        // Every answered read wrote its row; a request cut off at the end may have too.
        ensure!(
            run.answered <= audited && audited <= run.sent,
            "audit rows ({audited}) do not account for the requests (answered {}, sent {})",
            run.answered,
            run.sent
        );
    }
    Ok(())
}

async fn wait_ready(child: &mut Child, address: &str) -> Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Some(status) = child.try_wait()? {
            bail!("the release server exited before it was ready: {status}");
        }
        if client.get(format!("{address}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the release server was not ready within 30 s")
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}

/// What PostgreSQL itself does with the chart read's transaction shape, at 16 clients, as the
/// app's own restricted role.
async fn pgbench(test: &TestDb, clinic: &clinic::Clinic, seconds: u64) -> Result<f64> {
    use sea_orm::ConnectionTrait;
    // The patients the clinician may open, numbered for pgbench's random().
    test.owner.execute_unprepared("CREATE TABLE pgbench_patient (n integer PRIMARY KEY, id uuid NOT NULL)").await?;
    let values: Vec<String> = clinic.mine.iter().enumerate().map(|(n, id)| format!("({}, '{id}')", n + 1)).collect();
    for chunk in values.chunks(1000) {
        test.owner.execute_unprepared(&format!("INSERT INTO pgbench_patient VALUES {}", chunk.join(","))).await?;
    }
    let role = app::domain::test_support::APP_TEST_ROLE;
    test.owner.execute_unprepared(&format!("GRANT SELECT ON pgbench_patient TO {role}")).await?;
    let session = clinic.cookie.trim_start_matches("clinic_session=");
    let session_hash = app::domain::sessions::DbSessionStore::id_hash(&session.parse().context("session id")?);
    let script = format!(
        r#"\set n random(1, {count})
SELECT id AS pid FROM pgbench_patient WHERE n = :n \gset
BEGIN;
SELECT * FROM session WHERE id_hash = '{session_hash}' AND expires_at > now();
SELECT * FROM care_relationship WHERE patient_id = :pid AND ended_at IS NULL;
SELECT * FROM patient WHERE id = :pid AND deleted_at IS NULL;
SELECT * FROM clinical_entry WHERE patient_id = :pid AND deleted_at IS NULL ORDER BY created_at DESC;
INSERT INTO audit_event (id, occurred_at, actor_role, patient_id, action, resource_type, resource_id, outcome, rule, purpose, ip, user_agent, mac, key_version) VALUES (gen_random_uuid(), now(), 'clinician', :pid, 'bench.pgbench', 'chart', :pid, 'allowed', 'care-team', 'treatment', '127.0.0.1', 'pgbench', '\x00', 1);
COMMIT;
"#,
        count = clinic.mine.len()
    );
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("chart.sql");
    std::fs::write(&file, script)?;
    let output = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-j", "2", "-c", &PGBENCH_CLIENTS.to_string(), "-T", &seconds.to_string(), "-f"])
        .arg(&file)
        .arg(&test.url)
        .output()
        .context("running pgbench (Debian's postgresql-client)")?;
    let report = String::from_utf8_lossy(&output.stdout);
    ensure!(output.status.success(), "pgbench failed: {}", String::from_utf8_lossy(&output.stderr));
    report
        .lines()
        .find_map(|line| line.strip_prefix("tps = ")?.split_whitespace().next()?.parse().ok())
        .context("pgbench printed no tps")
}
