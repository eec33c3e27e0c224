//! Values a server function takes from the browser, parsed at the edge ("parse, don't
//! validate"): a date or time outside the years 1900 to 2200 never reaches date arithmetic
//! (chrono panics near its own limits, about year 262143), and text shown to other people
//! carries no control characters, bidirectional overrides or invisible characters that could
//! disguise it. A refusal names the rule, never the value.
//!
//! Both types serialize exactly as the chrono value they wrap, so the browser sends the same
//! JSON as before.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::codec::RULE_MARK;

/// The first and last years a date from the browser may fall in.
pub const FIRST_YEAR: i32 = 1900;
pub const LAST_YEAR: i32 = 2200;

const YEAR_RULE: &str = "must be between the years 1900 and 2200";

fn in_range(year: i32) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&year)
}

/// An instant (UTC) in the years 1900 to 2200.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Moment(DateTime<Utc>);

impl Moment {
    pub fn new(value: DateTime<Utc>) -> Result<Self, &'static str> {
        if in_range(value.year()) { Ok(Moment(value)) } else { Err(YEAR_RULE) }
    }

    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Moment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = DateTime::<Utc>::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom(format!("{RULE_MARK}must be a date and time in RFC 3339 form")))?;
        Moment::new(value).map_err(|rule| serde::de::Error::custom(format!("{RULE_MARK}{rule}")))
    }
}

/// The browser's callers build a `Moment` from a time they already hold; one out of range is
/// clamped to the edge of the range, where the server answers as for any other such date.
impl From<DateTime<Utc>> for Moment {
    fn from(value: DateTime<Utc>) -> Self {
        let first =
            NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).unwrap_or_default().and_time(Default::default()).and_utc();
        let last =
            NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).unwrap_or_default().and_time(Default::default()).and_utc();
        Moment(value.clamp(first, last))
    }
}

/// A calendar date in the years 1900 to 2200.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Day(NaiveDate);

impl Day {
    pub fn new(value: NaiveDate) -> Result<Self, &'static str> {
        if in_range(value.year()) { Ok(Day(value)) } else { Err(YEAR_RULE) }
    }

    pub fn get(self) -> NaiveDate {
        self.0
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = NaiveDate::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom(format!("{RULE_MARK}must be a date as YYYY-MM-DD")))?;
        Day::new(value).map_err(|rule| serde::de::Error::custom(format!("{RULE_MARK}{rule}")))
    }
}

impl From<NaiveDate> for Day {
    fn from(value: NaiveDate) -> Self {
        let first = NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).unwrap_or_default();
        let last = NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31).unwrap_or_default();
        Day(value.clamp(first, last))
    }
}

/// Parses `YYYY-MM-DD` typed into a form into a date in range.
pub fn parse_day(value: &str) -> Result<NaiveDate, &'static str> {
    let date = NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| "must be a date as YYYY-MM-DD")?;
    Day::new(date).map(Day::get)
}

/// Why a piece of text others will read is refused, if it is.
///
/// Refused: control characters (C0, DEL, C1; a line break only where `multiline`), the
/// bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069) and marks
/// (U+200E, U+200F, U+061C), and invisible characters (zero-width space, non-joiner and joiner,
/// word joiner, invisible operators U+2060..U+2064, the byte-order mark U+FEFF, soft hyphen,
/// and the Hangul and Mongolian fillers). A joiner is part of some emoji and scripts, but
/// names and subjects here do without.
pub fn text_problem(value: &str, multiline: bool) -> Option<&'static str> {
    for c in value.chars() {
        if c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')) {
            return Some("must not contain control characters");
        }
        if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}') {
            return Some("must not contain bidirectional control characters");
        }
        if matches!(
            c,
            '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{FEFF}'
                | '\u{00AD}'
                | '\u{180E}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
        ) {
            return Some("must not contain invisible characters");
        }
    }
    None
}

/// A single-line text others read (a display name, a message subject): trimmed, 1 to `max`
/// characters, none of the characters [`text_problem`] refuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayText(String);

impl DisplayText {
    pub fn parse(value: &str, max: usize) -> Result<Self, &'static str> {
        let value = value.trim();
        if value.is_empty() {
            return Err("is required");
        }
        if value.chars().count() > max {
            return Err("is too long");
        }
        if let Some(problem) = text_problem(value, false) {
            return Err(problem);
        }
        Ok(DisplayText(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moment(json: &str) -> Result<Moment, String> {
        serde_json::from_str::<Moment>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_moment_in_range_reads_and_writes_as_plain_rfc3339() {
        let got = moment(r#""2026-12-01T09:30:00Z""#).map(|m| serde_json::to_string(&m).unwrap_or_default());
        assert_eq!(got.as_deref(), Ok(r#""2026-12-01T09:30:00Z""#));
    }

    #[test]
    fn moments_at_chronos_limits_are_refused_by_rule() {
        for extreme in [r#""-262143-01-01T00:00:00Z""#, r#""+262142-12-20T00:00:00Z""#, r#""1899-12-31T23:59:59Z""#] {
            let err = moment(extreme).expect_err(extreme);
            assert!(err.starts_with("rule: must be between the years 1900 and 2200"), "{err}");
        }
        assert!(moment(r#""1900-01-01T00:00:00Z""#).is_ok());
        assert!(moment(r#""2200-12-31T23:59:59Z""#).is_ok());
    }

    #[test]
    fn impossible_dates_are_refused_without_quoting_them() {
        for bad in [r#""0000-00-00""#, r#""2026-13-01""#, r#""2026-02-30""#, r#""+262142-12-20""#, "17"] {
            let err = serde_json::from_str::<Day>(bad).expect_err(bad).to_string();
            assert!(err.starts_with("rule: "), "{err}");
            assert!(!err.contains("2026") && !err.contains("262142"), "{err}");
        }
        assert_eq!(parse_day("0000-00-00"), Err("must be a date as YYYY-MM-DD"));
        assert_eq!(parse_day("1850-01-01"), Err("must be between the years 1900 and 2200"));
        assert_eq!(parse_day(" 1984-02-29 ").map(|d| d.to_string()), Ok("1984-02-29".to_owned()));
    }

    #[test]
    fn a_moment_built_in_the_browser_is_clamped_into_range() {
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(Moment::from(far).get().to_rfc3339(), "2200-12-31T00:00:00+00:00");
    }

    #[test]
    fn display_text_refuses_bidi_overrides_zero_width_and_control_characters() {
        let cases = [
            ("Dr. \u{202E}nivlaC", Err("must not contain bidirectional control characters")),
            ("Ann\u{2067}a", Err("must not contain bidirectional control characters")),
            ("Dr.\u{200F} Lee", Err("must not contain bidirectional control characters")),
            ("Ad\u{200B}min", Err("must not contain invisible characters")),
            ("Ad\u{200D}min", Err("must not contain invisible characters")),
            ("\u{FEFF}Clinic", Err("must not contain invisible characters")),
            ("Line\nbreak", Err("must not contain control characters")),
            ("Bell\u{7}", Err("must not contain control characters")),
            ("C1\u{85}mid", Err("must not contain control characters")),
            ("   ", Err("is required")),
            ("  Dr. Zoë Ñúñez  ", Ok("Dr. Zoë Ñúñez")),
            ("李小龙", Ok("李小龙")),
        ];
        for (input, expected) in cases {
            let got = DisplayText::parse(input, 80);
            assert_eq!(got.as_ref().map(DisplayText::as_str).map_err(|e| *e), expected, "{input:?}");
        }
        assert_eq!(DisplayText::parse(&"x".repeat(81), 80), Err("is too long"));
    }

    #[test]
    fn multiline_text_keeps_line_breaks_and_still_refuses_overrides() {
        assert_eq!(text_problem("first line\nsecond\tline", true), None);
        assert_eq!(text_problem("hi\u{202D}", true), Some("must not contain bidirectional control characters"));
        assert_eq!(text_problem("nul\u{0}", true), Some("must not contain control characters"));
    }
}
