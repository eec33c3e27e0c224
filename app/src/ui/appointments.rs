//! The patient's visits: book an open slot (when the clinic allows online booking for that
//! kind of visit), see upcoming and past visits, and cancel with a reason. Times are shown on
//! the viewer's wall clock.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use leptos::prelude::*;

use super::clock::{self, When, use_in_browser};
use super::role_home::PageAccess;
use crate::api::portal::{ClinicianView, clinician_directory};
use crate::api::schedule::{
    AppointmentView, SlotView, VisitTypeView, book_my_visit, cancel_appointment, my_appointments, open_slots,
    visit_types,
};
use crate::error::AppError;

pub fn status_label(status: &str) -> &str {
    match status {
        "requested" => "Waiting for the clinic to confirm",
        "confirmed" => "Confirmed",
        "cancelled" => "Cancelled",
        "no_show" => "Missed",
        "completed" => "Completed",
        other => other,
    }
}

/// The visits section's data, created by the page outside its gate (see `role_home`).
#[derive(Clone, Copy)]
pub struct VisitsData {
    kinds: Resource<Result<Vec<VisitTypeView>, AppError>>,
    directory: Resource<Result<Vec<ClinicianView>, AppError>>,
    visits: Resource<Result<Vec<AppointmentView>, AppError>>,
    /// Bumped after a booking or a cancellation.
    refresh: RwSignal<u32>,
}

impl VisitsData {
    pub fn new(access: PageAccess) -> Self {
        let refresh = RwSignal::new(0u32);
        Self {
            kinds: Resource::new(
                || (),
                move |_| async move {
                    access.granted().await?;
                    visit_types().await
                },
            ),
            directory: Resource::new(
                || (),
                move |_| async move {
                    access.granted().await?;
                    clinician_directory().await
                },
            ),
            visits: Resource::new(
                move || refresh.get(),
                move |_| async move {
                    access.granted().await?;
                    my_appointments().await
                },
            ),
            refresh,
        }
    }
}

#[component]
pub fn MyVisits(data: VisitsData) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="visits-title" id="my-visits">
            <h2 id="visits-title">"My visits"</h2>
            <BookVisit data/>
            <VisitList data/>
        </section>
    }
}

#[component]
fn BookVisit(data: VisitsData) -> impl IntoView {
    let VisitsData { kinds, directory, refresh, .. } = data;
    let kind = RwSignal::new(String::new());
    let clinician = RwSignal::new(String::new());
    let day = RwSignal::new((clock::today() + Duration::days(1)).format("%Y-%m-%d").to_string());
    let chosen = RwSignal::new(None::<DateTime<Utc>>);
    let reason = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let find = Action::new(move |(clinician, kind, day): &(String, String, NaiveDate)| {
        let (clinician, kind, day) = (clinician.clone(), kind.clone(), *day);
        async move { open_slots(clinician, kind, day.into(), 7).await }
    });
    let book = Action::new(move |(clinician, kind, at, reason): &(String, String, DateTime<Utc>, String)| {
        let (clinician, kind, at, reason) = (clinician.clone(), kind.clone(), *at, reason.clone());
        async move {
            let result = book_my_visit(clinician, kind, at.into(), reason).await;
            if result.is_ok() {
                refresh.update(|n| *n += 1);
            }
            result
        }
    });
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        chosen.set(None);
        book.value().set(None);
        match NaiveDate::parse_from_str(&day.get_untracked(), "%Y-%m-%d") {
            Ok(from) if !kind.get_untracked().is_empty() && !clinician.get_untracked().is_empty() => {
                problem.set(None);
                find.dispatch((clinician.get_untracked(), kind.get_untracked(), from));
            }
            Ok(_) => problem.set(Some("Choose the kind of visit and a clinician.".into())),
            Err(_) => problem.set(Some("Enter a date.".into())),
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match chosen.get_untracked() {
            None => problem.set(Some("Choose a time first.".into())),
            Some(_) if reason.get_untracked().trim().is_empty() => {
                problem.set(Some("Tell the clinic briefly why you want to come.".into()));
            }
            Some(at) => {
                problem.set(None);
                book.dispatch((clinician.get_untracked(), kind.get_untracked(), at, reason.get_untracked()));
            }
        }
    };
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || kinds.get().map(|result| match result {
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                Ok(all) => {
                    let online: Vec<_> = all.into_iter().filter(|k| k.self_schedule).collect();
                    if online.is_empty() {
                        return view! {
                            <p id="no-online-booking">"Online booking is not available right now. Please call the clinic to make an appointment."</p>
                        }.into_any();
                    }
                    view! {
                        <h3>"Book a visit"</h3>
                        <form method="post" class="inline-form" id="find-slots" on:submit=search>
                            <div class="field">
                                <label for="visit-kind">"Kind of visit"</label>
                                <select id="visit-kind" on:change=move |ev| kind.set(event_target_value(&ev)) prop:value=move || kind.get()>
                                    <option value="">"Choose…"</option>
                                    {online.into_iter().map(|k| {
                                        let label = format!("{} ({} min{})", k.name, k.duration_minutes, if k.requires_approval { ", the clinic confirms" } else { "" });
                                        view! { <option value=k.id>{label}</option> }
                                    }).collect_view()}
                                </select>
                            </div>
                            <div class="field">
                                <label for="visit-clinician">"Who you want to see"</label>
                                <select id="visit-clinician" on:change=move |ev| clinician.set(event_target_value(&ev)) prop:value=move || clinician.get()>
                                    <option value="">"Choose…"</option>
                                    {move || directory.get().and_then(Result::ok).map(|people| people.into_iter().map(|c| view! {
                                        <option value=c.id>{c.name}</option>
                                    }).collect_view())}
                                </select>
                            </div>
                            <div class="field">
                                <label for="visit-from">"From"</label>
                                <input id="visit-from" type="date" prop:value=move || day.get() on:input=move |ev| day.set(event_target_value(&ev))/>
                            </div>
                            <button class="button" type="submit">"Show open times"</button>
                        </form>
                        {move || find.value().get().map(|result| match result {
                            Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                            Ok(slots) if slots.is_empty() => view! { <p>"No open times in the next seven days. Try later dates."</p> }.into_any(),
                            Ok(slots) => view! { <SlotPicker slots chosen reason submit/> }.into_any(),
                        })}
                    }.into_any()
                }
            })}
        </Transition>
        <div role="alert" class="form-alert" id="booking-alert">
            {move || problem.get().map(|p| view! { <p class="error">{p}</p> })}
            {move || book.value().get().map(|result| match result {
                Ok(status) if status == "requested" => view! { <p class="success">"Requested. The clinic will confirm your visit."</p> }.into_any(),
                Ok(_) => view! { <p class="success">"Booked. Your visit is confirmed."</p> }.into_any(),
                Err(err) => view! { <p class="error">{err.to_string()}</p> }.into_any(),
            })}
        </div>
    }
}

#[component]
fn SlotPicker(
    slots: Vec<SlotView>,
    chosen: RwSignal<Option<DateTime<Utc>>>,
    reason: RwSignal<String>,
    submit: impl Fn(leptos::ev::SubmitEvent) + 'static,
) -> impl IntoView {
    let in_browser = use_in_browser();
    view! {
        <form method="post" id="book-slot" on:submit=submit>
            <fieldset class="slot-picker">
                <legend>"Open times"</legend>
                <div class="slot-grid">
                    {slots.into_iter().map(|slot| {
                        let start = slot.start;
                        let label = move || clock::format_at(start, "%a %b %-d, %H:%M", in_browser.get());
                        view! {
                            <label class="slot">
                                <input type="radio" name="slot" value=start.to_rfc3339()
                                    prop:checked=move || chosen.get() == Some(start)
                                    on:change=move |_| chosen.set(Some(start))/>
                                <span>{label}</span>
                            </label>
                        }
                    }).collect_view()}
                </div>
            </fieldset>
            <div class="field">
                <label for="visit-reason">"Reason for visit"</label>
                <textarea id="visit-reason" rows="2" maxlength="500" prop:value=move || reason.get()
                    on:input=move |ev| reason.set(event_target_value(&ev))></textarea>
                <p class="muted">"Only your clinic sees this. Reminders never mention it."</p>
            </div>
            <button class="button" type="submit">"Book visit"</button>
        </form>
    }
}

#[component]
fn VisitList(data: VisitsData) -> impl IntoView {
    let VisitsData { visits, refresh, .. } = data;
    view! {
        <Transition fallback=|| view! { <p>"Loading your visits…"</p> }>
            {move || visits.get().map(|result| match result {
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                Ok(all) => {
                    let now = clock::now();
                    let (upcoming, past): (Vec<_>, Vec<_>) = all.into_iter().partition(|v| {
                        v.end > now && matches!(v.status.as_str(), "requested" | "confirmed")
                    });
                    let mut past = past;
                    past.reverse();
                    view! {
                        <h3>"Upcoming"</h3>
                        {if upcoming.is_empty() {
                            view! { <p>"You have no upcoming visits."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="visit-list" id="upcoming-visits">
                                    {upcoming.into_iter().map(|visit| view! { <li><UpcomingVisit visit refresh/></li> }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                        <h3>"Past and cancelled"</h3>
                        {if past.is_empty() {
                            view! { <p>"None yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="visit-list" id="past-visits">
                                    {past.into_iter().map(|visit| view! {
                                        <li>
                                            <VisitSummary visit=visit.clone()/>
                                            {visit.cancel_reason.map(|r| view! { <p class="muted">"Cancelled: " {r}</p> })}
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    }.into_any()
                }
            })}
        </Transition>
    }
}

#[component]
fn VisitSummary(visit: AppointmentView) -> impl IntoView {
    view! {
        <p class="visit-summary">
            <strong><When at=visit.start pattern="%a %b %-d, %Y %H:%M"/></strong>
            " · " {visit.visit_type} " with " {visit.clinician}
            " · " <span class="badge">{status_label(&visit.status).to_owned()}</span>
        </p>
        <p class="muted">"Reason: " {visit.reason}</p>
    }
}

#[component]
fn UpcomingVisit(visit: AppointmentView, refresh: RwSignal<u32>) -> impl IntoView {
    let cancelling = RwSignal::new(false);
    let reason = RwSignal::new(String::new());
    let id = visit.id.clone();
    let field = format!("cancel-reason-{}", visit.id);
    let cancel = Action::new(move |(id, reason): &(String, String)| {
        let (id, reason) = (id.clone(), reason.clone());
        async move {
            let result = cancel_appointment(id, reason).await;
            if result.is_ok() {
                refresh.update(|n| *n += 1);
            }
            result
        }
    });
    let video_link = (visit.video && visit.status == "confirmed").then(|| {
        let href = format!("/visit/{}", visit.id);
        view! { <a class="button button-small" href=href>"Join video visit"</a> " " }
    });
    view! {
        <VisitSummary visit/>
        {video_link}
        <Show when=move || cancelling.get() fallback=move || view! {
            <button class="button button-small button-secondary" type="button" on:click=move |_| cancelling.set(true)>"Cancel this visit"</button>
        }>
            <form method="post" class="inline-form" on:submit={
                let id = id.clone();
                move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    cancel.dispatch((id.clone(), reason.get_untracked()));
                }
            }>
                <div class="field">
                    <label for=field.clone()>"Reason for cancelling"</label>
                    <input id=field.clone() type="text" maxlength="500" required prop:value=move || reason.get()
                        on:input=move |ev| reason.set(event_target_value(&ev))/>
                </div>
                <button class="button button-small" type="submit">"Confirm cancellation"</button>
            </form>
        </Show>
        <div role="alert" class="form-alert">
            {move || cancel.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
        </div>
    }
}
