//! Open slots: a clinician's weekly hours, written in the clinic's local time, turned into UTC
//! instants day by day, so a slot at 09:00 stays at 09:00 on the wall clock across a
//! daylight-saving change. Pure functions, no database.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Hours a clinician works on one weekday, in the clinic's local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeeklyHours {
    pub weekday: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// A span of time in UTC, start inclusive, end exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    /// The span of `length` from `start`; one that would end past chrono's last instant is a
    /// validation error on `starts_at`, never a panic.
    pub fn starting(start: DateTime<Utc>, length: Duration) -> Result<Span, crate::domain::Error> {
        start
            .checked_add_signed(length)
            .map(|end| Span { start, end })
            .ok_or_else(|| crate::domain::Error::validation("starts_at", "is too far in the future"))
    }

    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Every slot of `length` that starts within the clinician's hours on the local dates
/// `from..=to`, lies wholly within those hours, is not in the past (`now`), and overlaps no
/// `busy` span (time off, holidays, existing appointments). A local time that does not exist
/// (the hour skipped in spring) yields no slot; an ambiguous one (the hour repeated in autumn)
/// is taken at its first occurrence.
pub fn open_slots(
    zone: Tz,
    hours: &[WeeklyHours],
    busy: &[Span],
    length: Duration,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Vec<Span> {
    let mut slots = Vec::new();
    if length <= Duration::zero() {
        return slots;
    }
    let mut day = from;
    while day <= to {
        for block in hours.iter().filter(|h| h.weekday == day.weekday()) {
            let mut local_start = day.and_time(block.start);
            let local_end = day.and_time(block.end);
            let Some(block_end) = resolve(zone, local_end) else { continue };
            while local_start + length <= local_end {
                // A visit lasts `length` of real time, even when the clocks change during it.
                if let Some(start) = zone.from_local_datetime(&local_start).earliest() {
                    let start = start.with_timezone(&Utc);
                    let slot = Span { start, end: start + length };
                    if slot.end <= block_end && slot.start >= now && !busy.iter().any(|b| b.overlaps(&slot)) {
                        slots.push(slot);
                    }
                }
                local_start += length;
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    slots.sort_by_key(|s| s.start);
    slots
}

/// A local time as a UTC instant; a time in the skipped hour counts as the moment the clocks
/// jumped.
fn resolve(zone: Tz, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local).latest() {
        Some(at) => Some(at.with_timezone(&Utc)),
        None => zone
            .from_local_datetime(&(local + Duration::hours(1)))
            .earliest()
            .map(|at| at.with_timezone(&Utc) - Duration::hours(1)),
    }
}

/// The 15-minute cells a span covers: the unit the database locks to refuse double-booking.
pub fn cells(span: &Span) -> Vec<DateTime<Utc>> {
    let cell = Duration::minutes(CELL_MINUTES);
    let seconds = span.start.timestamp();
    let first = seconds - seconds.rem_euclid(cell.num_seconds());
    let mut at = Utc.timestamp_opt(first, 0).single().unwrap_or(span.start);
    let mut out = Vec::new();
    while at < span.end {
        out.push(at);
        at += cell;
    }
    out
}

pub const CELL_MINUTES: i64 = 15;

#[cfg(test)]
mod tests {
    use super::*;

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn local(zone: Tz, slot: &Span) -> String {
        slot.start.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z").to_string()
    }

    #[test]
    fn slots_keep_their_wall_clock_time_across_the_spring_and_autumn_changes() {
        let zone: Tz = chrono_tz::America::New_York;
        let every_day: Vec<WeeklyHours> = [Weekday::Fri, Weekday::Sat, Weekday::Sun, Weekday::Mon]
            .into_iter()
            .map(|weekday| WeeklyHours { weekday, start: time(9, 0), end: time(10, 0) })
            .collect();
        let past = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
        // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT.
        let spring = open_slots(zone, &every_day, &[], Duration::minutes(30), date(2026, 3, 7), date(2026, 3, 9), past);
        let shown: Vec<_> = spring.iter().map(|s| local(zone, s)).collect();
        assert_eq!(
            shown,
            [
                "2026-03-07 09:00 EST",
                "2026-03-07 09:30 EST",
                "2026-03-08 09:00 EDT",
                "2026-03-08 09:30 EDT",
                "2026-03-09 09:00 EDT",
                "2026-03-09 09:30 EDT"
            ]
        );
        assert_eq!(spring[0].start.format("%H:%M").to_string(), "14:00");
        assert_eq!(spring[2].start.format("%H:%M").to_string(), "13:00", "UTC moves an hour, the wall clock does not");
        // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST.
        let autumn =
            open_slots(zone, &every_day, &[], Duration::minutes(60), date(2026, 10, 31), date(2026, 11, 2), past);
        let shown: Vec<_> = autumn.iter().map(|s| local(zone, s)).collect();
        assert_eq!(shown, ["2026-10-31 09:00 EDT", "2026-11-01 09:00 EST", "2026-11-02 09:00 EST"]);
        assert_eq!(autumn[1].end - autumn[1].start, Duration::minutes(60));
    }

    #[test]
    fn a_slot_in_the_skipped_hour_does_not_exist_and_the_repeated_hour_is_offered_once() {
        let zone: Tz = chrono_tz::America::New_York;
        let night = |weekday| WeeklyHours { weekday, start: time(1, 0), end: time(4, 0) };
        let past = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().unwrap_or_default();
        let spring = open_slots(
            zone,
            &[night(Weekday::Sun)],
            &[],
            Duration::minutes(60),
            date(2026, 3, 8),
            date(2026, 3, 8),
            past,
        );
        let shown: Vec<_> = spring.iter().map(|s| local(zone, s)).collect();
        assert_eq!(shown, ["2026-03-08 01:00 EST", "2026-03-08 03:00 EDT"], "02:00 does not exist that night");
        let autumn = open_slots(
            zone,
            &[night(Weekday::Sun)],
            &[],
            Duration::minutes(60),
            date(2026, 11, 1),
            date(2026, 11, 1),
            past,
        );
        let shown: Vec<_> = autumn.iter().map(|s| local(zone, s)).collect();
        assert_eq!(shown, ["2026-11-01 01:00 EDT", "2026-11-01 02:00 EST", "2026-11-01 03:00 EST"]);
        assert!(
            autumn.iter().all(|s| s.end - s.start == Duration::minutes(60)),
            "each visit lasts an hour of real time"
        );
    }

    #[test]
    fn busy_spans_and_the_past_remove_slots() {
        let zone: Tz = chrono_tz::Europe::Berlin;
        let hours = [WeeklyHours { weekday: Weekday::Tue, start: time(9, 0), end: time(11, 0) }];
        let day = date(2026, 11, 24);
        let at = |h, m| {
            zone.with_ymd_and_hms(2026, 11, 24, h, m, 0).single().map(|t| t.with_timezone(&Utc)).unwrap_or_default()
        };
        let busy = [Span { start: at(9, 30), end: at(10, 0) }];
        let slots = open_slots(zone, &hours, &busy, Duration::minutes(30), day, day, at(9, 10));
        let shown: Vec<_> = slots.iter().map(|s| local(zone, s)).collect();
        assert_eq!(shown, ["2026-11-24 10:00 CET", "2026-11-24 10:30 CET"]);
    }

    #[test]
    fn a_span_covers_whole_fifteen_minute_cells() {
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).single().unwrap_or_default();
        let span = Span { start, end: start + Duration::minutes(45) };
        assert_eq!(cells(&span).len(), 3);
        let odd = Span { start: start + Duration::minutes(10), end: start + Duration::minutes(20) };
        assert_eq!(cells(&odd), [start, start + Duration::minutes(15)]);
    }
}
