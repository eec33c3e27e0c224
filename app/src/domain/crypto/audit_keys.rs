//! The audit log's own keys: the row MAC key, the chain key and the checkpoint signing key
//! (Ed25519 seed), three independent random secrets per version, none derived from the KEKs or
//! from the blind-index root. A version is added by `server keys rotate-audit`; new rows use the
//! active version and record it, older versions stay in the key file so their rows still verify.
//!
//! Key files written before these keys existed have no `audit` section: their rows were made
//! with keys derived from the HMAC root, which this module calls version 0. Such a file keeps
//! version 0 (for verifying those rows) and, until its first rotation, writes with it.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::CryptoError;
use super::keyring::{B64Secret, KeyBytes};

/// Which of a version's three audit keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKeyKind {
    EventMac,
    ChainLink,
    CheckpointSigning,
}

impl AuditKeyKind {
    /// The label version 0 derives its key from the HMAC root with.
    pub(super) fn legacy_purpose(self) -> &'static str {
        match self {
            AuditKeyKind::EventMac => "audit-mac/v1",
            AuditKeyKind::ChainLink => "audit-chain/v1",
            AuditKeyKind::CheckpointSigning => "audit-checkpoint/v0",
        }
    }
}

struct AuditKeySet {
    mac: KeyBytes,
    chain: KeyBytes,
    signing: KeyBytes,
}

impl AuditKeySet {
    fn random() -> Self {
        Self { mac: KeyBytes::random(), chain: KeyBytes::random(), signing: KeyBytes::random() }
    }
}

pub(super) struct AuditKeyring {
    active: u32,
    /// Version 0, derived from the HMAC root, exists only for key files older than this module.
    legacy_v0: bool,
    versions: BTreeMap<u32, AuditKeySet>,
}

/// The key file's `audit` section. Secrets are base64 strings, wiped when dropped.
#[derive(Serialize, Deserialize)]
pub(super) struct AuditKeyFile {
    active_version: u32,
    #[serde(default)]
    legacy_v0: bool,
    versions: BTreeMap<u32, AuditKeySetFile>,
}

#[derive(Serialize, Deserialize)]
struct AuditKeySetFile {
    mac: B64Secret,
    chain: B64Secret,
    signing: B64Secret,
}

impl AuditKeyring {
    pub(super) fn generate() -> Self {
        Self { active: 1, legacy_v0: false, versions: BTreeMap::from([(1, AuditKeySet::random())]) }
    }

    /// A key file with no `audit` section: version 0 only, derived from the HMAC root.
    pub(super) fn legacy() -> Self {
        Self { active: 0, legacy_v0: true, versions: BTreeMap::new() }
    }

    pub(super) fn from_file(file: &AuditKeyFile) -> Result<Self, CryptoError> {
        let decode = |version: u32, name: &str, value: &str| -> Result<KeyBytes, CryptoError> {
            let bytes =
                Zeroizing::new(B64.decode(value).map_err(|_| {
                    CryptoError::KeyMaterial(format!("audit key {name} version {version} is not base64"))
                })?);
            KeyBytes::from_slice(&bytes)
        };
        let mut versions = BTreeMap::new();
        for (version, set) in &file.versions {
            if *version == 0 {
                return Err(CryptoError::KeyMaterial("audit key version 0 is reserved for derived keys".to_owned()));
            }
            let keys = AuditKeySet {
                mac: decode(*version, "mac", &set.mac.0)?,
                chain: decode(*version, "chain", &set.chain.0)?,
                signing: decode(*version, "signing", &set.signing.0)?,
            };
            versions.insert(*version, keys);
        }
        let known = versions.contains_key(&file.active_version) || (file.active_version == 0 && file.legacy_v0);
        if !known {
            return Err(CryptoError::KeyMaterial(format!(
                "active audit key version {} is not among the loaded versions",
                file.active_version
            )));
        }
        Ok(Self { active: file.active_version, legacy_v0: file.legacy_v0, versions })
    }

    pub(super) fn to_file(&self) -> AuditKeyFile {
        let versions = self
            .versions
            .iter()
            .map(|(version, set)| {
                let keys = AuditKeySetFile {
                    mac: B64Secret::encode(&set.mac),
                    chain: B64Secret::encode(&set.chain),
                    signing: B64Secret::encode(&set.signing),
                };
                (*version, keys)
            })
            .collect();
        AuditKeyFile { active_version: self.active, legacy_v0: self.legacy_v0, versions }
    }

    pub(super) fn active(&self) -> u32 {
        self.active
    }

    pub(super) fn versions(&self) -> Vec<u32> {
        let stored = self.versions.keys().copied();
        if self.legacy_v0 { std::iter::once(0).chain(stored).collect() } else { stored.collect() }
    }

    /// Adds a version of three fresh keys and makes it active. Older versions stay for verifying.
    pub(super) fn add_version(&mut self) -> u32 {
        let next = self.versions.keys().next_back().copied().unwrap_or(0) + 1;
        self.versions.insert(next, AuditKeySet::random());
        self.active = next;
        next
    }

    /// The stored key, or `Ok(None)` for version 0 (the caller derives it), or an error for a
    /// version this file does not hold.
    pub(super) fn key(&self, version: u32, kind: AuditKeyKind) -> Result<Option<KeyBytes>, CryptoError> {
        if version == 0 && self.legacy_v0 {
            return Ok(None);
        }
        let set = self.versions.get(&version).ok_or(CryptoError::UnknownAuditKey(version))?;
        let key = match kind {
            AuditKeyKind::EventMac => &set.mac,
            AuditKeyKind::ChainLink => &set.chain,
            AuditKeyKind::CheckpointSigning => &set.signing,
        };
        Ok(Some(key.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::keyring::{KekProvider, LocalKeyring};
    use super::*;

    fn key(ring: &LocalKeyring, version: u32, kind: AuditKeyKind) -> [u8; 32] {
        *ring.audit_key(version, kind).unwrap().expose()
    }

    #[test]
    fn the_audit_keys_are_separate_from_the_hmac_root_and_from_each_other() {
        let ring = LocalKeyring::generate("test");
        let mac = key(&ring, 1, AuditKeyKind::EventMac);
        let chain = key(&ring, 1, AuditKeyKind::ChainLink);
        let signing = key(&ring, 1, AuditKeyKind::CheckpointSigning);
        assert_ne!(mac, chain);
        assert_ne!(mac, signing);
        assert_ne!(chain, signing);
        for purpose in ["audit-mac/v1", "audit-chain/v1", "audit-checkpoint/v0", "blind-index/v1"] {
            let derived = *ring.derive_secret(purpose).expose();
            assert!(![mac, chain, signing].contains(&derived), "{purpose}");
        }
        // A new install has no derived version 0 at all.
        assert_eq!(ring.audit_versions(), vec![1]);
        assert!(matches!(ring.audit_key(0, AuditKeyKind::EventMac), Err(CryptoError::UnknownAuditKey(0))));
    }

    #[test]
    fn rotation_adds_a_version_and_keeps_the_old_one_through_the_key_file() {
        let mut ring = LocalKeyring::generate("test");
        let old = key(&ring, 1, AuditKeyKind::EventMac);
        assert_eq!(ring.add_audit_version(), 2);
        let again = LocalKeyring::from_json(&ring.to_json()).unwrap();
        assert_eq!(again.audit_active_version(), 2);
        assert_eq!(again.audit_versions(), vec![1, 2]);
        assert_eq!(key(&again, 1, AuditKeyKind::EventMac), old);
        assert_ne!(key(&again, 2, AuditKeyKind::EventMac), old);
        assert!(matches!(again.audit_key(3, AuditKeyKind::ChainLink), Err(CryptoError::UnknownAuditKey(3))));
    }

    #[test]
    fn a_key_file_from_before_audit_keys_keeps_its_derived_version_0_for_old_rows() {
        let ring = LocalKeyring::generate("test");
        let mut json: serde_json::Value = serde_json::from_str(&ring.to_json()).unwrap();
        json.as_object_mut().unwrap().remove("audit");
        let mut legacy = LocalKeyring::from_json(&json.to_string()).unwrap();
        assert_eq!(legacy.audit_active_version(), 0);
        assert_eq!(key(&legacy, 0, AuditKeyKind::EventMac), *ring.derive_secret("audit-mac/v1").expose());
        assert_eq!(key(&legacy, 0, AuditKeyKind::ChainLink), *ring.derive_secret("audit-chain/v1").expose());

        assert_eq!(legacy.add_audit_version(), 1);
        let again = LocalKeyring::from_json(&legacy.to_json()).unwrap();
        assert_eq!(again.audit_versions(), vec![0, 1]);
        assert_eq!(again.audit_active_version(), 1);
        assert_eq!(key(&again, 0, AuditKeyKind::EventMac), *ring.derive_secret("audit-mac/v1").expose());
    }
}
