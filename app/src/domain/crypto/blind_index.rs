//! Blind indexes: HMAC-SHA256 over a normalized value, under a key derived for that one column,
//! so equal values can be found without storing or comparing plaintext, and an index value from
//! one column says nothing about another (the CipherSweet idea).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use unicode_normalization::UnicodeNormalization;

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

/// The form a typed name or identifier is indexed under, so that every way of typing the same
/// text finds it (Unicode Standard Annex #15 and Chapter 3.13, "compatibility caseless match"):
/// NFKC (composed and decomposed accents, full-width letters and ligatures become one form),
/// full case folding ("Straße" and "STRASSE" match), NFKC again (folding can undo it), then
/// trimmed with inner whitespace collapsed: "  Ada   LOVELACE " and "ada lovelace" match.
pub fn normalize_text(value: &str) -> String {
    let composed: String = value.nfkc().collect();
    let folded: String = caseless::default_case_fold_str(&composed).nfkc().collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Digits only: "123-45-6789" and "123456789" match. For identifiers that are plain digit
/// strings; phone numbers go through [`normalize_phone`].
pub fn normalize_digits(value: &str) -> String {
    value.chars().filter(char::is_ascii_digit).collect()
}

/// A phone number in E.164 form, "+" then country code and number, with North America (+1) as
/// the default region: the clinic's patients dial there, and a number typed without a country
/// code is read as a NANP number. A number typed with "+", or with the international dialing
/// prefix "011" (NANP) or "00" (most other regions), keeps the country code typed. So
/// "(555) 010-0100", "555.010.0100", "1 555 010 0100", "+1 555 010 0100" and
/// "011 1 555 010 0100" all give "+15550100100". Any other number (a short local number) is kept
/// as its digits after "+", unchanged: it still matches itself however it is punctuated.
pub fn normalize_phone(value: &str) -> String {
    let value: String = value.nfkc().collect();
    let digits = normalize_digits(&value);
    let international = value.trim_start().starts_with('+');
    let national = if international {
        digits.as_str()
    } else if let Some(rest) = digits.strip_prefix("011").or_else(|| digits.strip_prefix("00")) {
        rest
    } else if digits.len() == 10 {
        return format!("+1{digits}");
    } else {
        digits.as_str()
    };
    format!("+{national}")
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
        assert_eq!(normalize_digits("123-45-6789"), "123456789");
    }

    #[test]
    fn names_typed_with_decomposed_or_composed_accents_normalize_alike() {
        // "Zoë Ångström" typed precomposed (NFC) and with combining marks (NFD).
        let nfc = "Zo\u{00EB} \u{00C5}ngstr\u{00F6}m";
        let nfd = "Zoe\u{0308} A\u{030A}ngstro\u{0308}m";
        assert_ne!(nfc, nfd);
        assert_eq!(normalize_text(nfc), "zo\u{00EB} \u{00E5}ngstr\u{00F6}m");
        assert_eq!(normalize_text(nfd), "zo\u{00EB} \u{00E5}ngstr\u{00F6}m");
    }

    #[test]
    fn case_folding_and_compatibility_forms_reach_one_spelling() {
        assert_eq!(normalize_text("STRASSE"), "strasse");
        assert_eq!(normalize_text("Stra\u{00DF}e"), "strasse");
        assert_eq!(normalize_text("\u{FF21}\u{FF44}\u{FF41}"), "ada"); // full-width "Ada"
        assert_eq!(normalize_text("\u{FB01}nley"), "finley"); // the "fi" ligature
        assert_eq!(
            normalize_text("\u{039F}\u{0394}\u{03A5}\u{03A3}\u{03A3}\u{0395}\u{03A5}\u{03A3}"),
            "\u{03BF}\u{03B4}\u{03C5}\u{03C3}\u{03C3}\u{03B5}\u{03C5}\u{03C3}"
        );
        // The same name in lower case ends in a final sigma, which folds to the same letter.
        assert_eq!(
            normalize_text("\u{03BF}\u{03B4}\u{03C5}\u{03C3}\u{03C3}\u{03B5}\u{03C5}\u{03C2}"),
            "\u{03BF}\u{03B4}\u{03C5}\u{03C3}\u{03C3}\u{03B5}\u{03C5}\u{03C3}"
        );
        assert_eq!(normalize_text("  Ada \t\u{00A0} LOVELACE "), "ada lovelace");
    }

    #[test]
    fn phone_numbers_normalize_to_e164_with_north_america_as_the_default_region() {
        for typed in [
            "(555) 010-0100",
            "555.010.0100",
            "5550100100",
            "1 555 010 0100",
            "+1 (555) 010-0100",
            "011 1 555 010 0100",
        ] {
            assert_eq!(normalize_phone(typed), "+15550100100", "{typed}");
        }
        assert_eq!(normalize_phone("+44 20 7946 0958"), "+442079460958");
        assert_eq!(normalize_phone("0044 20 7946 0958"), "+442079460958");
        assert_eq!(normalize_phone("555-0100"), "+5550100");
        assert_eq!(normalize_phone("\u{FF15}\u{FF15}\u{FF15}-0100"), "+5550100"); // full-width digits
    }
}
