//! What the access rules share: loading the audit rows a rule looks at (the rows new to this run
//! and, for context, the window before the first of them), and finding a count that reaches a
//! threshold inside a sliding window, one actor at a time.
//!
//! A sliding finding is raised at the row that completes it (only a row new to this run can),
//! and an actor already alerted for an overlapping window is not alerted again at the same
//! severity: a burst that goes on raises one alert per window of activity, not one per row.
//! Reaching `critical_at` inside the same burst raises one more alert, at `Critical`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::entities::{audit_event, security_alert};
use crate::domain::ids::{PatientId, UserId};
use crate::domain::monitoring::{NewAlert, Severity};

/// One audit row, as much of it as a rule reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<Uuid>,
    pub patient: Option<Uuid>,
    pub resource_id: Option<String>,
}

type Row = (i64, DateTime<Utc>, Option<Uuid>, Option<Uuid>, Option<String>);

fn select(condition: Condition) -> sea_orm::Selector<sea_orm::SelectGetableTuple<Row>> {
    audit_event::Entity::find()
        .filter(condition)
        .select_only()
        .columns([
            audit_event::Column::Seq,
            audit_event::Column::OccurredAt,
            audit_event::Column::ActorUserId,
            audit_event::Column::PatientId,
            audit_event::Column::ResourceId,
        ])
        .order_by_asc(audit_event::Column::Seq)
        .into_tuple::<Row>()
}

fn event((seq, at, actor, patient, resource_id): Row) -> Event {
    Event { seq, at, actor, patient, resource_id }
}

/// The rows matching `condition` that are new to this run: `after_seq < seq <= up_to_seq`.
pub async fn new_rows(db: &DatabaseConnection, scan: &Scan, condition: Condition) -> Result<Vec<Event>, Error> {
    let condition =
        condition.add(audit_event::Column::Seq.gt(scan.after_seq)).add(audit_event::Column::Seq.lte(scan.up_to_seq));
    Ok(select(condition).all(db).await?.into_iter().map(event).collect())
}

/// The rows matching `condition` up to `up_to_seq` that a sliding window ending at a new row can
/// reach: the new rows, and those within `settings.window` before the first of them. The second
/// value is where that look-back starts (None: no new row, nothing to do).
pub async fn window_rows(
    db: &DatabaseConnection,
    scan: &Scan,
    condition: Condition,
) -> Result<(Vec<Event>, Option<DateTime<Utc>>), Error> {
    let first_new: Option<DateTime<Utc>> = audit_event::Entity::find()
        .filter(condition.clone())
        .filter(audit_event::Column::Seq.gt(scan.after_seq))
        .filter(audit_event::Column::Seq.lte(scan.up_to_seq))
        .order_by_asc(audit_event::Column::Seq)
        .select_only()
        .column(audit_event::Column::OccurredAt)
        .into_tuple()
        .one(db)
        .await?;
    let Some(first_new) = first_new else { return Ok((Vec::new(), None)) };
    let from = first_new - scan.settings.window;
    let condition = condition.add(audit_event::Column::Seq.lte(scan.up_to_seq)).add(
        Condition::any()
            .add(audit_event::Column::OccurredAt.gte(from))
            .add(audit_event::Column::Seq.gt(scan.after_seq)),
    );
    let rows = select(condition).all(db).await?.into_iter().map(event).collect();
    Ok((rows, Some(from)))
}

/// Per actor, the end of the latest window already alerted by `rule` and its severity: what a
/// new finding must not overlap to be raised again at that severity.
pub async fn alerted_until(
    db: &DatabaseConnection,
    rule: &str,
    from: DateTime<Utc>,
) -> Result<HashMap<Uuid, Vec<(DateTime<Utc>, Severity)>>, Error> {
    let rows: Vec<(Option<Uuid>, Option<DateTime<Utc>>, String)> = security_alert::Entity::find()
        .filter(security_alert::Column::Kind.eq(rule))
        .filter(security_alert::Column::WindowEnd.gte(from))
        .select_only()
        .columns([security_alert::Column::UserId, security_alert::Column::WindowEnd, security_alert::Column::Severity])
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, Vec<(DateTime<Utc>, Severity)>> = HashMap::new();
    for (user, end, severity) in rows {
        if let (Some(user), Some(end), Some(severity)) = (user, end, Severity::parse(&severity)) {
            out.entry(user).or_default().push((end, severity));
        }
    }
    Ok(out)
}

/// What a sliding window adds up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Distinct patients among the rows.
    DistinctPatients,
    /// Rows.
    Count,
    /// The number each row carries (`weight`).
    Sum,
}

/// A count reaching `threshold` within `settings.window`, per actor, raised at the new row
/// that completes it. `weight` gives each row's number for [`Measure::Sum`].
pub fn sliding(
    rule: &'static str,
    events: Vec<Event>,
    scan: &Scan,
    threshold: i64,
    measure: Measure,
    weight: impl Fn(&Event) -> i64,
    alerted: &HashMap<Uuid, Vec<(DateTime<Utc>, Severity)>>,
) -> Vec<NewAlert> {
    let mut by_actor: BTreeMap<Uuid, Vec<Event>> = BTreeMap::new();
    for event in events {
        if let Some(actor) = event.actor {
            by_actor.entry(actor).or_default().push(event);
        }
    }
    let settings: &RuleSettings = &scan.settings;
    let mut out = Vec::new();
    for (actor, mut rows) in by_actor {
        rows.sort_by_key(|e| (e.at, e.seq));
        let mut covered: Vec<(DateTime<Utc>, Severity)> = alerted.get(&actor).cloned().unwrap_or_default();
        let mut start = 0;
        let mut patients: HashMap<Uuid, usize> = HashMap::new();
        let mut sum = 0i64;
        for end in 0..rows.len() {
            let row = &rows[end];
            if let Some(p) = row.patient {
                *patients.entry(p).or_default() += 1;
            }
            sum += weight(row);
            while rows[start].at < row.at - settings.window {
                let gone = &rows[start];
                if let Some(p) = gone.patient
                    && let Some(n) = patients.get_mut(&p)
                {
                    *n -= 1;
                    if *n == 0 {
                        patients.remove(&p);
                    }
                }
                sum -= weight(gone);
                start += 1;
            }
            if row.seq <= scan.after_seq {
                continue;
            }
            let value = match measure {
                Measure::DistinctPatients => patients.len() as i64,
                Measure::Count => (end - start + 1) as i64,
                Measure::Sum => sum,
            };
            let severity = match settings.critical_at {
                Some(critical) if value >= critical => Severity::Critical,
                _ if value >= threshold => settings.severity,
                _ => continue,
            };
            let window_start = rows[start].at;
            if covered.iter().any(|&(until, level)| until >= window_start && level >= severity) {
                continue;
            }
            covered.push((row.at, severity));
            let window = &rows[start..=end];
            let mut ids: Vec<PatientId> = window.iter().filter_map(|e| e.patient.map(PatientId)).collect();
            ids.sort_unstable();
            ids.dedup();
            out.push(NewAlert {
                rule: rule.to_owned(),
                severity,
                actor: Some(UserId(actor)),
                patients: ids,
                window_start,
                window_end: row.at,
                observed: Some(value),
                seqs: window.iter().map(|e| e.seq).collect(),
                dedup: format!("{actor}:{}:{}", row.seq, severity.as_str()),
                subject_id: None,
            });
        }
    }
    out
}

/// One alert per group of new rows (an actor and a day, an actor and a patient...), named by
/// `key`; the dedup key is the rule's group key, so later rows of an alerted group add nothing.
pub fn grouped(
    rule: &'static str,
    severity: Severity,
    threshold: i64,
    rows: Vec<Event>,
    key: impl Fn(&Event) -> Option<String>,
) -> Vec<NewAlert> {
    let mut groups: BTreeMap<String, Vec<Event>> = BTreeMap::new();
    for row in rows {
        if let Some(k) = key(&row) {
            groups.entry(k).or_default().push(row);
        }
    }
    groups
        .into_iter()
        .filter(|(_, rows)| rows.len() as i64 >= threshold)
        .filter_map(|(dedup, rows)| {
            let first = rows.iter().map(|e| e.at).min()?;
            let last = rows.iter().map(|e| e.at).max()?;
            let mut patients: Vec<PatientId> = rows.iter().filter_map(|e| e.patient.map(PatientId)).collect();
            patients.sort_unstable();
            patients.dedup();
            Some(NewAlert {
                rule: rule.to_owned(),
                severity,
                actor: rows[0].actor.map(UserId),
                patients,
                window_start: first,
                window_end: last,
                observed: Some(rows.len() as i64),
                seqs: rows.iter().map(|e| e.seq).collect(),
                dedup,
                subject_id: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn settings(threshold: i64, critical_at: Option<i64>) -> Scan {
        Scan {
            after_seq: 0,
            up_to_seq: 1000,
            now: Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap(),
            settings: RuleSettings {
                enabled: true,
                threshold,
                window: Duration::minutes(10),
                severity: Severity::High,
                critical_at,
            },
        }
    }

    fn reads(actor: Uuid, count: i64, every: Duration) -> Vec<Event> {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        (0..count)
            .map(|i| Event {
                seq: i + 1,
                at: t0 + every * i32::try_from(i).unwrap(),
                actor: Some(actor),
                patient: Some(Uuid::from_u128(i as u128 + 1)),
                resource_id: None,
            })
            .collect()
    }

    #[test]
    fn a_burst_raises_once_at_the_row_that_reaches_the_threshold() {
        let actor = Uuid::from_u128(7);
        let scan = settings(5, None);
        let found = sliding(
            "t",
            reads(actor, 8, Duration::seconds(30)),
            &scan,
            5,
            Measure::DistinctPatients,
            |_| 1,
            &HashMap::new(),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].seqs, vec![1, 2, 3, 4, 5]);
        assert_eq!(found[0].observed, Some(5));
        assert_eq!(found[0].severity, Severity::High);
    }

    #[test]
    fn rows_spread_wider_than_the_window_raise_nothing() {
        let scan = settings(5, None);
        let found = sliding(
            "t",
            reads(Uuid::from_u128(7), 20, Duration::minutes(3)),
            &scan,
            5,
            Measure::Count,
            |_| 1,
            &HashMap::new(),
        );
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn reaching_critical_in_the_same_burst_raises_a_second_alert_at_critical() {
        let scan = settings(3, Some(9));
        let found = sliding(
            "t",
            reads(Uuid::from_u128(7), 10, Duration::seconds(10)),
            &scan,
            3,
            Measure::DistinctPatients,
            |_| 1,
            &HashMap::new(),
        );
        let levels: Vec<_> = found.iter().map(|a| (a.severity, a.observed)).collect();
        assert_eq!(levels, vec![(Severity::High, Some(3)), (Severity::Critical, Some(9))]);
    }
}
