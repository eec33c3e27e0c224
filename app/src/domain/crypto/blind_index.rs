//! Blind indexes: HMAC-SHA256 over a normalized value, under a key derived for that one column,
//! so equal values can be found without storing or comparing plaintext, and an index value from
//! one column says nothing about another (the CipherSweet idea).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{KekProvider, KeyBytes};

pub struct BlindIndexer {
    root: KeyBytes,
}

impl std::fmt::Debug for BlindIndexer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndexer(<redacted>)")
    }
}

impl BlindIndexer {
    pub fn new(provider: &dyn KekProvider) -> Self {
        Self { root: provider.derive_secret("blind-index/v1") }
    }

    /// The index of an already-normalized value in `table.column`.
    pub fn index(&self, table: &str, column: &str, normalized: &str) -> Vec<u8> {
        let column_key = {
            let mut mac = Hmac::<Sha256>::new_from_slice(self.root.expose()).expect("HMAC accepts any key length");
            mac.update(table.as_bytes());
            mac.update(b".");
            mac.update(column.as_bytes());
            mac.finalize().into_bytes()
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&column_key).expect("HMAC accepts any key length");
        mac.update(normalized.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// Case-folded, trimmed, inner whitespace collapsed: "  Ada   LOVELACE " and "ada lovelace" match.
pub fn normalize_text(value: &str) -> String {
    value.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ")
}

/// Digits only: "(555) 010-0100" and "5550100100" match.
pub fn normalize_digits(value: &str) -> String {
    value.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::crypto::LocalKeyring;

    #[test]
    fn equal_normalized_values_share_an_index_and_columns_do_not() {
        let ring = LocalKeyring::generate("test");
        let indexer = BlindIndexer::new(&ring);
        let a = indexer.index("patient", "name", &normalize_text("  Ada   LOVELACE "));
        let b = indexer.index("patient", "name", &normalize_text("ada lovelace"));
        assert_eq!(a, b);
        assert_ne!(a, indexer.index("patient", "mrn", &normalize_text("ada lovelace")));
        assert_eq!(normalize_digits("(555) 010-0100"), "5550100100");
    }
}
