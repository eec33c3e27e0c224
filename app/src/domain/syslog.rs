//! The syslog message format (RFC 5424 section 6) and its TCP framing (RFC 6587 octet
//! counting), shared by the audit checkpoints and the security alerts, so both write the same
//! header the same way.

use chrono::{DateTime, Utc};

/// Facility 10: security and authorization messages (RFC 5424 table 1).
pub const FACILITY_AUTHPRIV: u8 = 10;
/// Facility 13: log audit.
pub const FACILITY_LOG_AUDIT: u8 = 13;

/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`, with no structured data. `app_name`
/// and `msgid` are the caller's constants (printable ASCII, no spaces).
pub fn message(facility: u8, severity: u8, at: DateTime<Utc>, app_name: &str, msgid: &str, msg: &str) -> String {
    let pri = u16::from(facility) * 8 + u16::from(severity.min(7));
    let timestamp = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    format!("<{pri}>1 {timestamp} {} {app_name} {} {msgid} - {msg}", hostname(), std::process::id())
}

/// RFC 6587 section 3.4.1: `MSG-LEN SP SYSLOG-MSG`, the length in bytes.
pub fn octet_counted(message: &str) -> String {
    format!("{} {message}", message.len())
}

/// This host's name as RFC 5424 allows it (printable ASCII, at most 255), or `-`.
pub fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name: String = name.trim().chars().filter(|c| c.is_ascii_graphic()).take(255).collect();
    if name.is_empty() { "-".to_owned() } else { name }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_header_has_the_priority_version_time_and_names_in_order() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap();
        let line = message(FACILITY_AUTHPRIV, 2, at, "clinic", "security-alert", "hello");
        let fields: Vec<&str> = line.splitn(8, ' ').collect();
        assert_eq!(fields[0], "<82>1");
        assert_eq!(fields[1], "2026-12-01T09:30:00.000000Z");
        assert_eq!(fields[3], "clinic");
        assert_eq!(fields[4], std::process::id().to_string());
        assert_eq!(fields[5], "security-alert");
        assert_eq!(fields[6], "-");
        assert_eq!(fields[7], "hello");
        assert_eq!(octet_counted("<82>1 é"), "8 <82>1 é");
    }
}
