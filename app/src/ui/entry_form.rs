//! Adding and editing chart entries. The form holds text as typed; on submit it is read into an
//! [`EntryBody`] and checked with the same [`EntryBody::validate`] the server runs again, so
//! mistakes show next to their fields before anything leaves the browser. A stale edit comes
//! back as a conflict and its message is shown as is.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use leptos::prelude::*;

use super::clock;
use crate::api::chart::{EntryView, add_entry, update_entry};
use crate::clinical::{
    Allergy, Encounter, EntryBody, EntryKind, LabResult, Medication, MedicationStatus, Note, Problem, ProblemStatus,
    ResultFlag, Severity, Vital,
};
use crate::error::{AppError, FieldError};

/// The form's values as typed, by field name.
pub type Values = BTreeMap<&'static str, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Input {
    Text { max: usize },
    LongText { max: usize },
    Date,
    DateTime,
    Number { step: &'static str },
    Choice(&'static [(&'static str, &'static str)]),
    Check,
}

#[derive(Clone, Copy, Debug)]
struct Spec {
    key: &'static str,
    label: &'static str,
    input: Input,
    required: bool,
    hint: Option<&'static str>,
}

const fn spec(key: &'static str, label: &'static str, input: Input, required: bool) -> Spec {
    Spec { key, label, input, required, hint: None }
}

const PROBLEM_STATUS: &[(&str, &str)] = &[("active", "Active"), ("resolved", "Resolved")];
const MEDICATION_STATUS: &[(&str, &str)] = &[("active", "Active"), ("stopped", "Stopped")];
const SEVERITY: &[(&str, &str)] = &[("mild", "Mild"), ("moderate", "Moderate"), ("severe", "Severe")];
const FLAG: &[(&str, &str)] = &[("normal", "Normal"), ("low", "Low"), ("high", "High"), ("abnormal", "Abnormal")];

const ENCOUNTER: &[Spec] = &[
    spec("date", "Date", Input::Date, true),
    Spec {
        hint: Some("Office visit, video visit, emergency, …"),
        ..spec("encounter_type", "Visit type", Input::Text { max: 60 }, true)
    },
    spec("reason", "Reason", Input::LongText { max: 500 }, true),
];
const PROBLEM: &[Spec] = &[
    Spec { hint: Some("As E11.9"), ..spec("code", "ICD-10 code", Input::Text { max: 8 }, true) },
    spec("description", "Description", Input::Text { max: 200 }, true),
    spec("onset", "Onset", Input::Date, false),
    spec("status", "Status", Input::Choice(PROBLEM_STATUS), true),
];
const MEDICATION: &[Spec] = &[
    spec("name", "Medication", Input::Text { max: 120 }, true),
    spec("dose", "Dose", Input::Text { max: 60 }, true),
    spec("frequency", "Frequency", Input::Text { max: 60 }, true),
    spec("start", "Start date", Input::Date, false),
    spec("status", "Status", Input::Choice(MEDICATION_STATUS), true),
];
const ALLERGY: &[Spec] = &[
    spec("substance", "Substance", Input::Text { max: 120 }, true),
    spec("reaction", "Reaction", Input::Text { max: 200 }, false),
    spec("severity", "Severity", Input::Choice(SEVERITY), true),
];
const VITAL: &[Spec] = &[
    spec("taken_at", "Time taken", Input::DateTime, true),
    spec("systolic", "Systolic (mmHg)", Input::Number { step: "1" }, false),
    spec("diastolic", "Diastolic (mmHg)", Input::Number { step: "1" }, false),
    spec("heart_rate", "Heart rate (bpm)", Input::Number { step: "1" }, false),
    spec("temperature_c", "Temperature (°C)", Input::Number { step: "0.1" }, false),
    spec("weight_kg", "Weight (kg)", Input::Number { step: "0.1" }, false),
    spec("height_cm", "Height (cm)", Input::Number { step: "0.1" }, false),
    spec("spo2", "SpO₂ (%)", Input::Number { step: "1" }, false),
];
const NOTE: &[Spec] = &[
    spec("title", "Title", Input::Text { max: 120 }, true),
    spec("text", "Text", Input::LongText { max: 20_000 }, true),
    spec("released", "Release to the patient's portal", Input::Check, false),
];
const RESULT: &[Spec] = &[
    spec("test", "Test", Input::Text { max: 120 }, true),
    spec("value", "Value", Input::Text { max: 60 }, true),
    spec("unit", "Unit", Input::Text { max: 30 }, false),
    spec("reference_range", "Reference range", Input::Text { max: 60 }, false),
    spec("flag", "Flag", Input::Choice(FLAG), true),
    spec("collected_on", "Collected on", Input::Date, true),
];

fn specs(kind: EntryKind) -> &'static [Spec] {
    match kind {
        EntryKind::Encounter => ENCOUNTER,
        EntryKind::Problem => PROBLEM,
        EntryKind::Medication => MEDICATION,
        EntryKind::Allergy => ALLERGY,
        EntryKind::Vital => VITAL,
        EntryKind::Note => NOTE,
        EntryKind::Result => RESULT,
    }
}

/// The name of one entry of a kind, for the kind picker.
pub fn kind_label(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Encounter => "Encounter",
        EntryKind::Problem => "Problem",
        EntryKind::Medication => "Medication",
        EntryKind::Allergy => "Allergy",
        EntryKind::Vital => "Vital signs",
        EntryKind::Note => "Clinical note",
        EntryKind::Result => "Lab result",
    }
}

/// A blank form of `kind`: choices at their first option, a vital's time at `now`.
fn blank(kind: EntryKind, now: &str) -> Values {
    specs(kind)
        .iter()
        .map(|s| {
            let value = match s.input {
                Input::Choice(options) => options.first().map(|(v, _)| *v).unwrap_or_default().to_owned(),
                Input::DateTime => now.to_owned(),
                _ => String::new(),
            };
            (s.key, value)
        })
        .collect()
}

fn number<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn date(value: Option<NaiveDate>) -> String {
    number(value.map(|d| d.format("%Y-%m-%d")))
}

/// The option values of the enumerations, as the server names them.
trait Choice: Sized + Copy + 'static {
    const OPTIONS: &'static [(Self, &'static str)];

    fn value(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::OPTIONS.iter().find(|(v, _)| *v == self).map_or("", |(_, name)| name)
    }

    fn parse(value: &str) -> Option<Self> {
        Self::OPTIONS.iter().find(|(_, name)| *name == value).map(|(v, _)| *v)
    }
}

impl Choice for ProblemStatus {
    const OPTIONS: &'static [(Self, &'static str)] = &[(Self::Active, "active"), (Self::Resolved, "resolved")];
}

impl Choice for MedicationStatus {
    const OPTIONS: &'static [(Self, &'static str)] = &[(Self::Active, "active"), (Self::Stopped, "stopped")];
}

impl Choice for Severity {
    const OPTIONS: &'static [(Self, &'static str)] =
        &[(Self::Mild, "mild"), (Self::Moderate, "moderate"), (Self::Severe, "severe")];
}

impl Choice for ResultFlag {
    const OPTIONS: &'static [(Self, &'static str)] =
        &[(Self::Normal, "normal"), (Self::Low, "low"), (Self::High, "high"), (Self::Abnormal, "abnormal")];
}

fn choice<T: Choice + PartialEq>(value: &T) -> String {
    value.value().to_owned()
}

/// The form's values for an existing entry; `local_time` renders an instant for a
/// `datetime-local` input.
pub fn values_of(body: &EntryBody, local_time: impl Fn(chrono::DateTime<chrono::Utc>) -> String) -> Values {
    let pairs: Vec<(&'static str, String)> = match body {
        EntryBody::Encounter(e) => vec![
            ("date", date(Some(e.date))),
            ("encounter_type", e.encounter_type.clone()),
            ("reason", e.reason.clone()),
        ],
        EntryBody::Problem(p) => vec![
            ("code", p.code.clone()),
            ("description", p.description.clone()),
            ("onset", date(p.onset)),
            ("status", choice(&p.status)),
        ],
        EntryBody::Medication(m) => vec![
            ("name", m.name.clone()),
            ("dose", m.dose.clone()),
            ("frequency", m.frequency.clone()),
            ("start", date(m.start)),
            ("status", choice(&m.status)),
        ],
        EntryBody::Allergy(a) => {
            vec![
                ("substance", a.substance.clone()),
                ("reaction", a.reaction.clone()),
                ("severity", choice(&a.severity)),
            ]
        }
        EntryBody::Vital(v) => vec![
            ("taken_at", local_time(v.taken_at)),
            ("systolic", number(v.systolic)),
            ("diastolic", number(v.diastolic)),
            ("heart_rate", number(v.heart_rate)),
            ("temperature_c", number(v.temperature_c)),
            ("weight_kg", number(v.weight_kg)),
            ("height_cm", number(v.height_cm)),
            ("spo2", number(v.spo2)),
        ],
        EntryBody::Note(n) => vec![
            ("title", n.title.clone()),
            ("text", n.text.clone()),
            ("released", if n.released { "true" } else { "" }.to_owned()),
        ],
        EntryBody::Result(r) => vec![
            ("test", r.test.clone()),
            ("value", r.value.clone()),
            ("unit", r.unit.clone()),
            ("reference_range", r.reference_range.clone()),
            ("flag", choice(&r.flag)),
            ("collected_on", date(Some(r.collected_on))),
        ],
    };
    pairs.into_iter().collect()
}

/// Reads typed text into values, collecting a message per field that does not parse.
struct Reader<'a> {
    values: &'a Values,
    errors: Vec<FieldError>,
}

impl Reader<'_> {
    fn fail(&mut self, field: &str, message: &str) {
        let label = crate::clinical::label(field);
        self.errors.push(FieldError { field: field.to_owned(), message: format!("{label}: {message}") });
    }

    fn raw(&self, field: &str) -> &str {
        self.values.get(field).map_or("", |v| v.trim())
    }

    fn text(&self, field: &str) -> String {
        self.raw(field).to_owned()
    }

    fn optional<T: std::str::FromStr>(&mut self, field: &str, what: &str) -> Option<T> {
        match self.raw(field) {
            "" => None,
            value => match value.parse() {
                Ok(parsed) => Some(parsed),
                Err(_) => {
                    self.fail(field, &format!("must be {what}"));
                    None
                }
            },
        }
    }

    fn optional_date(&mut self, field: &str) -> Option<NaiveDate> {
        match self.raw(field) {
            "" => None,
            value => match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
                Ok(date) => Some(date),
                Err(_) => {
                    self.fail(field, "must be a date");
                    None
                }
            },
        }
    }

    fn date(&mut self, field: &str) -> NaiveDate {
        if self.raw(field).is_empty() {
            self.fail(field, "is required");
        }
        self.optional_date(field).unwrap_or_default()
    }

    fn choice<T: Choice>(&mut self, field: &str) -> Option<T> {
        let parsed = T::parse(self.raw(field));
        if parsed.is_none() {
            self.fail(field, "choose one of the options");
        }
        parsed
    }
}

/// Reads the form into an entry of `kind`. `instant` reads a `datetime-local` value.
pub fn read_entry(
    kind: EntryKind,
    values: &Values,
    instant: impl Fn(&str) -> Option<chrono::DateTime<chrono::Utc>>,
) -> Result<EntryBody, Vec<FieldError>> {
    let mut r = Reader { values, errors: Vec::new() };
    let body = match kind {
        EntryKind::Encounter => Some(EntryBody::Encounter(Encounter {
            date: r.date("date"),
            encounter_type: r.text("encounter_type"),
            reason: r.text("reason"),
        })),
        EntryKind::Problem => {
            let (onset, status) = (r.optional_date("onset"), r.choice::<ProblemStatus>("status"));
            status.map(|status| {
                EntryBody::Problem(Problem { code: r.text("code"), description: r.text("description"), onset, status })
            })
        }
        EntryKind::Medication => {
            let (start, status) = (r.optional_date("start"), r.choice::<MedicationStatus>("status"));
            status.map(|status| {
                EntryBody::Medication(Medication {
                    name: r.text("name"),
                    dose: r.text("dose"),
                    frequency: r.text("frequency"),
                    start,
                    status,
                })
            })
        }
        EntryKind::Allergy => r.choice::<Severity>("severity").map(|severity| {
            EntryBody::Allergy(Allergy { substance: r.text("substance"), reaction: r.text("reaction"), severity })
        }),
        EntryKind::Vital => {
            let taken_at = match r.raw("taken_at") {
                "" => {
                    r.fail("taken_at", "is required");
                    None
                }
                value => {
                    let at = instant(value);
                    if at.is_none() {
                        r.fail("taken_at", "must be a date and time");
                    }
                    at
                }
            };
            let whole = "a whole number";
            let decimal = "a number";
            let vital = Vital {
                taken_at: taken_at.unwrap_or_default(),
                systolic: r.optional("systolic", whole),
                diastolic: r.optional("diastolic", whole),
                heart_rate: r.optional("heart_rate", whole),
                temperature_c: r.optional("temperature_c", decimal),
                weight_kg: r.optional("weight_kg", decimal),
                height_cm: r.optional("height_cm", decimal),
                spo2: r.optional("spo2", whole),
            };
            Some(EntryBody::Vital(vital))
        }
        EntryKind::Note => Some(EntryBody::Note(Note {
            title: r.text("title"),
            text: r.text("text"),
            released: r.raw("released") == "true",
        })),
        EntryKind::Result => {
            let (collected_on, flag) = (r.date("collected_on"), r.choice::<ResultFlag>("flag"));
            flag.map(|flag| {
                EntryBody::Result(LabResult {
                    test: r.text("test"),
                    value: r.text("value"),
                    unit: r.text("unit"),
                    reference_range: r.text("reference_range"),
                    flag,
                    collected_on,
                })
            })
        }
    };
    match body {
        Some(body) if r.errors.is_empty() => Ok(body),
        _ => Err(r.errors),
    }
}

/// Reads and validates the form as the server will.
pub fn check_entry(kind: EntryKind, values: &Values, today: NaiveDate) -> Result<EntryBody, Vec<FieldError>> {
    let body = read_entry(kind, values, clock::from_local_input)?;
    body.validate(today)?;
    Ok(body)
}

/// The entry being edited: its id and the version it was loaded at.
type Editing = (String, i32);

#[component]
pub fn EntryForm(
    patient_id: Signal<String>,
    /// Set by a row's Edit button; cleared when the edit is saved or cancelled.
    editing: RwSignal<Option<EntryView>>,
    /// Called after a save, to reload the chart.
    on_saved: Callback<()>,
) -> impl IntoView {
    let kind = RwSignal::new(EntryKind::Vital);
    let values = RwSignal::new(Values::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let saved = RwSignal::new(None::<&'static str>);
    let heading = NodeRef::<leptos::html::H2>::new();
    let reset = move |to: EntryKind| {
        kind.set(to);
        values.set(blank(to, &clock::to_local_input(clock::now())));
        errors.set(Vec::new());
    };
    // Runs in the browser only: a blank form with the browser's "now", or the entry to edit.
    Effect::new(move |_| match editing.get() {
        Some(entry) => {
            kind.set(entry.body.kind());
            values.set(values_of(&entry.body, clock::to_local_input));
            errors.set(Vec::new());
            saved.set(None);
            if let Some(heading) = heading.get_untracked() {
                let _ = heading.focus();
            }
        }
        None => reset(kind.get_untracked()),
    });
    let save = Action::new(move |(edit, body): &(Option<Editing>, EntryBody)| {
        let (edit, body, patient) = (edit.clone(), body.clone(), patient_id.get_untracked());
        async move {
            let result = match edit {
                Some((id, version)) => update_entry(patient, id, version, body).await,
                None => add_entry(patient, body).await,
            };
            if result.is_ok() {
                saved.set(Some(if editing.get_untracked().is_some() { "Entry updated." } else { "Entry saved." }));
                editing.set(None);
                on_saved.run(());
            }
            result
        }
    });
    let pending = save.pending();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved.set(None);
        match check_entry(kind.get_untracked(), &values.get_untracked(), clock::today()) {
            Ok(body) => {
                errors.set(Vec::new());
                save.dispatch((editing.get_untracked().map(|e| (e.id, e.version)), body));
            }
            Err(found) => {
                save.value().set(None);
                errors.set(found);
            }
        }
    };
    let server_error = move || save.value().get().and_then(Result::err);
    view! {
        <section class="panel" aria-labelledby="entry-form-title" id="entry-form">
            <h2 id="entry-form-title" tabindex="-1" node_ref=heading>
                {move || match editing.get() {
                    Some(entry) => format!("Edit {}", kind_label(entry.body.kind()).to_lowercase()),
                    None => "Add entry".to_owned(),
                }}
            </h2>
            <form method="post" novalidate on:submit=submit aria-describedby="entry-alert">
                <div class="field">
                    <label for="entry-kind">"Kind of entry"</label>
                    <select id="entry-kind" prop:value=move || kind.get().as_str() disabled=move || editing.get().is_some()
                        on:change=move |ev| if let Some(k) = EntryKind::parse(&event_target_value(&ev)) { reset(k) }>
                        {EntryKind::ALL.into_iter().map(|k| view! { <option value=k.as_str()>{kind_label(k)}</option> }).collect_view()}
                    </select>
                </div>
                <p class="hint">"Fields marked * are required."</p>
                <div class="entry-fields">
                    {move || specs(kind.get()).iter().map(|spec| view! { <Field spec=*spec values errors/> }).collect_view()}
                </div>
                <div class="form-alert" role="alert" id="entry-alert">
                    {move || {
                        let found = errors.get();
                        (!found.is_empty()).then(|| view! {
                            <p class="error">"Please correct these fields:"</p>
                            <ul class="error-list">
                                {found.into_iter().map(|e| view! { <li>{e.message}</li> }).collect_view()}
                            </ul>
                        })
                    }}
                    {move || server_error().map(|err| {
                        let stale = matches!(err, AppError::Conflict(_));
                        view! {
                            <p class="error">{describe(&err)}</p>
                            {stale.then(|| view! {
                                <button class="button button-secondary" type="button" on:click=move |_| {
                                    save.value().set(None);
                                    editing.set(None);
                                    on_saved.run(());
                                }>"Reload the chart"</button>
                            })}
                        }
                    })}
                </div>
                <div class="form-actions">
                    <button class="button" type="submit" disabled=move || pending.get()>"Save entry"</button>
                    <Show when=move || editing.get().is_some()>
                        <button class="button button-secondary" type="button" on:click=move |_| editing.set(None)>"Cancel edit"</button>
                    </Show>
                </div>
                <p role="status" class="saved-status">{move || saved.get()}</p>
            </form>
        </section>
    }
}

/// What a failed save says to the person who tried.
fn describe(err: &AppError) -> String {
    let text = match err {
        AppError::Forbidden => "You may not change this chart.".to_owned(),
        other => other.to_string(),
    };
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[component]
fn Field(spec: Spec, values: RwSignal<Values>, errors: RwSignal<Vec<FieldError>>) -> impl IntoView {
    let key = spec.key;
    let id = format!("entry-{key}");
    let error_id = format!("{id}-error");
    let hint_id = spec.hint.map(|_| format!("{id}-hint"));
    let value = move || values.with(|v| v.get(key).cloned().unwrap_or_default());
    let set = move |ev: leptos::ev::Event| {
        let typed = event_target_value(&ev);
        values.update(|v| {
            v.insert(key, typed);
        });
    };
    let message = move || errors.with(|e| e.iter().find(|e| e.field == key).map(|e| e.message.clone()));
    let invalid = move || message().is_some().then_some("true");
    let described = {
        let (hint_id, error_id) = (hint_id.clone(), error_id.clone());
        move || {
            let ids: Vec<&str> =
                hint_id.as_deref().into_iter().chain(message().is_some().then_some(error_id.as_str())).collect();
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let wide = matches!(spec.input, Input::LongText { .. });
    let control = match spec.input {
        Input::Text { max } => view! {
            <input id=id.clone() type="text" maxlength=max.to_string() required=spec.required aria-invalid=invalid
                aria-describedby=described prop:value=value on:input=set/>
        }
        .into_any(),
        Input::LongText { max } => view! {
            <textarea id=id.clone() rows="4" maxlength=max.to_string() required=spec.required aria-invalid=invalid
                aria-describedby=described prop:value=value on:input=set></textarea>
        }
        .into_any(),
        Input::Date => view! {
            <input id=id.clone() type="date" required=spec.required aria-invalid=invalid aria-describedby=described
                prop:value=value on:input=set/>
        }
        .into_any(),
        Input::DateTime => view! {
            <input id=id.clone() type="datetime-local" required=spec.required aria-invalid=invalid
                aria-describedby=described prop:value=value on:input=set/>
        }
        .into_any(),
        Input::Number { step } => view! {
            <input id=id.clone() type="number" inputmode="decimal" step=step aria-invalid=invalid
                aria-describedby=described prop:value=value on:input=set/>
        }
        .into_any(),
        Input::Choice(options) => view! {
            <select id=id.clone() aria-invalid=invalid aria-describedby=described prop:value=value on:change=set>
                {options.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
            </select>
        }
        .into_any(),
        Input::Check => view! {
            <input id=id.clone() type="checkbox" aria-invalid=invalid aria-describedby=described
                prop:checked=move || value() == "true"
                on:change=move |ev| {
                    let checked = event_target_checked(&ev);
                    values.update(|v| { v.insert(key, if checked { "true" } else { "" }.to_owned()); });
                }/>
        }
        .into_any(),
    };
    let is_check = spec.input == Input::Check;
    view! {
        <div class="field" class:field-wide=wide class:field-check=is_check>
            <label for=id>{spec.label}{(spec.required && !is_check).then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}</label>
            {control}
            {spec.hint.map(|hint| view! { <p class="hint" id=hint_id.clone()>{hint}</p> })}
            {move || message().map(|m| view! { <p class="field-error" id=error_id.clone()>{m}</p> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn at(value: &str) -> Option<DateTime<Utc>> {
        clock::from_local_input(value)
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
    }

    #[test]
    fn a_vital_typed_into_the_form_becomes_an_entry() {
        let mut values = blank(EntryKind::Vital, "2026-11-20T10:05");
        values.insert("systolic", "131".into());
        values.insert("diastolic", " 84 ".into());
        values.insert("heart_rate", "77".into());
        let body = check_entry(EntryKind::Vital, &values, today());
        let Ok(EntryBody::Vital(vital)) = body else { panic!("expected a vital, got {body:?}") };
        assert_eq!(
            (vital.systolic, vital.diastolic, vital.heart_rate, vital.spo2),
            (Some(131), Some(84), Some(77), None)
        );
        assert_eq!(vital.taken_at, at("2026-11-20T10:05").unwrap_or_default());
    }

    #[test]
    fn text_that_is_not_a_number_is_named_by_its_field() {
        let mut values = blank(EntryKind::Vital, "2026-11-20T10:05");
        values.insert("heart_rate", "fast".into());
        let errors = check_entry(EntryKind::Vital, &values, today()).err().unwrap_or_default();
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["heart_rate"]);
        assert!(errors[0].message.starts_with("Heart rate"));
    }

    #[test]
    fn every_kind_round_trips_through_the_form() {
        let bodies = [
            EntryBody::Encounter(Encounter {
                date: today(),
                encounter_type: "Office visit".into(),
                reason: "Follow-up".into(),
            }),
            EntryBody::Problem(Problem {
                code: "E11.9".into(),
                description: "Type 2 diabetes".into(),
                onset: None,
                status: ProblemStatus::Resolved,
            }),
            EntryBody::Medication(Medication {
                name: "Metformin".into(),
                dose: "500 mg".into(),
                frequency: "twice daily".into(),
                start: Some(today()),
                status: MedicationStatus::Stopped,
            }),
            EntryBody::Allergy(Allergy {
                substance: "Penicillin".into(),
                reaction: String::new(),
                severity: Severity::Severe,
            }),
            EntryBody::Vital(Vital {
                taken_at: at("2026-11-20T10:05").unwrap_or_default(),
                systolic: Some(128),
                diastolic: Some(82),
                heart_rate: None,
                temperature_c: Some(36.8),
                weight_kg: Some(71.5),
                height_cm: None,
                spo2: Some(97),
            }),
            EntryBody::Note(Note { title: "Plan".into(), text: "Review in 3 months".into(), released: true }),
            EntryBody::Result(LabResult {
                test: "HbA1c".into(),
                value: "6.9".into(),
                unit: "%".into(),
                reference_range: "4.0–5.6".into(),
                flag: ResultFlag::High,
                collected_on: today(),
            }),
        ];
        for body in bodies {
            let values = values_of(&body, clock::to_local_input);
            assert_eq!(check_entry(body.kind(), &values, today()), Ok(body));
        }
    }
}
