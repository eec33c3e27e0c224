//! `audit verify` at scale, printed as figures: a log of `BENCH_VERIFY_ROWS` rows (default 10
//! million) is made in bulk with valid MACs and chain links, verified in full, then
//! `BENCH_INCREMENTAL_ROWS` more (default 100,000) are added and a run resumes from the first
//! run's signed checkpoint, as a daily job would. On SQLite and PostgreSQL.
//!
//! `cargo bench -p app --features ssr --bench audit_verify`. `BENCH_POSTGRES_URL` (an admin URL)
//! and `CI=true` as in the audit bench. Without `--bench` it is a smoke pass of 20,000 rows.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use app::domain::audit::{AuditChainer, ChainHead, CheckpointSigner, EventMac, verify};
use app::domain::clock::{Clock, SystemClock};
use app::domain::crypto::{KekProvider, LocalKeyring};
use app::domain::db;
use app::domain::entities::audit_event;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, sqlx};
use uuid::Uuid;

const DEFAULT_ROWS: u64 = 10_000_000;
const DEFAULT_INCREMENTAL: u64 = 100_000;
const SMOKE_ROWS: u64 = 20_000;
const SMOKE_INCREMENTAL: u64 = 2_000;
/// Rows made, linked and inserted at a time.
const BATCH: u64 = 50_000;
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[tokio::main]
async fn main() -> Result<()> {
    // BENCH_TRACE=debug shows where a verify run spends its time.
    if let Ok(filter) = std::env::var("BENCH_TRACE") {
        tracing_subscriber::fmt().with_env_filter(format!("app={filter}")).with_target(false).init();
    }
    let smoke = !std::env::args().any(|arg| arg == "--bench");
    let rows = count("BENCH_VERIFY_ROWS", if smoke { SMOKE_ROWS } else { DEFAULT_ROWS })?;
    let incremental = count("BENCH_INCREMENTAL_ROWS", if smoke { SMOKE_INCREMENTAL } else { DEFAULT_INCREMENTAL })?;

    let dir = std::env::temp_dir().join(format!("clinic-verify-bench-{}", Uuid::new_v4().simple()));
    std::fs::create_dir(&dir).context("creating a scratch directory")?;
    let sqlite = run("sqlite", &format!("sqlite://{}/verify.db?mode=rwc", dir.display()), rows, incremental).await;
    let _ = std::fs::remove_dir_all(&dir);
    sqlite?;

    let admin_url = std::env::var("BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let admin = match db::connect(&admin_url).await {
        Ok(admin) => admin,
        Err(err) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            bail!("PostgreSQL is unreachable ({err}): CI=true requires it")
        }
        Err(err) => {
            // allow-print: a benchmark prints its figures.
            println!("postgres  skipped: unreachable ({err}); set BENCH_POSTGRES_URL to measure it");
            return Ok(());
        }
    };
    let name = format!("bench_verify_{}", Uuid::new_v4().simple());
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.context("creating the bench database")?;
    let url = format!("{}/{name}", admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base));
    let measured = run("postgres", &url, rows, incremental).await;
    let dropped = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
    measured?;
    dropped.context("dropping the bench database")?;
    Ok(())
}

fn count(variable: &str, default: u64) -> Result<u64> {
    match std::env::var(variable) {
        Ok(value) => value.trim().parse().with_context(|| format!("{variable} must be a whole number")),
        Err(_) => Ok(default),
    }
}

async fn run(backend: &str, url: &str, rows: u64, incremental: u64) -> Result<()> {
    let db = db::connect(url).await.with_context(|| format!("connecting to the {backend} bench database"))?;
    db::migrate(&db).await?;
    let provider: Arc<dyn KekProvider> = Arc::new(LocalKeyring::generate("bench"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mac = EventMac::new(provider.clone());
    let chainer = AuditChainer::new(provider.clone(), clock.clone());
    let mut log = Generator { mac: &mac, chainer: &chainer, next_seq: 1, prev: vec![0; 32] };

    let started = Instant::now();
    log.append(&db, rows).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // What autovacuum does to a table this size: statistics and the visibility map.
        db.execute_unprepared("VACUUM ANALYZE audit_event").await?;
        db.execute_unprepared("VACUUM ANALYZE audit_chain").await?;
    }
    let made = started.elapsed();
    // allow-print: a benchmark prints its figures.
    println!(
        "{backend:<8}  made {rows} audit rows with MACs and links in {:.1} s ({:.0} rows/s)",
        made.as_secs_f64(),
        rows as f64 / made.as_secs_f64()
    );

    let options = verify::VerifyOptions::full(clock.now(), chrono::Duration::minutes(5));
    let started = Instant::now();
    let report = verify::verify_with(&db, &mac, &chainer, &options, |_, _| {}).await?;
    let elapsed = started.elapsed();
    ensure!(report.is_intact(), "{backend}: the generated log does not verify: {:?}", report.first_problem());
    ensure!(report.events_checked == rows, "{backend}: checked {} rows of {rows}", report.events_checked);
    // allow-print: a benchmark prints its figures.
    println!(
        "{backend:<8}  audit verify (full)         rows={rows}  {:.0} rows/s  ({:.2} s)",
        rows as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );

    let head = report.head.clone().context("a verified log has a head")?;
    let checkpoint = CheckpointSigner::new(provider.clone()).sign(&head, clock.now())?;
    log.append(&db, incremental).await?;
    let mut options = verify::VerifyOptions::full(clock.now(), chrono::Duration::minutes(5));
    options.resume = Some(checkpoint);
    let started = Instant::now();
    let report = verify::verify_with(&db, &mac, &chainer, &options, |_, _| {}).await?;
    let elapsed = started.elapsed();
    ensure!(report.is_intact(), "{backend}: the resumed run found {:?}", report.first_problem());
    ensure!(report.resumed_from == Some(head.position), "{backend}: the run did not resume from the checkpoint");
    ensure!(report.links_checked == incremental, "{backend}: resumed run checked {} links", report.links_checked);
    // allow-print: a benchmark prints its figures.
    println!(
        "{backend:<8}  audit verify (incremental)  rows={incremental} after {rows}  {:.0} rows/s  ({:.2} s)",
        incremental as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    let expected_head = ChainHead { position: head.position + incremental as i64, ..head };
    ensure!(report.head.as_ref().map(|h| h.position) == Some(expected_head.position), "{backend}: head moved wrong");
    db.close().await?;
    Ok(())
}

/// Makes rows as the product does (same MAC, same links), many at a time.
struct Generator<'a> {
    mac: &'a EventMac,
    chainer: &'a AuditChainer,
    next_seq: i64,
    prev: Vec<u8>,
}

/// One chain row, made alongside its event.
struct Link {
    position: i64,
    event_seq: i64,
    link: Vec<u8>,
    at: DateTime<Utc>,
    key_version: i32,
}

impl Generator<'_> {
    async fn append(&mut self, db: &DatabaseConnection, rows: u64) -> Result<()> {
        let mut left = rows;
        while left > 0 {
            let take = left.min(BATCH);
            let (events, links) = self.batch(take)?;
            match db.get_database_backend() {
                DbBackend::Postgres => insert_postgres(db.get_postgres_connection_pool(), &events, &links).await?,
                _ => insert_sqlite(db.get_sqlite_connection_pool(), &events, &links).await?,
            }
            left -= take;
        }
        Ok(())
    }

    fn batch(&mut self, rows: u64) -> Result<(Vec<audit_event::Model>, Vec<Link>)> {
        let first = self.next_seq;
        let version = self.mac.active_version();
        let mut events: Vec<audit_event::Model> = (0..rows as i64).map(|i| synthetic(first + i, version)).collect();
        // MACs on every core; links one after another, each follows the one before.
        let halves = events.len().div_ceil(2).max(1);
        let mac = self.mac;
        std::thread::scope(|scope| {
            for part in events.chunks_mut(halves) {
                scope.spawn(move || {
                    for event in part {
                        event.mac = mac.compute(event).expect("the bench key is loaded").to_vec();
                    }
                });
            }
        });
        let key_version = self.chainer.active_version();
        let now = Utc::now();
        let mut links = Vec::with_capacity(events.len());
        for event in &events {
            let link = self.chainer.link(&self.prev, event.seq, event.seq, &event.mac, key_version)?.to_vec();
            self.prev.clone_from(&link);
            links.push(Link { position: event.seq, event_seq: event.seq, link, at: now, key_version });
        }
        self.next_seq += rows as i64;
        Ok((events, links))
    }
}

/// A synthetic clinician's chart read: ten thousand made-up patients, a handful of clinicians.
fn synthetic(seq: i64, key_version: i32) -> audit_event::Model {
    let patient = Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | (seq % 10_000) as u128);
    let clinician = Uuid::from_u128(0xc11c_0000_0000_4000_8000_0000_0000_0000 | (seq % 7) as u128);
    audit_event::Model {
        seq,
        id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | seq as u128),
        occurred_at: DateTime::from_timestamp(1_764_547_200 + seq / 100, 0).unwrap_or_default(),
        actor_user_id: Some(clinician),
        actor_role: "clinician".to_owned(),
        patient_id: Some(patient),
        action: "chart.read".to_owned(),
        resource_type: "chart".to_owned(),
        resource_id: Some(patient.to_string()),
        outcome: "allowed".to_owned(),
        rule: Some("care-team".to_owned()),
        purpose: Some("treatment".to_owned()),
        justification: None,
        ip: Some(format!("10.0.{}.{}", seq % 200, seq % 250)),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) bench".to_owned()),
        request_id: Some(format!("req-{seq:012}")),
        mac: Vec::new(),
        key_version,
    }
}

async fn insert_postgres(pool: &sqlx::PgPool, events: &[audit_event::Model], links: &[Link]) -> Result<()> {
    let mut txn = pool.begin().await?;
    for chunk in events.chunks(10_000) {
        sqlx::query(
            "INSERT INTO audit_event (seq, id, occurred_at, actor_user_id, actor_role, patient_id, action, \
             resource_type, resource_id, outcome, rule, purpose, justification, ip, user_agent, request_id, mac, \
             key_version) OVERRIDING SYSTEM VALUE SELECT * FROM UNNEST($1::bigint[], $2::uuid[], \
             $3::timestamptz[], $4::uuid[], $5::text[], $6::uuid[], $7::text[], $8::text[], $9::text[], \
             $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], \
             $17::bytea[], $18::integer[])",
        )
        .bind(chunk.iter().map(|e| e.seq).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.occurred_at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.actor_user_id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.actor_role.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.patient_id).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.action.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.resource_type.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.resource_id.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.outcome.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.rule.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.purpose.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.justification.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.ip.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.user_agent.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.request_id.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.mac.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|e| e.key_version).collect::<Vec<_>>())
        .execute(&mut *txn)
        .await?;
    }
    for chunk in links.chunks(10_000) {
        sqlx::query(
            "INSERT INTO audit_chain (position, event_seq, link, chained_at, key_version) SELECT * FROM \
             UNNEST($1::bigint[], $2::bigint[], $3::bytea[], $4::timestamptz[], $5::integer[])",
        )
        .bind(chunk.iter().map(|l| l.position).collect::<Vec<_>>())
        .bind(chunk.iter().map(|l| l.event_seq).collect::<Vec<_>>())
        .bind(chunk.iter().map(|l| l.link.clone()).collect::<Vec<_>>())
        .bind(chunk.iter().map(|l| l.at).collect::<Vec<_>>())
        .bind(chunk.iter().map(|l| l.key_version).collect::<Vec<_>>())
        .execute(&mut *txn)
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

async fn insert_sqlite(pool: &sqlx::SqlitePool, events: &[audit_event::Model], links: &[Link]) -> Result<()> {
    const EVENT_COLUMNS: usize = 18;
    let mut txn = pool.begin().await?;
    // SQLite takes at most 32,766 parameters a statement.
    for chunk in events.chunks(32_766 / EVENT_COLUMNS) {
        let row = format!("({})", vec!["?"; EVENT_COLUMNS].join(", "));
        let sql = format!(
            "INSERT INTO audit_event (seq, id, occurred_at, actor_user_id, actor_role, patient_id, action, \
             resource_type, resource_id, outcome, rule, purpose, justification, ip, user_agent, request_id, mac, \
             key_version) VALUES {}",
            vec![row.as_str(); chunk.len()].join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            query = query
                .bind(e.seq)
                .bind(e.id)
                .bind(e.occurred_at)
                .bind(e.actor_user_id)
                .bind(e.actor_role.clone())
                .bind(e.patient_id)
                .bind(e.action.clone())
                .bind(e.resource_type.clone())
                .bind(e.resource_id.clone())
                .bind(e.outcome.clone())
                .bind(e.rule.clone())
                .bind(e.purpose.clone())
                .bind(e.justification.clone())
                .bind(e.ip.clone())
                .bind(e.user_agent.clone())
                .bind(e.request_id.clone())
                .bind(e.mac.clone())
                .bind(e.key_version);
        }
        query.execute(&mut *txn).await?;
    }
    for chunk in links.chunks(32_766 / 5) {
        let sql = format!(
            "INSERT INTO audit_chain (position, event_seq, link, chained_at, key_version) VALUES {}",
            vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for l in chunk {
            query = query.bind(l.position).bind(l.event_seq).bind(l.link.clone()).bind(l.at).bind(l.key_version);
        }
        query.execute(&mut *txn).await?;
    }
    txn.commit().await?;
    Ok(())
}
