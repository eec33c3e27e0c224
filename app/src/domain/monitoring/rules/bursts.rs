//! Counting rules over a sliding window ("5 failed sign-ins for one account in 15 minutes"),
//! shared by the sign-in and break-glass rules.
//!
//! A burst is reported at the row that completes it: the first row, in time order, whose
//! trailing window (the rows of the same key in `(row - window, row]`) reaches the threshold,
//! and is reported again at `critical_at`, as a critical finding of its own. While a reported
//! burst is still inside the window (its last row is less than one window before the row being
//! looked at) later rows of the same key belong to it and raise nothing new, so a sustained
//! attack raises one alert per window length, not one per row. Earlier findings are read back
//! from `security_alert`, so the result does not depend on where one run ended and the next
//! began, and scanning the same rows twice raises nothing new.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::entities::security_alert;
use crate::domain::ids::{PatientId, UserId};
use crate::domain::monitoring::{NewAlert, Severity};

/// One audit row as a counting rule sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// What is counted per: an account id, an address, a clinician id.
    pub key: String,
    /// How many occurrences the row stands for (a summary row of suppressed anonymous calls
    /// stands for many).
    pub weight: i64,
    /// For rules that count distinct things (accounts tried from one address): which one.
    pub member: Option<String>,
    pub patient: Option<PatientId>,
}

/// What is measured over a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Measure {
    /// The sum of the rows' weights.
    Occurrences,
    /// The number of distinct members.
    DistinctMembers,
}

/// How a burst becomes an alert: the rule's name and who the alert is about.
pub(crate) struct Shape<'a> {
    pub rule: &'a str,
    pub measure: Measure,
    /// The actor named by the alert, from the burst's key (None: the key is no account).
    pub actor: &'a (dyn Fn(&str) -> Option<UserId> + Sync),
}

/// The bursts completed by rows new to `scan`. `events` holds the new rows and, for context,
/// the rows up to one window before the earliest of them.
pub(crate) async fn findings(
    db: &DatabaseConnection,
    scan: &Scan,
    shape: &Shape<'_>,
    mut events: Vec<Event>,
) -> Result<Vec<NewAlert>, Error> {
    let settings = &scan.settings;
    let Some(earliest_new) = events.iter().filter(|e| e.seq > scan.after_seq).map(|e| e.at).min() else {
        return Ok(Vec::new());
    };
    events.sort_by_key(|e| (e.at, e.seq));
    let mut reported = reported_since(db, shape.rule, earliest_new - settings.window).await?;
    let mut by_key: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in &events {
        by_key.entry(event.key.as_str()).or_default().push(event);
    }
    let mut out = Vec::new();
    for (key, rows) in by_key {
        for (i, row) in rows.iter().enumerate() {
            if row.seq <= scan.after_seq {
                continue;
            }
            let start = rows[..=i].partition_point(|e| e.at <= row.at - settings.window);
            let window = &rows[start..=i];
            let observed = measure(shape.measure, window);
            let Some(severity) = level(settings, observed) else { continue };
            let critical = severity == Severity::Critical;
            let last = reported.get(&(key.to_owned(), critical)).copied();
            if last.is_some_and(|end| end > row.at - settings.window) {
                continue;
            }
            reported.insert((key.to_owned(), critical), row.at);
            if critical {
                // A critical burst is also a reported one: no lesser alert for the same rows.
                reported.insert((key.to_owned(), false), row.at);
            }
            let patients: BTreeSet<PatientId> = window.iter().filter_map(|e| e.patient).collect();
            out.push(NewAlert {
                rule: shape.rule.to_owned(),
                severity,
                actor: (shape.actor)(key),
                patients: patients.into_iter().collect(),
                window_start: window[0].at,
                window_end: row.at,
                observed: Some(observed),
                seqs: window.iter().map(|e| e.seq).collect(),
                dedup: dedup(key, critical, window[0].seq),
                subject_id: None,
            });
        }
    }
    Ok(out)
}

fn measure(measure: Measure, window: &[&Event]) -> i64 {
    match measure {
        Measure::Occurrences => window.iter().map(|e| e.weight).sum(),
        Measure::DistinctMembers => {
            window.iter().filter_map(|e| e.member.as_deref()).collect::<BTreeSet<_>>().len() as i64
        }
    }
}

/// The severity a measured value reaches, if it reaches the threshold at all.
fn level(settings: &RuleSettings, observed: i64) -> Option<Severity> {
    if settings.critical_at.is_some_and(|at| observed >= at) {
        Some(Severity::Critical)
    } else if observed >= settings.threshold {
        Some(settings.severity)
    } else {
        None
    }
}

/// `<key>|<level>|<first seq>`: `|` never occurs in an account id or an address (IPv6 has `:`).
fn dedup(key: &str, critical: bool, first_seq: i64) -> String {
    format!("{key}|{}|{first_seq}", if critical { "critical" } else { "threshold" })
}

/// The last reported burst per key and level among this rule's alerts whose window ended after
/// `since`.
async fn reported_since(
    db: &DatabaseConnection,
    rule: &str,
    since: DateTime<Utc>,
) -> Result<HashMap<(String, bool), DateTime<Utc>>, Error> {
    let rows = security_alert::Entity::find()
        .filter(security_alert::Column::Kind.eq(rule))
        .filter(security_alert::Column::WindowEnd.gt(since))
        .all(db)
        .await?;
    let prefix = format!("{rule}:");
    let mut out: HashMap<(String, bool), DateTime<Utc>> = HashMap::new();
    for row in rows {
        let (Some(key), Some(end)) = (row.dedup_key.as_deref(), row.window_end) else { continue };
        let Some(rest) = key.strip_prefix(&prefix) else { continue };
        let mut parts = rest.rsplitn(3, '|');
        let (Some(_seq), Some(level), Some(key)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let slot = out.entry((key.to_owned(), level == "critical")).or_insert(end);
        *slot = (*slot).max(end);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn settings(threshold: i64, critical_at: Option<i64>) -> RuleSettings {
        RuleSettings {
            enabled: true,
            threshold,
            window: Duration::minutes(15),
            severity: Severity::Medium,
            critical_at,
        }
    }

    #[test]
    fn the_level_is_the_highest_reached() {
        assert_eq!(level(&settings(5, Some(15)), 4), None);
        assert_eq!(level(&settings(5, Some(15)), 5), Some(Severity::Medium));
        assert_eq!(level(&settings(5, Some(15)), 15), Some(Severity::Critical));
        assert_eq!(level(&settings(5, None), 500), Some(Severity::Medium));
    }

    #[test]
    fn a_dedup_key_keeps_an_ipv6_address_whole() {
        assert_eq!(dedup("2001:db8::1", false, 42), "2001:db8::1|threshold|42");
    }
}
