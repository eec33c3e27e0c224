//! What a server function knows about its request: the services, the session, who is signed in
//! (with automatic logoff applied and audited) and the audit context (request id, IP, user agent).

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http::request::Parts;
use leptos::prelude::use_context;
use tower_sessions::Session;

use crate::domain::Error;
use crate::domain::audit::{Actor, AuditContext, Purpose, Role};
use crate::domain::ids::UserId;
use crate::domain::sessions::USER_ID_KEY;
use crate::domain::state::{AppState, Services};
use crate::domain::users::{User, UserStatus};
use crate::error::AppError;

pub const SIGNED_IN_AT: &str = "signed_in_at";
pub const LAST_SEEN: &str = "last_seen";
/// How far the stored `last_seen` may lag behind the newest request, in microseconds. Writing
/// it on every request made every audited read commit twice (the audit row, then the session
/// row). The idle limit then ends a session between `idle - 30 s` and `idle` after the last
/// request: sooner than the limit at worst, never later.
pub const LAST_SEEN_GRAIN_MICROS: i64 = 30_000_000;
/// When the person last proved presence with a user-verified passkey assertion (sign-in or
/// step-up), in microseconds: adding a passkey needs one within 5 minutes.
pub const PASSKEY_VERIFIED_AT: &str = "passkey_verified_at";

pub fn services() -> Result<Services, AppError> {
    use_context::<AppState>()
        .map(|state| state.services)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("app state missing from context")).into())
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|_| Error::Internal(anyhow::anyhow!("session layer missing")).into())
}

/// The audit context of this request for `actor`.
pub fn audit_context(actor: Actor, purpose: Purpose) -> AuditContext {
    let parts = use_context::<Parts>();
    let header = |name: &str| {
        parts
            .as_ref()
            .and_then(|p| p.headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect())
    };
    let ip = parts.as_ref().and_then(|p| client_ip(&p.extensions));
    AuditContext {
        actor,
        purpose,
        justification: None,
        request_id: header("x-request-id"),
        ip,
        user_agent: header("user-agent"),
    }
}

/// The request's client address: the one the server resolved behind its trusted proxies, or,
/// where no resolver ran, the TCP peer (never a forwarding header).
pub fn client_ip(extensions: &http::Extensions) -> Option<String> {
    extensions
        .get::<crate::domain::client_address::ClientAddress>()
        .map(|address| address.0)
        .or_else(|| extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip()))
        .map(|ip| ip.to_string())
}

pub fn anonymous_context() -> AuditContext {
    audit_context(Actor { user_id: None, role: Role::Anonymous, patient_id: None }, Purpose::Operations)
}

/// The signed-in user, or None. A session past its idle or absolute limit, or of an account
/// that is no longer active, is ended here (audited) and counts as signed out. The call counts
/// as activity.
pub async fn current_user(services: &Services, session: &Session) -> Result<Option<User>, AppError> {
    session_user(services, session, true, &|actor: Actor| audit_context(actor, Purpose::Operations)).await
}

/// For a long-lived connection (the signaling socket): the session as the store has it now (a
/// sign-out elsewhere, an admin's "end sessions" or a disabled account shows at once), with
/// automatic logoff applied. Holding a connection open is not activity: an idle session ends at
/// its limit even while a call is open. `context` builds the connection's audit context.
pub async fn recheck_user(
    services: &Services,
    session: &Session,
    context: &(dyn Fn(Actor) -> AuditContext + Sync),
) -> Result<Option<User>, AppError> {
    session.load().await.map_err(internal)?;
    session_user(services, session, false, context).await
}

async fn session_user(
    services: &Services,
    session: &Session,
    activity: bool,
    context: &(dyn Fn(Actor) -> AuditContext + Sync),
) -> Result<Option<User>, AppError> {
    let Some(user_id) = session.get::<uuid::Uuid>(USER_ID_KEY).await.map_err(internal)? else {
        return Ok(None);
    };
    let now = services.clock.now().timestamp_micros();
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT).await.map_err(internal)?.unwrap_or(i64::MIN);
    let last_seen = session.get::<i64>(LAST_SEEN).await.map_err(internal)?.unwrap_or(i64::MIN);
    let policy = services.session_policy;
    let idle_over = now.saturating_sub(last_seen) > policy.idle.num_microseconds().unwrap_or(i64::MAX);
    let absolute_over = now.saturating_sub(signed_in_at) > policy.absolute.num_microseconds().unwrap_or(i64::MAX);
    let user = match services.users.get(UserId(user_id)).await {
        Ok(user) => Some(user),
        Err(Error::NotFound) => None,
        Err(err) => return Err(err.into()),
    };
    let ended = match &user {
        _ if absolute_over => Some("automatic-logoff:absolute"),
        _ if idle_over => Some("automatic-logoff:idle"),
        Some(user) if user.status == UserStatus::Active => None,
        _ => Some("account-not-active"),
    };
    if let Some(rule) = ended {
        tracing::info!(user_id = %user_id, rule, "session ended");
        let actor = match &user {
            Some(user) => user.actor(),
            None => Actor { user_id: Some(UserId(user_id)), role: Role::Anonymous, patient_id: None },
        };
        let entry = crate::domain::audit::AuditEntry {
            action: crate::domain::audit::Action::AuthSignOut,
            resource_type: "session",
            resource_id: Some(user_id.to_string()),
            patient_id: None,
            outcome: crate::domain::audit::Outcome::Allowed,
            rule: Some(rule.to_owned()),
        };
        // Recorded before the session goes: if the row cannot be written, the request fails
        // and the next one tries again.
        record(services, &context(actor), entry).await?;
        session.flush().await.map_err(internal)?;
        return Ok(None);
    }
    if activity && now.saturating_sub(last_seen) >= LAST_SEEN_GRAIN_MICROS {
        session.insert(LAST_SEEN, now).await.map_err(internal)?;
    }
    Ok(user)
}

/// Whole seconds left before the idle limit ends this session, as the server counts them
/// (from the stored `last_seen`), so the page's countdown never outlives the session.
pub async fn idle_seconds_left(services: &Services, session: &Session) -> Result<i64, AppError> {
    let now = services.clock.now().timestamp_micros();
    let last_seen = session.get::<i64>(LAST_SEEN).await.map_err(internal)?.unwrap_or(now);
    let idle = services.session_policy.idle.num_seconds();
    Ok((idle - now.saturating_sub(last_seen) / 1_000_000).clamp(0, idle))
}

/// The signed-in user, for a function any signed-in person may call on their own account. A
/// call without a session is audited and answered 401.
pub async fn require_user(
    services: &Services,
    session: &Session,
    action: crate::domain::audit::Action,
) -> Result<User, AppError> {
    match current_user(services, session).await? {
        Some(user) => Ok(user),
        None => {
            services.anonymous.record_refusal(&anonymous_context(), refusal(action, "not-signed-in")).await?;
            set_status(http::StatusCode::UNAUTHORIZED);
            Err(AppError::Unauthenticated)
        }
    }
}

pub fn internal(err: impl std::fmt::Display) -> AppError {
    Error::Internal(anyhow::anyhow!("session: {err}")).into()
}

/// Appends one audit row in a transaction of its own.
pub async fn record(
    services: &Services,
    ctx: &AuditContext,
    entry: crate::domain::audit::AuditEntry,
) -> Result<(), AppError> {
    services.audit.record(&services.db, ctx, entry).await?;
    Ok(())
}

fn refusal(action: crate::domain::audit::Action, rule: &str) -> crate::domain::audit::AuditEntry {
    crate::domain::audit::AuditEntry {
        action,
        resource_type: "operation",
        resource_id: None,
        patient_id: None,
        outcome: crate::domain::audit::Outcome::Denied,
        rule: Some(rule.to_owned()),
    }
}

/// The HTTP status of the response to this server-function call.
pub fn set_status(code: http::StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(code);
    }
}

/// The signed-in user, if the access policy lets them run `action`. A refusal (not signed in,
/// or the wrong role) is audited and answered 401 or 403.
pub async fn authorize_operation(
    action: crate::domain::audit::Action,
) -> Result<(Services, User, AuditContext), AppError> {
    authorize_with(action, |actor| crate::domain::access::decide_operation(actor, action)).await
}

/// Like `authorize_operation`, for opening the landing page of `page_role`.
pub async fn authorize_page(page_role: Role) -> Result<(Services, User, AuditContext), AppError> {
    authorize_with(crate::domain::audit::Action::PageOpen, |actor| crate::domain::access::decide_page(actor, page_role))
        .await
}

async fn authorize_with(
    action: crate::domain::audit::Action,
    decide: impl Fn(&Actor) -> crate::domain::access::Decision,
) -> Result<(Services, User, AuditContext), AppError> {
    let (services, session) = (services()?, session().await?);
    let Some(user) = current_user(&services, &session).await? else {
        services.anonymous.record_refusal(&anonymous_context(), refusal(action, "not-signed-in")).await?;
        set_status(http::StatusCode::UNAUTHORIZED);
        return Err(AppError::Unauthenticated);
    };
    let ctx = audit_context(user.actor(), Purpose::Operations);
    let decision = decide(&ctx.actor);
    if !decision.allowed {
        record(&services, &ctx, refusal(action, decision.rule)).await?;
        tracing::warn!(action = action.as_str(), rule = decision.rule, "operation refused");
        set_status(http::StatusCode::FORBIDDEN);
        return Err(AppError::Forbidden);
    }
    Ok((services, user, ctx))
}

/// The signed-in user and their audit context, for functions whose access decision is taken by
/// the domain (which knows the patient and the relationship). No session: audited, 401.
pub async fn signed_in(action: crate::domain::audit::Action) -> Result<(Services, User, AuditContext), AppError> {
    let (services, session) = (services()?, session().await?);
    let user = require_user(&services, &session, action).await?;
    let ctx = audit_context(user.actor(), Purpose::Treatment);
    Ok((services, user, ctx))
}

/// Parses an id sent by the browser; a malformed one is a validation error naming the field.
pub fn parse_id(field: &str, value: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(value.trim()).map_err(|_| Error::validation(field, "is not a valid id").into())
}
