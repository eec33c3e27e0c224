//! Alert delivery settings (`[alerting]`), the webhook's HTTP transport (reqwest), and the
//! background task that fans alerts out and sends them (`app::domain::monitoring::delivery`).
//! Every channel is off by default; the task runs only when one is on.

use std::sync::Arc;

use app::domain::monitoring::Severity;
use app::domain::monitoring::delivery::cef::Device;
use app::domain::monitoring::delivery::email::EmailChannel;
use app::domain::monitoring::delivery::syslog::{SyslogChannel, SyslogTarget};
use app::domain::monitoring::delivery::webhook::{WebhookChannel, WebhookSecret, WebhookTransport};
use app::domain::monitoring::delivery::{Backoff, Deliver, DeliveryRunner, Failure};
use app::domain::state::Services;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::Settings;

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct AlertingSettings {
    /// How often each node fans out new alerts (one node per period) and sends due deliveries.
    pub poll_seconds: u64,
    /// The wait after a failed attempt, doubling each time up to `retry_cap_seconds`; a
    /// delivery is retried until it succeeds.
    pub retry_base_seconds: i64,
    pub retry_cap_seconds: i64,
    pub email: EmailSettings,
    pub webhook: WebhookSettings,
    pub syslog: SyslogSettings,
}

impl Default for AlertingSettings {
    fn default() -> Self {
        Self {
            poll_seconds: 10,
            retry_base_seconds: 30,
            retry_cap_seconds: 3600,
            email: EmailSettings::default(),
            webhook: WebhookSettings::default(),
            syslog: SyslogSettings::default(),
        }
    }
}

/// To every active security officer's address, through `[reminders.smtp]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct EmailSettings {
    pub enabled: bool,
    pub min_severity: String,
    pub extra_recipients: Vec<String>,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self { enabled: false, min_severity: "high".into(), extra_recipients: Vec::new() }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    pub enabled: bool,
    pub min_severity: String,
    pub url: String,
    /// `whsec_<base64>`; give it as APP_ALERTING__WEBHOOK__SECRET.
    pub secret: Option<SecretString>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self { enabled: false, min_severity: "medium".into(), url: String::new(), secret: None }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SyslogSettings {
    pub enabled: bool,
    pub min_severity: String,
    /// `tcp://host:port` (RFC 6587 octet counting) or `udp://host:port`.
    pub target: String,
    /// The CEF header's device vendor and product.
    pub vendor: String,
    pub product: String,
}

impl Default for SyslogSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            min_severity: "low".into(),
            target: "udp://127.0.0.1:514".into(),
            vendor: "Clinic".into(),
            product: "clinic".into(),
        }
    }
}

/// A domain validation error as "<setting> <what is wrong>", for the start-up message.
fn named(err: app::domain::Error) -> anyhow::Error {
    match err {
        app::domain::Error::Validation(fields) => anyhow::anyhow!(
            "{}",
            fields.iter().map(|f| format!("{} {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        ),
        other => anyhow::Error::new(other),
    }
}

fn severity(setting: &str, value: &str) -> anyhow::Result<Severity> {
    Severity::parse(value).ok_or_else(|| anyhow::anyhow!("{setting} must be low, medium, high or critical"))
}

impl AlertingSettings {
    pub fn any_enabled(&self) -> bool {
        self.email.enabled || self.webhook.enabled || self.syslog.enabled
    }

    /// Every setting checked, whether or not its channel is on, so a typo fails at start.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!((1..=3600).contains(&self.poll_seconds), "alerting.poll_seconds must be between 1 and 3600");
        anyhow::ensure!(
            (1..=86_400).contains(&self.retry_base_seconds)
                && (self.retry_base_seconds..=86_400).contains(&self.retry_cap_seconds),
            "alerting.retry_base_seconds must be between 1 and 86400 and retry_cap_seconds between it and 86400"
        );
        severity("alerting.email.min_severity", &self.email.min_severity)?;
        severity("alerting.webhook.min_severity", &self.webhook.min_severity)?;
        severity("alerting.syslog.min_severity", &self.syslog.min_severity)?;
        for (i, address) in self.email.extra_recipients.iter().enumerate() {
            anyhow::ensure!(
                address.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
                    && !address.chars().any(char::is_whitespace),
                "alerting.email.extra_recipients[{i}] is not an email address"
            );
        }
        if self.webhook.enabled {
            let url =
                url::Url::parse(&self.webhook.url).map_err(|_| anyhow::anyhow!("alerting.webhook.url is not a URL"))?;
            anyhow::ensure!(matches!(url.scheme(), "http" | "https"), "alerting.webhook.url must be http or https");
            let secret = self.webhook.secret.as_ref().ok_or_else(|| {
                anyhow::anyhow!("alerting.webhook.secret is needed (whsec_ and base64, APP_ALERTING__WEBHOOK__SECRET)")
            })?;
            WebhookSecret::parse("alerting.webhook.secret", secret.expose_secret()).map_err(named)?;
        }
        if self.syslog.enabled {
            SyslogTarget::parse("alerting.syslog.target", &self.syslog.target).map_err(named)?;
        }
        Ok(())
    }
}

/// POSTs with reqwest, 10 s timeout, no redirects (a redirect would carry the signed body
/// somewhere not configured).
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { client })
    }
}

#[async_trait]
impl WebhookTransport for ReqwestTransport {
    async fn post(&self, url: &str, headers: Vec<(&'static str, String)>, body: Vec<u8>) -> Result<u16, Failure> {
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(err) if err.is_timeout() => Err(Failure::new("timeout")),
            Err(err) if err.is_connect() => Err(Failure::new("connection")),
            Err(_) => Err(Failure::new("transport")),
        }
    }
}

/// The delivery runner for `settings`, or None when every channel is off.
pub fn runner(settings: &Settings, services: &Services) -> anyhow::Result<Option<DeliveryRunner>> {
    let alerting = &settings.alerting;
    alerting.check()?;
    if !alerting.any_enabled() {
        return Ok(None);
    }
    let mut channels: Vec<Arc<dyn Deliver>> = Vec::new();
    if alerting.email.enabled {
        use app::domain::scheduling::reminders::SmtpMailer;
        let mailer = SmtpMailer::new(&settings.reminders.smtp.domain())
            .map_err(|err| anyhow::anyhow!("alerting.email needs usable [reminders.smtp] settings: {err}"))?;
        channels.push(Arc::new(EmailChannel {
            db: services.db.clone(),
            keys: services.keys.clone(),
            mailer: Arc::new(mailer),
            min_severity: severity("alerting.email.min_severity", &alerting.email.min_severity)?,
            extra_recipients: alerting.email.extra_recipients.clone(),
        }));
    }
    if alerting.webhook.enabled {
        let secret = alerting.webhook.secret.as_ref().map(|s| s.expose_secret().to_owned()).unwrap_or_default();
        channels.push(Arc::new(WebhookChannel {
            url: alerting.webhook.url.clone(),
            secret: WebhookSecret::parse("alerting.webhook.secret", &secret).map_err(named)?,
            min_severity: severity("alerting.webhook.min_severity", &alerting.webhook.min_severity)?,
            transport: Arc::new(ReqwestTransport::new()?),
            clock: services.clock.clone(),
        }));
    }
    if alerting.syslog.enabled {
        channels.push(Arc::new(SyslogChannel {
            target: SyslogTarget::parse("alerting.syslog.target", &alerting.syslog.target).map_err(named)?,
            min_severity: severity("alerting.syslog.min_severity", &alerting.syslog.min_severity)?,
            device: Device {
                vendor: alerting.syslog.vendor.clone(),
                product: alerting.syslog.product.clone(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
            },
            clock: services.clock.clone(),
        }));
    }
    let public_url = settings.public_url()?;
    let mut runner = DeliveryRunner::new(
        services.db.clone(),
        services.audit.clone(),
        services.clock.clone(),
        channels,
        public_url.as_str(),
    );
    let poll = chrono::Duration::seconds(i64::try_from(alerting.poll_seconds).unwrap_or(10));
    // Held a little shorter than the period, so the next tick (of any node) finds it free.
    runner.fan_out_period = poll * 9 / 10;
    runner.backoff = Backoff {
        base: chrono::Duration::seconds(alerting.retry_base_seconds),
        cap: chrono::Duration::seconds(alerting.retry_cap_seconds),
    };
    Ok(Some(runner))
}

/// Fans out and delivers every `alerting.poll_seconds`, when a channel is on.
pub fn spawn(settings: &Settings, services: &Services) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(runner) = runner(settings, services)? else { return Ok(None) };
    let every = std::time::Duration::from_secs(settings.alerting.poll_seconds);
    tracing::info!(?runner, "alert delivery started");
    Ok(Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match runner.tick().await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "security alerts delivered"),
                Err(err) => tracing::error!(error = ?err, "alert delivery round failed; will try again"),
            }
        }
    })))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

    use super::*;

    #[test]
    fn every_channel_is_off_by_default_and_bad_settings_are_named() {
        let mut alerting = AlertingSettings::default();
        assert!(!alerting.any_enabled());
        assert!(alerting.check().is_ok());
        alerting.email.min_severity = "urgent".into();
        assert_eq!(
            alerting.check().unwrap_err().to_string(),
            "alerting.email.min_severity must be low, medium, high or critical"
        );
        alerting.email.min_severity = "high".into();
        alerting.webhook.enabled = true;
        alerting.webhook.url = "https://siem.clinic.test/hooks/alerts".into();
        assert!(alerting.check().unwrap_err().to_string().starts_with("alerting.webhook.secret is needed"));
        alerting.webhook.secret = Some(SecretString::from("whsec_c2hvcnQ="));
        assert_eq!(alerting.check().unwrap_err().to_string(), "alerting.webhook.secret must hold 24 to 64 bytes");
        alerting.webhook.secret = Some(SecretString::from(format!("whsec_{}", base64_of_32())));
        assert!(alerting.check().is_ok());
        alerting.syslog.enabled = true;
        alerting.syslog.target = "syslog.clinic.test:514".into();
        assert_eq!(
            alerting.check().unwrap_err().to_string(),
            "alerting.syslog.target use tcp://host:port or udp://host:port"
        );
    }

    fn base64_of_32() -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([9u8; 32])
    }
}
