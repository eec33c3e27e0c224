//! The alert inbox's server functions: list with filters, one alert with its audit rows,
//! acknowledge, close with a note, add a note, and the counts on the security officer's home.
//! Each is a thin adapter over `domain::monitoring::inbox`, which asks the access policy and
//! audits; a request without a session is audited and answered 401 here.

use crate::api::codec::Json;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The inbox's filters as the page sends them; empty or None: any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertListFilter {
    /// open, acknowledged or closed.
    pub status: Option<String>,
    pub rule: Option<String>,
    /// The actor's user id.
    pub actor: Option<String>,
    /// low, medium, high or critical.
    pub severity: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRow {
    pub id: String,
    pub rule: String,
    pub severity: String,
    pub status: String,
    pub actor_id: Option<String>,
    /// A workforce member's name; None for a patient account or an unknown actor.
    pub actor: Option<String>,
    pub created_at: DateTime<Utc>,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub observed: Option<i64>,
    pub response: Option<String>,
    pub incident_id: Option<String>,
    pub patients: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertListPage {
    pub alerts: Vec<AlertRow>,
    pub total: u64,
    pub page: u64,
    pub pages: u64,
    pub rules: Vec<String>,
}

/// An audit row behind an alert: ids, actions, outcomes and times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEventRow {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<String>,
    pub actor_role: String,
    pub patient_id: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub outcome: String,
    pub rule: Option<String>,
    pub ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertNoteView {
    pub id: String,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDetailView {
    pub alert: AlertRow,
    pub patients: Vec<String>,
    pub subject_id: Option<String>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub events: Vec<AlertEventRow>,
    pub events_total: u64,
    pub notes: Vec<AlertNoteView>,
}

/// Open alerts by severity (most severe first) and the totals by status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertCountsView {
    pub open_by_severity: Vec<(String, u64)>,
    pub open: u64,
    pub acknowledged: u64,
    pub closed: u64,
}

#[cfg(feature = "ssr")]
mod convert {
    use std::collections::HashMap;

    use super::*;
    use crate::domain::Error;
    use crate::domain::audit::Role;
    use crate::domain::ids::UserId;
    use crate::domain::monitoring::Severity;
    use crate::domain::monitoring::inbox::{AlertFilter, AlertStatus, AlertSummary};

    pub type Names = HashMap<UserId, (Role, String)>;

    fn text(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    /// The page's filters as typed values; a bad one is a 422 naming its field.
    pub fn filter(form: &AlertListFilter) -> Result<AlertFilter, Error> {
        let status = text(&form.status)
            .map(|s| {
                AlertStatus::parse(s).ok_or_else(|| Error::validation("status", "choose open, acknowledged or closed"))
            })
            .transpose()?;
        let severity = text(&form.severity)
            .map(|s| {
                Severity::parse(s).ok_or_else(|| Error::validation("severity", "choose low, medium, high or critical"))
            })
            .transpose()?;
        let rule = text(&form.rule)
            .map(|r| {
                let valid = r.len() <= 64
                    && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_".contains(c));
                if valid { Ok(r.to_owned()) } else { Err(Error::validation("rule", "is not a rule name")) }
            })
            .transpose()?;
        let actor = text(&form.actor)
            .map(|a| uuid::Uuid::parse_str(a).map(UserId).map_err(|_| Error::validation("actor", "is not a user id")))
            .transpose()?;
        Ok(AlertFilter { status, rule, actor, severity })
    }

    pub fn name(names: &Names, id: UserId) -> String {
        names.get(&id).map_or_else(|| id.to_string(), |(_, n)| n.clone())
    }

    pub fn row(alert: AlertSummary, names: &Names) -> AlertRow {
        AlertRow {
            id: alert.id.to_string(),
            rule: alert.rule,
            severity: alert.severity.as_str().to_owned(),
            status: alert.status.as_str().to_owned(),
            actor_id: alert.actor.map(|a| a.to_string()),
            actor: alert.actor.and_then(|a| names.get(&a).map(|(_, n)| n.clone())),
            created_at: alert.created_at,
            window_start: alert.window_start,
            window_end: alert.window_end,
            observed: alert.observed,
            response: alert.response,
            incident_id: alert.incident_id.map(|i| i.to_string()),
            patients: alert.patients,
        }
    }
}

#[server(endpoint = "alerts/list", prefix = "/api", input = Json)]
pub async fn list_alerts(filter: AlertListFilter, page: u64) -> Result<AlertListPage, AppError> {
    use crate::domain::audit::Action;
    use crate::domain::monitoring::inbox::PAGE_SIZE;
    let (services, _, ctx) = super::context::signed_in(Action::AlertList).await?;
    let filter = convert::filter(&filter)?;
    let found = services.alerts.list(&ctx, &filter, page).await?;
    let names = services.users.workforce_names(found.alerts.iter().filter_map(|a| a.actor)).await?;
    Ok(AlertListPage {
        pages: found.total.div_ceil(PAGE_SIZE).max(1),
        total: found.total,
        page: found.page,
        rules: found.rules,
        alerts: found.alerts.into_iter().map(|a| convert::row(a, &names)).collect(),
    })
}

#[server(endpoint = "alerts/detail", prefix = "/api", input = Json)]
pub async fn alert_detail(id: String) -> Result<AlertDetailView, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::AlertRead).await?;
    let id = super::context::parse_id("id", &id)?;
    let detail = services.alerts.detail(&ctx, id).await?;
    let people = detail
        .summary
        .actor
        .into_iter()
        .chain(detail.acknowledged_by)
        .chain(detail.closed_by)
        .chain(detail.notes.iter().map(|n| n.author));
    let names = services.users.workforce_names(people).await?;
    Ok(AlertDetailView {
        patients: detail.patients.iter().map(|p| p.to_string()).collect(),
        subject_id: detail.subject_id.map(|s| s.to_string()),
        acknowledged_by: detail.acknowledged_by.map(|u| convert::name(&names, u)),
        acknowledged_at: detail.acknowledged_at,
        closed_by: detail.closed_by.map(|u| convert::name(&names, u)),
        closed_at: detail.closed_at,
        events: detail
            .events
            .into_iter()
            .map(|e| AlertEventRow {
                seq: e.seq,
                occurred_at: e.occurred_at,
                actor_user_id: e.actor_user_id.map(|u| u.to_string()),
                actor_role: e.actor_role,
                patient_id: e.patient_id.map(|p| p.to_string()),
                action: e.action,
                resource_type: e.resource_type,
                outcome: e.outcome,
                rule: e.rule,
                ip: e.ip,
            })
            .collect(),
        events_total: detail.events_total,
        notes: detail
            .notes
            .into_iter()
            .map(|n| AlertNoteView {
                id: n.id.to_string(),
                author: convert::name(&names, n.author),
                body: n.body,
                created_at: n.created_at,
            })
            .collect(),
        alert: convert::row(detail.summary, &names),
    })
}

#[server(endpoint = "alerts/acknowledge", prefix = "/api", input = Json)]
pub async fn acknowledge_alert(id: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::AlertUpdate).await?;
    let id = super::context::parse_id("id", &id)?;
    services.alerts.acknowledge(&ctx, id).await?;
    Ok(())
}

#[server(endpoint = "alerts/close", prefix = "/api", input = Json)]
pub async fn close_alert(id: String, note: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::AlertUpdate).await?;
    let id = super::context::parse_id("id", &id)?;
    services.alerts.close(&ctx, id, &note).await?;
    Ok(())
}

#[server(endpoint = "alerts/add_note", prefix = "/api", input = Json)]
pub async fn add_alert_note(id: String, note: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::AlertUpdate).await?;
    let id = super::context::parse_id("id", &id)?;
    services.alerts.add_note(&ctx, id, &note).await?;
    Ok(())
}

#[server(endpoint = "alerts/counts", prefix = "/api", input = Json)]
pub async fn alert_counts() -> Result<AlertCountsView, AppError> {
    use crate::domain::audit::Action;
    use crate::domain::monitoring::Severity;
    use crate::domain::monitoring::inbox::AlertStatus;
    let (services, _, ctx) = super::context::signed_in(Action::AlertList).await?;
    let counts = services.alerts.counts(&ctx).await?;
    Ok(AlertCountsView {
        open_by_severity: Severity::ALL
            .into_iter()
            .rev()
            .map(|s| (s.as_str().to_owned(), counts.get(AlertStatus::Open, s)))
            .collect(),
        open: counts.status_total(AlertStatus::Open),
        acknowledged: counts.status_total(AlertStatus::Acknowledged),
        closed: counts.status_total(AlertStatus::Closed),
    })
}
