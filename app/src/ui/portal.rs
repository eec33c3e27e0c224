//! The patient's portal: their record (read-only), who may see it, and who looked at it. The
//! last is the accounting of disclosures a patient may ask for (45 CFR 164.528) and the access
//! report of 164.524, drawn from the audit log.

use leptos::prelude::*;

use super::clock::When;
use super::layout::role_label;
use super::record::{DemographicsHeader, RecordSections};
use super::role_home::{PageAccess, RoleGate};
use crate::api::chart::ChartView;
use crate::api::portal::{
    AccessView, CareLinkView, ClinicianView, clinician_directory, grant_consent, my_care_team, my_chart,
    revoke_consent, who_looked,
};
use crate::error::AppError;

/// What an audited action means to the patient.
pub fn action_label(action: &str) -> &str {
    match action {
        "chart.read" => "Opened your chart",
        "chart.entry.create" => "Added to your chart",
        "chart.entry.update" => "Changed an entry in your chart",
        "chart.entry.delete" => "Removed an entry from your chart",
        "patient.search" => "Found you in a search",
        "patient.list" => "Listed you among their patients",
        "break_glass.declare" => "Declared emergency access",
        "patient.access_log.read" => "Viewed this access history",
        "consent.grant" => "Gave a clinician access",
        "consent.revoke" => "Took back a clinician's access",
        "consent.list" => "Viewed who can see your record",
        "message.read" => "Read your messages",
        "message.send" => "Wrote in your messages",
        "message.inbox" => "Listed your conversations in their inbox",
        "message.attachment.read" => "Opened an attachment of your messages",
        other => other,
    }
}

fn purpose_label(purpose: &str) -> &str {
    match purpose {
        "treatment" => "Treatment",
        "payment" => "Payment",
        "operations" => "Clinic operations",
        "emergency" => "Emergency",
        "patient_request" => "Your request",
        "system_maintenance" => "System maintenance",
        other => other,
    }
}

fn who_role(role: &str) -> &str {
    match role {
        "system" => "Clinic system",
        "anonymous" => "Not signed in",
        other => role_label(other),
    }
}

fn care_kind_label(kind: &str) -> &str {
    match kind {
        "assignment" => "Assigned clinician",
        "care_team" => "Care team member",
        "consent" => "You gave access",
        other => other,
    }
}

/// The portal's data, loaded once per page and only for the patient.
#[derive(Clone, Copy)]
struct PortalData {
    chart: Resource<Result<ChartView, AppError>>,
    team: Resource<Result<Vec<CareLinkView>, AppError>>,
    directory: Resource<Result<Vec<ClinicianView>, AppError>>,
    history: Resource<Result<Vec<AccessView>, AppError>>,
    /// Bumped after a consent is granted or revoked.
    team_changed: RwSignal<u32>,
}

impl PortalData {
    fn new(access: PageAccess) -> Self {
        let team_changed = RwSignal::new(0u32);
        Self {
            chart: Resource::new(
                || (),
                move |_| async move {
                    access.granted().await?;
                    my_chart().await
                },
            ),
            team: Resource::new(
                move || team_changed.get(),
                move |_| async move {
                    access.granted().await?;
                    my_care_team().await
                },
            ),
            directory: Resource::new(
                || (),
                move |_| async move {
                    access.granted().await?;
                    clinician_directory().await
                },
            ),
            history: Resource::new(
                || (),
                move |_| async move {
                    access.granted().await?;
                    who_looked().await
                },
            ),
            team_changed,
        }
    }
}

#[component]
pub fn PortalPage() -> impl IntoView {
    let access = PageAccess::new("patient");
    let data = PortalData::new(access);
    let visits = super::appointments::VisitsData::new(access);
    view! {
        <RoleGate access title="My record">
            <p class="page-links"><a class="button button-secondary" href="/portal/messages" id="messages-link">"Messages"</a></p>
            <super::appointments::MyVisits data=visits/>
            <MyRecord data/>
            <WhoCanSee data/>
            <WhoLooked data/>
        </RoleGate>
    }
}

#[component]
fn MyRecord(data: PortalData) -> impl IntoView {
    let chart = data.chart;
    view! {
        <Transition fallback=|| view! { <p>"Loading your record…"</p> }>
            {move || chart.get().map(|result| match result {
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                Ok(chart) => view! {
                    <DemographicsHeader patient=chart.patient heading="Your details"/>
                    <RecordSections entries=chart.entries for_patient=true/>
                }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn WhoCanSee(data: PortalData) -> impl IntoView {
    let PortalData { team, directory, team_changed: refresh, .. } = data;
    let chosen = RwSignal::new(String::new());
    let revoke = Action::new(move |link: &String| {
        let link = link.clone();
        async move {
            let result = revoke_consent(link).await;
            refresh.update(|n| *n += 1);
            result
        }
    });
    let grant = Action::new(move |clinician: &String| {
        let clinician = clinician.clone();
        async move {
            let result = grant_consent(clinician).await;
            if result.is_ok() {
                chosen.set(String::new());
            }
            refresh.update(|n| *n += 1);
            result
        }
    });
    let problem = RwSignal::new(None::<&'static str>);
    view! {
        <section class="panel" aria-labelledby="who-can-see-title">
            <h2 id="who-can-see-title">"Who can see my record"</h2>
            <p class="muted">
                "Your clinic assigns your clinicians and care team. You can also give another clinician access "
                "and take it back at any time."
            </p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || team.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(links) if links.is_empty() => view! { <p>"No clinician has access to your record yet."</p> }.into_any(),
                    Ok(links) => view! {
                        <div class="table-scroll">
                            <table class="data-table" id="care-team-table">
                                <caption class="sr-only">"Clinicians who can see your record"</caption>
                                <thead><tr>
                                    <th scope="col">"Clinician"</th><th scope="col">"Why"</th><th scope="col">"Since"</th>
                                    <th scope="col">"Actions"</th>
                                </tr></thead>
                                <tbody>
                                    {links.into_iter().map(|link| {
                                        let consent = link.kind == "consent";
                                        let (id, label) = (link.id.clone(), format!("Revoke access of {}", link.clinician));
                                        view! {
                                            <tr>
                                                <th scope="row">{link.clinician}</th>
                                                <td>{care_kind_label(&link.kind).to_owned()}</td>
                                                <td><When at=link.since pattern="%Y-%m-%d"/></td>
                                                <td>
                                                    {consent.then(|| view! {
                                                        <button class="button button-small button-secondary" type="button" aria-label=label
                                                            on:click=move |_| { revoke.dispatch(id.clone()); }>"Revoke"</button>
                                                    })}
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                })}
            </Transition>
            <Transition fallback=|| ()>
                <form method="post" class="inline-form" on:submit=move |ev| {
                    ev.prevent_default();
                    grant.value().set(None);
                    match chosen.get_untracked() {
                        picked if picked.is_empty() => problem.set(Some("Choose a clinician first.")),
                        picked => { problem.set(None); grant.dispatch(picked); }
                    }
                }>
                    <div class="field">
                        <label for="grant-clinician">"Clinician"</label>
                        <select id="grant-clinician" prop:value=move || chosen.get() on:change=move |ev| chosen.set(event_target_value(&ev))>
                            <option value="">"Choose a clinician…"</option>
                            {move || directory.get().and_then(Result::ok).map(|people| people.into_iter().map(|c| view! {
                                <option value=c.id>{c.name}</option>
                            }).collect_view())}
                        </select>
                    </div>
                    <button class="button" type="submit">"Grant access"</button>
                </form>
                {move || directory.get().and_then(Result::err).map(|err| view! { <p class="error" role="alert">{err.to_string()}</p> })}
            </Transition>
            <div role="alert" class="form-alert" id="care-team-alert">
                {move || problem.get().map(|p| view! { <p class="error">{p}</p> })}
                {move || grant.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
                {move || revoke.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
        </section>
    }
}

#[component]
fn WhoLooked(data: PortalData) -> impl IntoView {
    let history = data.history;
    view! {
        <section class="panel" aria-labelledby="who-looked-title">
            <h2 id="who-looked-title">"Who looked at my record"</h2>
            <p class="muted">"Every time someone opens, searches for or changes your record, it is listed here, newest first."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || history.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! { <p>"Nobody has looked at your record yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <div class="table-scroll">
                            <table class="data-table" id="who-looked-table">
                                <caption class="sr-only">"Accesses to your record, newest first"</caption>
                                <thead><tr>
                                    <th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"Role"</th>
                                    <th scope="col">"What"</th><th scope="col">"Outcome"</th><th scope="col">"Purpose"</th>
                                </tr></thead>
                                <tbody>
                                    {rows.into_iter().map(|row| view! {
                                        <tr class:emergency-row=row.break_glass>
                                            <td><When at=row.at/></td>
                                            <th scope="row">{row.who}</th>
                                            <td>{who_role(&row.role).to_owned()}</td>
                                            <td>
                                                <span>{action_label(&row.action).to_owned()}</span>
                                                {row.break_glass.then(|| view! { <span class="badge badge-emergency">"Emergency access"</span> })}
                                            </td>
                                            <td><span class=format!("badge badge-{}", row.outcome)>{row.outcome.clone()}</span></td>
                                            <td>{row.purpose.as_deref().map_or("—", purpose_label).to_owned()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
