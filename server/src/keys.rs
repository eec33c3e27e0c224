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
/// start, so the secret is never on disk with wider permissions. It is written to a temporary
/// file, synced, renamed over the old one, and then the directory is synced: only when this
/// returns is the new file the one a crash leaves behind, so a caller may then re-wrap data keys
/// under a KEK version that exists nowhere else (a crash between rename and directory sync could
/// otherwise bring back the old file, without that version, and leave those keys unreadable).
pub fn write_key_file(path: &Path, ring: &LocalKeyring) -> Result<(), KeyLoadError> {
    let fail = |source| KeyLoadError::Write { path: path.display().to_string(), source };
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(fail)?;
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(fail)?;
    file.write_all(ring.to_json().as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)?;
    sync_dir(parent).map_err(fail)
}

/// Makes a rename in `dir` durable (POSIX: fsync of the directory). Other platforms do not
/// expose directory handles this way; there the rename is as durable as the platform makes it.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
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

    /// Asks the loaded keys, and asks again after one re-read of the key file when the answer
    /// is that the version is not loaded (rotated by an operator while this node ran). The read
    /// guard of the first ask is dropped before the reload takes the write lock: a guard living
    /// on across it would deadlock.
    fn ask_reloading<T>(
        &self,
        not_loaded: fn(&CryptoError) -> bool,
        ask: impl Fn(&LocalKeyring) -> Result<T, CryptoError>,
    ) -> Result<T, CryptoError> {
        let first = ask(&self.read());
        match first {
            Err(err) if not_loaded(&err) && self.reload() => ask(&self.read()),
            other => other,
        }
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
        self.ask_reloading(
            |err| matches!(err, CryptoError::UnknownKek { .. }),
            |ring| ring.unwrap(data_key_id, wrapped),
        )
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
        self.ask_reloading(|err| matches!(err, CryptoError::UnknownAuditKey(_)), |ring| ring.audit_key(version, kind))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.
    use super::*;

    #[test]
    fn a_rewritten_key_file_holds_the_new_version_leaves_no_temporary_file_and_stays_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("master.json");
        let mut ring = LocalKeyring::generate("test");
        write_key_file(&path, &ring).unwrap();
        ring.add_version();

        write_key_file(&path, &ring).unwrap();

        let text = zeroize::Zeroizing::new(fs::read_to_string(&path).unwrap());
        assert_eq!(LocalKeyring::from_json(&text).unwrap().versions(), vec![1, 2]);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        check_permissions(&path).unwrap();
    }

    #[test]
    fn asking_for_an_audit_key_version_that_is_not_loaded_rereads_the_file_and_answers_unknown() {
        use app::domain::crypto::AuditKeyKind;
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::ephemeral("sqlite::memory:");
        settings.keys.material = None;
        settings.keys.file = Some(dir.path().join("keys.json"));
        write_key_file(settings.keys.file.as_ref().unwrap(), &LocalKeyring::generate("test")).unwrap();
        let provider = provider(&settings).unwrap();
        // Run where a deadlock (a read guard held across the reload's write lock) fails the test.
        let (done, answer) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(provider.audit_key(7, AuditKeyKind::EventMac).is_err()).unwrap());
        assert_eq!(answer.recv_timeout(std::time::Duration::from_secs(10)), Ok(true));
    }

    #[test]
    fn syncing_a_directory_that_is_gone_is_an_error_not_silence() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        assert!(sync_dir(dir.path()).is_ok());
        assert_eq!(sync_dir(&gone).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
