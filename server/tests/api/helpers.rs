//! `spawn_app`: the real application on port 0 over a fresh database, with a cookie-keeping client.

use std::path::PathBuf;
use std::process::Output;

use app::domain::crypto::LocalKeyring;
use app::domain::state::Services;
pub use app::domain::test_support::{Backend, TestDb};
use secrecy::SecretString;
use server::config::{
    AuditSettings, AuthSettings, DatabaseSettings, Environment, KeySettings, LogSettings, ServerSettings, Settings,
};
use server::startup::{self, Application};

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub services: Services,
    _db: TestDb,
}

pub fn settings(url: &str, tls: bool) -> Settings {
    Settings {
        environment: Environment::Test,
        server: ServerSettings {
            host: "127.0.0.1".into(),
            port: 0,
            tls,
            site_root: "target/site".into(),
            public_url: "http://localhost:3000".into(),
        },
        auth: AuthSettings { idle_timeout_minutes: 15, absolute_timeout_hours: 12, enrollment_ttl_hours: 72 },
        database: DatabaseSettings { url: SecretString::from(url.to_owned()) },
        keys: KeySettings {
            file: None,
            material: Some(SecretString::from(LocalKeyring::generate("test").to_json().to_string())),
            generate_if_missing: false,
        },
        audit: AuditSettings { chain_interval_ms: 100 },
        log: LogSettings { filter: "info".into() },
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, false).await
}

pub async fn spawn_app_with(backend: Backend, tls: bool) -> TestApp {
    let db = TestDb::new(backend).await;
    let settings = settings(&db.url, tls);
    let services =
        startup::services(&settings, std::sync::Arc::new(app::domain::clock::SystemClock)).await.expect("services");
    let application = Application::with_services(&settings, services.clone()).await.expect("build app");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp { address, client, services, _db: db }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("request")
    }

    /// Calls a server function the way the browser does: a same-origin form POST.
    pub async fn call(&self, endpoint: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/{endpoint}", self.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", &self.address)
            .body("")
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
