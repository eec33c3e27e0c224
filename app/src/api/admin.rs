//! Administration: accounts (list, invite, disable, enable, re-enroll) and the audit log
//! (filter, page, verify the chain). Each function asks the access policy itself; the page
//! gating in the UI is only a convenience.

use crate::api::codec::Json;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// One account in the admin's list. A patient account is shown by its MRN and id: the
/// patient's name is never sent to the admin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: String,
    /// A workforce member's name, or "Patient account" plus the MRN.
    pub display_name: String,
    pub mrn: Option<String>,
    pub role: String,
    pub status: String,
    pub passkeys: u64,
}

/// What became of an invitation, re-enrollment or re-enabling. Never carries a link: that
/// goes to the person, by email or from the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChange {
    pub user_id: String,
    /// awaiting-approval, emailed, on-host (an operator prints the link) or done.
    pub outcome: String,
    pub request_id: Option<String>,
}

/// A change waiting for a second person (or, with the two-person rule off, for review).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRequestView {
    pub id: String,
    /// invite, enable or reenroll.
    pub kind: String,
    pub user_id: String,
    /// The account's holder: a workforce name, or "Patient account".
    pub account: String,
    pub target_role: String,
    /// pending or applied.
    pub status: String,
    pub requested_by: String,
    pub requested_at: String,
    /// Whether the reader may approve or refuse it.
    pub decidable: bool,
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
fn change(user: crate::domain::ids::UserId, outcome: crate::domain::accounts::ChangeOutcome) -> AccountChange {
    use crate::domain::accounts::ChangeOutcome;
    let (outcome, request_id) = match outcome {
        ChangeOutcome::AwaitingApproval(request) => ("awaiting-approval".to_owned(), Some(request.to_string())),
        ChangeOutcome::Done(crate::domain::accounts::LinkDelivery::NotNeeded) => ("done".to_owned(), None),
        ChangeOutcome::Done(delivery) => (delivery.as_str().to_owned(), None),
    };
    AccountChange { user_id: user.to_string(), outcome, request_id }
}

#[cfg(feature = "ssr")]
fn parse_user_id(value: &str) -> Result<crate::domain::ids::UserId, AppError> {
    uuid::Uuid::parse_str(value)
        .map(crate::domain::ids::UserId)
        .map_err(|_| crate::domain::Error::validation("user_id", "is not a user id").into())
}

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
        .map(|account| UserSummary {
            id: account.id.to_string(),
            display_name: match (&account.name, &account.mrn) {
                (Some(name), _) => name.clone(),
                (None, Some(mrn)) => format!("Patient account {mrn}"),
                (None, None) => "Patient account".to_owned(),
            },
            mrn: account.mrn,
            role: account.role.as_str().to_owned(),
            status: account.status.as_str().to_owned(),
            passkeys: account.passkeys,
        })
        .collect())
}

/// Invites a person. A workforce account names the invitee's email address, where the link
/// goes; a patient account names the patient's MRN (resolved to the record's id without
/// opening it), and its link goes to the email on the record. A clinician, admin or security
/// officer account waits for the second person's approval.
#[server(endpoint = "admin/invite_user", prefix = "/api", input = Json)]
pub async fn invite_user(
    role: String,
    display_name: String,
    email: Option<String>,
    patient_mrn: Option<String>,
) -> Result<AccountChange, AppError> {
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
    let (user, outcome) = services.accounts.invite(&ctx, new, email.as_deref()).await?;
    Ok(change(user, outcome))
}

/// Disables an account at once, or enables it; restoring a privileged account waits for the
/// second person's approval.
#[server(endpoint = "admin/set_user_enabled", prefix = "/api", input = Json)]
pub async fn set_user_enabled(user_id: String, enabled: bool) -> Result<AccountChange, AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::Action;
    let action = if enabled { Action::UserEnable } else { Action::UserDisable };
    let (services, _, ctx) = authorize_operation(action).await?;
    let id = parse_user_id(&user_id)?;
    if enabled {
        let outcome = services.accounts.enable(&ctx, id).await?;
        Ok(change(id, outcome))
    } else {
        services.users.disable(&ctx, id).await?;
        Ok(AccountChange { user_id: id.to_string(), outcome: "done".to_owned(), request_id: None })
    }
}

#[server(endpoint = "admin/end_sessions", prefix = "/api", input = Json)]
pub async fn end_user_sessions(user_id: String) -> Result<u64, AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::Action;
    let (services, _, ctx) = authorize_operation(Action::UserEndSessions).await?;
    Ok(services.users.end_sessions(&ctx, parse_user_id(&user_id)?).await?)
}

/// Asks to re-enroll an account (its passkeys end and a new link goes to the person): waits
/// for the second person's approval.
#[server(endpoint = "admin/reenroll_user", prefix = "/api", input = Json)]
pub async fn reenroll_user(user_id: String) -> Result<AccountChange, AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::Action;
    let (services, _, ctx) = authorize_operation(Action::UserReenroll).await?;
    let id = parse_user_id(&user_id)?;
    let outcome = services.accounts.reenroll(&ctx, id).await?;
    Ok(change(id, outcome))
}

/// The account changes waiting for a second person, or for review: the admin's view of what
/// they asked for and the security officer's approval queue.
#[server(endpoint = "accounts/requests", prefix = "/api", input = Json)]
pub async fn account_requests() -> Result<Vec<AccountRequestView>, AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::{Action, Role};
    let (services, _, ctx) = authorize_operation(Action::AccountRequestList).await?;
    let requests = services.accounts.queue(&ctx).await?;
    let people = requests.iter().flat_map(|r| std::iter::once(r.user_id).chain(r.requested_by));
    let names = services.users.workforce_names(people).await?;
    let name = |id: &crate::domain::ids::UserId| names.get(id).map(|(_, n): &(Role, String)| n.clone());
    Ok(requests
        .into_iter()
        .map(|r| AccountRequestView {
            id: r.id.to_string(),
            kind: r.kind.as_str().to_owned(),
            user_id: r.user_id.to_string(),
            account: name(&r.user_id).unwrap_or_else(|| "Patient account".to_owned()),
            target_role: r.target_role.as_str().to_owned(),
            status: r.status,
            requested_by: r.requested_by.as_ref().and_then(name).unwrap_or_else(|| "The clinic system".to_owned()),
            requested_at: r.requested_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            decidable: r.decidable,
        })
        .collect())
}

/// Approves or refuses an account change; the access policy decides who may (nobody decides
/// their own request).
#[server(endpoint = "accounts/decide_request", prefix = "/api", input = Json)]
pub async fn decide_account_request(request_id: String, approve: bool) -> Result<(), AppError> {
    use super::context::authorize_operation;
    use crate::domain::audit::Action;
    let (services, _, ctx) = authorize_operation(Action::AccountRequestDecide).await?;
    let id = super::context::parse_id("request_id", &request_id)?;
    services.accounts.decide(&ctx, id, approve).await?;
    Ok(())
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
