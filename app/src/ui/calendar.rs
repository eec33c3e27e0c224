//! Staff calendars: a clinician's day and week, and the admin's view of a clinic day with the
//! online-booking switches. A visit names its patient only when the server decided the reader
//! may see that patient; otherwise it is "Busy". Hours and days are the viewer's wall clock.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use leptos::prelude::*;

use super::appointments::status_label;
use super::clock::{self, use_in_browser};
use super::role_home::PageAccess;
use crate::api::schedule::{
    CalendarEntry, HoursBlock, add_time_off, approve_appointment, book_visit, calendar, cancel_appointment,
    mark_no_show, open_slots, set_self_scheduling, set_weekly_hours, upcoming_time_off, visit_types, weekly_hours,
};
use crate::error::AppError;

const FIRST_HOUR: u32 = 7;
const LAST_HOUR: u32 = 19;

/// Monday of the week holding `day`.
fn week_start(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The instant the viewer's local midnight of `day` is, for asking the server.
fn local_midnight(day: NaiveDate) -> DateTime<Utc> {
    clock::from_local_input(&format!("{}T00:00", day.format("%Y-%m-%d")))
        .unwrap_or_else(|| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Span {
    Day,
    Week,
}

/// The clinician's calendar and booking form data, created by the page outside its gate (see
/// `role_home`).
#[derive(Clone, Copy)]
pub struct CalendarData {
    view_span: RwSignal<Span>,
    anchor: RwSignal<NaiveDate>,
    refresh: RwSignal<u32>,
    calendar: Resource<Result<crate::api::schedule::CalendarView, AppError>>,
    kinds: Resource<Result<Vec<crate::api::schedule::VisitTypeView>, AppError>>,
    booking: BookingChoice,
    slots: Resource<Result<Vec<crate::api::schedule::SlotView>, AppError>>,
}

/// What the clinician has chosen so far in "Book a visit for a patient".
#[derive(Clone, Copy)]
struct BookingChoice {
    patient: RwSignal<String>,
    kind: RwSignal<String>,
    day: RwSignal<String>,
    slot: RwSignal<String>,
    reason: RwSignal<String>,
}

impl CalendarData {
    pub fn new(access: PageAccess) -> Self {
        let view_span = RwSignal::new(Span::Week);
        let anchor = RwSignal::new(clock::today());
        let refresh = RwSignal::new(0u32);
        let booking = BookingChoice {
            patient: RwSignal::new(String::new()),
            kind: RwSignal::new(String::new()),
            day: RwSignal::new(String::new()),
            slot: RwSignal::new(String::new()),
            reason: RwSignal::new(String::new()),
        };
        let session = super::layout::use_session();
        let me = move || session.get().and_then(Result::ok).flatten().map(|s| s.user_id).unwrap_or_default();
        Self {
            view_span,
            anchor,
            refresh,
            calendar: Resource::new(
                move || (view_span.get(), anchor.get(), refresh.get()),
                move |(span, anchor, _)| async move {
                    access.granted().await?;
                    let (from, days) = match span {
                        Span::Week => (week_start(anchor), 7),
                        Span::Day => (anchor, 1),
                    };
                    calendar(local_midnight(from).into(), days, false).await
                },
            ),
            kinds: Resource::new(
                || (),
                move |_| async move {
                    access.granted().await?;
                    visit_types().await
                },
            ),
            booking,
            slots: Resource::new(
                move || (booking.kind.get(), booking.day.get(), me(), refresh.get()),
                move |(kind, day, me, _)| async move {
                    access.granted().await?;
                    match NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
                        Ok(from) if !kind.is_empty() && !me.is_empty() => open_slots(me, kind, from.into(), 1).await,
                        _ => Ok(Vec::new()),
                    }
                },
            ),
        }
    }
}

#[component]
pub fn ClinicianCalendar(
    data: CalendarData,
    patients: Resource<Result<Vec<crate::api::chart::PatientRow>, AppError>>,
) -> impl IntoView {
    let CalendarData { view_span, anchor, refresh, calendar: data_resource, .. } = data;
    let in_browser = use_in_browser();
    provide_context(CalendarRefresh(refresh));
    let data_view = data_resource;
    let step = move |sign: i64| {
        let days = if view_span.get_untracked() == Span::Week { 7 } else { 1 };
        anchor.update(|a| *a += Duration::days(sign * days));
    };
    view! {
        <section class="panel" aria-labelledby="calendar-title" id="clinician-calendar">
            <h2 id="calendar-title">"My schedule"</h2>
            <div class="calendar-toolbar" role="toolbar" aria-label="Calendar navigation">
                <button class="button button-small button-secondary" type="button" on:click=move |_| step(-1)>"Previous"</button>
                <button class="button button-small button-secondary" type="button" on:click=move |_| anchor.set(clock::today())>"Today"</button>
                <button class="button button-small button-secondary" type="button" on:click=move |_| step(1)>"Next"</button>
                <button class="button button-small" type="button" aria-pressed=move || (view_span.get() == Span::Day).to_string()
                    on:click=move |_| view_span.set(Span::Day)>"Day"</button>
                <button class="button button-small" type="button" aria-pressed=move || (view_span.get() == Span::Week).to_string()
                    on:click=move |_| view_span.set(Span::Week)>"Week"</button>
            </div>
            <Transition fallback=|| view! { <p>"Loading the calendar…"</p> }>
                {move || data_view.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(cal) => {
                        let days: Vec<NaiveDate> = match view_span.get_untracked() {
                            Span::Week => (0..7).map(|d| week_start(anchor.get_untracked()) + Duration::days(d)).collect(),
                            Span::Day => vec![anchor.get_untracked()],
                        };
                        view! { <TimeGrid days entries=cal.entries in_browser=in_browser.get() show_clinician=false/> }.into_any()
                    }
                })}
            </Transition>
            <BookForPatient data patients/>
        </section>
    }
}

/// Lets a visit card ask its calendar to load again after a change.
#[derive(Clone, Copy)]
struct CalendarRefresh(RwSignal<u32>);

/// A clinician books a visit for one of their patients, at one of their own open times.
#[component]
fn BookForPatient(
    data: CalendarData,
    patients: Resource<Result<Vec<crate::api::chart::PatientRow>, AppError>>,
) -> impl IntoView {
    let CalendarData { kinds, slots, booking, .. } = data;
    let BookingChoice { patient, kind, day, slot, reason } = booking;
    let session = super::layout::use_session();
    let refresh = use_context::<CalendarRefresh>();
    let me = move || session.get().and_then(Result::ok).flatten().map(|s| s.user_id).unwrap_or_default();
    let book = Action::new(move |(patient, kind, at, reason, me): &(String, String, String, String, String)| {
        let (patient, kind, at, reason, me) = (patient.clone(), kind.clone(), at.clone(), reason.clone(), me.clone());
        async move {
            let at = DateTime::parse_from_rfc3339(&at).map(|d| d.to_utc()).map_err(|_| {
                crate::error::AppError::Validation(vec![crate::error::FieldError {
                    field: "starts_at".into(),
                    message: "Choose a time.".into(),
                }])
            })?;
            let result = book_visit(patient, me, kind, at.into(), reason).await;
            if result.is_ok()
                && let Some(CalendarRefresh(r)) = refresh
            {
                r.update(|n| *n += 1);
            }
            result
        }
    });
    let in_browser = use_in_browser();
    view! {
        <details class="book-for-patient">
            <summary>"Book a visit for a patient"</summary>
            <form method="post" class="stacked-form" on:submit=move |ev| {
                ev.prevent_default();
                book.dispatch((patient.get_untracked(), kind.get_untracked(), slot.get_untracked(), reason.get_untracked(), me()));
            }>
                <div class="field">
                    <label for="book-patient">"Patient"</label>
                    <select id="book-patient" on:change=move |ev| patient.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        <Transition fallback=|| ()>
                            {move || patients.get().and_then(Result::ok).map(|rows| rows.into_iter().map(|p| view! {
                                <option value=p.id>{format!("{} ({})", p.name, p.mrn)}</option>
                            }).collect_view())}
                        </Transition>
                    </select>
                </div>
                <div class="field">
                    <label for="book-kind">"Kind of visit"</label>
                    <select id="book-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        <Transition fallback=|| ()>
                            {move || kinds.get().and_then(Result::ok).map(|all| all.into_iter().map(|k| view! {
                                <option value=k.id>{k.name}</option>
                            }).collect_view())}
                        </Transition>
                    </select>
                </div>
                <div class="field">
                    <label for="book-day">"Day"</label>
                    <input id="book-day" type="date" on:input=move |ev| day.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="book-time">"Time"</label>
                    <select id="book-time" on:change=move |ev| slot.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        <Transition fallback=|| ()>
                            {move || slots.get().and_then(Result::ok).map(|all| all.into_iter().map(|s| {
                                let label = clock::format_at(s.start, "%H:%M", in_browser.get_untracked());
                                view! { <option value=s.start.to_rfc3339()>{label}</option> }
                            }).collect_view())}
                        </Transition>
                    </select>
                </div>
                <div class="field">
                    <label for="book-reason">"Reason for visit"</label>
                    <input id="book-reason" type="text" maxlength="500" on:input=move |ev| reason.set(event_target_value(&ev))/>
                </div>
                <button class="button" type="submit">"Book"</button>
            </form>
            <div role="alert" class="form-alert">
                {move || book.value().get().map(|result| match result {
                    Ok(_) => view! { <p class="success">"Booked."</p> }.into_any(),
                    Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                })}
            </div>
        </details>
    }
}

/// Hours down the side, days across the top; each visit sits in the hour it starts.
#[component]
fn TimeGrid(
    days: Vec<NaiveDate>,
    entries: Vec<CalendarEntry>,
    in_browser: bool,
    show_clinician: bool,
) -> impl IntoView {
    let local = move |at: DateTime<Utc>| if in_browser { clock::local(at) } else { at.naive_utc() };
    let caption = match (days.first(), days.last()) {
        (Some(first), Some(last)) if first != last => {
            format!("Visits from {} to {}", first.format("%b %-d"), last.format("%b %-d, %Y"))
        }
        (Some(day), _) => format!("Visits on {}", day.format("%A %b %-d, %Y")),
        _ => String::new(),
    };
    let zone_note = if in_browser { "Times are in your time zone." } else { "Times are in UTC." };
    let cell = {
        let entries = entries.clone();
        move |day: NaiveDate, hour: u32| {
            entries
                .iter()
                .filter(|e| {
                    let start = local(e.start);
                    start.date() == day
                        && (start.hour() == hour
                            || (hour == FIRST_HOUR && start.hour() < FIRST_HOUR)
                            || (hour == LAST_HOUR && start.hour() > LAST_HOUR))
                })
                .cloned()
                .collect::<Vec<_>>()
        }
    };
    view! {
        <p class="muted">{zone_note}</p>
        <div class="table-scroll">
            <table class="calendar-grid">
                <caption>{caption}</caption>
                <thead><tr>
                    <th scope="col">"Time"</th>
                    {days.iter().map(|day| {
                        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
                        view! { <th scope="col" class:weekend=weekend>{day.format("%a %b %-d").to_string()}</th> }
                    }).collect_view()}
                </tr></thead>
                <tbody>
                    {(FIRST_HOUR..=LAST_HOUR).map(|hour| view! {
                        <tr>
                            <th scope="row" class="hour">{format!("{hour:02}:00")}</th>
                            {days.iter().map(|day| {
                                let here = cell(*day, hour);
                                view! {
                                    <td>
                                        {here.into_iter().map(|entry| view! { <VisitCard entry local show_clinician/> }).collect_view()}
                                    </td>
                                }
                            }).collect_view()}
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn VisitCard(
    entry: CalendarEntry,
    local: impl Fn(DateTime<Utc>) -> chrono::NaiveDateTime + 'static,
    show_clinician: bool,
) -> impl IntoView {
    let time = format!("{}–{}", local(entry.start).format("%H:%M"), local(entry.end).format("%H:%M"));
    let busy = entry.patient_name.is_none();
    let who = entry.patient_name.clone().unwrap_or_else(|| "Busy".to_owned());
    view! {
        <div class="visit-card" class:busy=busy class:requested=entry.status == "requested" data-status=entry.status.clone()>
            <span class="visit-time">{time}</span>
            <span class="visit-who">{who}</span>
            <span class="visit-kind">{entry.visit_type.clone()}</span>
            {show_clinician.then(|| view! { <span class="visit-clinician">{entry.clinician.clone()}</span> })}
            {(entry.status != "confirmed").then(|| view! { <span class="badge">{status_label(&entry.status).to_owned()}</span> })}
            {(entry.patient_name.is_some() || show_clinician).then(|| view! { <VisitActions entry=entry.clone()/> })}
        </div>
    }
}

/// What staff do with a visit: confirm a patient's request, record a missed visit, cancel with a
/// reason. The server decides whether this person may.
#[component]
fn VisitActions(entry: CalendarEntry) -> impl IntoView {
    let refresh = use_context::<CalendarRefresh>();
    let reason = RwSignal::new(String::new());
    let act = Action::new(move |(what, id): &(&'static str, String)| {
        let (what, id) = (*what, id.clone());
        let reason = reason.get_untracked();
        async move {
            let result = match what {
                "approve" => approve_appointment(id).await,
                "no_show" => mark_no_show(id).await,
                _ => cancel_appointment(id, reason).await,
            };
            if result.is_ok()
                && let Some(CalendarRefresh(r)) = refresh
            {
                r.update(|n| *n += 1);
            }
            result
        }
    });
    let started = entry.start <= clock::now();
    let requested = entry.status == "requested";
    let active = matches!(entry.status.as_str(), "requested" | "confirmed");
    let (a, b, c) = (entry.id.clone(), entry.id.clone(), entry.id.clone());
    let field = format!("cancel-{}", entry.id);
    view! {
        <details class="visit-actions">
            <summary>"Actions"</summary>
            {(requested).then(|| view! {
                <button class="button button-small" type="button" on:click=move |_| { act.dispatch(("approve", a.clone())); }>"Confirm"</button>
            })}
            {(active && started).then(|| view! {
                <button class="button button-small button-secondary" type="button" on:click=move |_| { act.dispatch(("no_show", b.clone())); }>"Mark missed"</button>
            })}
            {active.then(|| view! {
                <label for=field.clone()>"Reason for cancelling"</label>
                <input id=field.clone() type="text" maxlength="500" on:input=move |ev| reason.set(event_target_value(&ev))/>
                <button class="button button-small button-secondary" type="button" on:click=move |_| { act.dispatch(("cancel", c.clone())); }>"Cancel visit"</button>
            })}
            {move || act.value().get().and_then(Result::err).map(|err| view! { <p class="error" role="alert">{err.to_string()}</p> })}
        </details>
    }
}

/// The admin's clinic day: every clinician's visits (busy time only, the admin does not see
/// patients) and the online-booking switches.
/// The admin's clinic-day data, created by the page outside its gate (see `role_home`).
#[derive(Clone, Copy)]
pub struct ClinicDayData {
    day: RwSignal<NaiveDate>,
    calendar: Resource<Result<crate::api::schedule::CalendarView, AppError>>,
    kinds: Resource<Result<Vec<crate::api::schedule::VisitTypeView>, AppError>>,
    kinds_changed: RwSignal<u32>,
}

impl ClinicDayData {
    pub fn new(access: PageAccess) -> Self {
        let day = RwSignal::new(clock::today());
        let kinds_changed = RwSignal::new(0u32);
        Self {
            day,
            calendar: Resource::new(
                move || day.get(),
                move |day| async move {
                    access.granted().await?;
                    calendar(local_midnight(day).into(), 1, true).await
                },
            ),
            kinds: Resource::new(
                move || kinds_changed.get(),
                move |_| async move {
                    access.granted().await?;
                    visit_types().await
                },
            ),
            kinds_changed,
        }
    }
}

#[component]
pub fn ClinicDay(data: ClinicDayData) -> impl IntoView {
    let ClinicDayData { day, calendar: data, .. } = data;
    let in_browser = use_in_browser();
    view! {
        <section class="panel" aria-labelledby="clinic-day-title" id="clinic-day">
            <h2 id="clinic-day-title">"Clinic day"</h2>
            <div class="calendar-toolbar">
                <label for="clinic-day-date">"Day"</label>
                <input id="clinic-day-date" type="date" prop:value=move || day.get().format("%Y-%m-%d").to_string()
                    on:input=move |ev| if let Ok(d) = NaiveDate::parse_from_str(&event_target_value(&ev), "%Y-%m-%d") { day.set(d) }/>
            </div>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(cal) if cal.entries.is_empty() => view! { <p>"No visits on this day."</p> }.into_any(),
                    Ok(cal) => view! {
                        <TimeGrid days=vec![day.get_untracked()] entries=cal.entries in_browser=in_browser.get() show_clinician=true/>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
pub fn OnlineBooking(data: ClinicDayData) -> impl IntoView {
    let ClinicDayData { kinds, kinds_changed: refresh, .. } = data;
    let save = Action::new(move |(id, online, approval): &(String, bool, bool)| {
        let (id, online, approval) = (id.clone(), *online, *approval);
        async move {
            let result = set_self_scheduling(id, online, approval).await;
            refresh.update(|n| *n += 1);
            result
        }
    });
    view! {
        <section class="panel" aria-labelledby="online-booking-title" id="online-booking">
            <h2 id="online-booking-title">"Online booking"</h2>
            <p class="muted">"Choose which kinds of visit patients may book in the portal, and which wait for staff to confirm."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || kinds.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(kinds) => view! {
                        <table class="data-table">
                            <caption class="sr-only">"Online booking per kind of visit"</caption>
                            <thead><tr>
                                <th scope="col">"Kind of visit"</th><th scope="col">"Patients can book online"</th>
                                <th scope="col">"Staff confirm first"</th>
                            </tr></thead>
                            <tbody>
                                {kinds.into_iter().map(|k| {
                                    let (id_a, id_b) = (k.id.clone(), k.id.clone());
                                    let (online, approval) = (k.self_schedule, k.requires_approval);
                                    let online_label = format!("Patients can book {} online", k.name);
                                    let approval_label = format!("Staff confirm {} bookings first", k.name);
                                    view! {
                                        <tr>
                                            <th scope="row">{k.name.clone()}</th>
                                            <td><input type="checkbox" aria-label=online_label prop:checked=online
                                                on:change=move |ev| { save.dispatch((id_a.clone(), event_target_checked(&ev), approval)); }/></td>
                                            <td><input type="checkbox" aria-label=approval_label prop:checked=approval
                                                on:change=move |ev| { save.dispatch((id_b.clone(), online, event_target_checked(&ev))); }/></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Transition>
            <div role="alert" class="form-alert">
                {move || save.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
        </section>
    }
}

const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// The admin's hours-and-time-off data, created by the page outside its gate (see `role_home`).
#[derive(Clone, Copy)]
pub struct HoursData {
    clinician: RwSignal<String>,
    changed: RwSignal<u32>,
    directory: Resource<Result<Vec<crate::api::portal::ClinicianView>, AppError>>,
    hours: Resource<Result<(Vec<HoursBlock>, String), AppError>>,
    time_off: Resource<Result<Vec<crate::api::schedule::TimeOffView>, AppError>>,
}

impl HoursData {
    pub fn new(access: PageAccess) -> Self {
        let clinician = RwSignal::new(String::new());
        let changed = RwSignal::new(0u32);
        Self {
            clinician,
            changed,
            directory: Resource::new(
                || (),
                move |_| async move {
                    access.granted().await?;
                    crate::api::portal::clinician_directory().await
                },
            ),
            hours: Resource::new(
                move || (clinician.get(), changed.get()),
                move |(clinician, _)| async move {
                    access.granted().await?;
                    if clinician.is_empty() { Ok((Vec::new(), String::new())) } else { weekly_hours(clinician).await }
                },
            ),
            time_off: Resource::new(
                move || changed.get(),
                move |_| async move {
                    access.granted().await?;
                    upcoming_time_off().await
                },
            ),
        }
    }
}

/// Weekly hours per clinician (in the clinic's zone) and time off or clinic holidays. Slots are
/// offered only inside hours and outside time off.
#[component]
pub fn HoursPanel(data: HoursData) -> impl IntoView {
    let HoursData { clinician, changed, directory, hours, time_off } = data;
    let blocks = RwSignal::new(Vec::<HoursBlock>::new());
    Effect::new(move |_| {
        if let Some(Ok((loaded, _))) = hours.get() {
            blocks.set(loaded);
        }
    });
    let save = Action::new(move |(clinician, blocks): &(String, Vec<HoursBlock>)| {
        let (clinician, blocks) = (clinician.clone(), blocks.clone());
        async move {
            let result = set_weekly_hours(clinician, blocks).await;
            changed.update(|n| *n += 1);
            result
        }
    });
    let (off_who, off_from, off_to) =
        (RwSignal::new(String::new()), RwSignal::new(String::new()), RwSignal::new(String::new()));
    let add_off = Action::new(move |(who, from, to): &(String, String, String)| {
        let (who, from, to) = (who.clone(), from.clone(), to.clone());
        async move {
            let (Some(from), Some(to)) = (clock::from_local_input(&from), clock::from_local_input(&to)) else {
                return Err(AppError::Validation(vec![crate::error::FieldError {
                    field: "time_off".into(),
                    message: "Enter when the time off starts and ends.".into(),
                }]));
            };
            let result = add_time_off(Some(who).filter(|w| !w.is_empty()), from.into(), to.into()).await;
            changed.update(|n| *n += 1);
            result
        }
    });
    let clinician_options = move || {
        directory
            .get()
            .and_then(Result::ok)
            .map(|people| people.into_iter().map(|c| view! { <option value=c.id>{c.name}</option> }).collect_view())
    };
    view! {
        <section class="panel" aria-labelledby="hours-title" id="hours-panel">
            <h2 id="hours-title">"Hours and time off"</h2>
            <div class="field">
                <label for="hours-clinician">"Clinician"</label>
                <select id="hours-clinician" on:change=move |ev| clinician.set(event_target_value(&ev))>
                    <option value="">"Choose…"</option>
                    <Transition fallback=|| ()>{clinician_options}</Transition>
                </select>
            </div>
            <Transition fallback=|| ()>
                {move || hours.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok((_, zone)) if zone.is_empty() => ().into_any(),
                    Ok((_, zone)) => view! {
                        <p class="muted">{format!("Times are on the clinic's clock ({zone}).")}</p>
                        <table class="data-table" id="hours-table">
                            <caption class="sr-only">"Weekly hours"</caption>
                            <thead><tr><th scope="col">"Day"</th><th scope="col">"From"</th><th scope="col">"To"</th><th scope="col">"Remove"</th></tr></thead>
                            <tbody>
                                <For each={move || blocks.get().into_iter().enumerate().collect::<Vec<_>>()} key={|(i, b)| (*i, b.clone())} let:item>
                                    {
                                        let (index, block) = item;
                                        let day_label = format!("Day of block {}", index + 1);
                                        let from_label = format!("Start of block {}", index + 1);
                                        let to_label = format!("End of block {}", index + 1);
                                        view! {
                                            <tr>
                                                <td><select aria-label=day_label on:change=move |ev| {
                                                    let day = event_target_value(&ev).parse().unwrap_or(0);
                                                    blocks.update(|all| if let Some(b) = all.get_mut(index) { b.weekday = day });
                                                }>
                                                    {WEEKDAYS.iter().enumerate().map(|(n, name)| view! {
                                                        <option value=n.to_string() selected=n == usize::from(block.weekday)>{*name}</option>
                                                    }).collect_view()}
                                                </select></td>
                                                <td><input type="time" aria-label=from_label value=block.start.clone() on:change=move |ev| {
                                                    let value = event_target_value(&ev);
                                                    blocks.update(|all| if let Some(b) = all.get_mut(index) { b.start = value });
                                                }/></td>
                                                <td><input type="time" aria-label=to_label value=block.end.clone() on:change=move |ev| {
                                                    let value = event_target_value(&ev);
                                                    blocks.update(|all| if let Some(b) = all.get_mut(index) { b.end = value });
                                                }/></td>
                                                <td><button class="button button-small button-secondary" type="button"
                                                    on:click=move |_| blocks.update(|all| { if index < all.len() { all.remove(index); } })>"Remove"</button></td>
                                            </tr>
                                        }
                                    }
                                </For>
                            </tbody>
                        </table>
                        <div class="button-row">
                            <button class="button button-secondary" type="button" on:click=move |_| blocks.update(|all| all.push(HoursBlock {
                                weekday: 0, start: "09:00".into(), end: "17:00".into(),
                            }))>"Add hours"</button>
                            <button class="button" type="button" on:click=move |_| { save.dispatch((clinician.get_untracked(), blocks.get_untracked())); }>"Save hours"</button>
                        </div>
                    }.into_any(),
                })}
            </Transition>
            <h3>"Time off and holidays"</h3>
            <form method="post" class="inline-form" on:submit=move |ev| {
                ev.prevent_default();
                add_off.dispatch((off_who.get_untracked(), off_from.get_untracked(), off_to.get_untracked()));
            }>
                <div class="field">
                    <label for="off-who">"Who"</label>
                    <select id="off-who" on:change=move |ev| off_who.set(event_target_value(&ev))>
                        <option value="">"The whole clinic (holiday)"</option>
                        <Transition fallback=|| ()>{clinician_options}</Transition>
                    </select>
                </div>
                <div class="field">
                    <label for="off-from">"From"</label>
                    <input id="off-from" type="datetime-local" on:input=move |ev| off_from.set(event_target_value(&ev))/>
                </div>
                <div class="field">
                    <label for="off-to">"Until"</label>
                    <input id="off-to" type="datetime-local" on:input=move |ev| off_to.set(event_target_value(&ev))/>
                </div>
                <button class="button" type="submit">"Add time off"</button>
            </form>
            <Transition fallback=|| ()>
                {move || time_off.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(all) if all.is_empty() => view! { <p>"No time off planned."</p> }.into_any(),
                    Ok(all) => view! {
                        <ul id="time-off-list">
                            {all.into_iter().map(|off| view! {
                                <li>
                                    {off.clinician.unwrap_or_else(|| "Whole clinic".to_owned())} ": "
                                    <super::clock::When at=off.start/> " – " <super::clock::When at=off.end/>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Transition>
            <div role="alert" class="form-alert">
                {move || save.value().get().map(|result| match result {
                    Ok(()) => view! { <p class="success">"Hours saved."</p> }.into_any(),
                    Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
                })}
                {move || add_off.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
        </section>
    }
}
