//! Audit throughput (45 CFR 164.312(b)) on SQLite and PostgreSQL, printed as figures: how fast
//! rows are appended (each in its own transaction, as a request does), how fast audited reads
//! go, and how fast the chainer links and `audit verify` checks what was written.
//!
//! `cargo bench -p app --features ssr --bench audit`. Environment:
//! - `BENCH_ROWS`: rows per measurement, shared among the writers (default 4000);
//! - `BENCH_POSTGRES_URL`: an admin URL; a fresh database is created there and dropped after;
//! - `CI=true`: an unreachable PostgreSQL is an error instead of a skipped section.
//!
//! The SQLite database lives in a scratch directory under the system temporary directory.
//! Without `--bench` (as `cargo test --benches` runs it) it is a quick smoke pass of 64 rows.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use app::domain::audit::{Action, AuditContext, AuditEntry, Outcome, verify};
use app::domain::clock::{Clock, SystemClock};
use app::domain::crypto::{KekProvider, LocalKeyring};
use app::domain::db;
use app::domain::ids::PatientId;
use app::domain::seed::seed_patients;
use app::domain::state::Services;
use sea_orm::{ConnectionTrait, TransactionTrait};
use tokio::task::JoinSet;
use uuid::Uuid;

const WRITERS: [usize; 2] = [1, 8];
const PATIENTS: u64 = 8;
const DEFAULT_ROWS: u64 = 4000;
const SMOKE_ROWS: u64 = 64;
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[tokio::main]
async fn main() -> Result<()> {
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let rows = match std::env::var("BENCH_ROWS") {
        Ok(value) => value.trim().parse::<u64>().context("BENCH_ROWS must be a whole number of rows")?,
        Err(_) if smoke => SMOKE_ROWS,
        Err(_) => DEFAULT_ROWS,
    };
    ensure!(rows > 0, "BENCH_ROWS must be at least 1");

    let dir = ScratchDir::new().context("creating a temporary directory for the SQLite database")?;
    let sqlite_url = format!("sqlite://{}/bench.db?mode=rwc", dir.0.display());
    run("sqlite", &sqlite_url, rows).await?;

    let admin_url = std::env::var("BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let admin = match db::connect(&admin_url).await {
        Ok(admin) => admin,
        Err(err) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            println!("postgres  unreachable at {} ({err}): CI=true requires it", redact(&admin_url));
            bail!("PostgreSQL is unreachable at {}", redact(&admin_url));
        }
        Err(err) => {
            println!(
                "postgres  skipped: unreachable at {} ({err}); set BENCH_POSTGRES_URL to measure it",
                redact(&admin_url)
            );
            return Ok(());
        }
    };
    let name = format!("bench_{}", Uuid::new_v4().simple());
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.context("creating the bench database")?;
    let measured = run("postgres", &with_database(&admin_url, &name)?, rows).await;
    let dropped = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
    admin.close().await.context("closing the admin connection")?;
    measured?;
    dropped.with_context(|| format!("dropping the bench database {name}"))?;
    Ok(())
}

/// Every measurement on one fresh, migrated database.
async fn run(backend: &str, url: &str, rows: u64) -> Result<()> {
    let db = db::connect(url).await.with_context(|| format!("connecting to the {backend} bench database"))?;
    db::migrate(&db).await.with_context(|| format!("migrating the {backend} bench database"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let provider: Arc<dyn KekProvider> = Arc::new(LocalKeyring::generate("bench"));
    let services = Services::new(db.clone(), provider, clock.clone());
    let ctx = Arc::new(AuditContext::system("bench"));

    for writers in WRITERS {
        let elapsed = appends(&services, &ctx, writers, rows).await?;
        println!("{backend:<8}  audit append  writers={writers}  rows={rows}  {}", rate(rows, elapsed, "rows/s"));
    }

    let patients: Vec<PatientId> = seed_patients(&services.patients, &ctx, PATIENTS, 4, |_| {})
        .await
        .context("creating the patients to read")?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    for writers in WRITERS {
        let elapsed = audited_reads(&services, &ctx, &patients, writers, rows).await?;
        println!("{backend:<8}  audited read  writers={writers}  reads={rows}  {}", rate(rows, elapsed, "reads/s"));
    }

    let start = Instant::now();
    let linked = services.chainer.chain_pending(&db).await.context("chaining the audit rows")?;
    println!("{backend:<8}  audit chain   rows={linked}  {}", rate(linked, start.elapsed(), "rows/s"));

    let start = Instant::now();
    let report = verify::verify(
        &db,
        services.audit.event_mac(),
        &services.chainer,
        clock.now(),
        chrono::Duration::seconds(300),
        |_, _| {},
    )
    .await
    .context("verifying the audit log")?;
    let elapsed = start.elapsed();
    ensure!(
        report.is_intact(),
        "{backend}: the audit log does not verify: {}",
        report.first_problem().map(ToString::to_string).unwrap_or_default()
    );
    ensure!(report.pending == 0, "{backend}: {} audit rows were left unchained", report.pending);
    println!(
        "{backend:<8}  audit verify  rows={}  {}",
        report.events_checked,
        rate(report.events_checked, elapsed, "rows/s")
    );

    drop(services);
    db.close().await.with_context(|| format!("closing the {backend} bench database"))?;
    Ok(())
}

/// `rows` appends split among `writers` tasks, each append in a transaction of its own.
async fn appends(services: &Services, ctx: &Arc<AuditContext>, writers: usize, rows: u64) -> Result<Duration> {
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for share in shares(rows, writers) {
        let (db, audit, ctx) = (services.db.clone(), services.audit.clone(), ctx.clone());
        tasks.spawn(async move {
            for _ in 0..share {
                let txn = db.begin().await?;
                audit.append(&txn, &ctx, read_entry(PatientId::new())).await?;
                txn.commit().await?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    join_all(tasks).await?;
    Ok(start.elapsed())
}

/// `reads` patient reads through the repository (each writes its audit row), split among tasks.
async fn audited_reads(
    services: &Services,
    ctx: &Arc<AuditContext>,
    patients: &[PatientId],
    writers: usize,
    reads: u64,
) -> Result<Duration> {
    let patients: Arc<[PatientId]> = patients.into();
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (task, share) in shares(reads, writers).into_iter().enumerate() {
        let (repo, ctx, patients) = (services.patients.clone(), ctx.clone(), patients.clone());
        tasks.spawn(async move {
            for (id, _) in patients.iter().cycle().skip(task).zip(0..share) {
                let patient = repo.get(&ctx, *id).await?;
                ensure!(patient.id == *id, "read patient {} but got {}", id, patient.id);
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    join_all(tasks).await?;
    Ok(start.elapsed())
}

/// The row a patient read writes.
fn read_entry(patient: PatientId) -> AuditEntry {
    AuditEntry {
        action: Action::PatientRead,
        resource_type: "patient",
        resource_id: Some(patient.to_string()),
        patient_id: Some(patient.0),
        outcome: Outcome::Allowed,
        rule: Some("system-maintenance".to_owned()),
    }
}

async fn join_all(mut tasks: JoinSet<Result<()>>) -> Result<()> {
    while let Some(joined) = tasks.join_next().await {
        joined.context("a bench task panicked")??;
    }
    Ok(())
}

/// `total` split into `parts` shares that differ by at most one.
fn shares(total: u64, parts: usize) -> Vec<u64> {
    let parts = parts.max(1) as u64;
    (0..parts).map(|i| total / parts + u64::from(i < total % parts)).collect()
}

fn rate(count: u64, elapsed: Duration, unit: &str) -> String {
    format!("{:.0} {unit}  ({:.2} s)", count as f64 / elapsed.as_secs_f64(), elapsed.as_secs_f64())
}

/// A fresh directory under the system's temporary directory, removed with everything in it on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!("clinic-bench-{}", Uuid::new_v4().simple()));
        std::fs::create_dir(&path)?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: a leftover directory in the temporary directory harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `url` with its database name replaced by `name`, keeping any query string.
fn with_database(url: &str, name: &str) -> Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map(|i| i + 3).context("BENCH_POSTGRES_URL is not a URL")?;
    let path = base[authority..].find('/').map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{name}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

/// `url` without its password, fit to print.
fn redact(url: &str) -> String {
    let Some(authority) = url.find("://").map(|i| i + 3) else { return "<BENCH_POSTGRES_URL>".to_owned() };
    let rest = &url[authority..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!("{}{}:***{}", &url[..authority], &rest[..colon], &rest[at..]),
        _ => url.to_owned(),
    }
}
