//! TLS in the server (45 CFR 164.312(e)(1), transmission security), with rustls and its ring
//! provider: no OpenSSL anywhere.
//!
//! - TLS 1.3 and 1.2 only, AEAD suites with ECDHE only, in the server's order of preference.
//! - The certificate and key are re-read when either file changes (checked on each handshake)
//!   or on SIGHUP, so a renewed certificate is served on the next connection, never restarting.
//! - An optional plain-HTTP listener that does nothing but redirect to the public https URL.
//!
//! Or a proxy in front terminates TLS (`terminated_by_proxy`): then the proxy's
//! `X-Forwarded-Proto` is believed, from the trusted proxies only.

mod certs;
pub mod dev_cert;
mod listener;
pub mod redirect;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::ServerConfig;
use serde::Deserialize;

pub use certs::CertStore;
pub use listener::TlsListener;

/// `[server.tls]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    /// PEM: the certificate, then its chain.
    pub cert_file: Option<PathBuf>,
    /// PEM: the private key (PKCS#8, SEC1 or PKCS#1), readable by the server only.
    pub key_file: Option<PathBuf>,
    /// A reverse proxy in front terminates TLS: trust its forwarded scheme (needs
    /// `server.trusted_proxies`).
    pub terminated_by_proxy: bool,
    /// A plain-HTTP port that only redirects to the public https URL (80 or 8080, say).
    pub redirect_http_port: Option<u16>,
}

impl TlsSettings {
    /// The server itself speaks TLS.
    pub fn in_process(&self) -> bool {
        self.cert_file.is_some()
    }

    /// People reach the app over TLS, from this server or from the proxy in front.
    pub fn served_over_tls(&self) -> bool {
        self.in_process() || self.terminated_by_proxy
    }

    /// What is wrong with these settings, as one line naming the setting.
    pub fn problem(&self, trusted_proxies: bool, public_https: bool, production: bool) -> Option<String> {
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Some("server.tls.cert_file and server.tls.key_file are set together or not at all".to_owned());
        }
        if self.terminated_by_proxy && !trusted_proxies {
            return Some(
                "server.tls.terminated_by_proxy needs server.trusted_proxies: the proxy's address, whose forwarded \
                 scheme is believed"
                    .to_owned(),
            );
        }
        if self.redirect_http_port.is_some() && !self.in_process() {
            return Some("server.tls.redirect_http_port needs server.tls.cert_file and server.tls.key_file".to_owned());
        }
        if self.served_over_tls() && !public_https {
            return Some("server.public_url must be https when the app is served over TLS".to_owned());
        }
        if production && !self.served_over_tls() {
            return Some(
                "production refuses to start without TLS: set server.tls.cert_file and server.tls.key_file, or \
                 server.tls.terminated_by_proxy = true with server.trusted_proxies"
                    .to_owned(),
            );
        }
        None
    }
}

/// The rustls configuration: protocol versions, suites and groups written out here rather than
/// left to a default that may change, the server's suite order, and certificates from `store`.
pub fn server_config(store: Arc<CertStore>) -> anyhow::Result<Arc<ServerConfig>> {
    use rustls::crypto::ring::{cipher_suite as suite, default_provider, kx_group};
    let provider = rustls::crypto::CryptoProvider {
        // Every one of them AEAD with an ephemeral key exchange (forward secrecy).
        cipher_suites: vec![
            suite::TLS13_AES_256_GCM_SHA384,
            suite::TLS13_AES_128_GCM_SHA256,
            suite::TLS13_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        kx_groups: vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1],
        ..default_provider()
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.ignore_client_order = true;
    // HTTP/1.1 only: the server is built without HTTP/2, and signaling's WebSockets use 1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reloads the certificate on SIGHUP (a renewal hook's `systemctl reload`), until the process
/// ends. A file that does not parse keeps the certificate being served and is logged.
pub fn spawn_reload_on_sighup(store: Arc<CertStore>) -> Option<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                tracing::warn!(error = %err, "SIGHUP cannot be caught; certificates reload when their files change");
                return None;
            }
        };
        Some(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match store.reload() {
                    Ok(()) => tracing::info!("TLS certificate reloaded on SIGHUP"),
                    Err(err) => {
                        tracing::error!(error = %err, "TLS certificate reload failed; serving the previous one")
                    }
                }
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = store;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_files() -> TlsSettings {
        TlsSettings {
            cert_file: Some("/etc/clinic/tls/cert.pem".into()),
            key_file: Some("/etc/clinic/tls/key.pem".into()),
            ..Default::default()
        }
    }

    #[test]
    fn production_needs_tls_in_the_server_or_a_trusted_proxy_that_terminates_it() {
        let none = TlsSettings::default();
        assert_eq!(
            none.problem(false, true, true).as_deref(),
            Some(
                "production refuses to start without TLS: set server.tls.cert_file and server.tls.key_file, or \
                 server.tls.terminated_by_proxy = true with server.trusted_proxies"
            )
        );
        assert_eq!(none.problem(false, false, false), None, "development may run plain HTTP");
        assert_eq!(with_files().problem(false, true, true), None);
        let proxied = TlsSettings { terminated_by_proxy: true, ..Default::default() };
        assert!(proxied.problem(false, true, true).unwrap().starts_with("server.tls.terminated_by_proxy needs"));
        assert_eq!(proxied.problem(true, true, true), None);
    }

    #[test]
    fn half_a_pair_a_redirect_without_tls_and_an_http_public_url_are_refused_by_name() {
        let half = TlsSettings { cert_file: Some("/etc/clinic/tls/cert.pem".into()), ..Default::default() };
        assert!(half.problem(false, true, false).unwrap().contains("are set together"));
        let redirect = TlsSettings { redirect_http_port: Some(8080), ..Default::default() };
        assert!(redirect.problem(false, true, false).unwrap().starts_with("server.tls.redirect_http_port needs"));
        assert_eq!(
            with_files().problem(false, false, false).as_deref(),
            Some("server.public_url must be https when the app is served over TLS")
        );
    }
}
