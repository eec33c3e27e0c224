//! The incident downloads, as plain GET routes so the browser saves them as files:
//! `/security/incidents/{id}/hhs-report.json` (the HHS breach report, 45 CFR 164.408) and
//! `/security/incidents/{id}/letters/{patient}.html` (one individual's notice, 164.404).
//!
//! Session-checked like every page; who may download is decided by the domain (the security
//! officer; a letter only for a patient in the incident's affected set), and each download is
//! audited there before the file is sent. Never cached: `Cache-Control: no-store`.

use app::domain::Error;
use app::domain::audit::{Action, Actor, AuditContext, AuditEntry, Outcome, Purpose, Role};
use app::domain::ids::PatientId;
use app::domain::state::Services;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tower_sessions::Session;

pub async fn hhs_report(
    State(services): State<Services>,
    Path(id): Path<String>,
    axum::Extension(client): axum::Extension<app::domain::client_address::ClientAddress>,
    headers: HeaderMap,
    session: Session,
) -> Response {
    let ctx = match signed_in(&services, &session, &headers, &client, Action::IncidentExport).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return (StatusCode::BAD_REQUEST, "the incident id is not a valid id").into_response();
    };
    match services.incidents.hhs_report(&ctx, id).await {
        Ok(json) => file(json, "application/json", &format!("hhs-breach-report-{id}.json")),
        Err(err) => failure(err),
    }
}

pub async fn letter(
    State(services): State<Services>,
    Path((id, file_name)): Path<(String, String)>,
    axum::Extension(client): axum::Extension<app::domain::client_address::ClientAddress>,
    headers: HeaderMap,
    session: Session,
) -> Response {
    let ctx = match signed_in(&services, &session, &headers, &client, Action::IncidentExport).await {
        Ok(ctx) => ctx,
        Err(response) => return response,
    };
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return (StatusCode::BAD_REQUEST, "the incident id is not a valid id").into_response();
    };
    let Some(patient) = file_name.strip_suffix(".html").and_then(|p| uuid::Uuid::parse_str(p).ok()) else {
        return (StatusCode::BAD_REQUEST, "a letter is named by its patient's id and .html").into_response();
    };
    match services.incidents.letter(&ctx, id, PatientId(patient)).await {
        Ok(html) => file(html, "text/html; charset=utf-8", &format!("breach-notice-{patient}.html")),
        Err(err) => failure(err),
    }
}

/// The request's audit context for the signed-in user; no session: audited, 401.
async fn signed_in(
    services: &Services,
    session: &Session,
    headers: &HeaderMap,
    client: &app::domain::client_address::ClientAddress,
    action: Action,
) -> Result<AuditContext, Response> {
    let header =
        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.chars().take(512).collect::<String>());
    let context = |actor: Actor| AuditContext {
        actor,
        purpose: Purpose::Operations,
        justification: None,
        request_id: header("x-request-id"),
        ip: Some(client.0.to_string()),
        user_agent: header("user-agent"),
    };
    match app::api::context::current_user(services, session).await {
        Ok(Some(user)) => Ok(context(user.actor())),
        Ok(None) => {
            let anonymous = context(Actor { user_id: None, role: Role::Anonymous, patient_id: None });
            let entry = AuditEntry {
                action,
                resource_type: "incident",
                resource_id: None,
                patient_id: None,
                outcome: Outcome::Denied,
                rule: Some("not-signed-in".to_owned()),
            };
            match services.anonymous.record_refusal(&anonymous, entry).await {
                Ok(()) => Err((StatusCode::UNAUTHORIZED, "sign in first").into_response()),
                Err(err) => Err(failure(err)),
            }
        }
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

fn file(body: String, content_type: &'static str, name: &str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn failure(err: Error) -> Response {
    let mut response = match err {
        Error::Unauthenticated => (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
        Error::Forbidden => (StatusCode::FORBIDDEN, "you may not download this file").into_response(),
        Error::NotFound => (StatusCode::NOT_FOUND, "no such incident or patient").into_response(),
        Error::Conflict(message) => (StatusCode::CONFLICT, message).into_response(),
        Error::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "the request is not valid").into_response(),
        other => {
            let incident = uuid::Uuid::new_v4();
            tracing::error!(%incident, error = ?other, "incident download failed");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("something went wrong (incident {incident})")).into_response()
        }
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
