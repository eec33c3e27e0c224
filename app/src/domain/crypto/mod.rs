//! The one place PHI is sealed and opened (45 CFR 164.312(a)(2)(iv), (e)(2)(ii)).
//!
//! Envelope encryption: every patient has a data key; each PHI value is sealed with AES-256-GCM
//! under it, with a fresh 96-bit nonce and the table, column and row id as associated data.
//! Data keys are stored only wrapped by a key-encryption key (KEK) from a [`KekProvider`].
//! Rotating a KEK re-wraps data keys and touches no PHI; destroying one data key makes one
//! patient's data unreadable (crypto-shredding). Equality search goes through keyed blind
//! indexes, never through plaintext.

mod audit_keys;
mod blind_index;
mod data_keys;
mod keyring;
mod sealed;

pub use audit_keys::AuditKeyKind;
pub use blind_index::{BlindIndexer, normalize_digits, normalize_phone, normalize_text};
pub use data_keys::DataKeys;
pub use keyring::{KekProvider, KeyBytes, LocalKeyring, WrappedKey};
pub use sealed::{DataKey, FieldRef, Sealed};

use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed value is malformed: {0}")]
    Malformed(&'static str),
    #[error("sealed value uses unsupported format version {0}")]
    UnsupportedFormat(u8),
    #[error("data key {0} is not known")]
    UnknownDataKey(Uuid),
    #[error("data key {0} has been destroyed")]
    DestroyedDataKey(Uuid),
    #[error("key-encryption key {kek_id} version {version} is not loaded")]
    UnknownKek { kek_id: String, version: u32 },
    #[error("sealed value belongs to data key {found}, not {expected}")]
    WrongDataKey { expected: Uuid, found: Uuid },
    #[error("authentication failed for {0}: the value was altered or belongs elsewhere")]
    Authentication(String),
    #[error("audit key version {0} is not loaded")]
    UnknownAuditKey(u32),
    #[error("key material is invalid: {0}")]
    KeyMaterial(String),
    #[error("plaintext is not valid UTF-8 for {0}")]
    NotUtf8(String),
}
