//! The sealed value format and the one cipher that produces and opens it.
//!
//! ```text
//! [format version: 1 byte = 1][data key id: 16 bytes][nonce: 12 bytes][ciphertext || tag: n + 16]
//! ```
//! The associated data binds the value to its table, column and row, and to the header itself,
//! so a value copied to another row, column or patient fails to open. A value whose readers are
//! decided by clear columns of its row (a note's `released` flag, a thread's patient) is also
//! bound to those columns ([`FieldRef::bind`]): changing one by SQL makes the value fail to open
//! instead of opening for someone else. Bound values use a distinct associated-data prefix, so a
//! value sealed without bindings never opens where bindings are expected (old rows fail closed).

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use sea_orm::DeriveValueType;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::{CryptoError, KeyBytes};

const FORMAT_V1: u8 = 1;
const HEADER_LEN: usize = 1 + 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Sealed bytes as stored in a PHI column. Never `Serialize`: it leaves the server only as
/// plaintext in a DTO that a page is allowed to show.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct Sealed(pub Vec<u8>);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

impl Sealed {
    /// The data key this value was sealed under, read from its header.
    pub fn data_key_id(&self) -> Result<Uuid, CryptoError> {
        let bytes = &self.0;
        if bytes.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Malformed("sealed value is too short"));
        }
        if bytes[0] != FORMAT_V1 {
            return Err(CryptoError::UnsupportedFormat(bytes[0]));
        }
        let id: [u8; 16] = bytes[1..HEADER_LEN].try_into().map_err(|_| CryptoError::Malformed("bad header"))?;
        Ok(Uuid::from_bytes(id))
    }
}

// Only the 32 key bytes live as long as a data key (in `KeyBytes`, wiped on drop). The cipher is
// expanded for each seal or open and dropped at once: its AES key schedule is wiped on drop by
// the `zeroize` feature of `aes` (named in the workspace manifest; aes-gcm 0.10's own `zeroize`
// feature does not enable it), and `ghash`'s wipes its key temporaries. polyval 0.6's
// CPU-detecting backend keeps no drop hook, so the GHASH key of one operation is not wiped; it
// lives for that one operation only. This fails to compile if a manifest change drops the feature.
const _: () = {
    const fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    wiped_on_drop::<aes::Aes256>();
};

/// Where a value lives. Part of the associated data of every sealed value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldRef {
    pub table: &'static str,
    pub column: &'static str,
    pub row_id: Uuid,
    /// A digest of the clear columns bound with [`FieldRef::bind`], if any.
    bound: Option<[u8; 32]>,
}

impl FieldRef {
    pub fn new(table: &'static str, column: &'static str, row_id: Uuid) -> Self {
        Self { table, column, row_id, bound: None }
    }

    /// Binds one clear column of the row that decides who may read this value (or what it
    /// claims to be): the value then opens only while that column holds what it held when the
    /// value was sealed. Chain one call per column, in a fixed order.
    pub fn bind(self, column: &str, value: impl AsRef<[u8]>) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"clinic/bound-column/v1\0");
        if let Some(earlier) = self.bound {
            digest.update(earlier);
        }
        for part in [column.as_bytes(), value.as_ref()] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        Self { bound: Some(digest.finalize().into()), ..self }
    }

    fn aad(&self, header: &[u8]) -> Vec<u8> {
        let mut aad = match self.bound {
            None => b"clinic/field/v1\0".to_vec(),
            Some(_) => b"clinic/field/v2\0".to_vec(),
        };
        aad.extend_from_slice(self.table.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.column.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.row_id.as_bytes());
        if let Some(bound) = &self.bound {
            aad.extend_from_slice(bound);
        }
        aad.extend_from_slice(header);
        aad
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{} row {}", self.table, self.column, self.row_id)
    }
}

/// One patient's unwrapped data key, wiped on drop (see the note on the cipher above).
pub struct DataKey {
    id: Uuid,
    key: KeyBytes,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({})", self.id)
    }
}

impl DataKey {
    pub fn new(id: Uuid, key: &KeyBytes) -> Self {
        Self { id, key: key.clone() }
    }

    /// The expanded cipher for one operation; dropped (and its key schedule wiped) right after.
    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.key.expose()))
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn seal(&self, field: FieldRef, plaintext: &[u8]) -> Result<Sealed, CryptoError> {
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(FORMAT_V1);
        out.extend_from_slice(self.id.as_bytes());
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = field.aad(&out[..HEADER_LEN]);
        let ciphertext = self
            .cipher()
            .encrypt(&nonce, Payload { msg: plaintext, aad: &aad })
            .map_err(|_| CryptoError::Authentication(field.to_string()))?;
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(Sealed(out))
    }

    pub fn seal_str(&self, field: FieldRef, plaintext: &str) -> Result<Sealed, CryptoError> {
        self.seal(field, plaintext.as_bytes())
    }

    pub fn open(&self, field: FieldRef, sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let found = sealed.data_key_id()?;
        if found != self.id {
            return Err(CryptoError::WrongDataKey { expected: self.id, found });
        }
        let (header, rest) = sealed.0.split_at(HEADER_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = field.aad(header);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Authentication(field.to_string()))
    }

    pub fn open_string(&self, field: FieldRef, sealed: &Sealed) -> Result<String, CryptoError> {
        let bytes = self.open(field, sealed)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| CryptoError::NotUtf8(field.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::new(Uuid::new_v4(), &KeyBytes::random())
    }

    fn field() -> FieldRef {
        FieldRef::new("patient", "family_name", Uuid::new_v4())
    }

    #[test]
    fn a_sealed_value_opens_to_its_plaintext() {
        let (key, field) = (key(), field());
        let sealed = key.seal_str(field, "Quillfeather").unwrap();
        assert_eq!(key.open_string(field, &sealed).unwrap(), "Quillfeather");
        assert_eq!(sealed.data_key_id().unwrap(), key.id());
    }

    #[test]
    fn sealing_the_same_plaintext_twice_gives_different_values() {
        let (key, field) = (key(), field());
        let a = key.seal_str(field, "same").unwrap();
        let b = key.seal_str(field, "same").unwrap();
        assert_ne!(a, b);
        assert_ne!(a.0[HEADER_LEN..HEADER_LEN + NONCE_LEN], b.0[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
    }

    #[test]
    fn a_flipped_bit_anywhere_fails_to_open() {
        let (key, field) = (key(), field());
        let sealed = key.seal_str(field, "1970-01-01").unwrap();
        // Every bit of header, nonce, ciphertext and tag.
        for byte in 0..sealed.0.len() {
            for bit in 0..8 {
                let mut tampered = sealed.clone();
                tampered.0[byte] ^= 1 << bit;
                assert!(key.open(field, &tampered).is_err(), "bit {bit} of byte {byte} went unnoticed");
            }
        }
    }

    #[test]
    fn a_value_moved_to_another_row_or_column_fails_to_open() {
        let (key, field) = (key(), field());
        let sealed = key.seal_str(field, "555-0100").unwrap();
        let other_row = FieldRef { row_id: Uuid::new_v4(), ..field };
        let other_column = FieldRef { column: "given_name", ..field };
        let other_table = FieldRef { table: "user", ..field };
        for moved in [other_row, other_column, other_table] {
            assert!(matches!(key.open(moved, &sealed), Err(CryptoError::Authentication(_))));
        }
    }

    #[test]
    fn a_bound_value_opens_only_while_its_bound_columns_are_unchanged() {
        let (key, field) = (key(), field());
        let released = field.bind("kind", "note").bind("released", "t");
        let sealed = key.seal_str(released, "A note").unwrap();
        assert_eq!(key.open_string(released, &sealed).unwrap(), "A note");
        let flipped = field.bind("kind", "note").bind("released", "f");
        let other_kind = field.bind("kind", "vital").bind("released", "t");
        // Name/value boundaries count: "kind"+"note" is not "kin"+"dnote".
        let shifted = field.bind("kin", "dnote").bind("released", "t");
        let reordered = field.bind("released", "t").bind("kind", "note");
        for wrong in [flipped, other_kind, shifted, reordered, field.bind("kind", "note"), field] {
            assert!(matches!(key.open(wrong, &sealed), Err(CryptoError::Authentication(_))));
        }
    }

    #[test]
    fn a_value_sealed_without_bindings_does_not_open_where_bindings_are_expected() {
        let (key, field) = (key(), field());
        let old = key.seal_str(field, "sealed before bindings").unwrap();
        assert!(matches!(key.open(field.bind("released", "t"), &old), Err(CryptoError::Authentication(_))));
    }

    #[test]
    fn the_aes_key_schedule_and_the_key_bytes_are_wiped_on_drop() {
        // The same fact as the compile-time check above, reported by name when run as a test.
        #[allow(clippy::extra_unused_type_parameters)] // The bound is the check.
        fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() -> bool {
            true
        }
        assert!(wiped_on_drop::<aes::Aes256>());
        assert!(wiped_on_drop::<zeroize::Zeroizing<[u8; 32]>>());
    }

    #[test]
    fn a_value_moved_to_another_patient_names_the_wrong_key() {
        let (mine, theirs, field) = (key(), key(), field());
        let sealed = mine.seal_str(field, "x").unwrap();
        let err = theirs.open(field, &sealed).unwrap_err();
        assert!(matches!(err, CryptoError::WrongDataKey { .. }));
    }

    #[test]
    fn truncated_and_unknown_formats_are_refused_clearly() {
        let (key, field) = (key(), field());
        assert!(matches!(key.open(field, &Sealed(vec![1; 10])), Err(CryptoError::Malformed(_))));
        let mut sealed = key.seal_str(field, "x").unwrap();
        sealed.0[0] = 7;
        assert_eq!(key.open(field, &sealed).unwrap_err().to_string(), "sealed value uses unsupported format version 7");
    }

    #[test]
    fn debug_output_shows_no_bytes() {
        assert_eq!(format!("{:?}", Sealed(vec![1, 2, 3])), "Sealed(3 bytes)");
    }
}
