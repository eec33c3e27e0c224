//! The security officer's incidents (45 CFR 164.308(a)(6)): the list, a form to open one (from
//! the alerts named in the address, `?alert=ID&alert=ID2`, or by hand), and one incident's page:
//! its alerts, the investigation log, the affected patients (ids and counts per State; a name
//! and address only when the officer opens one, audited), the four-factor assessment, the
//! decision, the deadlines as countdowns, the HHS report and the notice letters.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use super::clock::When;
use super::incident_forms::{AssessmentForm, DecisionForm, HhsForm};
use super::role_home::{PageAccess, RoleGate};
use crate::api::incidents::{
    IncidentView, OpenIncidentInput, RecipientView, add_incident_note, close_incident, incident_detail,
    incident_subjects, list_incidents, open_incident, open_incident_patient,
};

pub fn decision_label(decision: &str) -> &str {
    match decision {
        "not-a-breach" => "Not a breach",
        "low-probability" => "Low probability of compromise",
        "breach" => "Breach",
        other => other,
    }
}

fn countdown(days: i64) -> String {
    match days {
        0 => "due today".to_owned(),
        1 => "1 day left".to_owned(),
        d if d > 1 => format!("{d} days left"),
        -1 => "1 day overdue".to_owned(),
        d => format!("{} days overdue", -d),
    }
}

#[component]
pub fn IncidentsPage() -> impl IntoView {
    let access = PageAccess::new("security_officer");
    let incidents = Resource::new(
        || (),
        move |_| async move {
            access.granted().await?;
            list_incidents().await
        },
    );
    view! {
        <RoleGate access title="Incidents">
            <section class="panel" aria-labelledby="incidents-title">
                <h2 id="incidents-title">"Security incidents"</h2>
                <p><a class="button" href="/security/incidents/new">"Open an incident"</a></p>
                <Transition fallback=|| view! { <p>"Loading incidents…"</p> }>
                    {move || incidents.get().map(|result| match result {
                        Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p>"No incidents yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <div class="table-scroll">
                                <table class="data-table" id="incident-list">
                                    <caption class="sr-only">"Incidents, open first, newest first"</caption>
                                    <thead><tr>
                                        <th scope="col">"Title"</th><th scope="col">"Status"</th><th scope="col">"Person"</th>
                                        <th scope="col">"Discovered"</th><th scope="col">"Decision"</th><th scope="col">"Affected"</th>
                                    </tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|i| view! {
                                            <tr>
                                                <th scope="row"><a href=format!("/security/incidents/{}", i.id)>{i.title}</a></th>
                                                <td><span class=format!("badge badge-{}", i.status)>{i.status.clone()}</span></td>
                                                <td>{i.subject.unwrap_or_else(|| "—".to_owned())}</td>
                                                <td>{i.discovered.to_string()}</td>
                                                <td>{i.decision.as_deref().map_or("Not decided", decision_label).to_owned()}</td>
                                                <td>{i.affected}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any(),
                    })}
                </Transition>
            </section>
        </RoleGate>
    }
    .into_any()
}

#[component]
pub fn NewIncidentPage() -> impl IntoView {
    let access = PageAccess::new("security_officer");
    let query = use_query_map();
    let alerts = Signal::derive(move || query.read().get_all("alert").unwrap_or_default());
    let subjects = Resource::new(
        || (),
        move |_| async move {
            access.granted().await?;
            incident_subjects().await
        },
    );
    let title = RwSignal::new(String::new());
    let subject = RwSignal::new(String::new());
    let start = RwSignal::new(String::new());
    let end = RwSignal::new(String::new());
    let discovered = RwSignal::new(String::new());
    // Defaults once in the browser: the last seven days, discovered today (UTC).
    Effect::new(move |_| {
        let now = super::clock::now();
        start.set((now - chrono::Duration::days(7)).format("%Y-%m-%dT%H:%M").to_string());
        end.set(now.format("%Y-%m-%dT%H:%M").to_string());
        discovered.set(now.format("%Y-%m-%d").to_string());
    });
    let open = Action::new(move |input: &OpenIncidentInput| open_incident(input.clone()));
    let pending = open.pending();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = open.value().get() {
            navigate(&format!("/security/incidents/{id}"), Default::default());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let from_alerts = !alerts.get_untracked().is_empty();
        let some = |s: String| Some(s).filter(|s| !s.trim().is_empty());
        open.dispatch(OpenIncidentInput {
            title: title.get_untracked(),
            alerts: alerts.get_untracked(),
            subject: if from_alerts { None } else { some(subject.get_untracked()) },
            window_start: if from_alerts { None } else { some(start.get_untracked()) },
            window_end: if from_alerts { None } else { some(end.get_untracked()) },
            discovered: some(discovered.get_untracked()),
        });
    };
    view! {
        <RoleGate access title="Open an incident">
            <section class="panel" aria-labelledby="new-incident-title">
                <h2 id="new-incident-title">"New incident"</h2>
                <form method="post" novalidate on:submit=submit class="form-grid" id="new-incident-form">
                    <label for="incident-title">"Title"</label>
                    <input id="incident-title" type="text" maxlength="200" autocomplete="off" required
                        prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev))/>
                    {move || {
                        let ids = alerts.get();
                        if ids.is_empty() {
                            view! {
                                <label for="incident-subject">"Whose activity"</label>
                                <select id="incident-subject" on:change=move |ev| subject.set(event_target_value(&ev))>
                                    <option value="">"Nobody in particular"</option>
                                    <Transition fallback=|| ()>
                                        {move || subjects.get().and_then(Result::ok).map(|people| people.into_iter().map(|p| view! {
                                            <option value=p.id.clone() selected=move || subject.get() == p.id>{p.name}</option>
                                        }).collect_view())}
                                    </Transition>
                                </select>
                                <label for="incident-start">"Window start (UTC)"</label>
                                <input id="incident-start" type="datetime-local" prop:value=move || start.get()
                                    on:input=move |ev| start.set(event_target_value(&ev))/>
                                <label for="incident-end">"Window end (UTC)"</label>
                                <input id="incident-end" type="datetime-local" prop:value=move || end.get()
                                    on:input=move |ev| end.set(event_target_value(&ev))/>
                            }.into_any()
                        } else {
                            view! {
                                <span>"From alerts"</span>
                                <ul id="incident-from-alerts">{ids.into_iter().map(|id| view! { <li class="mono">{id}</li> }).collect_view()}</ul>
                            }.into_any()
                        }
                    }}
                    <label for="incident-discovered">"Discovered on"</label>
                    <input id="incident-discovered" type="date" prop:value=move || discovered.get()
                        on:input=move |ev| discovered.set(event_target_value(&ev))/>
                    <button class="button" type="submit" disabled=move || pending.get()>"Open incident"</button>
                </form>
                <div role="alert" class="form-alert" id="new-incident-alert">
                    {move || open.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
                </div>
            </section>
        </RoleGate>
    }
    .into_any()
}

#[component]
pub fn IncidentPage() -> impl IntoView {
    let access = PageAccess::new("security_officer");
    let params = use_params_map();
    let id = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let refresh = RwSignal::new(0u32);
    let incident = Resource::new(
        move || (id.get(), refresh.get()),
        move |(id, _)| async move {
            access.granted().await?;
            incident_detail(id).await
        },
    );
    view! {
        <RoleGate access title="Incident">
            <Transition fallback=|| view! { <p>"Loading the incident…"</p> }>
                {move || incident.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(view) => view! { <IncidentDetail incident=view refresh/> }.into_any(),
                })}
            </Transition>
        </RoleGate>
    }
    .into_any()
}

#[component]
fn IncidentDetail(incident: IncidentView, refresh: RwSignal<u32>) -> impl IntoView {
    let reload = Callback::new(move |()| refresh.update(|n| *n += 1));
    let id = incident.id.clone();
    let open = incident.status == "open";
    let close_id = id.clone();
    let close = Action::new(move |(): &()| {
        let id = close_id.clone();
        async move {
            let result = close_incident(id).await;
            if result.is_ok() {
                reload.run(());
            }
            result
        }
    });
    let window = incident.window.map(|(s, e)| view! { <When at=s/>" – "<When at=e/> });
    view! {
        <section class="panel" aria-labelledby="incident-summary-title">
            <h2 id="incident-summary-title">{incident.title.clone()}</h2>
            <dl class="facts">
                <div><dt>"Status"</dt><dd><span class=format!("badge badge-{}", incident.status) id="incident-status">{incident.status.clone()}</span></dd></div>
                <div><dt>"Opened"</dt><dd><When at=incident.opened_at/>" by "{incident.opened_by.clone()}</dd></div>
                <div><dt>"Person investigated"</dt><dd>{incident.subject.clone().unwrap_or_else(|| "—".to_owned())}</dd></div>
                <div><dt>"Window"</dt><dd>{window.map_or_else(|| view! { "—" }.into_any(), IntoAny::into_any)}</dd></div>
                <div><dt>"Discovered"</dt><dd id="incident-discovered-on">{incident.discovered.to_string()}</dd></div>
                <div><dt>"Decision"</dt><dd id="incident-decision">{incident.decision.as_deref().map_or("Not decided", decision_label).to_owned()}</dd></div>
            </dl>
            {open.then(|| view! {
                <p><button class="button button-secondary" type="button" on:click=move |_| { close.dispatch(()); }>"Close incident"</button></p>
            })}
            <div role="alert" class="form-alert">
                {move || close.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
        </section>
        <Deadlines incident=incident.clone()/>
        <section class="panel" aria-labelledby="incident-alerts-title">
            <h2 id="incident-alerts-title">"Alerts"</h2>
            {if incident.alerts.is_empty() {
                view! { <p>"No alerts are assigned to this incident."</p> }.into_any()
            } else {
                view! {
                    <ul class="alert-list" id="incident-alerts">
                        {incident.alerts.iter().cloned().map(|a| view! {
                            <li>
                                <span class=format!("badge badge-{}", a.status)>{a.status.clone()}</span>" "
                                <strong>{a.rule}</strong>" "<span>{format!("({})", a.severity)}</span>" "
                                <When at=a.created_at/>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
        <InvestigationLog incident=incident.clone() reload/>
        <AffectedPatients incident=incident.clone()/>
        <AssessmentForm id=id.clone() initial=incident.assessment.clone() reload/>
        <DecisionForm id=id.clone() current=incident.decision.clone() safe_harbor=incident.safe_harbor reload/>
        <HhsForm id initial=incident.hhs.clone() reload/>
    }
    .into_any()
}

#[component]
fn Deadlines(incident: IncidentView) -> impl IntoView {
    if incident.decision.as_deref() != Some("breach") {
        return ().into_any();
    }
    view! {
        <section class="panel" aria-labelledby="deadlines-title">
            <h2 id="deadlines-title">"Notification deadlines"</h2>
            <p class="muted">{format!("Counted from the discovery date, {}.", incident.discovered)}</p>
            <ul id="incident-deadlines">
                {incident.deadlines.into_iter().map(|d| view! {
                    <li data-kind=d.kind.clone()>
                        <strong>{d.label}</strong>": "{d.due.to_string()}" — "<span class="countdown">{countdown(d.days_left)}</span>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn InvestigationLog(incident: IncidentView, reload: Callback<()>) -> impl IntoView {
    let body = RwSignal::new(String::new());
    let id = incident.id.clone();
    let add = Action::new(move |text: &String| {
        let (id, text) = (id.clone(), text.clone());
        async move {
            let result = add_incident_note(id, text).await;
            if result.is_ok() {
                reload.run(());
            }
            result
        }
    });
    view! {
        <section class="panel" aria-labelledby="log-title">
            <h2 id="log-title">"Investigation log"</h2>
            {if incident.notes.is_empty() {
                view! { <p>"Nothing logged yet."</p> }.into_any()
            } else {
                view! {
                    <ol id="incident-notes">
                        {incident.notes.into_iter().map(|n| view! {
                            <li><p>{n.body}</p><p class="muted">{n.author}", "<When at=n.at/></p></li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
            <form method="post" novalidate on:submit=move |ev| { ev.prevent_default(); add.dispatch(body.get_untracked()); }>
                <label for="incident-note">"Add to the log"</label>
                <textarea id="incident-note" rows="3" maxlength="4000" prop:value=move || body.get()
                    on:input=move |ev| body.set(event_target_value(&ev))></textarea>
                <button class="button" type="submit">"Add note"</button>
            </form>
            <div role="alert" class="form-alert">
                {move || add.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn AffectedPatients(incident: IncidentView) -> impl IntoView {
    let id = incident.id.clone();
    let count = incident.affected.len();
    view! {
        <section class="panel" aria-labelledby="affected-title">
            <h2 id="affected-title">"Affected patients"</h2>
            <p id="affected-count">{match count { 1 => "1 patient".to_owned(), n => format!("{n} patients") }}
                " whose information the person investigated opened in the window, from the audit log."</p>
            {(!incident.per_state.is_empty()).then(|| view! {
                <table class="data-table" id="affected-per-state">
                    <caption>"Residents per State (media notice over 500)"</caption>
                    <thead><tr><th scope="col">"State"</th><th scope="col">"Patients"</th></tr></thead>
                    <tbody>
                        {incident.per_state.iter().cloned().map(|(state, n)| view! { <tr><th scope="row">{state}</th><td>{n}</td></tr> }).collect_view()}
                    </tbody>
                </table>
            })}
            <ul class="review-list" id="affected-patients">
                {incident.affected.into_iter().map(|p| view! { <li><AffectedRow incident=id.clone() patient=p.patient_id notified=p.notified_at.is_some()/></li> }).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn AffectedRow(incident: String, patient: String, notified: bool) -> impl IntoView {
    let (i, p) = (incident.clone(), patient.clone());
    let open = Action::new(move |(): &()| open_incident_patient(i.clone(), p.clone()));
    let letter = format!("/security/incidents/{incident}/letters/{patient}.html");
    view! {
        <span class="mono">{patient.clone()}</span>" "
        {notified.then(|| view! { <span class="badge badge-closed">"Letter downloaded"</span> })}" "
        <button class="button button-small" type="button" aria-label=format!("Open patient {patient}")
            on:click=move |_| { open.dispatch(()); }>"Open"</button>" "
        <a class="button button-small" href=letter download aria-label=format!("Download the letter for patient {patient}")>"Download letter"</a>
        {move || open.value().get().map(|result| match result {
            Ok(RecipientView { name, address, .. }) => view! {
                <address class="recipient">{name}{address.into_iter().map(|line| view! { <br/>{line} }).collect_view()}</address>
            }.into_any(),
            Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
        })}
    }
    .into_any()
}
