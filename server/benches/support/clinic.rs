//! The demo clinic the chart benchmarks read: synthetic patients with histories, care teams,
//! and one clinician signed in through the test-support sign-in (a session row in the database,
//! so a server in another process takes it too).

use std::time::Instant;

use anyhow::Result;
use app::domain::audit::AuditContext;
use app::domain::ids::PatientId;
use app::domain::patients::NewPatient;
use app::domain::seed::seed_patients_tagged;
use app::domain::seed_clinic;
use app::domain::state::Services;
use app::domain::test_support::Backend;
use app::domain::users::NewPasskey;
use indicatif::{ProgressBar, ProgressStyle};

pub fn name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

pub fn bar(total: u64, what: String) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

pub fn concurrency(backend: Backend) -> usize {
    if backend == Backend::Postgres { 8 } else { 1 }
}

pub async fn seed(
    backend: Backend,
    services: &Services,
    count: u64,
    tag: &str,
) -> Result<Vec<(PatientId, NewPatient)>> {
    let ctx = AuditContext::system("bench");
    let progress = bar(count, format!("{:<8} seeding {count} patients", name(backend)));
    let mut created =
        seed_patients_tagged(&services.patients, &ctx, count, concurrency(backend), tag, |n| progress.inc(n)).await?;
    progress.finish_and_clear();
    created.sort_by(|a, b| a.1.mrn.cmp(&b.1.mrn));
    Ok(created)
}

/// The seeded clinic, and the first demo clinician's session.
pub struct Clinic {
    /// The patients the signed-in clinician may open (assigned, or on the care team).
    pub mine: Vec<String>,
    /// `clinic_session=...`, for the Cookie header.
    pub cookie: String,
}

/// Seeds `count` patients with histories, relates them to the demo clinicians, links the
/// audit rows, and signs the first clinician in.
pub async fn seed_clinic(backend: Backend, services: &Services, count: u64) -> Result<Clinic> {
    let started = Instant::now();
    let created = seed(backend, services, count, "BENCH").await?;
    let ids: Vec<PatientId> = created.iter().map(|(id, _)| *id).collect();
    let ctx = AuditContext::system("bench");
    let accounts = seed_clinic::invite_demo_accounts(services, &ctx, Vec::new(), chrono::Duration::hours(1)).await?;
    let clinicians: Vec<_> = accounts.clinicians.iter().map(|(_, invitation)| invitation.user_id).collect();
    let progress = bar(count, format!("{:<8} care teams", name(backend)));
    seed_clinic::relate(services, &ctx, &ids, &clinicians, |n| progress.inc(n)).await?;
    progress.finish_and_clear();
    let progress = bar(count, format!("{:<8} clinical histories", name(backend)));
    seed_clinic::seed_histories(services, &ctx, &ids, concurrency(backend), |n| progress.inc(n)).await?;
    progress.finish_and_clear();
    services.chainer.chain_pending(&services.db).await?;
    // allow-print: a benchmark prints its figures.
    println!("{:<8} seeded {count} patients with histories in {:.1?}", name(backend), started.elapsed());

    // The first demo clinician is assigned to every third patient and on the care team of the
    // patient before each of those: two thirds of the clinic.
    let (_, invitation) = &accounts.clinicians[0];
    let passkey = NewPasskey { credential_id: b"bench-device".to_vec(), passkey: "{}".into(), name: "bench".into() };
    let clinician = services.users.enroll(&ctx, invitation.token.expose(), passkey).await?;
    let cookie = app::domain::test_support::signed_in_cookie(services, clinician).await;
    let mine =
        ids.iter().enumerate().filter(|(i, _)| i % 3 == 0 || (i + 1) % 3 == 0).map(|(_, id)| id.to_string()).collect();
    Ok(Clinic { mine, cookie })
}

/// How many `chart.read` audit rows the log holds.
pub async fn chart_reads(services: &Services) -> Result<u64> {
    use app::domain::entities::audit_event;
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    Ok(audit_event::Entity::find().filter(audit_event::Column::Action.eq("chart.read")).count(&services.db).await?)
}

/// Each request opens a random patient of the clinician's, with the session cookie and the
/// same-origin header the server requires. Each thread counts the requests it sent, so that
/// the caller can tell requests cut off in flight at the end from requests lost.
pub fn lua_script(ids: &[String], cookie: &str, origin: &str) -> String {
    let list = ids.iter().map(|id| format!("\"{id}\"")).collect::<Vec<_>>().join(",");
    format!(
        r#"local ids = {{{list}}}
local threads = {{}}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "{cookie}"
wrk.headers["Origin"] = "{origin}"
setup = function(thread)
  table.insert(threads, thread)
end
init = function()
  sent = 0
end
request = function()
  sent = sent + 1
  local id = ids[math.random(#ids)]
  return wrk.format(nil, nil, nil, '{{"patient_id":"' .. id .. '"}}')
end
done = function()
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("sent")
  end
  io.write(string.format("requests sent: %d\n", total))
end
"#
    )
}

/// The figures of one wrk run.
pub struct WrkRun {
    pub requests_per_second: String,
    pub p50: String,
    pub p99: String,
    /// Responses wrk counted.
    pub answered: u64,
    /// Requests the script sent (answered, plus any cut off in flight at the end).
    pub sent: u64,
    pub errors: String,
}

/// Runs wrk with `script` against `url`; fails on any non-2xx answer.
pub fn wrk(script: &std::path::Path, url: &str, connections: u32, seconds: u64) -> Result<WrkRun> {
    let output = std::process::Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "--timeout", "10s", "-s"])
        .arg(script)
        .arg(url)
        .output()?;
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(output.status.success(), "wrk failed: {}", String::from_utf8_lossy(&output.stderr));
    if let Some(line) = report.lines().find(|l| l.contains("Non-2xx")) {
        anyhow::bail!("some chart reads failed under load: {}", line.trim());
    }
    let field = |label: &str| {
        report.lines().find_map(|l| l.trim().strip_prefix(label).map(|rest| rest.trim().to_owned())).unwrap_or_default()
    };
    let answered = report
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok(WrkRun {
        requests_per_second: field("Requests/sec:"),
        p50: field("50%"),
        p99: field("99%"),
        answered,
        sent: field("requests sent:").parse().unwrap_or(0),
        errors: field("Socket errors:").trim().to_owned(),
    })
}
