//! The vital-signs trend as inline SVG: blood pressure and heart rate on one panel, SpO₂ on a
//! second with its own scale. Each series has its own marker shape and dash pattern as well as
//! its own colour, and a text legend names both, so the chart reads without colour (WCAG 2.2
//! SC 1.4.1). The SVG carries a title and a description, and the table that follows it lists
//! every value (SC 1.1.1).

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::clock;
use crate::clinical::Vital;

const WIDTH: f64 = 640.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 16.0;
const INK: &str = "#1b2430";
const GRID: &str = "#d5dde6";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

#[derive(Clone, Copy, Debug)]
struct Style {
    name: &'static str,
    unit: &'static str,
    colour: &'static str,
    marker: Marker,
    dash: Option<&'static str>,
    described: &'static str,
}

const SYSTOLIC: Style = Style {
    name: "Systolic blood pressure",
    unit: "mmHg",
    colour: "#0b5cad",
    marker: Marker::Circle,
    dash: None,
    described: "solid line, round markers",
};
const DIASTOLIC: Style = Style {
    name: "Diastolic blood pressure",
    unit: "mmHg",
    colour: "#6a3d9a",
    marker: Marker::Square,
    dash: Some("7 4"),
    described: "dashed line, hollow square markers",
};
const HEART_RATE: Style = Style {
    name: "Heart rate",
    unit: "bpm",
    colour: "#9a4a00",
    marker: Marker::Triangle,
    dash: Some("2 3"),
    described: "dotted line, triangle markers",
};
const SPO2: Style = Style {
    name: "SpO₂",
    unit: "%",
    colour: "#14662c",
    marker: Marker::Diamond,
    dash: Some("10 3 2 3"),
    described: "dash-dot line, diamond markers, lower panel",
};

struct Series {
    style: Style,
    points: Vec<(DateTime<Utc>, f64)>,
}

/// One series per measure, each point where it was measured; a missing value is a gap, never
/// a zero.
fn series(vitals: &[Vital]) -> [Series; 4] {
    let pick = |style: Style, get: fn(&Vital) -> Option<f64>| Series {
        style,
        points: vitals.iter().filter_map(|v| get(v).map(|value| (v.taken_at, value))).collect(),
    };
    [
        pick(SYSTOLIC, |v| v.systolic.map(f64::from)),
        pick(DIASTOLIC, |v| v.diastolic.map(f64::from)),
        pick(HEART_RATE, |v| v.heart_rate.map(f64::from)),
        pick(SPO2, |v| v.spo2.map(f64::from)),
    ]
}

/// A scale from `lo` to `hi` with a round step (at most `steps` of them), covering every value
/// with some room.
fn scale(values: impl Iterator<Item = f64>, floor: f64, ceiling: f64, steps: f64) -> (f64, f64, f64) {
    let (min, max) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (min, max) = if min > max { (floor, ceiling) } else { (min, max) };
    // At least ten units tall, centred on the values and kept within the bounds.
    let (min, max) = if max - min < 10.0 {
        let mid = ((min + max) / 2.0).clamp(floor + 5.0, ceiling - 5.0);
        (mid - 5.0, mid + 5.0)
    } else {
        (min, max)
    };
    let span = max - min;
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0, 100.0].into_iter().find(|s| span / s <= steps).unwrap_or(100.0);
    let lo = ((min - step / 2.0) / step).floor() * step;
    let hi = ((max + step / 2.0) / step).ceil() * step;
    (lo.max(floor), hi.min(ceiling).max(lo + step), step)
}

struct Panel<'a> {
    title: &'static str,
    series: Vec<&'a Series>,
    top: f64,
    height: f64,
    lo: f64,
    hi: f64,
    step: f64,
}

impl Panel<'_> {
    fn y(&self, value: f64) -> f64 {
        self.top + self.height - (value - self.lo) / (self.hi - self.lo) * self.height
    }
}

/// Maps time to x across the plot; a single time sits in the middle.
struct TimeAxis {
    start: i64,
    end: i64,
}

impl TimeAxis {
    fn x(&self, at: DateTime<Utc>) -> f64 {
        let plot = WIDTH - LEFT - RIGHT;
        if self.end == self.start {
            return LEFT + plot / 2.0;
        }
        let inset = 12.0;
        LEFT + inset + (at.timestamp() - self.start) as f64 / (self.end - self.start) as f64 * (plot - 2.0 * inset)
    }

    fn ticks(&self) -> Vec<DateTime<Utc>> {
        let count = if self.end == self.start { 1 } else { 4 };
        (0..count)
            .filter_map(|i| {
                let t = if count == 1 { self.start } else { self.start + (self.end - self.start) * i / (count - 1) };
                DateTime::from_timestamp(t, 0)
            })
            .collect()
    }
}

fn marker(marker: Marker, x: f64, y: f64, colour: &'static str) -> AnyView {
    match marker {
        Marker::Circle => view! { <circle cx=x cy=y r="4.5" fill=colour/> }.into_any(),
        Marker::Square => view! {
            <rect x=x - 4.0 y=y - 4.0 width="8" height="8" fill="#ffffff" stroke=colour stroke-width="2"/>
        }
        .into_any(),
        Marker::Triangle => {
            let points = format!("{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}", y - 5.5, x - 5.5, y + 4.5, x + 5.5, y + 4.5);
            view! { <polygon points=points fill=colour/> }.into_any()
        }
        Marker::Diamond => {
            let points =
                format!("{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}", y - 6.0, x + 6.0, y + 6.0, x - 6.0);
            view! { <polygon points=points fill=colour/> }.into_any()
        }
    }
}

fn value_text(style: &Style, value: f64) -> String {
    format!("{} {value} {}", style.name, style.unit)
}

fn draw_panel(panel: &Panel, axis: &TimeAxis, in_browser: bool) -> impl IntoView + use<> {
    let steps = ((panel.hi - panel.lo) / panel.step).round() as usize;
    let grid = (0..=steps)
        .map(|i| {
            let value = panel.lo + i as f64 * panel.step;
            let y = panel.y(value);
            view! {
                <g>
                    <line x1=LEFT x2=WIDTH - RIGHT y1=y y2=y stroke=GRID stroke-width="1"/>
                    <text x=LEFT - 6.0 y=y + 4.0 text-anchor="end" font-size="12" fill=INK>{value.to_string()}</text>
                </g>
            }
        })
        .collect_view();
    let lines = panel
        .series
        .iter()
        .map(|s| {
            let points =
                s.points.iter().map(|(at, v)| format!("{:.1},{:.1}", axis.x(*at), panel.y(*v))).collect::<Vec<_>>();
            let marks = s
                .points
                .iter()
                .map(|(at, v)| {
                    let label = format!("{}, {}", value_text(&s.style, *v), clock::format_at(*at, "%Y-%m-%d %H:%M", in_browser));
                    view! { <g><title>{label}</title>{marker(s.style.marker, axis.x(*at), panel.y(*v), s.style.colour)}</g> }
                })
                .collect_view();
            view! {
                <g>
                    <polyline points=points.join(" ") fill="none" stroke=s.style.colour stroke-width="2" stroke-dasharray=s.style.dash/>
                    {marks}
                </g>
            }
        })
        .collect_view();
    view! {
        <g>
            <text x=LEFT y=panel.top - 10.0 font-size="13" font-weight="600" fill=INK>{panel.title}</text>
            {grid}
            <line x1=LEFT x2=LEFT y1=panel.top y2=panel.top + panel.height stroke=INK stroke-width="1"/>
            {lines}
        </g>
    }
}

fn tick_label(at: DateTime<Utc>, with_time: bool, in_browser: bool) -> String {
    let when = if in_browser { clock::local(at) } else { at.naive_utc() };
    when.format(if with_time { "%d %b %H:%M" } else { "%d %b %Y" }).to_string()
}

/// A plain-language summary for the SVG's description.
fn describe(all: &[Series; 4], vitals: &[Vital], in_browser: bool) -> String {
    let (first, last) = (vitals.iter().map(|v| v.taken_at).min(), vitals.iter().map(|v| v.taken_at).max());
    let range = match (first, last) {
        (Some(a), Some(b)) if a != b => format!(
            "from {} to {}",
            clock::format_at(a, "%Y-%m-%d %H:%M", in_browser),
            clock::format_at(b, "%Y-%m-%d %H:%M", in_browser)
        ),
        (Some(a), _) => format!("on {}", clock::format_at(a, "%Y-%m-%d %H:%M", in_browser)),
        _ => String::new(),
    };
    let latest = all
        .iter()
        .filter_map(|s| s.points.iter().max_by_key(|(at, _)| *at).map(|(_, v)| value_text(&s.style, *v)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{} sets of vital signs {range}. Latest: {latest}. Every value is listed in the table below.", vitals.len())
}

#[component]
pub fn VitalsChart(
    vitals: Vec<Vital>,
    /// The id of the table that lists the same values.
    table_id: &'static str,
) -> impl IntoView {
    let in_browser = clock::use_in_browser();
    let all = series(&vitals);
    if all.iter().all(|s| s.points.is_empty()) {
        return None;
    }
    let legend = all
        .iter()
        .filter(|s| !s.points.is_empty())
        .map(|s| {
            let style = s.style;
            view! {
                <li>
                    <svg width="44" height="14" viewBox="0 0 44 14" aria-hidden="true" focusable="false">
                        <line x1="2" x2="42" y1="7" y2="7" stroke=style.colour stroke-width="2" stroke-dasharray=style.dash/>
                        {marker(style.marker, 22.0, 7.0, style.colour)}
                    </svg>
                    <span>{format!("{} ({}): {}", style.name, style.unit, style.described)}</span>
                </li>
            }
        })
        .collect_view();
    let draw = move || {
        let in_browser = in_browser.get();
        let all = series(&vitals);
        let times = vitals.iter().map(|v| v.taken_at.timestamp());
        let axis = TimeAxis { start: times.clone().min().unwrap_or(0), end: times.max().unwrap_or(0) };
        let upper: Vec<&Series> = all[..3].iter().filter(|s| !s.points.is_empty()).collect();
        let lower: Vec<&Series> = all[3..].iter().filter(|s| !s.points.is_empty()).collect();
        let mut top = 28.0;
        let mut panels = Vec::new();
        if !upper.is_empty() {
            let (lo, hi, step) = scale(upper.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 0.0, 320.0, 6.0);
            panels.push(Panel {
                title: "Blood pressure (mmHg) and heart rate (bpm)",
                series: upper,
                top,
                height: 170.0,
                lo,
                hi,
                step,
            });
            top += 170.0 + 48.0;
        }
        if !lower.is_empty() {
            let (lo, hi, step) = scale(lower.iter().flat_map(|s| s.points.iter().map(|p| p.1)), 0.0, 100.0, 3.0);
            panels.push(Panel { title: "SpO₂ (%)", series: lower, top, height: 90.0, lo, hi, step });
            top += 90.0;
        }
        let height = top + 48.0;
        let with_time = axis.end - axis.start < 3 * 86_400;
        let ticks = axis.ticks();
        let last = ticks.len().saturating_sub(1);
        let ticks = ticks
            .into_iter()
            .enumerate()
            .map(|(i, at)| {
                let x = axis.x(at);
                // The outer labels align inwards so they stay inside the picture.
                let anchor = match i {
                    _ if last == 0 => "middle",
                    0 => "start",
                    i if i == last => "end",
                    _ => "middle",
                };
                view! {
                    <g>
                        <line x1=x x2=x y1=28.0 y2=top stroke=GRID stroke-width="1" stroke-dasharray="2 4"/>
                        <text x=x y=top + 18.0 text-anchor=anchor font-size="12" fill=INK>{tick_label(at, with_time, in_browser)}</text>
                    </g>
                }
            })
            .collect_view();
        let axis_title = if in_browser { "Time taken (your time zone)" } else { "Time taken (UTC)" };
        let description = describe(&all, &vitals, in_browser);
        let drawn = panels.iter().map(|p| draw_panel(p, &axis, in_browser)).collect_view();
        view! {
            <svg class="vitals-chart" viewBox=format!("0 0 {WIDTH} {height}") role="img"
                aria-labelledby="vitals-chart-title" aria-describedby="vitals-chart-desc" preserveAspectRatio="xMinYMin meet">
                <title id="vitals-chart-title">"Vital signs over time"</title>
                <desc id="vitals-chart-desc">{description}</desc>
                {ticks}
                {drawn}
                <line x1=LEFT x2=WIDTH - RIGHT y1=top y2=top stroke=INK stroke-width="1"/>
                <text x=LEFT + (WIDTH - LEFT - RIGHT) / 2.0 y=top + 40.0 text-anchor="middle" font-size="13" font-weight="600" fill=INK>{axis_title}</text>
            </svg>
        }
    };
    Some(view! {
        <figure class="vitals-figure" aria-describedby=table_id>
            {draw}
            <figcaption>
                <ul class="chart-legend" aria-label="Legend">{legend}</ul>
            </figcaption>
        </figure>
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vital(at: &str, systolic: Option<u16>, spo2: Option<u8>) -> Vital {
        Vital {
            taken_at: DateTime::parse_from_rfc3339(at).map(|d| d.to_utc()).unwrap_or_default(),
            systolic,
            diastolic: systolic.map(|s| s - 40),
            heart_rate: None,
            temperature_c: None,
            weight_kg: None,
            height_cm: None,
            spo2,
        }
    }

    #[test]
    fn a_missing_measurement_is_a_gap_not_a_zero() {
        let vitals = [vital("2026-11-01T09:00:00Z", Some(130), None), vital("2026-11-02T09:00:00Z", None, Some(97))];
        let [systolic, diastolic, heart_rate, spo2] = series(&vitals);
        assert_eq!(systolic.points.len(), 1);
        assert_eq!(diastolic.points.len(), 1);
        assert!(heart_rate.points.is_empty());
        assert_eq!(spo2.points.iter().map(|p| p.1).collect::<Vec<_>>(), [97.0]);
    }

    #[test]
    fn the_scale_covers_every_value_with_round_steps() {
        let (lo, hi, step) = scale([84.0, 131.0, 77.0].into_iter(), 0.0, 320.0, 6.0);
        assert!(lo <= 77.0 && hi >= 131.0, "{lo}..{hi}");
        assert_eq!(lo % step, 0.0);
        assert_eq!(hi % step, 0.0);
        let (lo, hi, _) = scale([97.0].into_iter(), 0.0, 100.0, 3.0);
        assert!(lo < 97.0 && hi == 100.0, "{lo}..{hi}");
    }
}
