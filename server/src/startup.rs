//! Building the application from settings and serving it.

use std::sync::Arc;
use std::time::Duration;

use app::domain::clock::{Clock, SystemClock};
use app::domain::crypto::KekProvider;
use app::domain::db;
use app::domain::state::{AppState, Services};
use app::{App, shell};
use axum::Router;
use axum::routing::get;
use http::Request;
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Settings;
use crate::middleware::{AllowedOrigin, HeaderPolicy, message_body_limit, same_origin_only, security_headers};
use crate::{health, keys};

/// A connected, migrated database and the domain services on top of it.
pub async fn services(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Services> {
    let provider: Arc<dyn KekProvider> = keys::provider(settings)?;
    let url = settings.database.url.expose_secret();
    prepare_sqlite_dir(url)?;
    let db: DatabaseConnection = db::connect(url).await?;
    db::migrate(&db).await?;
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

/// SQLite creates its file but not the directory it lives in.
fn prepare_sqlite_dir(url: &str) -> anyhow::Result<()> {
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let path = rest.split('?').next().unwrap_or_default();
        if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
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

pub fn router(state: AppState, policy: HeaderPolicy, origin: AllowedOrigin) -> Router {
    let routes = generate_route_list(App);
    let services = state.services.clone();
    let sessions = session_layer(&services, policy);
    let pages = Router::new()
        .route("/api/video/{appointment}/signal", get(crate::signaling::connect))
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
                .layer(axum::middleware::from_fn_with_state(std::sync::Arc::new(origin), same_origin_only)),
        )
        .layer(axum::middleware::from_fn_with_state(policy, security_headers))
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

/// Links committed audit rows into the chain every `interval`, until the process ends.
pub fn spawn_audit_chainer(services: &Services, interval: Duration) -> tokio::task::JoinHandle<()> {
    let chainer = services.chainer.clone();
    let db = services.db.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match chainer.chain_pending(&db).await {
                Ok(0) => {}
                Ok(linked) => tracing::debug!(linked, "audit rows linked"),
                Err(err) => tracing::error!(error = %err, "audit chaining failed; will retry"),
            }
        }
    })
}

/// A running server: its bound port and the future that serves it.
pub struct Application {
    port: u16,
    listener: TcpListener,
    router: Router,
    chainer: tokio::task::JoinHandle<()>,
    reminders: Option<tokio::task::JoinHandle<()>>,
    signaling: Option<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let services = services(settings, clock).await?;
        Self::with_services(settings, services).await
    }

    pub async fn with_services(settings: &Settings, services: Services) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.address()).await?;
        let port = listener.local_addr()?.port();
        let chainer = spawn_audit_chainer(&services, Duration::from_millis(settings.audit.chain_interval_ms));
        let reminders = if settings.reminders.enabled { Some(spawn_reminders(settings, &services)?) } else { None };
        // On PostgreSQL, signals written by other nodes wake this node's video connections.
        let signaling = services.video.hub.spawn_listener(&services.db);
        let state = AppState { leptos_options: leptos_options(settings), services };
        let origin = AllowedOrigin(settings.public_url()?.origin().ascii_serialization());
        let router = router(state, HeaderPolicy { tls: settings.server.tls }, origin);
        Ok(Self { port, listener, router, chainer, reminders, signaling })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let service = self.router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let result = axum::serve(self.listener, service).with_graceful_shutdown(shutdown_signal()).await;
        self.chainer.abort();
        for task in [self.reminders, self.signaling].into_iter().flatten() {
            task.abort();
        }
        result
    }
}

/// Sends due appointment reminders every `reminders.poll_seconds`. Jobs live in the database
/// under leases, so every node can run this and each reminder still goes out once.
fn spawn_reminders(settings: &Settings, services: &Services) -> anyhow::Result<tokio::task::JoinHandle<()>> {
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

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
