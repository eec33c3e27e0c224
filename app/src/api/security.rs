//! The security officer's review of break-glass declarations waiting for an outcome. Alerts,
//! break-glass ones included, are in the inbox (`api::alerts`).

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
