//! Loading master key material. Production refuses to start without material given explicitly;
//! development creates a key file (mode 0600) the first time.

use std::fs;
use std::io::Write;
use std::path::Path;

use app::domain::crypto::{AuditKeyKind, CryptoError, KekProvider, KeyBytes, LocalKeyring, WrappedKey};
use secrecy::ExposeSecret;

use crate::config::{Environment, Settings};

#[derive(Debug, thiserror::Error)]
pub enum KeyLoadError {
    #[error(
        "refusing to start: no master key material was given; set APP_KEYS__FILE to a key file or \
         APP_KEYS__MATERIAL to its contents (production never creates keys on its own)"
    )]
    Missing,
    #[error("key file {path} could not be read: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("key file {path} could not be written: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("key file {path} is readable by other users (mode {mode:o}); run chmod 600 on it")]
    Permissions { path: String, mode: u32 },
    #[error("key material is invalid: {0}")]
    Invalid(#[from] app::domain::crypto::CryptoError),
}

pub fn load(settings: &Settings) -> Result<LocalKeyring, KeyLoadError> {
    if let Some(material) = &settings.keys.material {
        return Ok(LocalKeyring::from_json(material.expose_secret())?);
    }
    let Some(path) = &settings.keys.file else {
        return Err(KeyLoadError::Missing);
    };
    if !path.exists() {
        if settings.keys.generate_if_missing && settings.environment != Environment::Production {
            let ring = LocalKeyring::generate("local-master");
            write_key_file(path, &ring)?;
            tracing::warn!(path = %path.display(), "created a development key file; never use it for real data");
            return Ok(ring);
        }
        return Err(KeyLoadError::Read {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    check_permissions(path)?;
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(path).map_err(|source| KeyLoadError::Read { path: path.display().to_string(), source })?,
    );
    Ok(LocalKeyring::from_json(&text)?)
}

/// Writes the key file readable by its owner only. The file is created with mode 0600 from the
/// start, so the secret is never on disk with wider permissions.
pub fn write_key_file(path: &Path, ring: &LocalKeyring) -> Result<(), KeyLoadError> {
    let fail = |source| KeyLoadError::Write { path: path.display().to_string(), source };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(fail)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(ring.to_json().as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)?;
    Ok(())
}

fn check_permissions(path: &Path) -> Result<(), KeyLoadError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|source| KeyLoadError::Read { path: path.display().to_string(), source })?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyLoadError::Permissions { path: path.display().to_string(), mode: mode & 0o777 });
        }
    }
    Ok(())
}

/// The key provider for a running node. When a data key names a KEK version this node has not
/// loaded (an operator rotated keys while it ran), it re-reads the key file once and retries,
/// so rotation needs no restart.
pub fn provider(settings: &Settings) -> Result<std::sync::Arc<dyn KekProvider>, KeyLoadError> {
    let ring = load(settings)?;
    let kek_id = ring.kek_id().to_owned();
    Ok(std::sync::Arc::new(ReloadingKeyring { settings: settings.clone(), kek_id, ring: std::sync::RwLock::new(ring) }))
}

struct ReloadingKeyring {
    settings: Settings,
    /// Fixed for the life of the process: a reload that names another KEK id is refused.
    kek_id: String,
    ring: std::sync::RwLock<LocalKeyring>,
}

impl ReloadingKeyring {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, LocalKeyring> {
        self.ring.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reload(&self) -> bool {
        match load(&self.settings) {
            Ok(fresh) if fresh.kek_id() != self.kek_id => {
                tracing::error!("reloaded key material names another KEK id; keeping the loaded keys");
                false
            }
            Ok(fresh) => {
                *self.ring.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
                tracing::info!("key material reloaded");
                true
            }
            Err(err) => {
                tracing::error!(error = %err, "key material could not be reloaded");
                false
            }
        }
    }
}

impl KekProvider for ReloadingKeyring {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    fn active_version(&self) -> u32 {
        self.read().active_version()
    }

    fn wrap(&self, data_key_id: uuid::Uuid, key: &KeyBytes) -> Result<WrappedKey, CryptoError> {
        self.read().wrap(data_key_id, key)
    }

    fn unwrap(&self, data_key_id: uuid::Uuid, wrapped: &WrappedKey) -> Result<KeyBytes, CryptoError> {
        match self.read().unwrap(data_key_id, wrapped) {
            Err(CryptoError::UnknownKek { .. }) if self.reload() => self.read().unwrap(data_key_id, wrapped),
            other => other,
        }
    }

    fn derive_secret(&self, purpose: &str) -> KeyBytes {
        self.read().derive_secret(purpose)
    }

    fn audit_active_version(&self) -> u32 {
        self.read().audit_active_version()
    }

    /// An audit key version this node has not loaded (rotated by an operator while it ran)
    /// re-reads the key file once, as for KEK versions.
    fn audit_key(&self, version: u32, kind: AuditKeyKind) -> Result<KeyBytes, CryptoError> {
        match self.read().audit_key(version, kind) {
            Err(CryptoError::UnknownAuditKey(_)) if self.reload() => self.read().audit_key(version, kind),
            other => other,
        }
    }
}
