//! The security officer's review: break-glass declarations waiting for an outcome, and alerts.

use crate::api::codec::Json;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassView {
    pub id: String,
    pub patient_id: String,
    pub clinician: String,
    pub reason: String,
    pub declared_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// pending, justified or unjustified.
    pub status: String,
    pub reviewed_by: Option<String>,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: String,
    pub kind: String,
    pub user: Option<String>,
    pub patient_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub open: bool,
}

#[server(endpoint = "security/break_glass_queue", prefix = "/api", input = Json)]
pub async fn break_glass_queue() -> Result<Vec<BreakGlassView>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::BreakGlassList).await?;
    let reviews = services.break_glass.queue(&ctx).await?;
    let people = reviews.iter().flat_map(|r| std::iter::once(r.clinician_id).chain(r.reviewed_by));
    let names = services.users.workforce_names(people).await?;
    let name = |id| names.get(&id).map_or_else(|| "Unknown".to_owned(), |(_, n): &(_, String)| n.clone());
    Ok(reviews
        .into_iter()
        .map(|r| BreakGlassView {
            id: r.id.to_string(),
            patient_id: r.patient_id.to_string(),
            clinician: name(r.clinician_id),
            reason: r.reason,
            declared_at: r.declared_at,
            expires_at: r.expires_at,
            status: r.status.as_str().to_owned(),
            reviewed_by: r.reviewed_by.map(name),
            note: r.note,
        })
        .collect())
}

#[server(endpoint = "security/review_break_glass", prefix = "/api", input = Json)]
pub async fn review_break_glass(id: String, outcome: String, note: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    use crate::domain::break_glass::ReviewStatus;
    let (services, _, ctx) = super::context::signed_in(Action::BreakGlassReview).await?;
    let id = super::context::parse_id("id", &id)?;
    let outcome = ReviewStatus::parse(&outcome)
        .filter(|o| *o != ReviewStatus::Pending)
        .ok_or_else(|| crate::domain::Error::validation("outcome", "choose justified or unjustified"))?;
    services.break_glass.review(&ctx, id, outcome, &note).await?;
    Ok(())
}

#[server(endpoint = "security/alerts", prefix = "/api", input = Json)]
pub async fn security_alerts() -> Result<Vec<AlertView>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::AlertList).await?;
    let alerts = services.break_glass.alerts(&ctx).await?;
    let names = services.users.workforce_names(alerts.iter().filter_map(|a| a.user_id)).await?;
    Ok(alerts
        .into_iter()
        .map(|a| AlertView {
            id: a.id.to_string(),
            kind: a.kind,
            user: a.user_id.and_then(|id| names.get(&id).map(|(_, n)| n.clone())),
            patient_id: a.patient_id.map(|p| p.to_string()),
            created_at: a.created_at,
            open: a.open,
        })
        .collect())
}
