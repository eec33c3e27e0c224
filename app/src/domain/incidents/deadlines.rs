//! The breach-notification deadlines of 45 CFR 164.404-410, as pure functions of the discovery
//! date and the counts, so they can be checked against dates worked out by hand.
//!
//! - Individuals (164.404(b)): without unreasonable delay and no later than 60 calendar days
//!   after discovery.
//! - The Secretary (164.408): with the individual notices when 500 or more are affected;
//!   otherwise in the yearly log, no later than 60 days after the end of the calendar year in
//!   which the breach was discovered (March 1 of the next year, February 29 in a leap year).
//! - Prominent media outlets (164.406): within 60 days of discovery, for each State or
//!   jurisdiction with more than 500 affected residents.

use chrono::{Datelike, Duration, NaiveDate};

/// Calendar days from discovery to each notice.
pub const NOTICE_DAYS: i64 = 60;
/// 164.408(b): at or above this count, HHS is told with the individual notices.
pub const HHS_IMMEDIATE_AT: usize = 500;
/// 164.406(a): media notice for a State with more than this many affected residents.
pub const MEDIA_OVER: usize = 500;
/// Alerts are raised when a deadline is this many days away or fewer ...
pub const WARN_DAYS: i64 = 14;
/// ... and again at this many.
pub const URGENT_DAYS: i64 = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadlines {
    pub individuals: NaiveDate,
    pub hhs: NaiveDate,
    /// True when HHS is told with the individual notices (500 or more affected).
    pub hhs_immediate: bool,
    /// Each State with more than 500 affected residents, its count and its media deadline.
    pub media: Vec<(String, usize, NaiveDate)>,
}

pub fn individuals(discovered: NaiveDate) -> NaiveDate {
    discovered + Duration::days(NOTICE_DAYS)
}

pub fn hhs(discovered: NaiveDate, affected: usize) -> NaiveDate {
    if affected >= HHS_IMMEDIATE_AT {
        return discovered + Duration::days(NOTICE_DAYS);
    }
    let end_of_year = NaiveDate::from_ymd_opt(discovered.year(), 12, 31).unwrap_or(discovered);
    end_of_year + Duration::days(NOTICE_DAYS)
}

/// The States that need a media notice, in name order, with their deadline.
pub fn media(discovered: NaiveDate, per_state: &[(String, usize)]) -> Vec<(String, usize, NaiveDate)> {
    let mut out: Vec<_> = per_state
        .iter()
        .filter(|(_, count)| *count > MEDIA_OVER)
        .map(|(state, count)| (state.clone(), *count, discovered + Duration::days(NOTICE_DAYS)))
        .collect();
    out.sort();
    out
}

pub fn all(discovered: NaiveDate, affected: usize, per_state: &[(String, usize)]) -> Deadlines {
    Deadlines {
        individuals: individuals(discovered),
        hhs: hhs(discovered, affected),
        hhs_immediate: affected >= HHS_IMMEDIATE_AT,
        media: media(discovered, per_state),
    }
}

/// Which reminder a deadline `days_left` away is due for: `Some("14d")`, `Some("3d")`, or None
/// when it is further off or already passed (a passed deadline was warned about at 3 days).
pub fn stage(days_left: i64) -> Option<&'static str> {
    match days_left {
        d if (0..=URGENT_DAYS).contains(&d) => Some("3d"),
        d if (0..=WARN_DAYS).contains(&d) => Some("14d"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn individual_notices_are_due_sixty_days_after_discovery() {
        // March 10 + 21 days (rest of March) + 30 (April) + 9 = May 9.
        assert_eq!(individuals(day(2026, 3, 10)), day(2026, 5, 9));
        assert_eq!(individuals(day(2026, 12, 15)), day(2027, 2, 13));
    }

    #[test]
    fn hhs_is_due_with_the_notices_at_500_and_after_the_calendar_year_below() {
        assert_eq!(hhs(day(2026, 3, 10), 500), day(2026, 5, 9));
        assert_eq!(hhs(day(2026, 3, 10), 499), day(2027, 3, 1));
        assert_eq!(hhs(day(2026, 12, 31), 3), day(2027, 3, 1));
        // 2028 is a leap year: December 31, 2027 + 60 days is February 29, 2028.
        assert_eq!(hhs(day(2027, 6, 1), 3), day(2028, 2, 29));
    }

    #[test]
    fn media_notice_is_needed_only_for_a_state_with_more_than_500_residents_affected() {
        let states = vec![("NY".to_owned(), 501), ("NJ".to_owned(), 500), ("CT".to_owned(), 12)];
        assert_eq!(media(day(2026, 3, 10), &states), vec![("NY".to_owned(), 501, day(2026, 5, 9))]);
    }

    #[test]
    fn reminders_come_at_fourteen_and_three_days() {
        assert_eq!(stage(15), None);
        assert_eq!(stage(14), Some("14d"));
        assert_eq!(stage(4), Some("14d"));
        assert_eq!(stage(3), Some("3d"));
        assert_eq!(stage(0), Some("3d"));
        assert_eq!(stage(-1), None);
    }
}
