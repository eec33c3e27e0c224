//! The clinician's dashboard: the patients they have a relationship with, and an exact-match
//! search for anyone else (which finds a patient without opening the chart; opening it is a
//! separate, audited decision).

use leptos::prelude::*;

use super::role_home::{PageAccess, RoleGate};
use crate::api::chart::{PatientRow, SearchForm, my_patients, search_patients};
use crate::error::AppError;

/// How a relationship reads, as text (never colour alone).
pub fn relationship_label(kind: &str) -> &str {
    match kind {
        "assignment" => "Assigned clinician",
        "care_team" => "Care team",
        "consent" => "Patient consent",
        "break_glass" => "Emergency access",
        other => other,
    }
}

#[component]
pub fn Relationships(kinds: Vec<String>) -> impl IntoView {
    if kinds.is_empty() {
        return view! { <span class="muted">"None"</span> }.into_any();
    }
    view! {
        <ul class="badge-list">
            {kinds.into_iter().map(|k| view! {
                <li><span class=format!("badge badge-{k}")>{relationship_label(&k).to_owned()}</span></li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let access = PageAccess::new("clinician");
    let patients = Resource::new(
        || (),
        move |_| async move {
            access.granted().await?;
            my_patients().await
        },
    );
    let calendar = super::calendar::CalendarData::new(access);
    let waiting = super::video::WaitingData::new(access);
    view! {
        <RoleGate access title="Clinician dashboard">
            <super::video::WaitingRoom data=waiting/>
            <p class="page-links"><a class="button button-secondary" href="/dashboard/messages" id="messages-link">"Messages"</a></p>
            <super::calendar::ClinicianCalendar data=calendar patients/>
            <MyPatients patients/>
            <PatientSearch/>
        </RoleGate>
    }
}

#[component]
fn PatientTable(rows: Vec<PatientRow>, id: &'static str, caption: &'static str, open_column: bool) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="data-table" id=id>
                <caption class="sr-only">{caption}</caption>
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Date of birth"</th><th scope="col">"MRN"</th>
                    <th scope="col">"Relationship"</th>
                    {open_column.then(|| view! { <th scope="col">"Chart"</th> })}
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|row| {
                        let href = format!("/dashboard/patients/{}", row.id);
                        let open_label = format!("Open chart of {}", row.name);
                        view! {
                            <tr>
                                <th scope="row">
                                    {if open_column { row.name.clone().into_any() } else { view! { <a href=href.clone()>{row.name.clone()}</a> }.into_any() }}
                                </th>
                                <td>{row.birth_date.format("%Y-%m-%d").to_string()}</td>
                                <td class="mono">{row.mrn}</td>
                                <td><Relationships kinds=row.relationship/></td>
                                {open_column.then(|| view! { <td><a class="button button-small" href=href aria-label=open_label>"Open chart"</a></td> })}
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn MyPatients(patients: Resource<Result<Vec<PatientRow>, AppError>>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="my-patients-title">
            <h2 id="my-patients-title">"My patients"</h2>
            <Transition fallback=|| view! { <p>"Loading your patients…"</p> }>
                {move || patients.get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! {
                        <p>"No patients are assigned to you yet. Use the search below to find a patient."</p>
                    }.into_any(),
                    Ok(rows) => view! {
                        <PatientTable rows id="my-patients-table" open_column=false
                            caption="Patients you are assigned to, on the care team of, or who gave you access"/>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn PatientSearch() -> impl IntoView {
    let form = RwSignal::new(SearchForm::default());
    let search = Action::new(|form: &SearchForm| search_patients(form.clone()));
    let pending = search.pending();
    let field = move |label: &'static str,
                      id: &'static str,
                      kind: &'static str,
                      autocomplete: &'static str,
                      get: fn(&SearchForm) -> &String,
                      set: fn(&mut SearchForm, String)| {
        view! {
            <div class="field">
                <label for=id>{label}</label>
                <input id=id type=kind autocomplete=autocomplete prop:value=move || form.with(|f| get(f).clone())
                    on:input=move |ev| form.update(|f| set(f, event_target_value(&ev)))/>
            </div>
        }
    };
    view! {
        <section class="panel" aria-labelledby="search-title">
            <h2 id="search-title">"Find a patient"</h2>
            <p class="muted">"Exact match: both names together, or a date of birth, an MRN or a phone number."</p>
            <form method="post" class="search-form" on:submit=move |ev| { ev.prevent_default(); search.dispatch(form.get_untracked()); }>
                {field("Given name", "search-given", "text", "off", |f| &f.given_name, |f, v| f.given_name = v)}
                {field("Family name", "search-family", "text", "off", |f| &f.family_name, |f, v| f.family_name = v)}
                {field("Date of birth", "search-dob", "date", "off", |f| &f.birth_date, |f, v| f.birth_date = v)}
                {field("MRN", "search-mrn", "text", "off", |f| &f.mrn, |f, v| f.mrn = v)}
                {field("Phone", "search-phone", "tel", "off", |f| &f.phone, |f, v| f.phone = v)}
                <div class="form-actions">
                    <button class="button" type="submit" disabled=move || pending.get()>"Search"</button>
                </div>
            </form>
            <div aria-live="polite" id="search-results">
                {move || search.value().get().map(|result| match result {
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! { <p>"No patient matches exactly."</p> }.into_any(),
                    Ok(rows) => view! {
                        <p>{format!("{} patient(s) found.", rows.len())}</p>
                        <PatientTable rows id="search-results-table" caption="Patients matching the search" open_column=true/>
                    }.into_any(),
                })}
            </div>
        </section>
    }
}
