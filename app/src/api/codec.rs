//! The JSON encoding of every server function: `serde_json`, as server_fn's own `Json`, except
//! that a body that fails to decode is reported by the field it failed at and the kind of
//! failure, never with serde's text (which quotes the value: "invalid value: integer `70000`").
//!
//! server_fn carries a decoding failure to [`AppError`](crate::AppError) only as a string, so
//! the failure travels as a small JSON document behind a marker; `AppError::from_server_fn_error`
//! reads it back, sets the HTTP status (400 for a body that is not JSON, 422 for a field of the
//! wrong type or out of range) and answers with the field's name only.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// `input = Json` for every server function in this crate.
pub type Json = Post<StrictJson>;

/// JSON with field-named, value-free decoding errors.
pub struct StrictJson;

impl ContentType for StrictJson {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for StrictJson {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for StrictJson {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(output).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for StrictJson {
    type Error = DecodeFailure;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(DecodeFailure::from_path_error)?;
        deserializer.end().map_err(|_| DecodeFailure::malformed())?;
        Ok(value)
    }
}

/// Prefix of a custom deserialization message written by this crate's input types (such as
/// [`Moment`](super::input::Moment)): such a message names a rule, never the value, and may be
/// shown as it is.
pub const RULE_MARK: &str = "rule: ";

/// Marks a [`DecodeFailure`] inside server_fn's error string.
const MARK: &str = "clinic-decode:";

/// Why a request body did not decode: `field` is a path such as `form.birth_date` or
/// `blocks[2].weekday` (None for the body as a whole).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeFailure {
    /// 400 (not JSON) or 422 (a field is wrong).
    pub status: u16,
    pub field: Option<String>,
    pub message: String,
}

impl DecodeFailure {
    fn malformed() -> Self {
        DecodeFailure { status: 400, field: None, message: "the request body is not valid JSON".to_owned() }
    }

    fn from_path_error(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        use serde_json::error::Category;
        let inner = err.inner();
        match inner.classify() {
            Category::Syntax | Category::Io => DecodeFailure::malformed(),
            Category::Eof => {
                DecodeFailure { status: 400, field: None, message: "the request body is incomplete JSON".to_owned() }
            }
            Category::Data => {
                let path = field_path(err.path());
                let text = inner.to_string();
                let text = text.split(" at line ").next().unwrap_or_default();
                let (field, message) = if let Some(rule) = text.strip_prefix(RULE_MARK) {
                    (path, rule.to_owned())
                } else if let Some(missing) = missing_field(text) {
                    (Some(join(path, &missing)), "is required".to_owned())
                } else {
                    (path, "has the wrong type or is out of range".to_owned())
                };
                DecodeFailure { status: 422, field, message }
            }
        }
    }

    /// Reads a failure back from server_fn's error string, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        let start = text.find(MARK)? + MARK.len();
        serde_json::from_str(&text[start..]).ok()
    }
}

impl std::fmt::Display for DecodeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        write!(f, "{MARK}{json}")
    }
}

/// `serde`'s "missing field `name`" names a field of our own types, never input.
fn missing_field(text: &str) -> Option<String> {
    let name = text.strip_prefix("missing field `")?.strip_suffix('`')?;
    is_identifier(name).then(|| name.to_owned())
}

fn join(path: Option<String>, field: &str) -> String {
    match path {
        Some(path) => format!("{path}.{field}"),
        None => field.to_owned(),
    }
}

/// The path as field names and indices. A map key is input only for a map-typed field (a
/// struct's keys that fail are its own field names, since unknown keys are ignored), so a key
/// that does not look like a field name is written as `?`.
fn field_path(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if is_identifier(key) { key.as_str() } else { "?" });
            }
            Segment::Unknown => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Args {
        count: u16,
        version: i32,
        blocks: Vec<Block>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Block {
        weekday: u8,
    }

    fn failure(body: &[u8]) -> DecodeFailure {
        match <StrictJson as Decodes<Args>>::decode(Bytes::copy_from_slice(body)) {
            Ok(args) => panic!("decoded {args:?}"),
            Err(failure) => failure,
        }
    }

    #[test]
    fn a_number_out_of_range_names_the_field_and_not_the_value() {
        let got = failure(br#"{"count":70000,"version":1,"blocks":[]}"#);
        assert_eq!(
            got,
            DecodeFailure {
                status: 422,
                field: Some("count".to_owned()),
                message: "has the wrong type or is out of range".to_owned()
            }
        );
    }

    #[test]
    fn a_wrong_type_inside_a_list_names_its_path() {
        let got = failure(br#"{"count":1,"version":1,"blocks":[{"weekday":1},{"weekday":"Mon"}]}"#);
        assert_eq!(got.field.as_deref(), Some("blocks[1].weekday"));
        assert_eq!(got.status, 422);
    }

    #[test]
    fn an_i32_past_its_maximum_is_refused() {
        let got = failure(br#"{"count":1,"version":2147483648,"blocks":[]}"#);
        assert_eq!(got.field.as_deref(), Some("version"));
    }

    #[test]
    fn a_missing_field_is_named() {
        let got = failure(br#"{"count":1,"blocks":[]}"#);
        assert_eq!(
            got,
            DecodeFailure { status: 422, field: Some("version".to_owned()), message: "is required".to_owned() }
        );
    }

    #[test]
    fn malformed_truncated_and_non_utf8_bodies_are_bad_requests() {
        assert_eq!(failure(b"{count: 1}").status, 400);
        assert_eq!(failure(br#"{"count":1,"vers"#).message, "the request body is incomplete JSON");
        assert_eq!(failure(b"{\"count\":1,\"version\":1,\"blocks\":[]} trailing").status, 400);
        assert_eq!(failure(b"count=1&version=2").field, None);
    }

    #[test]
    fn invalid_utf8_in_a_string_is_a_bad_request() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Named {
            name: String,
        }
        let got = <StrictJson as Decodes<Named>>::decode(Bytes::from_static(b"{\"name\":\"\xff\xfe\"}"));
        assert_eq!(got.map_err(|f| f.status).err(), Some(400));
    }

    #[test]
    fn a_failure_survives_the_trip_through_server_fn_s_error_string() {
        let sent = DecodeFailure { status: 422, field: Some("from".to_owned()), message: "is required".to_owned() };
        let text = format!("error deserializing server function arguments: {sent}");
        assert_eq!(DecodeFailure::parse(&text), Some(sent));
        assert_eq!(DecodeFailure::parse("invalid value: integer `70000`"), None);
    }
}
