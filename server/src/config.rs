//! Layered configuration: `config/base.toml`, then `config/{environment}.toml`, then
//! `APP_`-prefixed environment variables (`APP_DATABASE__URL`). Secrets stay in `secrecy` types.

use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Test => "test",
            Environment::Production => "production",
        }
    }

    fn parse(value: &str) -> Result<Self, ConfigError> {
        match value.to_lowercase().as_str() {
            "development" | "dev" => Ok(Environment::Development),
            "test" => Ok(Environment::Test),
            "production" | "prod" => Ok(Environment::Production),
            other => {
                Err(ConfigError::Invalid(format!("APP_ENVIRONMENT is {other:?}; use development, test or production")))
            }
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    #[serde(skip_deserializing, default = "default_environment")]
    pub environment: Environment,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    #[serde(default)]
    pub keys: KeySettings,
    pub auth: AuthSettings,
    pub audit: AuditSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub clinic: ClinicSettings,
    #[serde(default)]
    pub reminders: ReminderSettings,
    #[serde(default)]
    pub video: VideoSettings,
    #[serde(default)]
    pub accounts: AccountSettings,
}

/// Separation of duties for accounts.
#[derive(Clone, Debug, Deserialize)]
pub struct AccountSettings {
    /// Granting or restoring a privileged role and re-enrolling any account wait for a second
    /// person's approval. Off only for a clinic with a single administrator: each such change
    /// then takes effect at once and waits in the security officer's review queue.
    pub two_person_rule: bool,
    /// Email enrollment links to the invitee through `[reminders.smtp]`. Off: an operator prints
    /// them on the host (`server admin enrollment-link --user <id>`).
    pub email_links: bool,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self { two_person_rule: true, email_links: false }
    }
}

/// ICE servers for video visits. Media goes browser to browser; a TURN relay (coturn with
/// `use-auth-secret`) is needed only where a network blocks that, and gets credentials that
/// expire after `turn_credential_minutes`.
#[derive(Clone, Debug, Deserialize)]
pub struct VideoSettings {
    #[serde(default)]
    pub stun_urls: Vec<String>,
    #[serde(default)]
    pub turn_urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub turn_secret: Option<SecretString>,
    pub turn_credential_minutes: i64,
}

impl Default for VideoSettings {
    fn default() -> Self {
        Self { stun_urls: Vec::new(), turn_urls: Vec::new(), turn_secret: None, turn_credential_minutes: 120 }
    }
}

impl VideoSettings {
    pub fn domain(&self) -> Result<app::domain::telemedicine::ice::IceConfig, ConfigError> {
        let minutes = self.turn_credential_minutes;
        if !(5..=24 * 60).contains(&minutes) {
            return Err(ConfigError::Invalid(format!(
                "video.turn_credential_minutes must be between 5 and 1440, not {minutes}"
            )));
        }
        let urls_ok = |urls: &[String], schemes: &[&str]| urls.iter().all(|u| schemes.iter().any(|s| u.starts_with(s)));
        if !urls_ok(&self.stun_urls, &["stun:", "stuns:"]) {
            return Err(ConfigError::Invalid("video.stun_urls must start with stun: or stuns:".to_owned()));
        }
        if !urls_ok(&self.turn_urls, &["turn:", "turns:"]) {
            return Err(ConfigError::Invalid("video.turn_urls must start with turn: or turns:".to_owned()));
        }
        if !self.turn_urls.is_empty() && self.turn_secret.is_none() {
            return Err(ConfigError::Invalid(
                "video.turn_urls needs video.turn_secret (coturn's static-auth-secret)".to_owned(),
            ));
        }
        Ok(app::domain::telemedicine::ice::IceConfig {
            stun_urls: self.stun_urls.clone(),
            turn_urls: self.turn_urls.clone(),
            turn_secret: self.turn_secret.clone(),
            credential_ttl: chrono::Duration::minutes(minutes),
        })
    }
}

/// The clinic as patients know it.
#[derive(Clone, Debug, Deserialize)]
pub struct ClinicSettings {
    /// Shown in reminders and pages.
    pub name: String,
    /// An IANA zone such as America/New_York: weekly hours are written in it.
    pub time_zone: String,
}

impl Default for ClinicSettings {
    fn default() -> Self {
        Self { name: "Clinic".into(), time_zone: "UTC".into() }
    }
}

/// Appointment reminders by email.
#[derive(Clone, Debug, Deserialize)]
pub struct ReminderSettings {
    pub enabled: bool,
    /// How long before a visit its reminder goes out.
    pub lead_hours: i64,
    /// How often each node looks for due reminders.
    pub poll_seconds: u64,
    pub smtp: SmtpConfig,
}

impl Default for ReminderSettings {
    fn default() -> Self {
        Self { enabled: false, lead_hours: 24, poll_seconds: 30, smtp: SmtpConfig::default() }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    /// none | starttls | tls
    pub security: String,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub from: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 25,
            security: "none".into(),
            username: None,
            password: None,
            from: "Clinic <reminders@localhost>".into(),
        }
    }
}

impl SmtpConfig {
    pub fn domain(&self) -> app::domain::scheduling::reminders::SmtpSettings {
        app::domain::scheduling::reminders::SmtpSettings {
            host: self.host.clone(),
            port: self.port,
            security: self.security.clone(),
            username: self.username.clone(),
            password: self.password.as_ref().map(|p| secrecy::ExposeSecret::expose_secret(p).to_owned()),
            from: self.from.clone(),
        }
    }
}

fn default_environment() -> Environment {
    Environment::Development
}

#[derive(Clone, Debug, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    pub site_root: String,
    /// Where people reach the app; its host is the WebAuthn relying party id.
    pub public_url: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseSettings {
    /// May hold a password, so it is a secret.
    pub url: SecretString,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct KeySettings {
    /// Path of a key file (JSON, mode 0600).
    pub file: Option<PathBuf>,
    /// The key file's JSON itself, for secrets managers that inject environment variables.
    pub material: Option<SecretString>,
    /// Development only: create `file` with fresh keys when it does not exist.
    #[serde(default)]
    pub generate_if_missing: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AuthSettings {
    /// Automatic logoff after this many minutes without a request.
    pub idle_timeout_minutes: i64,
    /// And after this many hours in any case.
    pub absolute_timeout_hours: i64,
    /// How long an enrollment link stays valid.
    pub enrollment_ttl_hours: i64,
    /// How long a break-glass declaration opens a chart.
    #[serde(default = "default_break_glass_minutes")]
    pub break_glass_minutes: i64,
}

fn default_break_glass_minutes() -> i64 {
    60
}

#[derive(Clone, Debug, Deserialize)]
pub struct AuditSettings {
    pub chain_interval_ms: u64,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LogSettings {
    pub filter: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] config::ConfigError),
    #[error("{0}")]
    Invalid(String),
}

impl Settings {
    /// A throwaway local instance over `database_url`: loopback on a free port, fresh master keys
    /// held only in memory, reminders off. For tests and benchmarks; never for real data.
    pub fn ephemeral(database_url: &str) -> Self {
        Settings {
            environment: Environment::Test,
            server: ServerSettings {
                host: "127.0.0.1".into(),
                port: 0,
                tls: false,
                site_root: "target/site".into(),
                public_url: "http://localhost:3000".into(),
            },
            auth: AuthSettings {
                idle_timeout_minutes: 15,
                absolute_timeout_hours: 12,
                enrollment_ttl_hours: 72,
                break_glass_minutes: 60,
            },
            database: DatabaseSettings { url: SecretString::from(database_url.to_owned()) },
            keys: KeySettings {
                file: None,
                material: Some(SecretString::from(
                    app::domain::crypto::LocalKeyring::generate("ephemeral").to_json().to_string(),
                )),
                generate_if_missing: false,
            },
            audit: AuditSettings { chain_interval_ms: 100 },
            log: LogSettings { filter: "info".into() },
            clinic: ClinicSettings::default(),
            reminders: ReminderSettings::default(),
            video: VideoSettings::default(),
            accounts: AccountSettings::default(),
        }
    }

    /// Loads from `config_dir` and the process environment.
    pub fn load(config_dir: &Path) -> Result<Self, ConfigError> {
        let environment = match std::env::var("APP_ENVIRONMENT") {
            Ok(value) => Environment::parse(&value)?,
            Err(_) => Environment::Development,
        };
        let settings = config::Config::builder()
            .add_source(config::File::from(config_dir.join("base.toml")))
            .add_source(config::File::from(config_dir.join(format!("{}.toml", environment.as_str()))).required(false))
            .add_source(config::Environment::with_prefix("APP").prefix_separator("_").separator("__"))
            .build()?;
        let mut settings: Settings = settings.try_deserialize()?;
        settings.environment = environment;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.environment == Environment::Production && self.keys.generate_if_missing {
            return Err(ConfigError::Invalid(
                "keys.generate_if_missing is not allowed in production: give key material explicitly".to_owned(),
            ));
        }
        let url = url::Url::parse(&self.server.public_url)
            .map_err(|_| ConfigError::Invalid("server.public_url is not a URL".to_owned()))?;
        if self.environment == Environment::Production && url.scheme() != "https" {
            return Err(ConfigError::Invalid("server.public_url must be https in production".to_owned()));
        }
        if self.auth.idle_timeout_minutes <= 0 || self.auth.absolute_timeout_hours <= 0 {
            return Err(ConfigError::Invalid("auth timeouts must be above 0".to_owned()));
        }
        if self.audit.chain_interval_ms == 0 {
            return Err(ConfigError::Invalid("audit.chain_interval_ms must be above 0".to_owned()));
        }
        Ok(())
    }

    pub fn public_url(&self) -> Result<url::Url, ConfigError> {
        url::Url::parse(&self.server.public_url)
            .map_err(|_| ConfigError::Invalid("server.public_url is not a URL".to_owned()))
    }

    pub fn session_policy(&self) -> app::domain::state::SessionPolicy {
        app::domain::state::SessionPolicy {
            idle: chrono::Duration::minutes(self.auth.idle_timeout_minutes),
            absolute: chrono::Duration::hours(self.auth.absolute_timeout_hours),
        }
    }

    pub fn address(&self) -> String {
        format!("{}:{}", self.server.host, self.server.port)
    }
}

/// Where the `config/` directory is: `APP_CONFIG_DIR`, or `./config`.
pub fn config_dir() -> PathBuf {
    std::env::var_os("APP_CONFIG_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("config"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

    use super::*;

    #[test]
    fn video_settings_refuse_turn_without_a_secret_and_urls_of_the_wrong_scheme() {
        let mut video = VideoSettings::default();
        assert!(video.domain().unwrap().turn_urls.is_empty(), "no ICE servers by default");
        video.turn_urls = vec!["turn:turn.clinic.test:3478".into()];
        let err = video.domain().unwrap_err().to_string();
        assert!(err.contains("video.turn_secret"), "{err}");
        video.turn_secret = Some(SecretString::from("synthetic-turn-secret"));
        let ice = video.domain().unwrap();
        assert_eq!(ice.credential_ttl, chrono::Duration::minutes(120));
        video.stun_urls = vec!["https://stun.clinic.test".into()];
        assert!(video.domain().unwrap_err().to_string().contains("stun:"));
        video.stun_urls.clear();
        video.turn_credential_minutes = 0;
        assert!(video.domain().unwrap_err().to_string().contains("between 5 and 1440"));
    }
}
