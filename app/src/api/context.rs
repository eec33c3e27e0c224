//! What a server function knows about its request: the services, the session, who is signed in
//! (with automatic logoff applied) and the audit context (request id, IP, user agent).

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
    let ip = parts
        .as_ref()
        .and_then(|p| p.extensions.get::<ConnectInfo<SocketAddr>>())
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    AuditContext {
        actor,
        purpose,
        justification: None,
        request_id: header("x-request-id"),
        ip,
        user_agent: header("user-agent"),
    }
}

pub fn anonymous_context() -> AuditContext {
    audit_context(Actor { user_id: None, role: Role::Anonymous, patient_id: None }, Purpose::Operations)
}

/// The signed-in user, or None. A session past its idle or absolute limit, or of an account
/// that is no longer active, is ended here and counts as signed out.
pub async fn current_user(services: &Services, session: &Session) -> Result<Option<User>, AppError> {
    let Some(user_id) = session.get::<uuid::Uuid>(USER_ID_KEY).await.map_err(internal)? else {
        return Ok(None);
    };
    let now = services.clock.now().timestamp_micros();
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT).await.map_err(internal)?.unwrap_or(i64::MIN);
    let last_seen = session.get::<i64>(LAST_SEEN).await.map_err(internal)?.unwrap_or(i64::MIN);
    let policy = services.session_policy;
    let idle_over = now.saturating_sub(last_seen) > policy.idle.num_microseconds().unwrap_or(i64::MAX);
    let absolute_over = now.saturating_sub(signed_in_at) > policy.absolute.num_microseconds().unwrap_or(i64::MAX);
    if idle_over || absolute_over {
        tracing::info!(user_id = %user_id, idle_over, absolute_over, "session ended by automatic logoff");
        session.flush().await.map_err(internal)?;
        return Ok(None);
    }
    let user = match services.users.get(UserId(user_id)).await {
        Ok(user) if user.status == UserStatus::Active => user,
        Ok(_) | Err(Error::NotFound) => {
            session.flush().await.map_err(internal)?;
            return Ok(None);
        }
        Err(err) => return Err(err.into()),
    };
    session.insert(LAST_SEEN, now).await.map_err(internal)?;
    Ok(Some(user))
}

/// The signed-in user, or Unauthenticated.
pub async fn require_user(services: &Services, session: &Session) -> Result<User, AppError> {
    current_user(services, session).await?.ok_or(AppError::Unauthenticated)
}

pub fn internal(err: impl std::fmt::Display) -> AppError {
    Error::Internal(anyhow::anyhow!("session: {err}")).into()
}
