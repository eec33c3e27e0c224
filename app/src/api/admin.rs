//! Administration: accounts (list, invite, disable, enable, re-enroll) and the audit log
//! (filter, page, verify the chain). Each function asks the access policy itself; the page
//! gating in the UI is only a convenience.

use crate::api::codec::Json;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: String,
    pub display_name: String,
    pub role: String,
    pub status: String,
    pub passkeys: u64,
}

/// An enrollment link, shown once to the admin to pass on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationLink {
    pub link: String,
    pub expires_at: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor_user_id: Option<String>,
    pub patient_id: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Dates as YYYY-MM-DD, in UTC; `to` is inclusive.
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    pub occurred_at: String,
    pub actor_user_id: Option<String>,
    pub actor_role: String,
    pub patient_id: Option<String>,
    pub action: String,
    pub outcome: String,
    pub rule: Option<String>,
    pub purpose: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    pub page: u64,
    pub pages: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    pub intact: bool,
    pub rows_checked: u64,
    pub pending: u64,
    pub first_problem: Option<String>,
}

#[cfg(feature = "ssr")]
fn link(services: &crate::domain::state::Services, invitation: &crate::domain::users::Invitation) -> InvitationLink {
    InvitationLink {
        link: format!("{}/enroll#{}", services.public_url.as_str().trim_end_matches('/'), invitation.token.expose()),
        expires_at: invitation.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

#[cfg(feature = "ssr")]
fn parse_user_id(value: &str) -> Result<crate::domain::ids::UserId, AppError> {
    uuid::Uuid::parse_str(value)
        .map(crate::domain::ids::UserId)
        .map_err(|_| crate::domain::Error::validation("user_id", "is not a user id").into())
}

#[cfg(feature = "ssr")]
const ENROLLMENT_HOURS: i64 = 72;

#[server(endpoint = "admin/list_users", prefix = "/api", input = Json)]
pub async fn list_users() -> Result<Vec<UserSummary>, AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::Action;
    let (services, _, ctx) = authorize_operation(Action::UserList).await?;
    Ok(services
        .users
        .list(&ctx)
        .await?
        .into_iter()
        .map(|(user, passkeys)| UserSummary {
            id: user.id.to_string(),
            display_name: user.display_name,
            role: user.role.as_str().to_owned(),
            status: user.status.as_str().to_owned(),
            passkeys,
        })
        .collect())
}

/// Invites a person. A patient account names the patient's MRN, resolved to the record's id
/// without opening the record.
#[server(endpoint = "admin/invite_user", prefix = "/api", input = Json)]
pub async fn invite_user(
    role: String,
    display_name: String,
    patient_mrn: Option<String>,
) -> Result<InvitationLink, AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::{Action, Role};
    use crate::domain::users::NewUser;
    let (services, _, ctx) = authorize_operation(Action::UserInvite).await?;
    let role = Role::parse_user_role(&role).ok_or_else(|| crate::domain::Error::validation("role", "is not a role"))?;
    let patient_id = match patient_mrn.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(mrn) if role == Role::Patient => Some(
            services
                .patients
                .id_by_mrn(&ctx, mrn)
                .await?
                .ok_or_else(|| crate::domain::Error::validation("patient_mrn", "no patient has this MRN"))?,
        ),
        _ => None,
    };
    let new = NewUser { role, display_name, patient_id };
    let invitation = services.users.invite(&ctx, new, chrono::Duration::hours(ENROLLMENT_HOURS)).await?;
    Ok(link(&services, &invitation))
}

#[server(endpoint = "admin/set_user_enabled", prefix = "/api", input = Json)]
pub async fn set_user_enabled(user_id: String, enabled: bool) -> Result<(), AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::Action;
    let action = if enabled { Action::UserEnable } else { Action::UserDisable };
    let (services, _, ctx) = authorize_operation(action).await?;
    let id = parse_user_id(&user_id)?;
    if enabled {
        services.users.enable(&ctx, id).await?
    } else {
        services.users.disable(&ctx, id).await?
    }
    Ok(())
}

/// Signs a user out on every device at once.
#[server(endpoint = "admin/end_sessions", prefix = "/api", input = Json)]
pub async fn end_user_sessions(user_id: String) -> Result<u64, AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::Action;
    let (services, _, ctx) = authorize_operation(Action::UserEndSessions).await?;
    Ok(services.users.end_sessions(&ctx, parse_user_id(&user_id)?).await?)
}

#[server(endpoint = "admin/reenroll_user", prefix = "/api", input = Json)]
pub async fn reenroll_user(user_id: String) -> Result<InvitationLink, AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::Action;
    let (services, _, ctx) = authorize_operation(Action::UserReenroll).await?;
    let invitation =
        services.users.reenroll(&ctx, parse_user_id(&user_id)?, chrono::Duration::hours(ENROLLMENT_HOURS)).await?;
    Ok(link(&services, &invitation))
}

#[server(endpoint = "admin/audit_log", prefix = "/api", input = Json)]
pub async fn read_audit_log(filter: AuditFilter, page: u64) -> Result<AuditPage, AppError> {
    use super::context::{authorize_operation, record};
    use crate::domain::audit::query::{self, AuditQuery};
    use crate::domain::audit::{Action, AuditEntry, Outcome};
    let (services, _, ctx) = authorize_operation(Action::AuditRead).await?;
    let uuid = |field: &str, value: &Option<String>| -> Result<Option<uuid::Uuid>, AppError> {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => uuid::Uuid::parse_str(v)
                .map(Some)
                .map_err(|_| crate::domain::Error::validation(field, "is not an id").into()),
        }
    };
    let day = |field: &str,
               value: &Option<String>,
               add_days: i64|
     -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => crate::api::input::parse_day(v)
                .map(|d| Some((d + chrono::Duration::days(add_days)).and_time(chrono::NaiveTime::MIN).and_utc()))
                .map_err(|rule| crate::domain::Error::validation(field, rule).into()),
        }
    };
    let text = |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let query = AuditQuery {
        actor_user_id: uuid("actor_user_id", &filter.actor_user_id)?,
        patient_id: uuid("patient_id", &filter.patient_id)?,
        action: text(&filter.action),
        outcome: text(&filter.outcome),
        from: day("from", &filter.from, 0)?,
        to: day("to", &filter.to, 1)?,
    };
    let (rows, pages) = query::page(&services.db, &query, page, 50).await.map_err(AppError::from)?;
    // Reading the log is itself an access worth recording.
    let entry = AuditEntry {
        action: Action::AuditRead,
        resource_type: "audit_log",
        resource_id: Some(format!("page {page}")),
        patient_id: query.patient_id,
        outcome: Outcome::Allowed,
        rule: Some("audit-review".to_owned()),
    };
    record(&services, &ctx, entry).await?;
    Ok(AuditPage {
        rows: rows
            .into_iter()
            .map(|row| AuditRow {
                seq: row.seq,
                occurred_at: row.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                actor_user_id: row.actor_user_id.map(|u| u.to_string()),
                actor_role: row.actor_role,
                patient_id: row.patient_id.map(|p| p.to_string()),
                action: row.action,
                outcome: row.outcome,
                rule: row.rule,
                purpose: row.purpose,
                ip: row.ip,
                user_agent: row.user_agent,
            })
            .collect(),
        page,
        pages,
    })
}

#[server(endpoint = "admin/verify_audit_log", prefix = "/api", input = Json)]
pub async fn verify_audit_log() -> Result<AuditVerification, AppError> {
    use super::context::{authorize_operation, record};
    use crate::domain::audit::{Action, AuditEntry, Outcome, verify};
    let (services, _, ctx) = authorize_operation(Action::AuditVerify).await?;
    services.chainer.chain_pending(&services.db).await?;
    let report = verify::verify(
        &services.db,
        services.audit.event_mac(),
        &services.chainer,
        services.clock.now(),
        chrono::Duration::minutes(5),
        |_, _| {},
    )
    .await?;
    let entry = AuditEntry {
        action: Action::AuditVerify,
        resource_type: "audit_log",
        resource_id: None,
        patient_id: None,
        outcome: Outcome::Allowed,
        rule: Some(if report.is_intact() { "intact" } else { "tampered" }.to_owned()),
    };
    record(&services, &ctx, entry).await?;
    Ok(AuditVerification {
        intact: report.is_intact(),
        rows_checked: report.events_checked,
        pending: report.pending,
        first_problem: report.first_problem().map(ToString::to_string),
    })
}

/// Whether the signed-in user may open the landing page of `role`; a refusal is audited.
#[server(endpoint = "pages/open", prefix = "/api", input = Json)]
pub async fn open_page(role: String) -> Result<(), AppError> {
    use super::context::authorize_page;
    use crate::domain::audit::Role;
    let role = Role::parse_user_role(&role).ok_or(AppError::NotFound)?;
    authorize_page(role).await.map(|_| ())
}
