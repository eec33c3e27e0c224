//! Alerts to a webhook, signed as the Standard Webhooks specification says
//! (https://www.standardwebhooks.com/, "Signature scheme"): headers `webhook-id`,
//! `webhook-timestamp` (unix seconds) and `webhook-signature` =
//! `v1,` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")), the secret written
//! `whsec_<base64>`. The receiver recomputes it and refuses a body or header that was changed.
//!
//! Signed here with hmac + sha2 + base64 (already dependencies) rather than the official
//! `standardwebhooks` crate: signing is four lines, and that crate brings a second base64
//! version and another HMAC implementation; its test vector is checked below.
//!
//! The HTTP POST is behind [`WebhookTransport`], implemented by the server with reqwest, so this
//! crate needs no HTTP client.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{AlertFacts, Channel, Deliver, Failure};
use crate::domain::Error;
use crate::domain::clock::Clock;
use crate::domain::monitoring::Severity;

/// A Standard Webhooks secret. Never printed.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// `whsec_` followed by the base64 of 24 to 64 random bytes (the spec's range).
    pub fn parse(setting: &str, text: &str) -> Result<Self, Error> {
        let encoded =
            text.strip_prefix("whsec_").ok_or_else(|| Error::validation(setting, "must start with whsec_"))?;
        let bytes =
            STANDARD.decode(encoded).map_err(|_| Error::validation(setting, "is not whsec_ followed by base64"))?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(Error::validation(setting, "must hold 24 to 64 bytes"));
        }
        Ok(Self(bytes))
    }

    /// For the spec's own test vector, whose secret is shorter than 24 bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// `v1,<base64 signature>` of `body` sent as message `id` at `timestamp`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Sends one POST; `Ok` is the response's status code, `Err` a transport failure's kind.
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    async fn post(&self, url: &str, headers: Vec<(&'static str, String)>, body: Vec<u8>) -> Result<u16, Failure>;
}

/// The JSON body: ids, counts and times only.
pub fn payload(alert: &AlertFacts) -> serde_json::Value {
    serde_json::json!({
        "type": "security.alert",
        "alert_id": alert.id,
        "rule": alert.rule,
        "severity": alert.severity.as_str(),
        "actor_id": alert.actor,
        "patient_ids": alert.patients,
        "window_start": alert.window_start,
        "window_end": alert.window_end,
        "observed": alert.observed,
        "audit_seqs": alert.seqs,
        "created_at": alert.created_at,
        "link": alert.link,
    })
}

pub struct WebhookChannel {
    pub url: String,
    pub secret: WebhookSecret,
    pub min_severity: Severity,
    pub transport: Arc<dyn WebhookTransport>,
    pub clock: Arc<dyn Clock>,
}

impl WebhookChannel {
    /// The headers and body of `alert`'s request. The message id is the alert's, the same on
    /// every retry, so a receiver can drop a repeat.
    pub fn request(&self, alert: &AlertFacts) -> (Vec<(&'static str, String)>, Vec<u8>) {
        let body = payload(alert).to_string().into_bytes();
        let id = alert.id.to_string();
        let timestamp = self.clock.now().timestamp();
        let signature = self.secret.sign(&id, timestamp, &body);
        let headers = vec![
            ("content-type", "application/json".to_owned()),
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        (headers, body)
    }
}

#[async_trait]
impl Deliver for WebhookChannel {
    fn channel(&self) -> Channel {
        Channel::Webhook
    }

    fn min_severity(&self) -> Severity {
        self.min_severity
    }

    async fn deliver(&self, alert: &AlertFacts) -> Result<(), Failure> {
        let (headers, body) = self.request(alert);
        match self.transport.post(&self.url, headers, body).await? {
            code if (200..300).contains(&code) => Ok(()),
            code => Err(Failure::status(code)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_signature_matches_the_standard_webhooks_test_vector() {
        // From the reference implementations' tests (standard-webhooks, libraries/*).
        let secret = STANDARD.decode("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let signature = WebhookSecret::from_bytes(secret).sign(
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn a_secret_is_whsec_and_base64_of_24_to_64_bytes() {
        let setting = "alerting.webhook.secret";
        let ok = format!("whsec_{}", STANDARD.encode([7u8; 32]));
        assert!(WebhookSecret::parse(setting, &ok).is_ok());
        assert!(WebhookSecret::parse(setting, &STANDARD.encode([7u8; 32])).is_err(), "no prefix");
        assert!(WebhookSecret::parse(setting, "whsec_not base64!").is_err());
        assert!(WebhookSecret::parse(setting, &format!("whsec_{}", STANDARD.encode([7u8; 8]))).is_err(), "short");
        assert_eq!(format!("{:?}", WebhookSecret::parse(setting, &ok).unwrap()), "WebhookSecret(..)");
    }
}
