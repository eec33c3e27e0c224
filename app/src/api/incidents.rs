//! The security officer's incidents (45 CFR 164.308(a)(6), 164.400-414): list, open (from alerts
//! or by hand), the investigation log, affected patients (ids and counts; one opened at a time),
//! the four-factor assessment, the decision, deadlines, and the HHS answers. The letters and the
//! HHS report are file downloads served by the server (`/security/incidents/{id}/...`).

use chrono::{DateTime, NaiveDate, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::codec::Json;
use crate::breach::{Assessment, HhsAnswers};
use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentListItem {
    pub id: String,
    pub title: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub subject: Option<String>,
    pub discovered: NaiveDate,
    pub decision: Option<String>,
    pub affected: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectOption {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenIncidentInput {
    pub title: String,
    pub alerts: Vec<String>,
    pub subject: Option<String>,
    /// `YYYY-MM-DDTHH:MM`, UTC.
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// `YYYY-MM-DD`; today when absent.
    pub discovered: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentAlertView {
    pub id: String,
    pub rule: String,
    pub severity: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentNoteView {
    pub author: String,
    pub at: DateTime<Utc>,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedView {
    pub patient_id: String,
    pub notified_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineView {
    /// individuals | hhs | media
    pub kind: String,
    pub label: String,
    pub due: NaiveDate,
    pub days_left: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentView {
    pub id: String,
    pub title: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    pub subject: Option<String>,
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub discovered: NaiveDate,
    pub alerts: Vec<IncidentAlertView>,
    pub notes: Vec<IncidentNoteView>,
    pub affected: Vec<AffectedView>,
    pub per_state: Vec<(String, usize)>,
    pub assessment: Assessment,
    pub safe_harbor: bool,
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub deadlines: Vec<DeadlineView>,
    pub hhs: HhsAnswers,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientView {
    pub patient_id: String,
    pub name: String,
    pub address: Vec<String>,
}

#[server(endpoint = "security/incidents", prefix = "/api", input = Json)]
pub async fn list_incidents() -> Result<Vec<IncidentListItem>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentList).await?;
    let rows = services.incidents.list(&ctx).await?;
    let names = services.users.workforce_names(rows.iter().filter_map(|r| r.subject)).await?;
    Ok(rows
        .into_iter()
        .map(|r| IncidentListItem {
            id: r.id.to_string(),
            title: r.title,
            status: r.status,
            opened_at: r.opened_at,
            subject: r.subject.map(|s| names.get(&s).map_or_else(|| s.to_string(), |(_, n)| n.clone())),
            discovered: r.discovered,
            decision: r.decision.map(|d| d.as_str().to_owned()),
            affected: r.affected,
        })
        .collect())
}

/// The people an incident opened by hand may investigate: the clinicians.
#[server(endpoint = "security/incident_subjects", prefix = "/api", input = Json)]
pub async fn incident_subjects() -> Result<Vec<SubjectOption>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentOpen).await?;
    services.guard.check(&ctx, Action::IncidentOpen, "incident", None).await?;
    let people = services.users.clinicians().await?;
    Ok(people.into_iter().map(|(id, name)| SubjectOption { id: id.to_string(), name }).collect())
}

#[server(endpoint = "security/open_incident", prefix = "/api", input = Json)]
pub async fn open_incident(input: OpenIncidentInput) -> Result<String, AppError> {
    use crate::domain::audit::Action;
    use crate::domain::ids::UserId;
    use crate::domain::incidents::NewIncident;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentOpen).await?;
    let alerts = input.alerts.iter().map(|a| super::context::parse_id("alert", a)).collect::<Result<Vec<_>, _>>()?;
    let subject = match input.subject.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(UserId(super::context::parse_id("subject", s)?)),
        None => None,
    };
    let start = parse_time("window_start", input.window_start.as_deref())?;
    let end = parse_time("window_end", input.window_end.as_deref())?;
    let window = match (start, end) {
        (Some(s), Some(e)) => Some((s, e)),
        (None, None) => None,
        _ => {
            return Err(
                crate::domain::Error::validation("window_end", "give both ends of the window or neither").into()
            );
        }
    };
    let discovered = parse_date("discovered", input.discovered.as_deref())?;
    let new = NewIncident { title: input.title, alerts, subject, window, discovered };
    Ok(services.incidents.open(&ctx, new).await?.to_string())
}

#[server(endpoint = "security/incident", prefix = "/api", input = Json)]
pub async fn incident_detail(id: String) -> Result<IncidentView, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentRead).await?;
    let id = super::context::parse_id("id", &id)?;
    let i = services.incidents.get(&ctx, id).await?;
    let people = i.notes.iter().map(|n| n.author).chain([i.opened_by]).chain(i.summary.subject).chain(i.decided_by);
    let names = services.users.workforce_names(people).await?;
    let name = |id: crate::domain::ids::UserId| names.get(&id).map_or_else(|| id.to_string(), |(_, n)| n.clone());
    let today = services.clock.now().date_naive();
    let mut deadlines = Vec::new();
    if let Some(due) = &i.deadlines {
        let left = |d: NaiveDate| (d - today).num_days();
        deadlines.push(DeadlineView {
            kind: "individuals".into(),
            label: "Notices to individuals (164.404)".into(),
            due: due.individuals,
            days_left: left(due.individuals),
        });
        let hhs = if due.hhs_immediate {
            "Report to HHS, 500 or more affected (164.408(b))"
        } else {
            "Report to HHS in the yearly log, under 500 affected (164.408(c))"
        };
        deadlines.push(DeadlineView { kind: "hhs".into(), label: hhs.into(), due: due.hhs, days_left: left(due.hhs) });
        for (state, count, date) in &due.media {
            deadlines.push(DeadlineView {
                kind: "media".into(),
                label: format!("Media notice in {state}, {count} residents affected (164.406)"),
                due: *date,
                days_left: left(*date),
            });
        }
    }
    Ok(IncidentView {
        id: i.summary.id.to_string(),
        title: i.summary.title,
        status: i.summary.status,
        opened_at: i.summary.opened_at,
        opened_by: name(i.opened_by),
        subject: i.summary.subject.map(name),
        window: i.window,
        discovered: i.summary.discovered,
        alerts: i
            .alerts
            .into_iter()
            .map(|a| IncidentAlertView {
                id: a.id.to_string(),
                rule: a.rule,
                severity: a.severity,
                status: a.status,
                created_at: a.created_at,
            })
            .collect(),
        notes: i
            .notes
            .into_iter()
            .map(|n| IncidentNoteView { author: name(n.author), at: n.at, body: n.body })
            .collect(),
        affected: i
            .affected
            .into_iter()
            .map(|p| AffectedView { patient_id: p.id.to_string(), notified_at: p.notified_at })
            .collect(),
        per_state: i.per_state,
        assessment: i.assessment,
        safe_harbor: i.safe_harbor,
        decision: i.summary.decision.map(|d| d.as_str().to_owned()),
        decided_by: i.decided_by.map(name),
        decided_at: i.decided_at,
        deadlines,
        hhs: i.hhs,
    })
}

#[server(endpoint = "security/incident_note", prefix = "/api", input = Json)]
pub async fn add_incident_note(id: String, body: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentUpdate).await?;
    let id = super::context::parse_id("id", &id)?;
    services.incidents.add_note(&ctx, id, &body).await?;
    Ok(())
}

#[server(endpoint = "security/incident_assessment", prefix = "/api", input = Json)]
pub async fn save_incident_assessment(id: String, assessment: Assessment) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentUpdate).await?;
    let id = super::context::parse_id("id", &id)?;
    services.incidents.save_assessment(&ctx, id, &assessment).await?;
    Ok(())
}

#[server(endpoint = "security/incident_decision", prefix = "/api", input = Json)]
pub async fn decide_incident(id: String, decision: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    use crate::domain::incidents::assessment::Decision;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentUpdate).await?;
    let id = super::context::parse_id("id", &id)?;
    let decision = Decision::parse(&decision).ok_or_else(|| {
        crate::domain::Error::validation("decision", "choose not a breach, low probability of compromise, or breach")
    })?;
    services.incidents.decide(&ctx, id, decision).await?;
    Ok(())
}

#[server(endpoint = "security/incident_hhs", prefix = "/api", input = Json)]
pub async fn save_incident_hhs(id: String, answers: HhsAnswers) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentUpdate).await?;
    let id = super::context::parse_id("id", &id)?;
    services.incidents.save_hhs_answers(&ctx, id, &answers).await?;
    Ok(())
}

/// One affected patient's name and address, to address their notice (audited).
#[server(endpoint = "security/incident_patient", prefix = "/api", input = Json)]
pub async fn open_incident_patient(id: String, patient: String) -> Result<RecipientView, AppError> {
    use crate::domain::audit::Action;
    use crate::domain::ids::PatientId;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentPatientOpen).await?;
    let id = super::context::parse_id("id", &id)?;
    let patient = PatientId(super::context::parse_id("patient", &patient)?);
    let r = services.incidents.open_affected_patient(&ctx, id, patient).await?;
    let address = r.address.map_or_else(Vec::new, |a| {
        let mut lines = vec![a.line1];
        lines.extend(a.line2);
        lines.push(format!("{}, {} {}", a.city, a.state, a.postal_code));
        lines.push(a.country);
        lines
    });
    Ok(RecipientView {
        patient_id: r.patient_id.to_string(),
        name: format!("{} {}", r.given_name, r.family_name),
        address,
    })
}

#[server(endpoint = "security/close_incident", prefix = "/api", input = Json)]
pub async fn close_incident(id: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::IncidentUpdate).await?;
    let id = super::context::parse_id("id", &id)?;
    services.incidents.close(&ctx, id).await?;
    Ok(())
}

#[cfg(feature = "ssr")]
fn parse_time(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    let parsed = chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| crate::domain::Error::validation(field, "is not a date and time (YYYY-MM-DDTHH:MM, UTC)"))?;
    Ok(Some(parsed.and_utc()))
}

#[cfg(feature = "ssr")]
fn parse_date(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Ok(None) };
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| crate::domain::Error::validation(field, "is not a date (YYYY-MM-DD)").into())
}
