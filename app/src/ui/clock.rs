//! Dates and times as people read them. The browser knows the viewer's time zone and the server
//! does not, so the server renders UTC (and says so) and the page switches to local time once it
//! is hydrated; both renders agree at hydration. chrono's clock is not available in WASM, so the
//! browser's own `Date` supplies "now" there.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use leptos::prelude::*;

/// The current instant, from the browser's clock in the browser.
pub fn now() -> DateTime<Utc> {
    #[cfg(feature = "hydrate")]
    {
        DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or(DateTime::UNIX_EPOCH)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Utc::now()
    }
}

/// Today's date in UTC, the calendar the server validates entries against.
pub fn today() -> NaiveDate {
    now().date_naive()
}

/// The viewer's offset from UTC at `at`, in minutes east of Greenwich.
#[cfg(feature = "hydrate")]
fn offset_minutes(at: DateTime<Utc>) -> i64 {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at.timestamp_millis() as f64));
    -(date.get_timezone_offset() as i64)
}

#[cfg(not(feature = "hydrate"))]
fn offset_minutes(_: DateTime<Utc>) -> i64 {
    0
}

/// `at` on the viewer's wall clock (UTC outside the browser).
pub fn local(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + TimeDelta::minutes(offset_minutes(at))
}

/// `at` as text: local time in the browser, or UTC marked as such.
pub fn format_at(at: DateTime<Utc>, pattern: &str, in_browser: bool) -> String {
    if in_browser { local(at).format(pattern).to_string() } else { format!("{} UTC", at.format(pattern)) }
}

/// The value of a `datetime-local` input for `at`, on the viewer's wall clock.
pub fn to_local_input(at: DateTime<Utc>) -> String {
    local(at).format("%Y-%m-%dT%H:%M").to_string()
}

/// Reads a `datetime-local` input ("2026-11-20T10:05", seconds optional), which is wall-clock
/// time in the viewer's zone, as an instant.
pub fn from_local_input(value: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    #[cfg(feature = "hydrate")]
    {
        use chrono::{Datelike, Timelike};
        let date = js_sys::Date::new_with_year_month_day_hr_min_sec(
            naive.year() as u32,
            naive.month0() as i32,
            naive.day() as i32,
            naive.hour() as i32,
            naive.minute() as i32,
            naive.second() as i32,
        );
        let millis = date.get_time();
        if millis.is_finite() { DateTime::from_timestamp_millis(millis as i64) } else { None }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        Some(naive.and_utc())
    }
}

/// False on the server and during hydration, true once the page runs in the browser.
pub fn use_in_browser() -> ReadSignal<bool> {
    let (in_browser, set_in_browser) = signal(false);
    Effect::new(move |_| set_in_browser.set(true));
    in_browser
}

/// A `<time>` element showing `at` with `pattern` ("%Y-%m-%d %H:%M" unless given).
#[component]
pub fn When(at: DateTime<Utc>, #[prop(optional)] pattern: Option<&'static str>) -> impl IntoView {
    let in_browser = use_in_browser();
    let pattern = pattern.unwrap_or("%Y-%m-%d %H:%M");
    view! { <time datetime=at.to_rfc3339()>{move || format_at(at, pattern, in_browser.get())}</time> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_renders_utc_and_says_so() {
        let at = DateTime::parse_from_rfc3339("2026-11-20T10:05:00Z").map(|d| d.to_utc()).unwrap_or_default();
        assert_eq!(format_at(at, "%Y-%m-%d %H:%M", false), "2026-11-20 10:05 UTC");
    }

    #[test]
    fn a_datetime_local_value_round_trips_outside_the_browser() {
        let at = from_local_input("2026-11-20T10:05");
        assert_eq!(at.map(to_local_input).as_deref(), Some("2026-11-20T10:05"));
        assert_eq!(from_local_input("yesterday"), None);
    }
}
