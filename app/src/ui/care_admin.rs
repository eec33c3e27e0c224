//! The admin's care-relationship panel: find a patient by MRN, see who is assigned to them and
//! on their care team, assign a clinician or end a relationship. The admin never sees the chart
//! (minimum necessary, 45 CFR 164.502(b)); the policy that opens charts reads these rows.

use leptos::prelude::*;

use super::clock::When;
use super::dashboard::relationship_label;
use super::role_home::PageAccess;
use crate::api::care::{PatientCare, assign_care, care_for_mrn, end_care};
use crate::api::portal::{ClinicianView, clinician_directory};
use crate::error::AppError;

/// The panel's state and data, created with the admin page.
#[derive(Clone, Copy)]
pub struct CareData {
    /// The MRN last looked up.
    looked_up: RwSignal<Option<String>>,
    /// Bumped after a change, to load the relationships again.
    changed: RwSignal<u32>,
    care: Resource<Option<Result<PatientCare, AppError>>>,
    directory: Resource<Result<Vec<ClinicianView>, AppError>>,
}

impl CareData {
    pub fn new(access: PageAccess) -> Self {
        let looked_up = RwSignal::new(None::<String>);
        let changed = RwSignal::new(0u32);
        let care = Resource::new(
            move || (looked_up.get(), changed.get()),
            move |(mrn, _)| async move {
                match mrn {
                    Some(mrn) => Some(match access.granted().await {
                        Ok(()) => care_for_mrn(mrn).await,
                        Err(err) => Err(err),
                    }),
                    None => None,
                }
            },
        );
        let directory = Resource::new(
            || (),
            move |_| async move {
                access.granted().await?;
                clinician_directory().await
            },
        );
        Self { looked_up, changed, care, directory }
    }
}

#[component]
pub fn CarePanel(care: CareData) -> impl IntoView {
    let CareData { looked_up, changed: refresh, care, directory } = care;
    let mrn = RwSignal::new(String::new());
    let end = Action::new(move |(patient, link): &(String, String)| {
        let (patient, link) = (patient.clone(), link.clone());
        async move {
            let result = end_care(patient, link).await;
            refresh.update(|n| *n += 1);
            result
        }
    });
    let clinician = RwSignal::new(String::new());
    let kind = RwSignal::new("assignment".to_owned());
    let problem = RwSignal::new(None::<&'static str>);
    let assign = Action::new(move |(patient, clinician, kind): &(String, String, String)| {
        let (patient, clinician, kind) = (patient.clone(), clinician.clone(), kind.clone());
        async move {
            let result = assign_care(patient, clinician, kind).await;
            refresh.update(|n| *n += 1);
            result
        }
    });
    view! {
        <section class="panel" aria-labelledby="care-title">
            <h2 id="care-title">"Care relationships"</h2>
            <p class="muted">"A clinician can open a chart only as the patient's assigned clinician, a care team member, with the patient's consent, or in a declared emergency."</p>
            <form method="post" class="inline-form" on:submit=move |ev| {
                ev.prevent_default();
                let value = mrn.get_untracked().trim().to_owned();
                looked_up.set((!value.is_empty()).then_some(value));
            }>
                <div class="field">
                    <label for="care-mrn">"MRN of the patient"</label>
                    <input id="care-mrn" type="text" required maxlength="32" autocomplete="off"
                        prop:value=move || mrn.get() on:input=move |ev| mrn.set(event_target_value(&ev))/>
                </div>
                <button class="button" type="submit">"Find patient"</button>
            </form>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || care.get().flatten().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(found) => {
                        let patient = found.patient_id.clone();
                        let for_assign = found.patient_id.clone();
                        view! {
                            <p>"Patient id " <span class="mono">{found.patient_id.clone()}</span></p>
                            {if found.links.is_empty() {
                                view! { <p>"This patient has no care relationships."</p> }.into_any()
                            } else {
                                view! {
                                    <div class="table-scroll">
                                        <table class="data-table" id="care-table">
                                            <caption class="sr-only">"Care relationships of this patient"</caption>
                                            <thead><tr>
                                                <th scope="col">"Clinician"</th><th scope="col">"Kind"</th>
                                                <th scope="col">"Since"</th><th scope="col">"Actions"</th>
                                            </tr></thead>
                                            <tbody>
                                                {found.links.into_iter().map(|link| {
                                                    let ids = (patient.clone(), link.id.clone());
                                                    let label = format!("End {} of {}", relationship_label(&link.kind).to_lowercase(), link.clinician);
                                                    view! {
                                                        <tr>
                                                            <th scope="row">{link.clinician}</th>
                                                            <td>{relationship_label(&link.kind).to_owned()}</td>
                                                            <td><When at=link.since pattern="%Y-%m-%d"/></td>
                                                            <td>
                                                                <button class="button button-small button-secondary" type="button" aria-label=label
                                                                    on:click=move |_| { end.dispatch(ids.clone()); }>"End"</button>
                                                            </td>
                                                        </tr>
                                                    }
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    </div>
                                }.into_any()
                            }}
                            <h3>"Assign a clinician"</h3>
                            <form method="post" class="inline-form" on:submit=move |ev| {
                                ev.prevent_default();
                                assign.value().set(None);
                                match clinician.get_untracked() {
                                    picked if picked.is_empty() => problem.set(Some("Choose a clinician first.")),
                                    picked => { problem.set(None); assign.dispatch((for_assign.clone(), picked, kind.get_untracked())); }
                                }
                            }>
                                <div class="field">
                                    <label for="care-clinician">"Clinician"</label>
                                    <select id="care-clinician" prop:value=move || clinician.get() on:change=move |ev| clinician.set(event_target_value(&ev))>
                                        <option value="">"Choose a clinician…"</option>
                                        {move || directory.get().and_then(Result::ok).map(|people| people.into_iter().map(|c| view! {
                                            <option value=c.id>{c.name}</option>
                                        }).collect_view())}
                                    </select>
                                </div>
                                <div class="field">
                                    <label for="care-kind">"Relationship"</label>
                                    <select id="care-kind" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                                        <option value="assignment">"Assigned clinician"</option>
                                        <option value="care_team">"Care team member"</option>
                                    </select>
                                </div>
                                <button class="button" type="submit">"Assign"</button>
                            </form>
                        }.into_any()
                    }
                })}
            </Transition>
            <div role="alert" class="form-alert" id="care-alert">
                {move || problem.get().map(|p| view! { <p class="error">{p}</p> })}
                {move || assign.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
                {move || end.value().get().and_then(Result::err).map(|err| view! { <p class="error">{err.to_string()}</p> })}
            </div>
        </section>
    }
}
