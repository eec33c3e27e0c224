//! A running node: its listeners (TLS or plain, and the plain-HTTP redirect), its background
//! tasks, and the way it stops.
//!
//! On SIGTERM (or Ctrl-C) the node drains: `/readyz` says not ready at once, it stops
//! accepting connections, signaling sockets close with 1012 ("reconnect", to another node),
//! in-flight requests get up to `server.shutdown_grace_seconds` to finish, the background
//! tasks stop, the node hands its task and job leases back to the cluster, and it exits 0.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use app::domain::clock::{Clock, SystemClock};
use app::domain::state::{AppState, Services};
use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::Settings;
use crate::middleware::{AllowedOrigin, HeaderPolicy};
use crate::startup::{
    leptos_options, router, services, spawn_audit_chainer, spawn_breach_deadlines, spawn_budget_sweep, spawn_monitor,
    spawn_reminders, spawn_session_sweeper,
};
use crate::tls::{self, CertStore, TlsListener};

enum Bound {
    Plain(TcpListener),
    Tls(TlsListener),
}

/// A node ready to serve: its bound port and what `run_until_stopped` runs.
pub struct Application {
    port: u16,
    listener: Bound,
    redirect: Option<(TcpListener, Router)>,
    router: Router,
    services: Services,
    grace: Duration,
    tasks: Vec<JoinHandle<()>>,
    certs: Option<Arc<CertStore>>,
}

impl Application {
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let services = services(settings, clock).await?;
        Self::with_services(settings, services).await
    }

    pub async fn with_services(settings: &Settings, services: Services) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.address())
            .await
            .map_err(|err| anyhow::anyhow!("cannot listen on {}: {err}", settings.address()))?;
        Self::with_listener(settings, services, listener).await
    }

    /// Serves on a listener the caller has bound already (tests that need the port first).
    pub async fn with_listener(settings: &Settings, services: Services, listener: TcpListener) -> anyhow::Result<Self> {
        let proxies = settings.trusted_proxies()?;
        let port = listener.local_addr()?.port();
        let tls_settings = &settings.server.tls;
        let (listener, certs) = match (&tls_settings.cert_file, &tls_settings.key_file) {
            (Some(cert), Some(key)) => {
                let store = CertStore::load(cert, key)?;
                let config = tls::server_config(store.clone())?;
                (Bound::Tls(TlsListener::new(listener, config)?), Some(store))
            }
            _ => (Bound::Plain(listener), None),
        };
        let redirect = match tls_settings.redirect_http_port {
            Some(port) => {
                let address = format!("{}:{port}", settings.server.host);
                let plain = TcpListener::bind(&address)
                    .await
                    .map_err(|err| anyhow::anyhow!("cannot listen on {address} for the HTTPS redirect: {err}"))?;
                Some((plain, tls::redirect::router(&settings.public_url()?)))
            }
            None => None,
        };
        let mut tasks = vec![spawn_audit_chainer(settings, &services)?, spawn_budget_sweep(&services)];
        if settings.reminders.enabled {
            tasks.push(spawn_reminders(settings, &services)?);
        }
        // On PostgreSQL, signals written by other nodes wake this node's video connections.
        tasks.extend(services.video.hub.spawn_listener(&services.db));
        tasks.push(spawn_session_sweeper(&services, Duration::from_secs(settings.auth.session_sweep_seconds)));
        tasks.extend(crate::alerting::spawn(settings, &services)?);
        if settings.monitoring.enabled {
            tasks.push(spawn_monitor(settings, &services)?);
        }
        tasks.push(spawn_breach_deadlines(&services, Duration::from_secs(settings.incidents.deadline_check_seconds)));
        if let Some(store) = &certs {
            tasks.extend(tls::spawn_reload_on_sighup(store.clone()));
        }
        let state = AppState { leptos_options: leptos_options(settings), services: services.clone() };
        let origin = AllowedOrigin(settings.public_url()?.origin());
        let policy = HeaderPolicy {
            tls: tls_settings.served_over_tls(),
            proxy_terminates_tls: tls_settings.terminated_by_proxy,
        };
        let router = router(state, policy, origin, proxies);
        let grace = Duration::from_secs(settings.server.shutdown_grace_seconds);
        Ok(Self { port, listener, redirect, router, services, grace, tasks, certs })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this node speaks TLS itself.
    pub fn tls(&self) -> bool {
        self.certs.is_some()
    }

    /// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` resolves, then shuts down gracefully (see the module's comment).
    pub async fn run_until(self, stop: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Self { listener, redirect, router, services, grace, tasks, .. } = self;
        let lifecycle = services.lifecycle.clone();
        let (stopped_tx, stopped) = tokio::sync::oneshot::channel::<()>();
        {
            let lifecycle = lifecycle.clone();
            tokio::spawn(async move {
                stop.await;
                tracing::info!("shutting down: draining");
                lifecycle.begin_draining();
                let _ = stopped_tx.send(());
            });
        }
        let drained = {
            let lifecycle = lifecycle.clone();
            async move { lifecycle.draining().await }
        };
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let main: JoinHandle<std::io::Result<()>> = match listener {
            Bound::Plain(listener) => tokio::spawn(
                axum::serve(
                    listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    }),
                    service,
                )
                .with_graceful_shutdown(drained)
                .into_future(),
            ),
            Bound::Tls(listener) => tokio::spawn(
                axum::serve(listener.tap_io(|_| {}), service).with_graceful_shutdown(drained).into_future(),
            ),
        };
        let redirect = redirect.map(|(plain, router)| {
            let lifecycle = lifecycle.clone();
            tokio::spawn(
                axum::serve(plain, router)
                    .with_graceful_shutdown(async move { lifecycle.draining().await })
                    .into_future(),
            )
        });
        let mut main = main;
        let result = tokio::select! {
            result = &mut main => result.unwrap_or_else(|err| Err(std::io::Error::other(err))),
            () = async { let _ = stopped.await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_seconds = grace.as_secs(), "requests still in flight after the grace period; stopping anyway");
                main.abort();
                Ok(())
            }
        };
        if let Some(redirect) = redirect {
            redirect.abort();
        }
        // Signaling sockets were told to reconnect elsewhere; let their close frames go out.
        if tokio::time::timeout(Duration::from_secs(2), lifecycle.all_closed()).await.is_err() {
            tracing::warn!("signaling sockets still open at exit");
        }
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        match app::domain::lease::release_this_process(&services.db).await {
            Ok(released) => tracing::info!(
                task_leases = released.task_leases,
                job_leases = released.job_leases,
                "leases handed back; stopped"
            ),
            Err(err) => tracing::warn!(error = %err, "handing leases back failed; they expire by themselves"),
        }
        result
    }
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
}
