//! The ICE servers a browser is given for a video visit: STUN for finding its public address,
//! and TURN, a relay for networks that block direct media, with credentials that expire.
//!
//! TURN credentials follow coturn's REST API (`use-auth-secret` / `static-auth-secret`): the
//! username is `<expiry unix time>:<user id>` and the password is base64(HMAC-SHA1(secret,
//! username)), so coturn checks them with the shared secret alone and they stop working at the
//! expiry without anyone revoking them. Media never passes through the app servers.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};

use crate::domain::ids::UserId;

#[derive(Clone, Debug)]
pub struct IceConfig {
    /// `stun:` URLs. Empty: host candidates only, enough on one network.
    pub stun_urls: Vec<String>,
    /// `turn:`/`turns:` URLs of a coturn with `use-auth-secret`.
    pub turn_urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub turn_secret: Option<SecretString>,
    /// How long a TURN credential works.
    pub credential_ttl: Duration,
}

impl Default for IceConfig {
    fn default() -> Self {
        Self { stun_urls: Vec::new(), turn_urls: Vec::new(), turn_secret: None, credential_ttl: Duration::hours(2) }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: Option<String>,
    pub credential: Option<String>,
}

impl IceConfig {
    /// The servers for `user`'s browser, TURN credentials valid until now + ttl.
    pub fn servers_for(&self, user: UserId, now: DateTime<Utc>) -> Vec<IceServer> {
        let mut servers = Vec::new();
        if !self.stun_urls.is_empty() {
            servers.push(IceServer { urls: self.stun_urls.clone(), username: None, credential: None });
        }
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let expires = (now + self.credential_ttl).timestamp();
            let (username, credential) = turn_credential(secret.expose_secret().as_bytes(), user, expires);
            servers.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        servers
    }
}

/// coturn's REST-API credential for `user`, valid until `expires` (unix seconds).
pub fn turn_credential(secret: &[u8], user: UserId, expires: i64) -> (String, String) {
    let username = format!("{expires}:{}", user.0);
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserId {
        UserId(uuid::Uuid::parse_str("0190d7a4-0000-7000-8000-000000000001").unwrap())
    }

    #[test]
    fn the_turn_credential_is_what_coturn_computes_from_its_shared_secret() {
        // Computed independently: base64(HMAC-SHA1("synthetic-turn-secret", username)).
        let (username, credential) = turn_credential(b"synthetic-turn-secret", user(), 1_800_003_600);
        assert_eq!(username, "1800003600:0190d7a4-0000-7000-8000-000000000001");
        assert_eq!(credential, "qnsTikhPCmrwc5oAk7dEl2EHzHc=");
    }

    #[test]
    fn turn_is_offered_only_with_a_secret_and_expires_after_the_ttl() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut config = IceConfig {
            stun_urls: vec!["stun:turn.clinic.test:3478".into()],
            turn_urls: vec!["turn:turn.clinic.test:3478?transport=udp".into()],
            turn_secret: None,
            credential_ttl: Duration::hours(1),
        };
        let servers = config.servers_for(user(), now);
        assert_eq!(servers.len(), 1, "no TURN without a secret");
        assert_eq!(servers[0].username, None);
        config.turn_secret = Some(SecretString::from("synthetic-turn-secret"));
        let servers = config.servers_for(user(), now);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[1].username.as_deref(), Some("1800003600:0190d7a4-0000-7000-8000-000000000001"));
        assert_eq!(servers[1].credential.as_deref(), Some("qnsTikhPCmrwc5oAk7dEl2EHzHc="));
        assert!(IceConfig::default().servers_for(user(), now).is_empty());
    }
}
