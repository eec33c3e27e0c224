//! The certificate the server presents, re-read when its files change.
//!
//! Each handshake compares the files' modification time, size and inode with those last
//! loaded (one `stat` each, far cheaper than the handshake itself), so a certificate renewed
//! on disk is served on the next connection. A pair that does not load (a half-written file, a
//! key that does not match) keeps the previous certificate in service and is logged once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp { modified: meta.modified().ok(), len: meta.len(), inode })
}

struct Loaded {
    key: Arc<CertifiedKey>,
    stamps: (Option<Stamp>, Option<Stamp>),
    /// The stamps of a pair that failed to load, so that it is logged once, not per handshake.
    failed: Option<(Option<Stamp>, Option<Stamp>)>,
}

pub struct CertStore {
    cert: PathBuf,
    key: PathBuf,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore").field("cert", &self.cert).field("key", &self.key).finish_non_exhaustive()
    }
}

impl CertStore {
    /// Loads the pair; at startup a pair that does not load stops the server.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<Self>> {
        let stamps = (stamp(cert), stamp(key));
        let certified = read_pair(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            loaded: Mutex::new(Loaded { key: Arc::new(certified), stamps, failed: None }),
        }))
    }

    /// Reads the pair again now, whether or not the files look changed.
    pub fn reload(&self) -> anyhow::Result<()> {
        let stamps = (stamp(&self.cert), stamp(&self.key));
        let certified = read_pair(&self.cert, &self.key)?;
        let mut loaded = self.loaded.lock().map_err(|_| anyhow::anyhow!("certificate store poisoned"))?;
        *loaded = Loaded { key: Arc::new(certified), stamps, failed: None };
        Ok(())
    }

    /// The pair to present, re-read first when its files changed since the last load.
    pub fn current(&self) -> Option<Arc<CertifiedKey>> {
        let stamps = (stamp(&self.cert), stamp(&self.key));
        let mut loaded = self.loaded.lock().ok()?;
        if stamps != loaded.stamps && loaded.failed != Some(stamps) {
            match read_pair(&self.cert, &self.key) {
                Ok(certified) => {
                    *loaded = Loaded { key: Arc::new(certified), stamps, failed: None };
                    tracing::info!("TLS certificate changed on disk; serving the new one");
                }
                Err(err) => {
                    loaded.failed = Some(stamps);
                    tracing::error!(error = %err, "TLS certificate files changed but do not load; serving the previous one");
                }
            }
        }
        Some(loaded.key.clone())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

fn read_pair(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let cert_pem =
        std::fs::read(cert).map_err(|err| anyhow::anyhow!("server.tls.cert_file {}: {err}", cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| anyhow::anyhow!("server.tls.cert_file {} is not PEM certificates: {err}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "server.tls.cert_file {} holds no certificate", cert.display());
    let key_pem = std::fs::read(key).map_err(|err| anyhow::anyhow!("server.tls.key_file {}: {err}", key.display()))?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| anyhow::anyhow!("server.tls.key_file {} is not a PEM private key", key.display()))?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|err| anyhow::anyhow!("server.tls.key_file {}: {err}", key.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| {
        anyhow::anyhow!(
            "server.tls.key_file {} is not the key of server.tls.cert_file {}",
            key.display(),
            cert.display()
        )
    })?;
    Ok(certified)
}
