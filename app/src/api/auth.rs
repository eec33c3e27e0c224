//! Sign-in with passkeys, enrollment by invitation link, sign-out and the session's state.
//! The WebAuthn ceremony itself runs in the browser (see `ui::webauthn`); these functions hand
//! out challenges and verify the answers. Every outcome is audited.

use crate::api::codec::Json;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};

use crate::error::AppError;

/// What the page may know about the signed-in person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The person's own account id (for their own calendar and bookings).
    pub user_id: String,
    pub display_name: String,
    /// "patient", "clinician", "admin" or "security_officer".
    pub role: String,
    /// Seconds left before inactivity ends the session, counted from the server's record of
    /// the last request (at most the idle limit).
    pub idle_timeout_secs: i64,
}

/// Where a role lands after signing in.
pub fn home_for(role: &str) -> &'static str {
    match role {
        "patient" => "/portal",
        "clinician" => "/dashboard",
        "admin" => "/admin",
        "security_officer" => "/security",
        _ => "/",
    }
}

#[cfg(feature = "ssr")]
mod server {
    use serde::{Deserialize, Serialize};
    use webauthn_rs::prelude::{DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration};

    pub const ENROLL_STATE: &str = "webauthn_enroll";
    pub const SIGN_IN_STATE: &str = "webauthn_sign_in";
    pub const STEP_UP_STATE: &str = "webauthn_step_up";

    /// A step-up assertion in progress, bound to the account it was started for.
    #[derive(Serialize, Deserialize)]
    pub struct StepUpState {
        pub user_id: uuid::Uuid,
        pub state: PasskeyAuthentication,
    }

    /// When the session's person last verified with a passkey (sign-in or step-up).
    pub async fn verified_at(
        session: &tower_sessions::Session,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, crate::error::AppError> {
        let micros = session
            .get::<i64>(crate::api::context::PASSKEY_VERIFIED_AT)
            .await
            .map_err(crate::api::context::internal)?;
        Ok(micros.and_then(chrono::DateTime::from_timestamp_micros))
    }

    /// The registration ceremony in progress, bound to the account it was started for.
    #[derive(Serialize, Deserialize)]
    pub struct EnrollState {
        pub user_id: uuid::Uuid,
        pub state: PasskeyRegistration,
    }

    #[derive(Serialize, Deserialize)]
    pub struct SignInState {
        pub state: DiscoverableAuthentication,
    }
}

/// An anonymous call that is about to write a session row (a challenge) spends the address's
/// session budget; past it: 429 and no row.
#[cfg(feature = "ssr")]
async fn admit_session(
    services: &crate::domain::state::Services,
    ctx: &crate::domain::audit::AuditContext,
) -> Result<(), AppError> {
    if services.anonymous.admit_session(ctx).await? {
        return Ok(());
    }
    tracing::warn!("anonymous session budget of an address spent; challenge refused");
    super::context::set_status(http::StatusCode::TOO_MANY_REQUESTS);
    Err(AppError::TooManyRequests)
}

/// Step one of enrollment: the invitee's link is checked and a registration challenge issued.
#[server(endpoint = "auth/start_enrollment", prefix = "/api", input = Json)]
pub async fn start_enrollment(token: String) -> Result<CreationChallengeResponse, AppError> {
    use super::context::{anonymous_context, internal, services, session};
    let (services, session) = (services()?, session().await?);
    let ctx = anonymous_context();
    admit_session(&services, &ctx).await?;
    let user = services.users.enrollment_user(&ctx, &token).await?;
    let existing = services.passkeys.credential_ids(&services.db, user.id).await?;
    let (challenge, state) = services.passkeys.start_registration(&user, existing)?;
    session.insert(server::ENROLL_STATE, server::EnrollState { user_id: user.id.0, state }).await.map_err(internal)?;
    Ok(challenge)
}

/// Step two: the browser's new credential is verified and stored; the link is used up.
#[server(endpoint = "auth/finish_enrollment", prefix = "/api", input = Json)]
pub async fn finish_enrollment(
    token: String,
    device_name: String,
    credential: RegisterPublicKeyCredential,
) -> Result<(), AppError> {
    use super::context::{anonymous_context, internal, services, session};
    let (services, session) = (services()?, session().await?);
    let name = crate::domain::users::validate_device_name(&device_name)?;
    // Single use: the state leaves the session whatever happens next.
    let pending = session.remove::<server::EnrollState>(server::ENROLL_STATE).await.map_err(internal)?;
    let Some(pending) = pending else {
        return Err(crate::domain::Error::validation("passkey", "this setup expired; please start again").into());
    };
    // Persisted now, before anything can fail: a failed answer must not leave the challenge usable.
    session.save().await.map_err(internal)?;
    let ctx = anonymous_context();
    let user = services.users.enrollment_user(&ctx, &token).await?;
    if user.id.0 != pending.user_id {
        return Err(crate::domain::Error::validation("passkey", "this setup belongs to another link").into());
    }
    let passkey = services.passkeys.finish_registration(&credential, &pending.state, name)?;
    services.users.enroll(&ctx, &token, passkey).await?;
    Ok(())
}

/// Step one of sign-in: a challenge with no user name; the device offers its passkeys.
#[server(endpoint = "auth/start_sign_in", prefix = "/api", input = Json)]
pub async fn start_sign_in() -> Result<RequestChallengeResponse, AppError> {
    use super::context::{anonymous_context, internal, services, session};
    let (services, session) = (services()?, session().await?);
    admit_session(&services, &anonymous_context()).await?;
    let (challenge, state) = services.passkeys.start_sign_in()?;
    session.insert(server::SIGN_IN_STATE, server::SignInState { state }).await.map_err(internal)?;
    Ok(challenge)
}

/// Step two: the assertion is verified; on success the session gets a new id and the user.
#[server(endpoint = "auth/finish_sign_in", prefix = "/api", input = Json)]
pub async fn finish_sign_in(credential: PublicKeyCredential) -> Result<SessionInfo, AppError> {
    use super::context::{
        LAST_SEEN, SIGNED_IN_AT, anonymous_context, audit_context, internal, record, services, session, set_status,
    };
    use crate::domain::audit::{Action, AuditEntry, Outcome, Purpose};
    use crate::domain::sessions::USER_ID_KEY;
    use crate::domain::users::UserStatus;

    let (services, session) = (services()?, session().await?);
    let anonymous = anonymous_context();
    let now = services.clock.now();
    let ip_blocked = match anonymous.ip.as_deref() {
        Some(ip) => {
            crate::domain::throttle::failures_from_ip(&services.db, ip, now).await?
                >= crate::domain::throttle::MAX_FAILURES_PER_IP
        }
        None => false,
    };
    let pending = session.remove::<server::SignInState>(server::SIGN_IN_STATE).await.map_err(internal)?;
    // Persisted now, before anything can fail: a failed answer must not leave the challenge
    // usable. A call that brought no challenge has no session row, and gets none.
    if pending.is_some() {
        session.save().await.map_err(internal)?;
    }
    let outcome: Result<crate::domain::users::User, (&str, Option<uuid::Uuid>)> = match pending {
        _ if ip_blocked => Err(("rate-limited-ip", None)),
        None => Err(("no-pending-challenge", None)),
        Some(pending) => match services.passkeys.finish_sign_in(&services.db, &credential, pending.state).await? {
            Err(failure) => Err((failure.rule(), failure.account().map(|user| user.0))),
            Ok(user_id) => {
                let account_blocked = crate::domain::throttle::failures_for_account(&services.db, user_id.0, now)
                    .await?
                    >= crate::domain::throttle::MAX_FAILURES_PER_ACCOUNT;
                match services.users.get(user_id).await {
                    Ok(_) if account_blocked => Err(("rate-limited-account", Some(user_id.0))),
                    Ok(user) if user.status == UserStatus::Active => Ok(user),
                    Ok(_) => Err(("account-not-active", Some(user_id.0))),
                    Err(crate::domain::Error::NotFound) => Err(("unknown-user", None)),
                    Err(err) => return Err(err.into()),
                }
            }
        },
    };
    let entry = |outcome: Outcome, rule: &str, user: Option<uuid::Uuid>| AuditEntry {
        action: Action::AuthSignIn,
        resource_type: "session",
        resource_id: user.map(|u| u.to_string()),
        patient_id: None,
        outcome,
        rule: Some(rule.to_owned()),
    };
    match outcome {
        Err((rule, account)) if crate::domain::throttle::is_rate_limit(rule) => {
            // Refusals of the rate limit itself are not counted by it, and cost the address its
            // anonymous budget, not one audit row each.
            services.anonymous.record_refusal(&anonymous, entry(Outcome::Denied, rule, account)).await?;
            tracing::warn!(rule, "sign-in refused");
            set_status(http::StatusCode::TOO_MANY_REQUESTS);
            Err(AppError::TooManyRequests)
        }
        Err((rule, account)) => {
            record(&services, &anonymous, entry(Outcome::Denied, rule, account)).await?;
            tracing::warn!(rule, "sign-in refused");
            set_status(http::StatusCode::UNAUTHORIZED);
            Err(AppError::Unauthenticated)
        }
        Ok(user) => {
            // A new session id at sign-in: a fixated or stolen pre-sign-in id is worthless.
            session.cycle_id().await.map_err(internal)?;
            let now = services.clock.now().timestamp_micros();
            session.insert(USER_ID_KEY, user.id.0).await.map_err(internal)?;
            session.insert(SIGNED_IN_AT, now).await.map_err(internal)?;
            session.insert(LAST_SEEN, now).await.map_err(internal)?;
            // A passkey sign-in is a user-verified assertion (verification is required).
            session.insert(super::context::PASSKEY_VERIFIED_AT, now).await.map_err(internal)?;
            let ctx = audit_context(user.actor(), Purpose::Operations);
            record(&services, &ctx, entry(Outcome::Allowed, "passkey", Some(user.id.0))).await?;
            tracing::info!(user_id = %user.id, role = user.role.as_str(), "signed in");
            Ok(SessionInfo {
                user_id: user.id.to_string(),
                display_name: user.display_name,
                role: user.role.as_str().to_owned(),
                idle_timeout_secs: services.session_policy.idle.num_seconds(),
            })
        }
    }
}

/// Ends the session on the server; the cookie is worthless afterwards.
#[server(endpoint = "auth/sign_out", prefix = "/api", input = Json)]
pub async fn sign_out() -> Result<(), AppError> {
    use super::context::{audit_context, current_user, internal, record, services, session};
    use crate::domain::audit::{Action, AuditEntry, Outcome, Purpose};

    let (services, session) = (services()?, session().await?);
    if let Some(user) = current_user(&services, &session).await? {
        let entry = AuditEntry {
            action: Action::AuthSignOut,
            resource_type: "session",
            resource_id: Some(user.id.to_string()),
            patient_id: None,
            outcome: Outcome::Allowed,
            rule: Some("user-request".to_owned()),
        };
        record(&services, &audit_context(user.actor(), Purpose::Operations), entry).await?;
    }
    session.flush().await.map_err(internal)?;
    Ok(())
}

/// Who is signed in, if anyone. Calling it counts as activity.
#[server(endpoint = "auth/session", prefix = "/api", input = Json)]
pub async fn get_session() -> Result<Option<SessionInfo>, AppError> {
    use super::context::{current_user, idle_seconds_left, services, session};
    let (services, session) = (services()?, session().await?);
    let Some(user) = current_user(&services, &session).await? else { return Ok(None) };
    Ok(Some(SessionInfo {
        user_id: user.id.to_string(),
        display_name: user.display_name,
        role: user.role.as_str().to_owned(),
        idle_timeout_secs: idle_seconds_left(&services, &session).await?,
    }))
}

/// One of the signed-in person's passkeys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
}

#[server(endpoint = "account/passkeys", prefix = "/api", input = Json)]
pub async fn my_passkeys() -> Result<Vec<PasskeyInfo>, AppError> {
    use super::context::{require_user, services, session};
    let (services, session) = (services()?, session().await?);
    let user = require_user(&services, &session, crate::domain::audit::Action::PasskeyList).await?;
    Ok(services
        .users
        .passkeys(user.id)
        .await?
        .into_iter()
        .map(|p| PasskeyInfo {
            id: p.id.to_string(),
            name: p.name,
            created: p.created_at.format("%Y-%m-%d").to_string(),
            last_used: p.last_used_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        })
        .collect())
}

/// Confirming it is still you (before adding a passkey): step one, a challenge for one of the
/// signed-in person's own passkeys, with user verification.
#[server(endpoint = "account/start_step_up", prefix = "/api", input = Json)]
pub async fn start_step_up() -> Result<RequestChallengeResponse, AppError> {
    use super::context::{internal, require_user, services, session};
    let (services, session) = (services()?, session().await?);
    let user = require_user(&services, &session, crate::domain::audit::Action::AuthSignIn).await?;
    let (challenge, state) = services.passkeys.start_step_up(&services.db, user.id).await?;
    session.insert(server::STEP_UP_STATE, server::StepUpState { user_id: user.id.0, state }).await.map_err(internal)?;
    Ok(challenge)
}

/// Step two: the assertion is verified; the session records when. Audited either way.
#[server(endpoint = "account/finish_step_up", prefix = "/api", input = Json)]
pub async fn finish_step_up(credential: PublicKeyCredential) -> Result<(), AppError> {
    use super::context::{PASSKEY_VERIFIED_AT, audit_context, internal, record, require_user, services, session};
    use crate::domain::audit::{Action, AuditEntry, Outcome, Purpose};
    let (services, session) = (services()?, session().await?);
    let user = require_user(&services, &session, Action::AuthSignIn).await?;
    let pending = session.remove::<server::StepUpState>(server::STEP_UP_STATE).await.map_err(internal)?;
    session.save().await.map_err(internal)?;
    let verified = match pending {
        Some(pending) if pending.user_id == user.id.0 => {
            services.passkeys.finish_step_up(&services.db, user.id, &credential, &pending.state).await?
        }
        _ => false,
    };
    let (outcome, rule) = if verified { (Outcome::Allowed, "step-up") } else { (Outcome::Denied, "step-up-failed") };
    let entry = AuditEntry {
        action: Action::AuthSignIn,
        resource_type: "session",
        resource_id: Some(user.id.to_string()),
        patient_id: None,
        outcome,
        rule: Some(rule.to_owned()),
    };
    record(&services, &audit_context(user.actor(), Purpose::Operations), entry).await?;
    if !verified {
        return Err(crate::domain::Error::validation(
            "passkey",
            "that passkey could not be verified; please try again",
        )
        .into());
    }
    session.insert(PASSKEY_VERIFIED_AT, services.clock.now().timestamp_micros()).await.map_err(internal)?;
    Ok(())
}

/// Adding a passkey while signed in: step one. Only within 5 minutes of a user-verified
/// passkey assertion (sign-in or step-up); otherwise refused, audited, with a message saying so.
#[server(endpoint = "account/start_add_passkey", prefix = "/api", input = Json)]
pub async fn start_add_passkey() -> Result<CreationChallengeResponse, AppError> {
    use super::context::{audit_context, internal, require_user, services, session};
    use crate::domain::audit::Purpose;
    let (services, session) = (services()?, session().await?);
    let user = require_user(&services, &session, crate::domain::audit::Action::PasskeyAdd).await?;
    let ctx = audit_context(user.actor(), Purpose::Operations);
    services.users.require_fresh_verification(&ctx, user.id, server::verified_at(&session).await?).await?;
    let existing = services.passkeys.credential_ids(&services.db, user.id).await?;
    let (challenge, state) = services.passkeys.start_registration(&user, existing)?;
    session.insert(server::ENROLL_STATE, server::EnrollState { user_id: user.id.0, state }).await.map_err(internal)?;
    Ok(challenge)
}

/// Adding a passkey while signed in: step two. The owner is told by email when mail is set up.
#[server(endpoint = "account/finish_add_passkey", prefix = "/api", input = Json)]
pub async fn finish_add_passkey(device_name: String, credential: RegisterPublicKeyCredential) -> Result<(), AppError> {
    use super::context::{audit_context, internal, require_user, services, session};
    use crate::domain::audit::Purpose;
    let (services, session) = (services()?, session().await?);
    let user = require_user(&services, &session, crate::domain::audit::Action::PasskeyAdd).await?;
    let name = crate::domain::users::validate_device_name(&device_name)?;
    let pending = session.remove::<server::EnrollState>(server::ENROLL_STATE).await.map_err(internal)?;
    session.save().await.map_err(internal)?;
    let Some(pending) = pending else {
        return Err(crate::domain::Error::validation("passkey", "this setup expired; please start again").into());
    };
    if pending.user_id != user.id.0 {
        return Err(AppError::Forbidden);
    }
    let passkey = services.passkeys.finish_registration(&credential, &pending.state, name)?;
    let ctx = audit_context(user.actor(), Purpose::Operations);
    services.users.add_passkey(&ctx, user.id, passkey, server::verified_at(&session).await?).await?;
    services.notices.passkey_added(&ctx, &user).await?;
    Ok(())
}

#[server(endpoint = "account/rename_passkey", prefix = "/api", input = Json)]
pub async fn rename_passkey(id: String, name: String) -> Result<(), AppError> {
    use super::context::{audit_context, require_user, services, session};
    use crate::domain::audit::Purpose;
    let (services, session) = (services()?, session().await?);
    let user = require_user(&services, &session, crate::domain::audit::Action::PasskeyRename).await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    services.users.rename_passkey(&audit_context(user.actor(), Purpose::Operations), user.id, id, &name).await?;
    Ok(())
}

#[server(endpoint = "account/remove_passkey", prefix = "/api", input = Json)]
pub async fn remove_passkey(id: String) -> Result<(), AppError> {
    use super::context::{audit_context, require_user, services, session};
    use crate::domain::audit::Purpose;
    let (services, session) = (services()?, session().await?);
    let user = require_user(&services, &session, crate::domain::audit::Action::PasskeyRemove).await?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| AppError::NotFound)?;
    services.users.remove_passkey(&audit_context(user.actor(), Purpose::Operations), user.id, id).await?;
    Ok(())
}
