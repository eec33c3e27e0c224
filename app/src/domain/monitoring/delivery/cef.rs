//! ArcSight Common Event Format (CEF rev. 25), the body of the syslog messages, so Splunk,
//! QRadar, Wazuh and rsyslog parse an alert without a custom parser:
//! `CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`.
//!
//! Header fields escape `\` and `|`; extension values escape `\` and `=` and turn line breaks
//! into `\n` / `\r` (the spec's rules; a value never ends a field early).

use super::AlertFacts;
use crate::domain::monitoring::Severity;

/// The most ids of one kind a message lists; the counts (`cn1`, `cn2`) are always exact and the
/// link leads to the rest. Keeps a message well under a UDP datagram.
pub const LIST_LIMIT: usize = 50;

pub fn escape_header(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

pub fn escape_extension(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// CEF severity 0-10.
pub fn severity(severity: Severity) -> u8 {
    match severity {
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
        Severity::Critical => 10,
    }
}

/// Who the device is, in the CEF header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub vendor: String,
    pub product: String,
    pub version: String,
}

/// The CEF event of `alert`: ids, counts and times only.
pub fn event(device: &Device, alert: &AlertFacts) -> String {
    let millis = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp_millis().to_string());
    let list = |items: Vec<String>| items.into_iter().take(LIST_LIMIT).collect::<Vec<_>>().join(",");
    let mut ext: Vec<(&str, String)> = vec![
        ("rt", alert.created_at.timestamp_millis().to_string()),
        ("externalId", alert.id.to_string()),
        ("cs1Label", "alertId".to_owned()),
        ("cs1", alert.id.to_string()),
    ];
    if let Some(actor) = alert.actor {
        ext.push(("suser", actor.to_string()));
    }
    if let Some(observed) = alert.observed {
        ext.push(("cnt", observed.to_string()));
    }
    if let Some(start) = millis(alert.window_start) {
        ext.push(("start", start));
    }
    if let Some(end) = millis(alert.window_end) {
        ext.push(("end", end));
    }
    ext.extend([
        ("cs2Label", "patientIds".to_owned()),
        ("cs2", list(alert.patients.iter().map(ToString::to_string).collect())),
        ("cs3Label", "auditSeqs".to_owned()),
        ("cs3", list(alert.seqs.iter().map(ToString::to_string).collect())),
        ("cn1Label", "patientCount".to_owned()),
        ("cn1", alert.patients.len().to_string()),
        ("cn2Label", "auditRowCount".to_owned()),
        ("cn2", alert.seqs.len().to_string()),
        ("cs4Label", "link".to_owned()),
        ("cs4", alert.link.clone()),
    ]);
    let extension: Vec<String> = ext.into_iter().map(|(k, v)| format!("{k}={}", escape_extension(&v))).collect();
    format!(
        "CEF:0|{}|{}|{}|{}|{}|{}|{}",
        escape_header(&device.vendor),
        escape_header(&device.product),
        escape_header(&device.version),
        escape_header(&alert.rule),
        escape_header(&format!("Security alert: {}", alert.rule)),
        severity(alert.severity),
        extension.join(" ")
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::*;

    #[test]
    fn header_fields_escape_pipes_and_backslashes() {
        assert_eq!(escape_header(r"a|b\c=d"), r"a\|b\\c=d");
        assert_eq!(escape_header("two\nlines"), "two lines");
    }

    #[test]
    fn extension_values_escape_equals_backslashes_and_line_breaks_but_not_pipes() {
        assert_eq!(escape_extension(r"a=b\c|d"), r"a\=b\\c|d");
        assert_eq!(escape_extension("x\r\ny"), r"x\r\ny");
    }

    #[test]
    fn an_event_carries_ids_counts_and_times_in_order() {
        let id = Uuid::parse_str("0192f0c0-0000-7000-8000-000000000001").unwrap();
        let actor = Uuid::parse_str("0192f0c0-0000-7000-8000-0000000000aa").unwrap();
        let patient = Uuid::parse_str("0192f0c0-0000-7000-8000-0000000000bb").unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let alert = AlertFacts {
            id,
            rule: "bulk|access".into(),
            severity: Severity::High,
            actor: Some(actor),
            patients: vec![patient],
            window_start: Some(at),
            window_end: Some(at + chrono::Duration::minutes(10)),
            observed: Some(31),
            seqs: vec![7, 8],
            created_at: at,
            link: "https://clinic.test/security/alerts/x?a=b".into(),
        };
        let device = Device { vendor: "Clinic".into(), product: "clinic".into(), version: "0.1.0".into() };
        assert_eq!(
            event(&device, &alert),
            "CEF:0|Clinic|clinic|0.1.0|bulk\\|access|Security alert: bulk\\|access|8|\
             rt=1796115600000 externalId=0192f0c0-0000-7000-8000-000000000001 \
             cs1Label=alertId cs1=0192f0c0-0000-7000-8000-000000000001 \
             suser=0192f0c0-0000-7000-8000-0000000000aa cnt=31 start=1796115600000 end=1796116200000 \
             cs2Label=patientIds cs2=0192f0c0-0000-7000-8000-0000000000bb cs3Label=auditSeqs cs3=7,8 \
             cn1Label=patientCount cn1=1 cn2Label=auditRowCount cn2=2 \
             cs4Label=link cs4=https://clinic.test/security/alerts/x?a\\=b"
        );
    }
}
