//! The content of a chart entry, shared by the browser (forms validate as you type) and the
//! server (which validates again and seals the whole entry as one value bound to its row).
//!
//! Validation messages name the field and the rule, never the value.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Encounter,
    Problem,
    Medication,
    Allergy,
    Vital,
    Note,
    Result,
}

impl EntryKind {
    pub const ALL: [EntryKind; 7] = [
        EntryKind::Problem,
        EntryKind::Medication,
        EntryKind::Allergy,
        EntryKind::Vital,
        EntryKind::Encounter,
        EntryKind::Note,
        EntryKind::Result,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Encounter => "encounter",
            EntryKind::Problem => "problem",
            EntryKind::Medication => "medication",
            EntryKind::Allergy => "allergy",
            EntryKind::Vital => "vital",
            EntryKind::Note => "note",
            EntryKind::Result => "result",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// The section heading in a chart.
    pub fn title(self) -> &'static str {
        match self {
            EntryKind::Encounter => "Encounters",
            EntryKind::Problem => "Problems",
            EntryKind::Medication => "Medications",
            EntryKind::Allergy => "Allergies",
            EntryKind::Vital => "Vital signs",
            EntryKind::Note => "Clinical notes",
            EntryKind::Result => "Lab results",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryBody {
    Encounter(Encounter),
    Problem(Problem),
    Medication(Medication),
    Allergy(Allergy),
    Vital(Vital),
    Note(Note),
    Result(LabResult),
}

impl EntryBody {
    pub fn kind(&self) -> EntryKind {
        match self {
            EntryBody::Encounter(_) => EntryKind::Encounter,
            EntryBody::Problem(_) => EntryKind::Problem,
            EntryBody::Medication(_) => EntryKind::Medication,
            EntryBody::Allergy(_) => EntryKind::Allergy,
            EntryBody::Vital(_) => EntryKind::Vital,
            EntryBody::Note(_) => EntryKind::Note,
            EntryBody::Result(_) => EntryKind::Result,
        }
    }

    /// Whether the patient sees this entry in the portal. Everything but a note is theirs to
    /// see at once; a note only once its author releases it.
    pub fn released_to_patient(&self) -> bool {
        match self {
            EntryBody::Note(note) => note.released,
            _ => true,
        }
    }

    /// Checks every field; reports all failures by field name.
    pub fn validate(&self, today: NaiveDate) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::default();
        match self {
            EntryBody::Encounter(e) => {
                v.past_date("date", e.date, today);
                v.text("encounter_type", &e.encounter_type, 1, 60);
                v.text("reason", &e.reason, 1, 500);
            }
            EntryBody::Problem(p) => {
                if !is_icd10(&p.code) {
                    v.fail("code", "must be an ICD-10 code, as E11.9");
                }
                v.text("description", &p.description, 1, 200);
                if let Some(onset) = p.onset {
                    v.past_date("onset", onset, today);
                }
            }
            EntryBody::Medication(m) => {
                v.text("name", &m.name, 1, 120);
                v.text("dose", &m.dose, 1, 60);
                v.text("frequency", &m.frequency, 1, 60);
                if let Some(start) = m.start {
                    v.past_date("start", start, today);
                }
            }
            EntryBody::Allergy(a) => {
                v.text("substance", &a.substance, 1, 120);
                v.text("reaction", &a.reaction, 0, 200);
            }
            EntryBody::Vital(vital) => vital.validate_into(&mut v, today),
            EntryBody::Note(n) => {
                v.text("title", &n.title, 1, 120);
                v.text("text", &n.text, 1, 20_000);
            }
            EntryBody::Result(r) => {
                v.text("test", &r.test, 1, 120);
                v.text("value", &r.value, 1, 60);
                v.text("unit", &r.unit, 0, 30);
                v.text("reference_range", &r.reference_range, 0, 60);
                v.past_date("collected_on", r.collected_on, today);
            }
        }
        v.finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encounter {
    pub date: NaiveDate,
    /// Office visit, video visit, emergency, ...
    pub encounter_type: String,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemStatus {
    Active,
    Resolved,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// ICD-10-CM code.
    pub code: String,
    pub description: String,
    pub onset: Option<NaiveDate>,
    pub status: ProblemStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MedicationStatus {
    Active,
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Medication {
    pub name: String,
    pub dose: String,
    pub frequency: String,
    pub start: Option<NaiveDate>,
    pub status: MedicationStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Mild,
    Moderate,
    Severe,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allergy {
    pub substance: String,
    pub reaction: String,
    pub severity: Severity,
}

/// One set of vital signs; any subset may be measured, at least one must be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Vital {
    pub taken_at: DateTime<Utc>,
    pub systolic: Option<u16>,
    pub diastolic: Option<u16>,
    pub heart_rate: Option<u16>,
    pub temperature_c: Option<f32>,
    pub weight_kg: Option<f32>,
    pub height_cm: Option<f32>,
    pub spo2: Option<u8>,
}

impl Vital {
    fn validate_into(&self, v: &mut Validator, today: NaiveDate) {
        v.past_date("taken_at", self.taken_at.date_naive(), today);
        let measured = [
            self.systolic.is_some(),
            self.diastolic.is_some(),
            self.heart_rate.is_some(),
            self.temperature_c.is_some(),
            self.weight_kg.is_some(),
            self.height_cm.is_some(),
            self.spo2.is_some(),
        ];
        if !measured.contains(&true) {
            v.fail("vital", "record at least one measurement");
        }
        if self.systolic.is_some() != self.diastolic.is_some() {
            v.fail("blood_pressure", "needs both systolic and diastolic");
        }
        v.range("systolic", self.systolic.map(f32::from), 50.0, 300.0, "mmHg");
        v.range("diastolic", self.diastolic.map(f32::from), 20.0, 200.0, "mmHg");
        if let (Some(s), Some(d)) = (self.systolic, self.diastolic)
            && d >= s
        {
            v.fail("diastolic", "must be lower than systolic");
        }
        v.range("heart_rate", self.heart_rate.map(f32::from), 20.0, 300.0, "beats per minute");
        v.range("temperature_c", self.temperature_c, 25.0, 45.0, "°C");
        v.range("weight_kg", self.weight_kg, 0.2, 500.0, "kg");
        v.range("height_cm", self.height_cm, 20.0, 260.0, "cm");
        v.range("spo2", self.spo2.map(f32::from), 50.0, 100.0, "%");
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub title: String,
    pub text: String,
    /// Released to the patient's portal.
    pub released: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultFlag {
    Normal,
    Low,
    High,
    Abnormal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabResult {
    pub test: String,
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    pub flag: ResultFlag,
    pub collected_on: NaiveDate,
}

/// ICD-10-CM: a letter, two characters (digits, or a digit and A/B), then optionally a dot and
/// one to four more letters or digits. "U" codes are reserved and excluded.
pub fn is_icd10(code: &str) -> bool {
    let code = code.trim();
    let (category, rest) = match code.split_once('.') {
        Some((c, r)) => (c, Some(r)),
        None => (code, None),
    };
    let c: Vec<char> = category.chars().collect();
    let category_ok = c.len() == 3
        && c[0].is_ascii_uppercase()
        && c[0] != 'U'
        && c[1].is_ascii_digit()
        && (c[2].is_ascii_digit() || c[2] == 'A' || c[2] == 'B');
    let rest_ok = rest.is_none_or(|r| {
        (1..=4).contains(&r.len()) && r.chars().all(|ch| ch.is_ascii_digit() || ch.is_ascii_uppercase())
    });
    category_ok && rest_ok
}

#[derive(Default)]
struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    fn fail(&mut self, field: &str, message: &str) {
        self.errors.push(FieldError { field: field.to_owned(), message: format!("{}: {message}", label(field)) });
    }

    fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.trim().chars().count();
        if len < min || len > max {
            let message = if min == 0 {
                format!("must be at most {max} characters")
            } else if len < min {
                "is required".to_owned()
            } else {
                format!("must be at most {max} characters")
            };
            self.fail(field, &message);
        }
    }

    fn past_date(&mut self, field: &str, date: NaiveDate, today: NaiveDate) {
        if date > today || date < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN) {
            self.fail(field, "must be a date after 1900 and not in the future");
        }
    }

    fn range(&mut self, field: &str, value: Option<f32>, min: f32, max: f32, unit: &str) {
        if let Some(value) = value
            && !(value.is_finite() && (min..=max).contains(&value))
        {
            self.fail(field, &format!("must be between {min} and {max} {unit}"));
        }
    }

    fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() { Ok(()) } else { Err(self.errors) }
    }
}

/// The form label of a field, for messages people read.
pub fn label(field: &str) -> &str {
    match field {
        "date" => "Date",
        "encounter_type" => "Visit type",
        "reason" => "Reason",
        "code" => "ICD-10 code",
        "description" => "Description",
        "onset" => "Onset",
        "name" => "Medication",
        "dose" => "Dose",
        "frequency" => "Frequency",
        "start" => "Start date",
        "substance" => "Substance",
        "reaction" => "Reaction",
        "taken_at" => "Time taken",
        "vital" => "Vital signs",
        "blood_pressure" => "Blood pressure",
        "systolic" => "Systolic",
        "diastolic" => "Diastolic",
        "heart_rate" => "Heart rate",
        "temperature_c" => "Temperature",
        "weight_kg" => "Weight",
        "height_cm" => "Height",
        "spo2" => "SpO₂",
        "title" => "Title",
        "text" => "Text",
        "test" => "Test",
        "value" => "Value",
        "unit" => "Unit",
        "reference_range" => "Reference range",
        "collected_on" => "Collected on",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default()
    }

    #[test]
    fn icd10_codes_are_recognised_and_other_text_is_not() {
        for good in ["E11.9", "I10", "J45.909", "M54.5", "O09.A1", "Z00.00"] {
            assert!(is_icd10(good), "{good}");
        }
        for bad in ["", "e11.9", "E1", "E11.", "E11.12345", "U07.1", "11.9", "diabetes"] {
            assert!(!is_icd10(bad), "{bad}");
        }
    }

    #[test]
    fn a_vital_needs_a_measurement_and_plausible_values() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").map(|d| d.to_utc()).unwrap_or_default();
        let empty = Vital {
            taken_at: at,
            systolic: None,
            diastolic: None,
            heart_rate: None,
            temperature_c: None,
            weight_kg: None,
            height_cm: None,
            spo2: None,
        };
        let fields = |body: EntryBody| {
            body.validate(today()).err().unwrap_or_default().into_iter().map(|e| e.field).collect::<Vec<_>>()
        };
        assert_eq!(fields(EntryBody::Vital(empty.clone())), ["vital"]);
        let bad = Vital { systolic: Some(80), diastolic: Some(120), spo2: Some(130), ..empty.clone() };
        assert_eq!(fields(EntryBody::Vital(bad)), ["diastolic", "spo2"]);
        let only_systolic = Vital { systolic: Some(120), ..empty.clone() };
        assert_eq!(fields(EntryBody::Vital(only_systolic)), ["blood_pressure"]);
        let good = Vital { systolic: Some(128), diastolic: Some(82), heart_rate: Some(71), ..empty };
        assert!(EntryBody::Vital(good).validate(today()).is_ok());
    }

    #[test]
    fn messages_name_the_field_and_never_the_value() {
        let problem = EntryBody::Problem(Problem {
            code: "Smith diabetes".into(),
            description: String::new(),
            onset: None,
            status: ProblemStatus::Active,
        });
        let errors = problem.validate(today()).err().unwrap_or_default();
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|e| !e.message.contains("Smith")));
    }

    #[test]
    fn only_a_released_note_is_shown_to_the_patient() {
        let note = |released| EntryBody::Note(Note { title: "t".into(), text: "x".into(), released });
        assert!(!note(false).released_to_patient());
        assert!(note(true).released_to_patient());
    }
}
