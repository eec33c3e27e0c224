//! `after-hours`: a workforce member opening PHI outside the clinic's working hours or days, in
//! the clinic's own time zone (a night-time read is the classic snooping signal; so is a
//! weekend one at a weekday clinic).
//!
//! One alert per actor and local day, severity medium by default; `threshold` is how many such
//! accesses that day it takes (default 1). Cost: one range read of the new PHI rows of
//! workforce roles, each converted to local time in memory.

use async_trait::async_trait;
use chrono::{Datelike, Duration, NaiveTime, Weekday};
use chrono_tz::Tz;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection};

use super::window::{grouped, new_rows};
use super::{PHI_ACTIONS, Rule, RuleSettings, Scan, WORKFORCE};
use crate::domain::Error;
use crate::domain::entities::audit_event;
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "after-hours";

pub fn default_settings() -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold: 1,
        window: Duration::days(1),
        severity: Severity::Medium,
        critical_at: None,
    }
}

/// The clinic's working hours: `start..end` local time on `days`, in `zone`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkingHours {
    pub zone: Tz,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub days: Vec<Weekday>,
}

impl Default for WorkingHours {
    fn default() -> Self {
        Self {
            zone: Tz::UTC,
            start: NaiveTime::from_hms_opt(7, 0, 0).unwrap_or(NaiveTime::MIN),
            end: NaiveTime::from_hms_opt(19, 0, 0).unwrap_or(NaiveTime::MIN),
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
        }
    }
}

impl WorkingHours {
    /// From the settings' forms: a zone name, `"07:00-19:00"` and `["mon", ..., "fri"]`.
    pub fn parse(zone: &str, hours: &str, days: &[String]) -> Result<Self, String> {
        let zone: Tz = zone.parse().map_err(|_| "clinic.time_zone is not a known IANA time zone".to_owned())?;
        let bad_hours = || "clinic.working_hours must look like 07:00-19:00 (start before end)".to_owned();
        let (start, end) = hours.split_once('-').ok_or_else(bad_hours)?;
        let start = NaiveTime::parse_from_str(start.trim(), "%H:%M").map_err(|_| bad_hours())?;
        let end = NaiveTime::parse_from_str(end.trim(), "%H:%M").map_err(|_| bad_hours())?;
        if start >= end {
            return Err(bad_hours());
        }
        let days = days
            .iter()
            .map(|d| {
                d.trim().parse::<Weekday>().map_err(|_| format!("clinic.working_days has {d:?}; use mon, tue, ... sun"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { zone, start, end, days })
    }

    /// Whether `at` falls inside working hours, and the local day it falls on.
    pub fn local(&self, at: chrono::DateTime<chrono::Utc>) -> (bool, chrono::NaiveDate) {
        let local = at.with_timezone(&self.zone);
        let time = local.time();
        let inside = self.days.contains(&local.weekday()) && time >= self.start && time < self.end;
        (inside, local.date_naive())
    }
}

#[derive(Debug, Default)]
pub struct AfterHours {
    pub hours: WorkingHours,
}

#[async_trait]
impl Rule for AfterHours {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let condition = Condition::all()
            .add(audit_event::Column::Action.is_in(PHI_ACTIONS))
            .add(audit_event::Column::ActorRole.is_in(WORKFORCE))
            .add(audit_event::Column::Outcome.eq("allowed"))
            .add(audit_event::Column::ActorUserId.is_not_null())
            .add(audit_event::Column::PatientId.is_not_null());
        let rows = new_rows(db, scan, condition).await?;
        Ok(grouped(NAME, scan.settings.severity, scan.settings.threshold, rows, |e| {
            let (inside, day) = self.hours.local(e.at);
            let actor = e.actor?;
            (!inside).then(|| format!("{actor}:{day}"))
        }))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn weekdays() -> Vec<String> {
        ["mon", "tue", "wed", "thu", "fri"].map(str::to_owned).to_vec()
    }

    #[test]
    fn hours_are_read_in_the_clinics_zone() {
        let hours = WorkingHours::parse("America/New_York", "07:00-19:00", &weekdays()).unwrap();
        // Tuesday 2026-11-24: 23:30 UTC is 18:30 in New York (inside), 00:30 UTC next day 19:30.
        assert!(hours.local(Utc.with_ymd_and_hms(2026, 11, 24, 23, 30, 0).unwrap()).0);
        assert!(!hours.local(Utc.with_ymd_and_hms(2026, 11, 25, 0, 30, 0).unwrap()).0);
        // 11:30 UTC is 06:30 local: before opening.
        assert!(!hours.local(Utc.with_ymd_and_hms(2026, 11, 24, 11, 30, 0).unwrap()).0);
        // Saturday noon local is outside on a weekday clinic.
        assert!(!hours.local(Utc.with_ymd_and_hms(2026, 11, 28, 17, 0, 0).unwrap()).0);
    }

    #[test]
    fn bad_hours_and_days_are_refused_with_the_setting_named() {
        assert!(WorkingHours::parse("UTC", "19:00-07:00", &weekdays()).unwrap_err().contains("working_hours"));
        assert!(WorkingHours::parse("UTC", "7am", &weekdays()).unwrap_err().contains("working_hours"));
        assert!(WorkingHours::parse("UTC", "07:00-19:00", &["funday".into()]).unwrap_err().contains("working_days"));
        assert!(WorkingHours::parse("Mars/Base", "07:00-19:00", &weekdays()).unwrap_err().contains("time_zone"));
    }
}
