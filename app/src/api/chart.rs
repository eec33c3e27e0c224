//! The clinician's work: my patients, patient search, the chart and its entries, and
//! break-glass. Every function that takes a patient id leaves the decision to the domain's
//! access policy, which audits it; these are thin adapters to DTOs.

use crate::api::codec::Json;
use chrono::{DateTime, NaiveDate, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clinical::EntryBody;
use crate::error::AppError;

/// A patient as listed in "my patients" or a search result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientRow {
    pub id: String,
    pub name: String,
    pub birth_date: NaiveDate,
    pub mrn: String,
    /// assignment, care_team, consent: empty when there is none.
    pub relationship: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchForm {
    pub given_name: String,
    pub family_name: String,
    /// YYYY-MM-DD, or empty.
    pub birth_date: String,
    pub mrn: String,
    pub phone: String,
}

/// The longest search term accepted, in characters (names, MRNs and phone numbers are far
/// shorter; a longer one is an attempt to make the server hash megabytes).
pub const MAX_SEARCH_TERM_CHARS: usize = 100;

impl SearchForm {
    /// Each term at most [`MAX_SEARCH_TERM_CHARS`]; a longer one is refused by its field's name.
    pub fn check_lengths(&self) -> Result<(), crate::error::AppError> {
        let fields = [
            ("given_name", &self.given_name),
            ("family_name", &self.family_name),
            ("birth_date", &self.birth_date),
            ("mrn", &self.mrn),
            ("phone", &self.phone),
        ];
        let long: Vec<_> = fields
            .into_iter()
            .filter(|(_, value)| value.chars().count() > MAX_SEARCH_TERM_CHARS)
            .map(|(field, _)| crate::error::FieldError {
                field: field.to_owned(),
                message: format!("{field} must be at most {MAX_SEARCH_TERM_CHARS} characters"),
            })
            .collect();
        if long.is_empty() { Ok(()) } else { Err(crate::error::AppError::Validation(long)) }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demographics {
    pub id: String,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub sex: String,
    pub mrn: String,
    pub phone: Option<String>,
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryView {
    pub id: String,
    pub version: i32,
    pub body: EntryBody,
    pub recorded_at: DateTime<Utc>,
    pub author: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChartView {
    pub patient: Demographics,
    pub entries: Vec<EntryView>,
    /// Why this reader may see the chart (assigned-clinician, care-team, break-glass, ...).
    pub access_rule: String,
    /// Set when the chart is open through break-glass: when that access ends.
    pub emergency_until: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedEntry {
    pub id: String,
    pub version: i32,
}

#[cfg(feature = "ssr")]
fn patient_id(value: &str) -> Result<crate::domain::ids::PatientId, AppError> {
    super::context::parse_id("patient_id", value).map(crate::domain::ids::PatientId)
}

#[cfg(feature = "ssr")]
fn row(found: crate::domain::patients::PatientMatch, relationship: Vec<String>) -> PatientRow {
    PatientRow {
        id: found.id.to_string(),
        name: format!("{}, {}", found.family_name, found.given_name),
        birth_date: found.birth_date,
        mrn: found.mrn,
        relationship,
    }
}

/// Opens a chart for the signed-in reader and maps it to what the page shows.
#[cfg(feature = "ssr")]
pub(crate) async fn chart_view(
    services: &crate::domain::state::Services,
    user: &crate::domain::users::User,
    ctx: &crate::domain::audit::AuditContext,
    patient: crate::domain::ids::PatientId,
) -> Result<ChartView, AppError> {
    let chart = services.charts.read(ctx, patient).await?;
    let authors = chart.entries.iter().filter_map(|e| e.created_by);
    let names = services.users.workforce_names(authors).await?;
    let emergency_until = match chart.rule {
        "break-glass" => services.break_glass.active(user.id, patient).await?.map(|d| d.expires_at),
        _ => None,
    };
    let details = chart.patient.details;
    Ok(ChartView {
        patient: Demographics {
            id: chart.patient.id.to_string(),
            given_name: details.given_name,
            family_name: details.family_name,
            birth_date: details.birth_date,
            sex: details.sex.as_str().to_owned(),
            mrn: details.mrn,
            phone: details.phone,
            email: details.email,
        },
        entries: chart
            .entries
            .into_iter()
            .map(|entry| EntryView {
                id: entry.id.to_string(),
                version: entry.version,
                author: entry.created_by.and_then(|id| names.get(&id).map(|(_, name)| name.clone())),
                recorded_at: entry.created_at,
                body: entry.body,
            })
            .collect(),
        access_rule: chart.rule.to_owned(),
        emergency_until,
    })
}

#[server(endpoint = "chart/my_patients", prefix = "/api", input = Json)]
pub async fn my_patients() -> Result<Vec<PatientRow>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::PatientList).await?;
    Ok(services.patients.my_patients(&ctx).await?.into_iter().map(|(found, kinds)| row(found, kinds)).collect())
}

#[server(endpoint = "chart/search_patients", prefix = "/api", input = Json)]
pub async fn search_patients(form: SearchForm) -> Result<Vec<PatientRow>, AppError> {
    use crate::domain::audit::Action;
    use crate::domain::patients::SearchCriteria;
    let (services, user, ctx) = super::context::signed_in(Action::PatientSearch).await?;
    form.check_lengths()?;
    let text = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let birth_date = match form.birth_date.trim() {
        "" => None,
        value => Some(
            crate::api::input::parse_day(value).map_err(|rule| crate::domain::Error::validation("birth_date", rule))?,
        ),
    };
    let criteria = SearchCriteria {
        given_name: text(&form.given_name),
        family_name: text(&form.family_name),
        birth_date,
        mrn: text(&form.mrn),
        phone: text(&form.phone),
    };
    let matches = services.patients.search(&ctx, &criteria).await?;
    let ids: Vec<_> = matches.iter().map(|found| found.id).collect();
    let relationships = services.guard.relationships(&services.db, user.id, &ids).await?;
    let mut rows = Vec::with_capacity(matches.len());
    for found in matches {
        let relationship = relationships.get(&found.id).copied().unwrap_or_default();
        let kinds = [
            (relationship.assigned, "assignment"),
            (relationship.care_team, "care_team"),
            (relationship.consent, "consent"),
            (relationship.break_glass, "break_glass"),
        ]
        .into_iter()
        .filter(|(has, _)| *has)
        .map(|(_, kind)| kind.to_owned())
        .collect();
        rows.push(row(found, kinds));
    }
    Ok(rows)
}

#[server(endpoint = "chart/open", prefix = "/api", input = Json)]
pub async fn open_chart(patient_id: String) -> Result<ChartView, AppError> {
    use crate::domain::audit::Action;
    let (services, user, ctx) = super::context::signed_in(Action::ChartRead).await?;
    chart_view(&services, &user, &ctx, self::patient_id(&patient_id)?).await
}

#[server(endpoint = "chart/add_entry", prefix = "/api", input = Json)]
pub async fn add_entry(patient_id: String, body: EntryBody) -> Result<SavedEntry, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::EntryCreate).await?;
    let (id, version) = services.charts.add(&ctx, self::patient_id(&patient_id)?, body).await?;
    Ok(SavedEntry { id: id.to_string(), version })
}

#[server(endpoint = "chart/update_entry", prefix = "/api", input = Json)]
pub async fn update_entry(
    patient_id: String,
    entry_id: String,
    version: i32,
    body: EntryBody,
) -> Result<SavedEntry, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::EntryUpdate).await?;
    let entry = super::context::parse_id("entry_id", &entry_id)?;
    let version = services.charts.update(&ctx, self::patient_id(&patient_id)?, entry, version, body).await?;
    Ok(SavedEntry { id: entry.to_string(), version })
}

#[server(endpoint = "chart/delete_entry", prefix = "/api", input = Json)]
pub async fn delete_entry(patient_id: String, entry_id: String, version: i32) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::EntryDelete).await?;
    let entry = super::context::parse_id("entry_id", &entry_id)?;
    services.charts.delete(&ctx, self::patient_id(&patient_id)?, entry, version).await?;
    Ok(())
}

/// Declares an emergency for a patient the clinician has no relationship with; returns when
/// the access ends.
#[server(endpoint = "chart/break_glass", prefix = "/api", input = Json)]
pub async fn declare_break_glass(patient_id: String, reason: String) -> Result<DateTime<Utc>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::BreakGlassDeclare).await?;
    let declaration = services.break_glass.declare(&ctx, self::patient_id(&patient_id)?, &reason).await?;
    Ok(declaration.expires_at)
}
