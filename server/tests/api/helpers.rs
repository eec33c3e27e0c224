//! `spawn_app`: the real application on port 0 over a fresh database, with a cookie-keeping client.

use std::path::PathBuf;
use std::process::Output;

use app::domain::state::Services;
pub use app::domain::test_support::{Backend, TestDb};
use server::config::Settings;
use server::startup::{self, Application};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub services: Services,
    pub settings: Settings,
    /// The test database; `db.owner` does what only the schema owner may.
    pub db: TestDb,
    /// The certificate directory of an app serving TLS itself.
    pub tls: Option<tempfile::TempDir>,
}

/// How often the signaling sockets of test apps re-check their session.
pub const SESSION_CHECK_MS: u64 = 200;

pub fn settings(url: &str) -> Settings {
    let mut settings = Settings::ephemeral(url);
    // Open sockets re-check their session often, so a test sees a call end within a second.
    settings.video.session_check_ms = SESSION_CHECK_MS;
    settings
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_full(backend, std::sync::Arc::new(app::domain::clock::SystemClock)).await
}

/// With a clock the test can move: automatic logoff and expiry without waiting.
pub async fn spawn_app_with_clock(backend: Backend, clock: std::sync::Arc<app::domain::clock::FixedClock>) -> TestApp {
    spawn_app_full(backend, clock).await
}

/// With settings the test changes first (checkpoint destinations, grace periods).
pub async fn spawn_app_with_settings(backend: Backend, change: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_configured(backend, std::sync::Arc::new(app::domain::clock::SystemClock), change).await
}

/// With settings the test adjusts (trusted proxies, ...) and a clock it can move.
pub async fn spawn_app_configured(
    backend: Backend,
    clock: std::sync::Arc<dyn app::domain::clock::Clock>,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let db = TestDb::new(backend).await;
    let mut settings = settings(&db.url);
    configure(&mut settings);
    spawn_on(db, settings, clock).await
}

async fn spawn_app_full(backend: Backend, clock: std::sync::Arc<dyn app::domain::clock::Clock>) -> TestApp {
    let db = TestDb::new(backend).await;
    let settings = settings(&db.url);
    spawn_on(db, settings, clock).await
}

/// A running app the test stops itself: send on the sender to start a graceful shutdown; the
/// handle resolves with the serve result once the node has stopped.
pub async fn spawn_stoppable(
    backend: Backend,
) -> (TestApp, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
    let db = TestDb::new(backend).await;
    let mut settings = settings(&db.url);
    let (listener, address) = listener(&mut settings).await;
    let clock = std::sync::Arc::new(app::domain::clock::SystemClock);
    let services = startup::services(&settings, clock).await.expect("services");
    let application = Application::with_listener(&settings, services.clone(), listener).await.expect("build app");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    let client = test_client();
    (TestApp { address, client, services, settings, db, tls: None }, stop, running)
}

/// Serving TLS itself with a fresh self-signed certificate for localhost (made by the same code
/// as `server dev-cert`), which the test's client trusts and nothing else does.
pub async fn spawn_tls_app(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::new(backend).await;
    let mut settings = settings(&db.url);
    let dir = tempfile::tempdir().expect("temporary directory");
    let cert = server::tls::dev_cert::write(dir.path(), &["localhost".to_owned()], 90).expect("test certificate");
    settings.server.tls.cert_file = Some(cert.cert_file.clone());
    settings.server.tls.key_file = Some(cert.key_file);
    configure(&mut settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("https://localhost:{}", listener.local_addr().expect("local address").port());
    settings.server.public_url = address.clone();
    let services =
        startup::services(&settings, std::sync::Arc::new(app::domain::clock::SystemClock)).await.expect("services");
    let application = Application::with_listener(&settings, services.clone(), listener).await.expect("build app");
    tokio::spawn(application.run_until_stopped());
    let pem = std::fs::read(&cert.cert_file).expect("certificate file");
    let client = tls_client(&pem);
    TestApp { address, client, services, settings, db, tls: Some(dir) }
}

/// How long one request may take before the test fails by name: a response that never finishes
/// would otherwise stall the whole run (leptos#4773 did, until `startup::route_list`).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Keeps cookies, follows no redirects, gives up after [`REQUEST_TIMEOUT`].
fn test_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

/// A client that trusts only the certificate in `pem`, opening a new connection per request
/// (so each request sees the certificate the server presents now).
pub fn tls_client(pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem).expect("PEM certificate"))
        .pool_max_idle_per_host(0)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("client")
}

/// A listener on a free loopback port, and the public URL that names it: server functions
/// accept only the configured public origin, so the tests' address is that URL.
async fn listener(settings: &mut Settings) -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://localhost:{}", listener.local_addr().expect("local address").port());
    settings.server.public_url = address.clone();
    (listener, address)
}

async fn spawn_on(db: TestDb, mut settings: Settings, clock: std::sync::Arc<dyn app::domain::clock::Clock>) -> TestApp {
    let (listener, address) = listener(&mut settings).await;
    let services = startup::services(&settings, clock).await.expect("services");
    let application = Application::with_listener(&settings, services.clone(), listener).await.expect("build app");
    tokio::spawn(application.run_until_stopped());
    let client = test_client();
    TestApp { address, client, services, settings, db, tls: None }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("request")
    }

    /// Calls a server function without arguments the way the browser does: a same-origin JSON POST.
    pub async fn call(&self, endpoint: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/{endpoint}", self.address))
            .header("content-type", "application/json")
            .header("origin", &self.address)
            .body("{}")
            .send()
            .await
            .expect("request")
    }
}

impl TestApp {
    /// Calls a server function that takes JSON, as the browser's typed client does.
    pub async fn call_json(&self, endpoint: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}/api/{endpoint}", self.address))
            .header("origin", &self.address)
            .header("user-agent", "api-tests/1.0")
            .json(&body)
            .send()
            .await
            .expect("request")
    }
}

impl TestApp {
    /// A second app node on the same database and keys, with its own connection pool and
    /// nothing else shared: its address.
    /// It is reached at an address of its own, which is its public URL.
    pub async fn spawn_node(&self) -> String {
        let clock = std::sync::Arc::new(app::domain::clock::SystemClock);
        let mut settings = self.settings.clone();
        let (listener, address) = listener(&mut settings).await;
        let services = startup::services(&settings, clock).await.expect("services");
        let application = Application::with_listener(&settings, services, listener).await.expect("build node");
        tokio::spawn(application.run_until_stopped());
        address
    }

    /// An active account of `role` (a patient account gets a synthetic patient record) and a
    /// cookie for a session signed in as it.
    pub async fn signed_in(&self, role: app::domain::audit::Role) -> (app::domain::users::User, String) {
        use app::domain::audit::{AuditContext, Role};
        use app::domain::users::{NewPasskey, NewUser};
        let system = AuditContext::system("test");
        let patient_id = match role {
            Role::Patient => {
                let mut rng = rand::rng();
                let serial = rand::Rng::random_range(&mut rng, 0..1_000_000);
                let new = app::domain::seed::synthetic_patient(&mut rng, "TEST", serial);
                Some(self.services.patients.create(&system, new).await.expect("patient"))
            }
            _ => None,
        };
        let new = NewUser { role, display_name: format!("Test {}", role.as_str()), patient_id };
        let invitation = self.services.users.invite(&system, new, chrono::Duration::hours(1)).await.expect("invite");
        let passkey = NewPasskey {
            credential_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
            passkey: "{}".to_owned(),
            name: "test device".to_owned(),
        };
        let id = self.services.users.enroll(&system, invitation.token.expose(), passkey).await.expect("enroll");
        let user = self.services.users.get(id).await.expect("user");
        let cookie = app::domain::test_support::signed_in_cookie(&self.services, id).await;
        (user, cookie)
    }

    /// Calls a JSON server function with a session cookie.
    pub async fn call_as(&self, cookie: &str, endpoint: &str, body: serde_json::Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/api/{endpoint}", self.address))
            .header("origin", &self.address)
            .header("cookie", cookie)
            .json(&body)
            .send()
            .await
            .expect("request")
    }
}

/// Runs the real `server` binary with `args`, in the repository root, with `env` on top of a
/// test configuration.
pub fn run_binary(args: &[&str], env: &[(&str, &str)]) -> Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .args(args)
        .current_dir(&root)
        .env("APP_CONFIG_DIR", root.join("config"))
        .env("APP_ENVIRONMENT", "test")
        .env_remove("APP_KEYS__MATERIAL")
        .env_remove("APP_DATABASE__URL");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run the server binary")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
