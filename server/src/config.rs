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
    /// Alert delivery channels (email, webhook, syslog); all off by default.
    #[serde(default)]
    pub alerting: crate::alerting::AlertingSettings,
    #[serde(default)]
    pub monitoring: MonitoringSettings,
    #[serde(default)]
    pub incidents: IncidentSettings,
}

/// The security monitor (`app::domain::monitoring`): detectors over the audit log, run by one
/// node per period. `rules.<name>` overrides a rule's defaults (written beside the rule); only
/// what it names changes, and a name that is not a rule is a startup error.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct MonitoringSettings {
    pub enabled: bool,
    /// How often the detectors run (and the lease's period).
    pub period_seconds: u64,
    #[serde(default)]
    pub rules: std::collections::BTreeMap<String, RuleConfig>,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        Self { enabled: true, period_seconds: 60, rules: Default::default() }
    }
}

/// One `[monitoring.rules.<name>]` table. `critical_at = 0` turns the critical level off.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RuleConfig {
    pub enabled: Option<bool>,
    pub threshold: Option<i64>,
    pub window_minutes: Option<i64>,
    pub severity: Option<String>,
    pub critical_at: Option<i64>,
}

/// Each rule's name and its settings, defaults with the overrides applied.
pub type ResolvedRules = Vec<(&'static str, app::domain::monitoring::rules::RuleSettings)>;

impl Settings {
    /// Every rule with its settings, and the clinic's working hours the after-hours rule uses.
    pub fn monitor_rules(&self) -> Result<(app::domain::monitoring::rules::ClinicContext, ResolvedRules), ConfigError> {
        use app::domain::monitoring::rules::{self, ClinicContext, RuleOverride, WorkingHours};
        let hours = WorkingHours::parse(&self.clinic.time_zone, &self.clinic.working_hours, &self.clinic.working_days)
            .map_err(ConfigError::Invalid)?;
        let clinic = ClinicContext { hours };
        let names: Vec<&'static str> = rules::registry(&clinic).iter().map(|r| r.name()).collect();
        let overrides = self
            .monitoring
            .rules
            .iter()
            .map(|(name, c)| {
                let o = RuleOverride {
                    enabled: c.enabled,
                    threshold: c.threshold,
                    window_minutes: c.window_minutes,
                    severity: c.severity.clone(),
                    critical_at: c.critical_at,
                };
                (name.clone(), o)
            })
            .collect();
        let resolved = rules::resolve(&names, &overrides).map_err(ConfigError::Invalid)?;
        Ok((clinic, resolved.into_iter().collect()))
    }
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
    /// How often an open signaling socket re-reads its session and re-asks the access policy;
    /// a sign-out or a withdrawn permission ends the call within this time.
    #[serde(default = "default_session_check_ms")]
    pub session_check_ms: u64,
}

fn default_session_check_ms() -> u64 {
    30_000
}

impl Default for VideoSettings {
    fn default() -> Self {
        Self {
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_credential_minutes: 120,
            session_check_ms: default_session_check_ms(),
        }
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
        if !(100..=300_000).contains(&self.session_check_ms) {
            return Err(ConfigError::Invalid(format!(
                "video.session_check_ms must be between 100 and 300000, not {}",
                self.session_check_ms
            )));
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

/// Incident response: how breach notices and the HHS report name the clinic and its contact
/// (45 CFR 164.404(c)(1)(E) asks for a toll-free number, an email and a postal address), and
/// how often breach deadlines are checked.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct IncidentSettings {
    pub street_address: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    /// One node per period checks the deadlines (lease `breach-deadlines`).
    pub deadline_check_seconds: u64,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        let contact = app::domain::incidents::ClinicContact::default();
        Self {
            street_address: contact.street_address,
            city: contact.city,
            state: contact.state,
            zip: contact.zip,
            contact_name: contact.contact_name,
            contact_phone: contact.contact_phone,
            contact_email: contact.contact_email,
            deadline_check_seconds: 3600,
        }
    }
}

impl IncidentSettings {
    pub fn contact(&self, clinic: &str) -> app::domain::incidents::ClinicContact {
        app::domain::incidents::ClinicContact {
            name: clinic.to_owned(),
            street_address: self.street_address.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            zip: self.zip.clone(),
            contact_name: self.contact_name.clone(),
            contact_phone: self.contact_phone.clone(),
            contact_email: self.contact_email.clone(),
        }
    }
}

/// The clinic as patients know it.
#[derive(Clone, Debug, Deserialize)]
pub struct ClinicSettings {
    /// Shown in reminders and pages.
    pub name: String,
    /// An IANA zone such as America/New_York: weekly hours are written in it.
    pub time_zone: String,
    /// The clinic's opening hours, local time ("07:00-19:00"): PHI opened outside them, or on
    /// another day than `working_days`, raises an after-hours alert.
    #[serde(default = "default_working_hours")]
    pub working_hours: String,
    /// In `APP_CLINIC__WORKING_DAYS`, comma-separated.
    #[serde(default = "default_working_days", deserialize_with = "list_or_commas")]
    pub working_days: Vec<String>,
}

fn default_working_hours() -> String {
    "07:00-19:00".into()
}

fn default_working_days() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"].map(str::to_owned).to_vec()
}

impl Default for ClinicSettings {
    fn default() -> Self {
        Self {
            name: "Clinic".into(),
            time_zone: "UTC".into(),
            working_hours: default_working_hours(),
            working_days: default_working_days(),
        }
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
    /// `[server.tls]`: certificates, or a proxy that terminates TLS in front.
    #[serde(default)]
    pub tls: crate::tls::TlsSettings,
    /// On SIGTERM: how long in-flight requests may take to finish before the node exits.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_seconds: u64,
    pub site_root: String,
    /// Where people reach the app; its host is the WebAuthn relying party id, and its scheme,
    /// host and port are the only origin server functions accept.
    pub public_url: String,
    /// Reverse proxies (CIDRs) whose forwarding header names the client. Empty: every request
    /// is attributed to its TCP peer and forwarding headers are ignored.
    /// A list in a file; in `APP_SERVER__TRUSTED_PROXIES`, comma-separated.
    #[serde(default, deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
    /// The header those proxies append to: `x-forwarded-for` or `forwarded` (RFC 7239).
    #[serde(default = "default_forwarded_header")]
    pub forwarded_header: String,
}

fn list_or_commas<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCommas {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match ListOrCommas::deserialize(deserializer)? {
        ListOrCommas::List(list) => list,
        ListOrCommas::Commas(text) => {
            text.split(',').map(str::trim).filter(|entry| !entry.is_empty()).map(str::to_owned).collect()
        }
    })
}

fn default_shutdown_grace() -> u64 {
    20
}

fn default_forwarded_header() -> String {
    "x-forwarded-for".to_owned()
}

#[derive(Clone, Debug, Deserialize)]
pub struct DatabaseSettings {
    /// What the app connects as. May hold a password, so it is a secret. On PostgreSQL this
    /// should be a role that does not own the schema: see `migration_url`.
    pub url: SecretString,
    /// PostgreSQL: the schema owner's connection, used only to run migrations and then grant
    /// the role of `url` its rights (INSERT and SELECT only on the audit tables). When unset,
    /// migrations run over `url`, which then has to own the schema.
    #[serde(default)]
    pub migration_url: Option<SecretString>,
    /// SQLite only: "full" (every commit synced before it returns, the default) or "normal"
    /// (synced at checkpoints; a power loss can lose the newest audit rows).
    #[serde(default)]
    pub sqlite_durability: app::domain::db::SqliteDurability,
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
    /// Sign-in and enrollment challenges (each a session row) per client address and minute.
    #[serde(default = "default_anonymous_challenges")]
    pub anonymous_challenges_per_minute: i64,
    /// How often expired session rows are deleted (by one node of the cluster per period).
    #[serde(default = "default_session_sweep_seconds")]
    pub session_sweep_seconds: u64,
}

fn default_anonymous_challenges() -> i64 {
    app::domain::anonymous::SESSIONS_PER_WINDOW
}

fn default_anonymous_rows() -> i64 {
    app::domain::anonymous::AUDITED_PER_WINDOW
}

fn default_session_sweep_seconds() -> u64 {
    300
}

fn default_break_glass_minutes() -> i64 {
    60
}

#[derive(Clone, Debug, Deserialize)]
pub struct AuditSettings {
    pub chain_interval_ms: u64,
    /// How often the chainer signs the chain head and writes the checkpoint out.
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_seconds: u64,
    /// The local append-only file checkpoints go to.
    #[serde(default)]
    pub checkpoint_file: Option<PathBuf>,
    /// Also send each checkpoint to syslog (RFC 5424): `udp://host:port` or `unix:/dev/log`.
    #[serde(default)]
    pub checkpoint_syslog: Option<String>,
    /// A chainer failing for longer than this makes `/readyz` report it.
    #[serde(default = "default_chainer_grace")]
    pub chainer_failure_grace_seconds: u64,
    /// Refused anonymous calls recorded one row each, per client address and minute; the rest
    /// of that minute are one summary row with their count.
    #[serde(default = "default_anonymous_rows")]
    pub anonymous_rows_per_minute: i64,
}

fn default_checkpoint_interval() -> u64 {
    60
}

fn default_chainer_grace() -> u64 {
    300
}

impl AuditSettings {
    pub fn checkpoint_sinks(&self) -> Result<crate::checkpoints::Sinks, ConfigError> {
        let syslog = match &self.checkpoint_syslog {
            Some(address) => Some(crate::checkpoints::SyslogTarget::parse(address).map_err(|reason| {
                ConfigError::Invalid(format!("audit.checkpoint_syslog {reason}; use udp://host:port or unix:/path"))
            })?),
            None => None,
        };
        Ok(crate::checkpoints::Sinks { file: self.checkpoint_file.clone(), syslog })
    }
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
                tls: crate::tls::TlsSettings::default(),
                shutdown_grace_seconds: default_shutdown_grace(),
                site_root: "target/site".into(),
                public_url: "http://localhost:3000".into(),
                trusted_proxies: Vec::new(),
                forwarded_header: default_forwarded_header(),
            },
            auth: AuthSettings {
                idle_timeout_minutes: 15,
                absolute_timeout_hours: 12,
                enrollment_ttl_hours: 72,
                break_glass_minutes: 60,
                anonymous_challenges_per_minute: default_anonymous_challenges(),
                session_sweep_seconds: default_session_sweep_seconds(),
            },
            database: DatabaseSettings {
                url: SecretString::from(database_url.to_owned()),
                migration_url: None,
                // A throwaway database: no sync per commit.
                sqlite_durability: app::domain::db::SqliteDurability::Normal,
            },
            keys: KeySettings {
                file: None,
                material: Some(SecretString::from(
                    app::domain::crypto::LocalKeyring::generate("ephemeral").to_json().to_string(),
                )),
                generate_if_missing: false,
            },
            audit: AuditSettings {
                chain_interval_ms: 100,
                checkpoint_interval_seconds: 60,
                checkpoint_file: None,
                checkpoint_syslog: None,
                chainer_failure_grace_seconds: 300,
                anonymous_rows_per_minute: default_anonymous_rows(),
            },
            log: LogSettings { filter: "info".into() },
            clinic: ClinicSettings::default(),
            reminders: ReminderSettings::default(),
            video: VideoSettings::default(),
            accounts: AccountSettings::default(),
            alerting: crate::alerting::AlertingSettings::default(),
            // Tests that need the detectors turn them on (or call `Monitor::run_once`).
            monitoring: MonitoringSettings { enabled: false, ..Default::default() },
            incidents: IncidentSettings::default(),
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
        let production = self.environment == Environment::Production;
        if let Some(problem) =
            self.server.tls.problem(!self.server.trusted_proxies.is_empty(), url.scheme() == "https", production)
        {
            return Err(ConfigError::Invalid(problem));
        }
        if production && url.scheme() != "https" {
            return Err(ConfigError::Invalid("server.public_url must be https in production".to_owned()));
        }
        if !(1..=600).contains(&self.server.shutdown_grace_seconds) {
            return Err(ConfigError::Invalid(format!(
                "server.shutdown_grace_seconds must be between 1 and 600, not {}",
                self.server.shutdown_grace_seconds
            )));
        }
        if self.auth.idle_timeout_minutes <= 0 || self.auth.absolute_timeout_hours <= 0 {
            return Err(ConfigError::Invalid("auth timeouts must be above 0".to_owned()));
        }
        self.trusted_proxies()?;
        self.anonymous_limits()?;
        if !(1..=86_400).contains(&self.auth.session_sweep_seconds) {
            return Err(ConfigError::Invalid(format!(
                "auth.session_sweep_seconds must be between 1 and 86400, not {}",
                self.auth.session_sweep_seconds
            )));
        }
        if self.audit.chain_interval_ms == 0 {
            return Err(ConfigError::Invalid("audit.chain_interval_ms must be above 0".to_owned()));
        }
        if !(1..=3600).contains(&self.audit.checkpoint_interval_seconds) {
            return Err(ConfigError::Invalid(
                "audit.checkpoint_interval_seconds must be between 1 and 3600".to_owned(),
            ));
        }
        if !(1..=86_400).contains(&self.audit.chainer_failure_grace_seconds) {
            return Err(ConfigError::Invalid(
                "audit.chainer_failure_grace_seconds must be between 1 and 86400".to_owned(),
            ));
        }
        self.audit.checkpoint_sinks()?;
        self.alerting.check().map_err(|err| ConfigError::Invalid(err.to_string()))?;
        if !(5..=86_400).contains(&self.monitoring.period_seconds) {
            return Err(ConfigError::Invalid(format!(
                "monitoring.period_seconds must be between 5 and 86400, not {}",
                self.monitoring.period_seconds
            )));
        }
        self.monitor_rules()?;
        if self.environment == Environment::Production
            && self.audit.checkpoint_file.is_none()
            && self.audit.checkpoint_syslog.is_none()
        {
            return Err(ConfigError::Invalid(
                "production needs audit.checkpoint_file or audit.checkpoint_syslog: checkpoints keep the audit log \
                 honest against the database owner"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    pub fn public_url(&self) -> Result<url::Url, ConfigError> {
        url::Url::parse(&self.server.public_url)
            .map_err(|_| ConfigError::Invalid("server.public_url is not a URL".to_owned()))
    }

    /// The proxies whose forwarding header is believed, parsed.
    pub fn trusted_proxies(&self) -> Result<app::domain::client_address::TrustedProxies, ConfigError> {
        use app::domain::client_address::{ForwardedHeader, TrustedProxies};
        let header = ForwardedHeader::parse(&self.server.forwarded_header).ok_or_else(|| {
            ConfigError::Invalid("server.forwarded_header must be x-forwarded-for or forwarded".to_owned())
        })?;
        TrustedProxies::parse(&self.server.trusted_proxies, header).map_err(ConfigError::Invalid)
    }

    /// What anonymous calls may cost per client address and minute.
    pub fn anonymous_limits(&self) -> Result<app::domain::anonymous::Limits, ConfigError> {
        let (audited, sessions) = (self.audit.anonymous_rows_per_minute, self.auth.anonymous_challenges_per_minute);
        if !(1..=100_000).contains(&audited) {
            return Err(ConfigError::Invalid(
                "audit.anonymous_rows_per_minute must be between 1 and 100000".to_owned(),
            ));
        }
        if !(1..=100_000).contains(&sessions) {
            return Err(ConfigError::Invalid(
                "auth.anonymous_challenges_per_minute must be between 1 and 100000".to_owned(),
            ));
        }
        Ok(app::domain::anonymous::Limits { audited, sessions })
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
    fn trusted_proxies_refuse_a_bad_network_and_an_unknown_header_by_name() {
        let mut settings = Settings::ephemeral("sqlite::memory:");
        assert!(settings.trusted_proxies().is_ok(), "none by default");
        settings.server.trusted_proxies = vec!["10.0.0.0/8".into(), "10.0.0.0/33".into()];
        assert_eq!(
            settings.trusted_proxies().unwrap_err().to_string(),
            "server.trusted_proxies[1] is not a CIDR such as 10.0.0.0/8"
        );
        settings.server.trusted_proxies = vec!["127.0.0.1/32".into()];
        settings.server.forwarded_header = "x-real-ip".into();
        assert_eq!(
            settings.trusted_proxies().unwrap_err().to_string(),
            "server.forwarded_header must be x-forwarded-for or forwarded"
        );
    }

    #[test]
    fn trusted_proxies_come_as_a_list_or_as_one_comma_separated_variable() {
        let server = |proxies: serde_json::Value| {
            serde_json::from_value::<ServerSettings>(serde_json::json!({
                "host": "127.0.0.1", "port": 3000, "site_root": "target/site",
                "public_url": "http://localhost:3000", "trusted_proxies": proxies
            }))
            .unwrap()
            .trusted_proxies
        };
        assert_eq!(server(serde_json::json!(["10.0.0.0/8"])), ["10.0.0.0/8"]);
        assert_eq!(server(serde_json::json!("10.0.0.0/8, 192.0.2.1")), ["10.0.0.0/8", "192.0.2.1"]);
        assert!(server(serde_json::json!("")).is_empty());
    }

    #[test]
    fn anonymous_budgets_must_be_positive_and_bounded() {
        let mut settings = Settings::ephemeral("sqlite::memory:");
        assert_eq!(settings.anonymous_limits().unwrap(), app::domain::anonymous::Limits { audited: 20, sessions: 30 });
        settings.audit.anonymous_rows_per_minute = 0;
        assert_eq!(
            settings.anonymous_limits().unwrap_err().to_string(),
            "audit.anonymous_rows_per_minute must be between 1 and 100000"
        );
    }

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

    fn with_base(extra: &str) -> Settings {
        let base = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/base.toml")).unwrap();
        config::Config::builder()
            .add_source(config::File::from_str(&base, config::FileFormat::Toml))
            .add_source(config::File::from_str(extra, config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap()
    }

    #[test]
    fn sqlite_syncs_every_commit_unless_a_deployment_says_normal() {
        use app::domain::db::SqliteDurability;
        assert_eq!(with_base("").database.sqlite_durability, SqliteDurability::Full);
        let normal = with_base("[database]\nsqlite_durability = \"normal\"");
        assert_eq!(normal.database.sqlite_durability, SqliteDurability::Normal);
        let err = config::Config::builder()
            .add_source(config::File::from_str(
                "url = \"sqlite::memory:\"\nsqlite_durability = \"off\"",
                config::FileFormat::Toml,
            ))
            .build()
            .unwrap()
            .try_deserialize::<DatabaseSettings>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not have variant constructor off"), "{err}");
    }

    #[test]
    fn a_monitoring_rule_table_overrides_only_what_it_names() {
        let settings =
            with_base("[monitoring.rules.bulk-access]\nthreshold = 40\n[monitoring.rules.probing]\nenabled = false");
        assert_eq!((settings.monitoring.enabled, settings.monitoring.period_seconds), (true, 60));
        let (clinic, rules) = settings.monitor_rules().unwrap();
        let get = |name: &str| rules.iter().find(|(n, _)| *n == name).unwrap().1.clone();
        let bulk = get("bulk-access");
        assert_eq!((bulk.threshold, bulk.window, bulk.critical_at), (40, chrono::Duration::minutes(10), Some(90)));
        assert!(!get("probing").enabled);
        assert_eq!(get("after-hours").threshold, 1);
        assert_eq!(clinic.hours.zone.name(), "America/New_York");
        assert_eq!(clinic.hours.days.len(), 5);
    }

    #[test]
    fn an_unknown_monitoring_rule_or_bad_working_hours_stop_startup_with_the_setting_named() {
        let settings = with_base("[monitoring.rules.bulk-acess]\nthreshold = 40");
        assert_eq!(
            settings.check().unwrap_err().to_string(),
            "monitoring.rules.bulk-acess is not a rule; the rules are: bulk-access, after-hours, large-listing, \
             self-access, unexplained-access, probing, sign-in-failures-account, sign-in-failures-address, \
             sign-in-spray, privilege-change, break-glass-unreviewed, break-glass-frequent"
        );
        let settings = with_base("[clinic]\nname = \"C\"\ntime_zone = \"UTC\"\nworking_hours = \"19:00-07:00\"");
        assert!(settings.check().unwrap_err().to_string().contains("clinic.working_hours"));
    }
}
