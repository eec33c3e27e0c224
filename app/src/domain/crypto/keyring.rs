//! Key-encryption keys. A [`KekProvider`] wraps and unwraps data keys and derives the keyed-hash
//! secrets; callers never see a KEK. Today's provider is [`LocalKeyring`], master key material
//! from a key file or the environment; a KMS or HSM provider implements the same trait.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::CryptoError;
use super::audit_keys::{AuditKeyFile, AuditKeyKind, AuditKeyring};

const NONCE_LEN: usize = 12;

/// 256 bits of key material, wiped from memory when dropped.
#[derive(Clone)]
pub struct KeyBytes(Zeroizing<[u8; 32]>);

impl KeyBytes {
    pub fn random() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&key);
        Self(bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::KeyMaterial(format!("a key must be 32 bytes, got {}", bytes.len())))?;
        Ok(Self(Zeroizing::new(array)))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBytes(<redacted>)")
    }
}

/// A data key as stored: wrapped, with the KEK id and version that wrapped it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek_id: String,
    pub kek_version: u32,
    pub bytes: Vec<u8>,
}

pub trait KekProvider: Send + Sync + 'static {
    fn kek_id(&self) -> &str;
    /// The version new wraps use. Older versions stay able to unwrap until retired.
    fn active_version(&self) -> u32;
    fn wrap(&self, data_key_id: Uuid, key: &KeyBytes) -> Result<WrappedKey, CryptoError>;
    fn unwrap(&self, data_key_id: Uuid, wrapped: &WrappedKey) -> Result<KeyBytes, CryptoError>;
    /// A secret for keyed hashing (blind indexes), stable across KEK rotation.
    fn derive_secret(&self, purpose: &str) -> KeyBytes;
    /// The audit key version new audit rows, links and checkpoints are made with.
    fn audit_active_version(&self) -> u32;
    /// One of the audit log's keys (separate from the KEKs, the HMAC root and each other).
    fn audit_key(&self, version: u32, kind: AuditKeyKind) -> Result<KeyBytes, CryptoError>;
}

/// Master key material held by this process: versioned KEKs and a root for keyed hashes.
pub struct LocalKeyring {
    kek_id: String,
    active: u32,
    versions: BTreeMap<u32, KeyBytes>,
    hmac_root: KeyBytes,
    audit: AuditKeyring,
}

/// The key file's format. Secrets are base64 strings, held in [`B64Secret`] so they are wiped.
#[derive(Serialize, Deserialize)]
struct KeyFile {
    kek_id: String,
    active_version: u32,
    versions: BTreeMap<u32, B64Secret>,
    hmac_root: B64Secret,
    /// Absent in key files written before the audit log had keys of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audit: Option<AuditKeyFile>,
}

/// A secret's base64 text in the key file, wiped from memory when dropped.
pub(super) struct B64Secret(pub(super) Zeroizing<String>);

impl B64Secret {
    pub(super) fn encode(key: &KeyBytes) -> Self {
        Self(Zeroizing::new(B64.encode(key.expose())))
    }
}

impl Serialize for B64Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for B64Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| Self(Zeroizing::new(text)))
    }
}

impl LocalKeyring {
    pub fn generate(kek_id: &str) -> Self {
        Self {
            kek_id: kek_id.to_owned(),
            active: 1,
            versions: BTreeMap::from([(1, KeyBytes::random())]),
            hmac_root: KeyBytes::random(),
            audit: AuditKeyring::generate(),
        }
    }

    pub fn from_json(json: &str) -> Result<Self, CryptoError> {
        let file: KeyFile = serde_json::from_str(json).map_err(|e| {
            CryptoError::KeyMaterial(format!(
                "key material is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let decode = |name: &str, value: &str| -> Result<KeyBytes, CryptoError> {
            let bytes = Zeroizing::new(
                B64.decode(value).map_err(|_| CryptoError::KeyMaterial(format!("{name} is not base64")))?,
            );
            KeyBytes::from_slice(&bytes)
        };
        let mut versions = BTreeMap::new();
        for (version, value) in &file.versions {
            versions.insert(*version, decode(&format!("KEK version {version}"), &value.0)?);
        }
        if !versions.contains_key(&file.active_version) {
            return Err(CryptoError::KeyMaterial(format!(
                "active KEK version {} is not among the loaded versions",
                file.active_version
            )));
        }
        if file.kek_id.trim().is_empty() {
            return Err(CryptoError::KeyMaterial("kek_id is empty".to_owned()));
        }
        Ok(Self {
            kek_id: file.kek_id,
            active: file.active_version,
            versions,
            hmac_root: decode("hmac_root", &file.hmac_root.0)?,
            audit: match &file.audit {
                Some(audit) => AuditKeyring::from_file(audit)?,
                None => AuditKeyring::legacy(),
            },
        })
    }

    /// The key file text. It holds secrets: write it with mode 0600 and never log it.
    pub fn to_json(&self) -> Zeroizing<String> {
        let file = KeyFile {
            kek_id: self.kek_id.clone(),
            active_version: self.active,
            versions: self.versions.iter().map(|(v, k)| (*v, B64Secret::encode(k))).collect(),
            hmac_root: B64Secret::encode(&self.hmac_root),
            audit: Some(self.audit.to_file()),
        };
        // Written into a buffer large enough never to grow (a grown buffer would leave an
        // unwiped copy behind), then moved, not copied, into the returned string.
        let mut buffer = Zeroizing::new(Vec::with_capacity(16 * 1024));
        if serde_json::to_writer_pretty(&mut *buffer, &file).is_err() {
            return Zeroizing::new(String::new());
        }
        Zeroizing::new(String::from_utf8(std::mem::take(&mut *buffer)).unwrap_or_default())
    }

    /// Adds a fresh KEK version and makes it the active one; older versions still unwrap.
    pub fn add_version(&mut self) -> u32 {
        let next = self.versions.keys().next_back().copied().unwrap_or(0) + 1;
        self.versions.insert(next, KeyBytes::random());
        self.active = next;
        next
    }

    /// Forgets a KEK version, once no data key is wrapped under it any more.
    pub fn retire_version(&mut self, version: u32) -> Result<(), CryptoError> {
        if version == self.active {
            return Err(CryptoError::KeyMaterial("the active KEK version cannot be retired".to_owned()));
        }
        self.versions.remove(&version);
        Ok(())
    }

    pub fn versions(&self) -> Vec<u32> {
        self.versions.keys().copied().collect()
    }

    /// Adds a fresh version of the audit keys (MAC, chain, checkpoint signing) and makes it
    /// active; older versions stay so that rows made with them still verify.
    pub fn add_audit_version(&mut self) -> u32 {
        self.audit.add_version()
    }

    pub fn audit_versions(&self) -> Vec<u32> {
        self.audit.versions()
    }

    fn wrap_aad(kek_id: &str, version: u32, data_key_id: Uuid) -> Vec<u8> {
        let mut aad = b"clinic/data-key/v1\0".to_vec();
        aad.extend_from_slice(kek_id.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&version.to_be_bytes());
        aad.extend_from_slice(data_key_id.as_bytes());
        aad
    }

    fn kek(&self, version: u32) -> Result<Aes256Gcm, CryptoError> {
        let key = self
            .versions
            .get(&version)
            .ok_or_else(|| CryptoError::UnknownKek { kek_id: self.kek_id.clone(), version })?;
        Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.expose())))
    }
}

impl KekProvider for LocalKeyring {
    fn kek_id(&self) -> &str {
        &self.kek_id
    }

    fn active_version(&self) -> u32 {
        self.active
    }

    fn wrap(&self, data_key_id: Uuid, key: &KeyBytes) -> Result<WrappedKey, CryptoError> {
        let cipher = self.kek(self.active)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = Self::wrap_aad(&self.kek_id, self.active, data_key_id);
        let ciphertext = cipher
            .encrypt(&nonce, Payload { msg: key.expose(), aad: &aad })
            .map_err(|_| CryptoError::KeyMaterial("wrapping failed".to_owned()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ciphertext);
        Ok(WrappedKey { kek_id: self.kek_id.clone(), kek_version: self.active, bytes })
    }

    fn unwrap(&self, data_key_id: Uuid, wrapped: &WrappedKey) -> Result<KeyBytes, CryptoError> {
        if wrapped.kek_id != self.kek_id {
            return Err(CryptoError::UnknownKek { kek_id: wrapped.kek_id.clone(), version: wrapped.kek_version });
        }
        let cipher = self.kek(wrapped.kek_version)?;
        if wrapped.bytes.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed("wrapped data key is too short"));
        }
        let (nonce, ciphertext) = wrapped.bytes.split_at(NONCE_LEN);
        let aad = Self::wrap_aad(&wrapped.kek_id, wrapped.kek_version, data_key_id);
        let plain = Zeroizing::new(
            cipher
                .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
                .map_err(|_| CryptoError::Authentication(format!("data_key {data_key_id}")))?,
        );
        KeyBytes::from_slice(&plain)
    }

    fn derive_secret(&self, purpose: &str) -> KeyBytes {
        let hkdf = Hkdf::<Sha256>::new(Some(b"clinic/hmac-root/v1"), self.hmac_root.expose());
        let mut okm = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        let _ = hkdf.expand(purpose.as_bytes(), okm.as_mut_slice());
        KeyBytes(okm)
    }

    fn audit_active_version(&self) -> u32 {
        self.audit.active()
    }

    fn audit_key(&self, version: u32, kind: AuditKeyKind) -> Result<KeyBytes, CryptoError> {
        match self.audit.key(version, kind)? {
            Some(key) => Ok(key),
            None => Ok(self.derive_secret(kind.legacy_purpose())),
        }
    }
}

impl fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("kek_id", &self.kek_id)
            .field("active", &self.active)
            .field("versions", &self.versions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_key_unwraps_under_its_version_only_for_its_own_id() {
        let ring = LocalKeyring::generate("test");
        let id = Uuid::new_v4();
        let key = KeyBytes::random();
        let wrapped = ring.wrap(id, &key).unwrap();
        assert_eq!(ring.unwrap(id, &wrapped).unwrap().expose(), key.expose());
        assert!(matches!(ring.unwrap(Uuid::new_v4(), &wrapped), Err(CryptoError::Authentication(_))));
    }

    #[test]
    fn key_material_round_trips_through_its_file_format() {
        let mut ring = LocalKeyring::generate("test");
        ring.add_version();
        let again = LocalKeyring::from_json(&ring.to_json()).unwrap();
        assert_eq!(again.active_version(), 2);
        assert_eq!(again.versions(), vec![1, 2]);
        assert_eq!(again.derive_secret("x").expose(), ring.derive_secret("x").expose());
    }

    #[test]
    fn an_unknown_kek_version_gives_a_clear_error() {
        let ring = LocalKeyring::generate("test");
        let wrapped = WrappedKey { kek_id: "test".into(), kek_version: 9, bytes: vec![0; 60] };
        let err = ring.unwrap(Uuid::new_v4(), &wrapped).unwrap_err();
        assert_eq!(err.to_string(), "key-encryption key test version 9 is not loaded");
    }

    #[test]
    fn broken_key_material_is_refused_without_echoing_it() {
        let err = LocalKeyring::from_json(
            r#"{"kek_id":"k","active_version":1,"versions":{"1":"c2hvcnQ="},"hmac_root":"c2hvcnQ="}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("32 bytes"));
        assert!(!err.to_string().contains("c2hvcnQ"));
    }
}
