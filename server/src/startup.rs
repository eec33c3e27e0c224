//! Building the application from settings and serving it.

use std::sync::Arc;
use std::time::Duration;

use app::domain::audit::chain::Lookback;
use app::domain::clock::Clock;
use app::domain::crypto::KekProvider;
use app::domain::db;
use app::domain::state::{AppState, Services};
use app::{App, shell};
use axum::Router;
use axum::routing::get;
use http::Request;
use leptos::config::LeptosOptions;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::middleware::{
    AllowedOrigin, HeaderPolicy, ProxyScheme, client_address, https_behind_proxy, json_calls_only, message_body_limit,
    same_origin_only, security_headers,
};
use crate::{health, keys};

pub use crate::serve::Application;

/// A connected, migrated database and the domain services on top of it.
pub async fn services(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Services> {
    let provider: Arc<dyn KekProvider> = keys::provider(settings)?;
    let url = settings.database.url.expose_secret();
    prepare_sqlite_file(url)?;
    let db: DatabaseConnection = db::connect_with(url, settings.database.sqlite_durability).await?;
    match &settings.database.migration_url {
        // The schema owner migrates and grants; the app's own role never holds DDL rights.
        Some(owner_url) => migrate_as_owner(owner_url.expose_secret(), &db).await?,
        None => db::migrate_if_pending(&db).await?,
    }
    let mut services =
        Services::new(db, provider, clock).configure(&settings.public_url()?, settings.session_policy())?;
    let minutes = settings.auth.break_glass_minutes;
    anyhow::ensure!(
        (5..=24 * 60).contains(&minutes),
        "auth.break_glass_minutes must be between 5 and 1440, not {minutes}"
    );
    services.break_glass.duration = chrono::Duration::minutes(minutes);
    services.schedule.zone = settings
        .clinic
        .time_zone
        .parse()
        .map_err(|_| anyhow::anyhow!("clinic.time_zone is not a known IANA time zone such as America/New_York"))?;
    let lead = settings.reminders.lead_hours;
    anyhow::ensure!((1..=24 * 14).contains(&lead), "reminders.lead_hours must be between 1 and 336, not {lead}");
    services.schedule.reminder_lead = chrono::Duration::hours(lead);
    services.video.ice = settings.video.domain()?;
    let grace = i64::try_from(settings.audit.chainer_failure_grace_seconds).unwrap_or(i64::MAX);
    services.chainer.set_failure_grace(chrono::Duration::seconds(grace));
    services.anonymous = services.anonymous.clone().with_limits(settings.anonymous_limits()?);
    services.video.session_check = Duration::from_millis(settings.video.session_check_ms);
    // Mail is configured when reminders go out: security notices use the same relay.
    if settings.reminders.enabled {
        use app::domain::scheduling::reminders::{Mailer, SmtpMailer};
        let mailer: Arc<dyn Mailer> = Arc::new(SmtpMailer::new(&settings.reminders.smtp.domain())?);
        services.notices = services.notices.clone().with_mailer(mailer, &settings.clinic.name);
    }
    services.incidents.contact = settings.incidents.contact(&settings.clinic.name);
    services.accounts.two_person_rule = settings.accounts.two_person_rule;
    services.accounts.link_ttl = chrono::Duration::hours(settings.auth.enrollment_ttl_hours);
    services.accounts.clinic = settings.clinic.name.clone();
    if settings.accounts.email_links {
        use app::domain::scheduling::reminders::{Mailer, SmtpMailer};
        let mailer = SmtpMailer::new(&settings.reminders.smtp.domain())
            .map_err(|err| anyhow::anyhow!("accounts.email_links needs usable [reminders.smtp] settings: {err}"))?;
        let mailer: Arc<dyn Mailer> = Arc::new(mailer);
        services.accounts.mailer = Some(mailer);
    }
    Ok(services)
}

/// Runs the migrations over the owner's connection, then grants the role `app` connects as
/// what the app needs (on the audit tables INSERT and SELECT only).
async fn migrate_as_owner(owner_url: &str, app: &DatabaseConnection) -> anyhow::Result<()> {
    anyhow::ensure!(
        sea_orm::ConnectionTrait::get_database_backend(app) == sea_orm::DbBackend::Postgres,
        "database.migration_url is for PostgreSQL; SQLite has no roles"
    );
    let owner = db::connect(owner_url).await?;
    db::migrate(&owner).await?;
    let role = db::current_role(app).await?;
    db::grant_app_role(&owner, &role).await?;
    owner.close().await?;
    tracing::info!(role = %role, "migrated as the schema owner; the app role may only insert and read audit rows");
    Ok(())
}

/// SQLite creates its file but not the directory it lives in, and would create the file
/// readable by everyone (0644 under the usual umask); its WAL and shared-memory files take the
/// database file's mode. So the file is created here, readable by the owner only (0600, like the
/// key file), and an existing database and its WAL are brought to 0600.
pub fn prepare_sqlite_file(url: &str) -> anyhow::Result<()> {
    let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
        return Ok(());
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return Ok(());
    }
    let path = std::path::Path::new(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true).mode(0o600);
        options.open(path).map_err(|err| anyhow::anyhow!("database file {}: {err}", path.display()))?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = std::path::PathBuf::from(file);
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .map_err(|err| anyhow::anyhow!("database file {}: {err}", file.display()))?;
            }
        }
    }
    Ok(())
}

pub fn leptos_options(settings: &Settings) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("clinic")
        .site_root(settings.server.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(settings.address().parse::<std::net::SocketAddr>().unwrap_or_else(|_| ([127, 0, 0, 1], 3000).into()))
        .build()
}

/// Sessions in the database, cookie HttpOnly and SameSite=Strict (Secure over TLS), ending
/// after the idle limit; the absolute limit is checked on every request by `current_user`.
fn session_layer(
    services: &Services,
    policy: HeaderPolicy,
) -> tower_sessions::SessionManagerLayer<app::domain::sessions::DbSessionStore> {
    let idle = services.session_policy.idle.num_seconds();
    tower_sessions::SessionManagerLayer::new(services.sessions.clone())
        .with_name("clinic_session")
        .with_http_only(true)
        .with_same_site(tower_sessions::cookie::SameSite::Strict)
        .with_secure(policy.tls)
        .with_path("/")
        .with_expiry(tower_sessions::Expiry::OnInactivity(time::Duration::seconds(idle)))
}

/// The app's routes, generated once per process. Generating them renders the app with resource
/// loading suppressed by a flag that is global to the process (leptos#4773): a resource that a
/// page being served meanwhile polls for the first time waits forever, and so does its response.
/// Done once, before the first router exists, nothing is being served yet; a process that builds
/// several routers (the tests start many apps in one process) never generates them again.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(
    state: AppState,
    policy: HeaderPolicy,
    origin: AllowedOrigin,
    proxies: app::domain::client_address::TrustedProxies,
) -> Router {
    let forwarded = std::sync::Arc::new(ProxyScheme {
        proxies: proxies.clone(),
        origin: origin.0.ascii_serialization(),
        enforce: policy.proxy_terminates_tls,
    });
    let routes = route_list();
    let services = state.services.clone();
    let sessions = session_layer(&services, policy);
    let pages = Router::new()
        .route("/api/video/{appointment}/signal", get(crate::signaling::connect))
        .route("/security/incidents/{id}/hhs-report.json", get(crate::incident_files::hhs_report))
        .route("/security/incidents/{id}/letters/{file}", get(crate::incident_files::letter))
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let services = services.clone();
                move || leptos::prelude::provide_context(services.clone())
            },
            {
                let options = state.leptos_options.clone();
                move || shell(options.clone())
            },
        )
        // The bundle (JS, WASM, CSS): the release build's brotli and gzip files when the client
        // takes them, and a 304 to a browser that already has the file (`If-Modified-Since`).
        .nest_service("/pkg", static_files(&state.leptos_options))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state);
    let probes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .with_state(services);
    Router::new()
        .merge(probes)
        .merge(
            pages
                .layer(sessions)
                .layer(axum::middleware::from_fn(message_body_limit))
                .layer(axum::middleware::from_fn(json_calls_only))
                .layer(axum::middleware::from_fn_with_state(std::sync::Arc::new(origin), same_origin_only)),
        )
        // Pages and server-function answers compressed on the fly (the bundle is precompressed).
        // BREACH needs an attacker's text reflected beside a secret in a response the victim's
        // cookie unlocks; SameSite=Strict keeps other sites' requests unauthenticated, and
        // server functions refuse other origins outright.
        .layer(CompressionLayer::new())
        .layer(axum::middleware::from_fn_with_state(policy, security_headers))
        .layer(axum::middleware::from_fn_with_state(forwarded, https_behind_proxy))
        .layer(axum::middleware::from_fn_with_state(std::sync::Arc::new(proxies), client_address))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<_>| {
                    let request_id =
                        request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
                    // The path only: query strings are never logged.
                    tracing::info_span!("request", request_id = %request_id, method = %request.method(), path = %request.uri().path())
                })
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// `site_root/pkg`, served from disk with the precompressed variants cargo-leptos writes.
fn static_files(options: &LeptosOptions) -> tower_http::services::ServeDir {
    let dir = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    tower_http::services::ServeDir::new(dir).precompressed_br().precompressed_gzip()
}

/// How often the chainer looks back over the whole window for rows that committed late; a
/// straggler further back than [`app::domain::audit::chain::RECENT_LOOKBACK_SEQS`] is linked
/// within this time instead of the next round.
const FULL_LOOKBACK_EVERY: Duration = Duration::from_secs(30);

/// Links committed audit rows into the chain every `audit.chain_interval_ms` and writes a
/// signed checkpoint of the head every `audit.checkpoint_interval_seconds`, until the process
/// ends. Each round's outcome feeds the chainer's health, which `/readyz` reports.
pub fn spawn_audit_chainer(settings: &Settings, services: &Services) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let chainer = services.chainer.clone();
    let db = services.db.clone();
    let clock = services.clock.clone();
    let interval = Duration::from_millis(settings.audit.chain_interval_ms);
    let checkpoint_every = Duration::from_secs(settings.audit.checkpoint_interval_seconds);
    let sinks = settings.audit.checkpoint_sinks()?;
    if sinks.is_empty() {
        tracing::warn!("no audit checkpoint destination is configured; set audit.checkpoint_file");
    }
    Ok(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_checkpoint: Option<(std::time::Instant, app::domain::audit::ChainHead)> = None;
        let mut last_full_lookback: Option<std::time::Instant> = None;
        loop {
            ticker.tick().await;
            let round = async {
                // The whole look-back window on start and every FULL_LOOKBACK_EVERY; the rounds
                // between look back only as far as rows commit late under load.
                let full = last_full_lookback.is_none_or(|at| at.elapsed() >= FULL_LOOKBACK_EVERY);
                let lookback = if full { Lookback::Full } else { Lookback::Recent };
                let linked = chainer.chain_pending_within(&db, lookback).await?;
                if full {
                    last_full_lookback = Some(std::time::Instant::now());
                }
                if linked > 0 {
                    tracing::debug!(linked, "audit rows linked");
                }
                let due = last_checkpoint.as_ref().is_none_or(|(at, _)| at.elapsed() >= checkpoint_every);
                if due && !sinks.is_empty() {
                    let head = chainer.head(&db).await?;
                    let unchanged = matches!((&head, &last_checkpoint), (Some(h), Some((_, last))) if h == last);
                    if let Some(head) = head.filter(|_| !unchanged) {
                        write_checkpoint(&chainer, &sinks, &head, clock.now()).await?;
                        last_checkpoint = Some((std::time::Instant::now(), head));
                    }
                }
                anyhow::Ok(())
            };
            match round.await {
                Ok(()) => chainer.note_success(),
                Err(err) => {
                    tracing::warn!(error = %err, "audit chaining or checkpointing failed; will retry");
                    chainer.note_failure();
                }
            }
        }
    }))
}

/// Signs `head` and writes the checkpoint to every destination.
pub async fn write_checkpoint(
    chainer: &app::domain::audit::AuditChainer,
    sinks: &crate::checkpoints::Sinks,
    head: &app::domain::audit::ChainHead,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<app::domain::audit::Checkpoint> {
    let checkpoint = chainer.checkpoint_signer().sign(head, now)?;
    let sinks = sinks.clone();
    let written = checkpoint.clone();
    tokio::task::spawn_blocking(move || sinks.write(&written)).await??;
    Ok(checkpoint)
}

/// Writes the summary rows of closed anonymous-budget windows (addresses that did not come
/// back to trigger it) and drops old counters. Every node runs it; each summary is claimed once.
pub(crate) fn spawn_budget_sweep(services: &Services) -> tokio::task::JoinHandle<()> {
    let budget = services.anonymous.clone();
    let every = Duration::from_secs(app::domain::anonymous::WINDOW_SECONDS.unsigned_abs() / 2);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match budget.sweep().await {
                Ok(0) => {}
                Ok(written) => tracing::info!(written, "anonymous call summaries written"),
                Err(err) => tracing::error!(error = %err, "anonymous budget sweep failed; will retry"),
            }
        }
    })
}

/// Deletes expired session rows every `every`, on one node of the cluster per period: each
/// node tries, and only the one that takes the database lease for the period sweeps.
pub fn spawn_session_sweeper(services: &Services, every: Duration) -> tokio::task::JoinHandle<()> {
    use app::domain::lease::{SESSION_SWEEP, TaskLease};
    let lease = TaskLease::new(services.db.clone(), services.clock.clone(), SESSION_SWEEP);
    let sessions = services.sessions.clone();
    // Held a little shorter than the period, so the next tick (of any node) finds it free.
    let period = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::minutes(5)) * 9 / 10;
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match sessions.sweep(&lease, period).await {
                Ok(Some(0) | None) => {}
                Ok(Some(deleted)) => tracing::info!(deleted, "expired sessions deleted"),
                Err(err) => tracing::error!(error = %err, "sweeping expired sessions failed; will retry"),
            }
        }
    })
}

/// Runs the security monitor's detectors every `monitoring.period_seconds`, on one node of the
/// cluster per period (the `security-monitor` lease).
pub fn spawn_monitor(settings: &Settings, services: &Services) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use app::domain::monitoring::{Monitor, rules};
    let (clinic, resolved) = settings.monitor_rules()?;
    let mut chosen = Vec::new();
    for rule in rules::registry(&clinic) {
        let found = resolved.iter().find(|(name, _)| *name == rule.name()).map(|(_, s)| s.clone());
        let settings = found.ok_or_else(|| anyhow::anyhow!("rule {} has no settings", rule.name()))?;
        chosen.push((rule, settings));
    }
    let monitor = Monitor::new(services.db.clone(), services.audit.clone(), services.clock.clone(), chosen);
    let every = Duration::from_secs(settings.monitoring.period_seconds.max(1));
    // Held a little shorter than the period, so the next tick (of any node) finds it free.
    let period = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::minutes(1)) * 9 / 10;
    Ok(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match monitor.tick(period).await {
                Ok(Some(report)) if !report.raised.is_empty() => {
                    tracing::info!(raised = report.raised.len(), up_to_seq = report.up_to_seq, "security monitor ran")
                }
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "security monitor run failed; will retry"),
            }
        }
    }))
}

/// Raises `breach-deadline` alerts as breach-notification deadlines come near, on one node of
/// the cluster per period (lease `breach-deadlines`).
pub fn spawn_breach_deadlines(services: &Services, every: Duration) -> tokio::task::JoinHandle<()> {
    use app::domain::incidents::BREACH_DEADLINES;
    use app::domain::lease::TaskLease;
    let lease = TaskLease::new(services.db.clone(), services.clock.clone(), BREACH_DEADLINES);
    let incidents = services.incidents.clone();
    let every = every.max(Duration::from_secs(1));
    let period = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::hours(1)) * 9 / 10;
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match incidents.check_deadlines(&lease, period).await {
                Ok(Some(0) | None) => {}
                Ok(Some(raised)) => tracing::warn!(raised, "breach deadline alerts raised"),
                Err(err) => tracing::error!(error = %err, "checking breach deadlines failed; will retry"),
            }
        }
    })
}

/// Sends due appointment reminders every `reminders.poll_seconds`. Jobs live in the database
/// under leases, so every node can run this and each reminder still goes out once.
pub(crate) fn spawn_reminders(settings: &Settings, services: &Services) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use app::domain::scheduling::reminders::{Mailer, ReminderRunner, SmtpMailer};
    let mailer: Arc<dyn Mailer> = Arc::new(SmtpMailer::new(&settings.reminders.smtp.domain())?);
    let sign_in = format!("{}/sign-in", settings.public_url()?.as_str().trim_end_matches('/'));
    let runner = ReminderRunner::new(
        services.db.clone(),
        services.keys.clone(),
        services.audit.clone(),
        services.clock.clone(),
        mailer,
        settings.clinic.name.clone(),
        sign_in,
    );
    let every = Duration::from_secs(settings.reminders.poll_seconds.max(1));
    Ok(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match runner.run_due().await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "appointment reminders sent"),
                Err(err) => tracing::error!(error = ?err, "reminder run failed; will try again"),
            }
        }
    }))
}
