//! The patient's portal: my record, who may see it (care team and my consents), and who looked
//! at it. The patient is always the signed-in user's own record; no function here takes a
//! patient id from the browser.

use crate::api::codec::Json;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::chart::ChartView;
use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareLinkView {
    pub id: String,
    pub clinician_id: String,
    pub clinician: String,
    /// assignment, care_team or consent.
    pub kind: String,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClinicianView {
    pub id: String,
    pub name: String,
}

/// One access to the record as the patient sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessView {
    pub at: DateTime<Utc>,
    /// A workforce member's name, "You", or "The clinic system".
    pub who: String,
    pub role: String,
    pub action: String,
    pub outcome: String,
    pub purpose: Option<String>,
    pub break_glass: bool,
}

#[cfg(feature = "ssr")]
async fn own_record(
    action: crate::domain::audit::Action,
) -> Result<
    (
        crate::domain::state::Services,
        crate::domain::users::User,
        crate::domain::audit::AuditContext,
        crate::domain::ids::PatientId,
    ),
    AppError,
> {
    let (services, user, mut ctx) = super::context::signed_in(action).await?;
    ctx.purpose = crate::domain::audit::Purpose::PatientRequest;
    match user.patient_id {
        Some(patient) => Ok((services, user, ctx, patient)),
        None => {
            // Not a patient account: let the policy refuse (and audit) it on no record.
            let nobody = crate::domain::ids::PatientId(uuid::Uuid::nil());
            services.guard.check(&ctx, action, "portal", Some(nobody)).await?;
            Err(AppError::Forbidden)
        }
    }
}

#[cfg(feature = "ssr")]
pub(crate) async fn care_link_views(
    services: &crate::domain::state::Services,
    links: Vec<crate::domain::care::CareLink>,
) -> Result<Vec<CareLinkView>, AppError> {
    let names = services.users.workforce_names(links.iter().map(|l| l.clinician_id)).await?;
    Ok(links
        .into_iter()
        .map(|link| CareLinkView {
            id: link.id.to_string(),
            clinician_id: link.clinician_id.to_string(),
            clinician: names.get(&link.clinician_id).map_or_else(|| "Unknown clinician".to_owned(), |(_, n)| n.clone()),
            kind: link.kind.as_str().to_owned(),
            since: link.since,
        })
        .collect())
}

#[server(endpoint = "portal/my_chart", prefix = "/api", input = Json)]
pub async fn my_chart() -> Result<ChartView, AppError> {
    use crate::domain::audit::Action;
    let (services, user, ctx, patient) = own_record(Action::ChartRead).await?;
    super::chart::chart_view(&services, &user, &ctx, patient).await
}

#[server(endpoint = "portal/care_team", prefix = "/api", input = Json)]
pub async fn my_care_team() -> Result<Vec<CareLinkView>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx, patient) = own_record(Action::ConsentList).await?;
    let links = services.care.links(&ctx, patient).await?;
    care_link_views(&services, links).await
}

#[server(endpoint = "portal/clinicians", prefix = "/api", input = Json)]
pub async fn clinician_directory() -> Result<Vec<ClinicianView>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, _) = super::context::signed_in(Action::ClinicianList).await?;
    Ok(services
        .users
        .clinicians()
        .await?
        .into_iter()
        .map(|(id, name)| ClinicianView { id: id.to_string(), name })
        .collect())
}

#[server(endpoint = "portal/grant_consent", prefix = "/api", input = Json)]
pub async fn grant_consent(clinician_id: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    use crate::domain::care::CareKind;
    let (services, _, ctx, patient) = own_record(Action::ConsentGrant).await?;
    let clinician = crate::domain::ids::UserId(super::context::parse_id("clinician_id", &clinician_id)?);
    services.care.start(&ctx, patient, clinician, CareKind::Consent).await?;
    Ok(())
}

#[server(endpoint = "portal/revoke_consent", prefix = "/api", input = Json)]
pub async fn revoke_consent(link_id: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    use crate::domain::care::CareKind;
    let (services, _, ctx, patient) = own_record(Action::ConsentRevoke).await?;
    let link = super::context::parse_id("link_id", &link_id)?;
    // A patient may end only their consents; care-team changes are the clinic's.
    let links = services.care.links(&ctx, patient).await?;
    // Refusals are audited as denied: another patient's link (or none) is a 404, a care-team
    // link a validation error.
    let refuse = |rule: &str| crate::domain::audit::AuditEntry {
        action: Action::ConsentRevoke,
        resource_type: "care_relationship",
        resource_id: Some(link.to_string()),
        patient_id: Some(patient.0),
        outcome: crate::domain::audit::Outcome::Denied,
        rule: Some(rule.to_owned()),
    };
    match links.iter().find(|l| l.id == link) {
        Some(found) if found.kind == CareKind::Consent => {}
        Some(_) => {
            super::context::record(&services, &ctx, refuse("not-a-consent")).await?;
            return Err(
                crate::domain::Error::validation("link_id", "only consents you granted can be revoked here").into()
            );
        }
        None => {
            super::context::record(&services, &ctx, refuse("not-own-consent")).await?;
            return Err(crate::domain::Error::NotFound.into());
        }
    }
    services.care.end(&ctx, patient, link).await?;
    Ok(())
}

#[server(endpoint = "portal/who_looked", prefix = "/api", input = Json)]
pub async fn who_looked() -> Result<Vec<AccessView>, AppError> {
    use crate::domain::audit::Action;
    let (services, user, ctx, patient) = own_record(Action::AccessLogRead).await?;
    let records = services.access_history.for_patient(&ctx, patient).await?;
    let names = services.users.workforce_names(records.iter().filter_map(|r| r.actor)).await?;
    // "You" is whoever holds the account's passkeys now: rows this account made before its
    // last enrollment were someone else's (a re-enrolled account changes hands).
    let enrolled_at = services.users.enrolled_at(user.id).await?;
    Ok(records
        .into_iter()
        .map(|record| {
            let yours = enrolled_at.is_some_and(|since| record.at >= since) && record.actor_role == "patient";
            let who = match record.actor {
                Some(id) if id == user.id && yours => "You".to_owned(),
                Some(id) if id == user.id => "Your account, before it was last enrolled".to_owned(),
                Some(id) => names.get(&id).map_or_else(|| "Another patient account".to_owned(), |(_, n)| n.clone()),
                None if record.actor_role == "system" => "The clinic system".to_owned(),
                None => "Someone not signed in".to_owned(),
            };
            AccessView {
                at: record.at,
                who,
                role: record.actor_role,
                action: record.action,
                outcome: record.outcome,
                purpose: record.purpose,
                break_glass: record.break_glass,
            }
        })
        .collect())
}
