//! A chart as tables, one section per kind of entry, shared by the clinician's chart (with Edit
//! and Delete on each row) and the patient's portal (read-only).

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use super::clock::When;
use super::vitals_chart::VitalsChart;
use crate::api::chart::{Demographics, EntryView};
use crate::clinical::{EntryBody, EntryKind, MedicationStatus, ProblemStatus, ResultFlag, Severity};

/// What a row's buttons do, on the clinician's chart.
#[derive(Clone, Copy)]
pub struct RowActions {
    pub edit: Callback<EntryView>,
    pub delete: Callback<EntryView>,
}

#[component]
pub fn DemographicsHeader(patient: Demographics, #[prop(into)] heading: String) -> impl IntoView {
    let sex = match patient.sex.as_str() {
        "female" => "Female",
        "male" => "Male",
        "other" => "Other",
        _ => "Unknown",
    };
    view! {
        <section class="panel" aria-labelledby="demographics-title">
            <h2 id="demographics-title">{heading}</h2>
            <dl class="facts">
                <div><dt>"Date of birth"</dt><dd>{patient.birth_date.format("%Y-%m-%d").to_string()}</dd></div>
                <div><dt>"Sex"</dt><dd>{sex}</dd></div>
                <div><dt>"MRN"</dt><dd class="mono">{patient.mrn}</dd></div>
                <div><dt>"Phone"</dt><dd>{patient.phone.unwrap_or_else(|| "—".to_owned())}</dd></div>
                <div><dt>"Email"</dt><dd>{patient.email.unwrap_or_else(|| "—".to_owned())}</dd></div>
            </dl>
        </section>
    }
}

/// Every section of a chart, in the order clinicians read them.
#[component]
pub fn RecordSections(
    entries: Vec<EntryView>,
    #[prop(optional)] actions: Option<RowActions>,
    /// The patient's own view: no release column for notes.
    #[prop(optional)]
    for_patient: bool,
) -> impl IntoView {
    EntryKind::ALL
        .into_iter()
        .map(|kind| {
            let mut rows: Vec<EntryView> = entries.iter().filter(|e| e.body.kind() == kind).cloned().collect();
            rows.sort_by_key(|e| std::cmp::Reverse(sort_key(e)));
            view! { <Section kind rows actions for_patient/> }
        })
        .collect_view()
}

/// Newest first, by when it happened where the entry says so, else when it was recorded.
fn sort_key(entry: &EntryView) -> DateTime<Utc> {
    let day = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map_or(entry.recorded_at, |t| t.and_utc());
    match &entry.body {
        EntryBody::Vital(v) => v.taken_at,
        EntryBody::Encounter(e) => day(e.date),
        EntryBody::Result(r) => day(r.collected_on),
        _ => entry.recorded_at,
    }
}

fn headers(kind: EntryKind, for_patient: bool) -> Vec<&'static str> {
    match kind {
        EntryKind::Problem => vec!["Problem", "ICD-10 code", "Onset", "Status"],
        EntryKind::Medication => vec!["Medication", "Dose", "Frequency", "Start date", "Status"],
        EntryKind::Allergy => vec!["Substance", "Reaction", "Severity"],
        EntryKind::Vital => vec![
            "Time taken",
            "Blood pressure (mmHg)",
            "Heart rate (bpm)",
            "Temperature (°C)",
            "Weight (kg)",
            "Height (cm)",
            "SpO₂ (%)",
        ],
        EntryKind::Encounter => vec!["Date", "Visit type", "Reason"],
        EntryKind::Note if for_patient => vec!["Title", "Text"],
        EntryKind::Note => vec!["Title", "Text", "Shown to patient"],
        EntryKind::Result => vec!["Test", "Value", "Reference range", "Flag", "Collected on"],
    }
}

fn caption(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Problem => "Problems, newest first",
        EntryKind::Medication => "Medications, newest first",
        EntryKind::Allergy => "Allergies, newest first",
        EntryKind::Vital => "Vital signs, newest first",
        EntryKind::Encounter => "Encounters, newest first",
        EntryKind::Note => "Clinical notes, newest first",
        EntryKind::Result => "Lab results, newest first",
    }
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| v.to_string())
}

fn day(date: Option<chrono::NaiveDate>) -> String {
    opt(date.map(|d| d.format("%Y-%m-%d")))
}

/// The cells of a row; the first one heads the row.
fn cells(body: &EntryBody, for_patient: bool) -> Vec<AnyView> {
    let text = |s: String| s.into_any();
    match body {
        EntryBody::Problem(p) => vec![
            text(p.description.clone()),
            view! { <span class="mono">{p.code.clone()}</span> }.into_any(),
            text(day(p.onset)),
            text(
                match p.status {
                    ProblemStatus::Active => "Active",
                    ProblemStatus::Resolved => "Resolved",
                }
                .to_owned(),
            ),
        ],
        EntryBody::Medication(m) => vec![
            text(m.name.clone()),
            text(m.dose.clone()),
            text(m.frequency.clone()),
            text(day(m.start)),
            text(
                match m.status {
                    MedicationStatus::Active => "Active",
                    MedicationStatus::Stopped => "Stopped",
                }
                .to_owned(),
            ),
        ],
        EntryBody::Allergy(a) => vec![
            text(a.substance.clone()),
            text(if a.reaction.is_empty() { "—".to_owned() } else { a.reaction.clone() }),
            text(
                match a.severity {
                    Severity::Mild => "Mild",
                    Severity::Moderate => "Moderate",
                    Severity::Severe => "Severe",
                }
                .to_owned(),
            ),
        ],
        EntryBody::Vital(v) => vec![
            view! { <When at=v.taken_at/> }.into_any(),
            text(match (v.systolic, v.diastolic) {
                (Some(s), Some(d)) => format!("{s}/{d}"),
                _ => "—".to_owned(),
            }),
            text(opt(v.heart_rate)),
            text(opt(v.temperature_c)),
            text(opt(v.weight_kg)),
            text(opt(v.height_cm)),
            text(opt(v.spo2)),
        ],
        EntryBody::Encounter(e) => {
            vec![text(e.date.format("%Y-%m-%d").to_string()), text(e.encounter_type.clone()), text(e.reason.clone())]
        }
        EntryBody::Note(n) => {
            let mut cells =
                vec![text(n.title.clone()), view! { <span class="note-text">{n.text.clone()}</span> }.into_any()];
            if !for_patient {
                cells.push(text(if n.released { "Yes" } else { "Not yet" }.to_owned()));
            }
            cells
        }
        EntryBody::Result(r) => vec![
            text(r.test.clone()),
            text(format!("{} {}", r.value, r.unit).trim_end().to_owned()),
            text(if r.reference_range.is_empty() { "—".to_owned() } else { r.reference_range.clone() }),
            text(
                match r.flag {
                    ResultFlag::Normal => "Normal",
                    ResultFlag::Low => "Low",
                    ResultFlag::High => "High",
                    ResultFlag::Abnormal => "Abnormal",
                }
                .to_owned(),
            ),
            text(r.collected_on.format("%Y-%m-%d").to_string()),
        ],
    }
}

/// A short name for a row, for the accessible names of its buttons.
fn summary(body: &EntryBody) -> String {
    match body {
        EntryBody::Problem(p) => format!("problem {}", p.code),
        EntryBody::Medication(m) => format!("medication {}", m.name),
        EntryBody::Allergy(a) => format!("allergy to {}", a.substance),
        EntryBody::Vital(v) => format!("vital signs taken {}", v.taken_at.format("%Y-%m-%d %H:%M UTC")),
        EntryBody::Encounter(e) => format!("encounter of {}", e.date.format("%Y-%m-%d")),
        EntryBody::Note(n) => format!("note {}", n.title),
        EntryBody::Result(r) => format!("result {}", r.test),
    }
}

#[component]
fn Section(kind: EntryKind, rows: Vec<EntryView>, actions: Option<RowActions>, for_patient: bool) -> impl IntoView {
    let title_id = format!("section-{}", kind.as_str());
    let chart = (kind == EntryKind::Vital).then(|| {
        let points = rows
            .iter()
            .filter_map(|e| match &e.body {
                EntryBody::Vital(v) => Some(v.clone()),
                _ => None,
            })
            .collect::<Vec<_>>();
        view! { <VitalsChart vitals=points table_id="table-vital"/> }
    });
    let body = if rows.is_empty() {
        view! { <p class="muted">"None recorded."</p> }.into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="data-table" id=format!("table-{}", kind.as_str())>
                    <caption class="sr-only">{caption(kind)}</caption>
                    <thead><tr>
                        {headers(kind, for_patient).into_iter().map(|h| view! { <th scope="col">{h}</th> }).collect_view()}
                        <th scope="col">"Recorded"</th>
                        {actions.is_some().then(|| view! { <th scope="col">"Actions"</th> })}
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|entry| view! { <Row entry actions for_patient/> }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="panel record-section" aria-labelledby=title_id.clone() id=format!("record-{}", kind.as_str())>
            <h2 id=title_id.clone()>{kind.title()}</h2>
            {chart}
            {body}
        </section>
    }
}

#[component]
fn Row(entry: EntryView, actions: Option<RowActions>, for_patient: bool) -> impl IntoView {
    let mut cells = cells(&entry.body, for_patient).into_iter();
    let first = cells.next();
    let name = summary(&entry.body);
    let recorded = (entry.recorded_at, entry.author.clone());
    let buttons = actions.map(|actions| {
        let (edit_entry, delete_entry) = (entry.clone(), entry.clone());
        view! {
            <td class="actions">
                <button class="button button-small button-secondary" type="button" aria-label=format!("Edit {name}")
                    on:click=move |_| actions.edit.run(edit_entry.clone())>"Edit"</button>
                <button class="button button-small button-secondary" type="button" aria-label=format!("Delete {name}")
                    on:click=move |_| actions.delete.run(delete_entry.clone())>"Delete"</button>
            </td>
        }
    });
    view! {
        <tr>
            <th scope="row">{first}</th>
            {cells.map(|cell| view! { <td>{cell}</td> }).collect_view()}
            <td>
                <When at=recorded.0 pattern="%Y-%m-%d"/>
                {recorded.1.map(|author| view! { <br/><span class="muted">{author}</span> })}
            </td>
            {buttons}
        </tr>
    }
}
