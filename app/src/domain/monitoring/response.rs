//! The automatic response to a critical alert (45 CFR 164.308(a)(6)(ii): respond to a suspected
//! security incident and mitigate its harmful effects): the account the alert is about is
//! disabled and signed out everywhere, in one transaction with the audit rows that say so and
//! the alert's `response`, so the account is never disabled without the record of why.
//!
//! - An alert that names an actor: `account-disabled`. The account's status becomes disabled
//!   and its sessions are deleted, so an open session is refused on its next request; audited
//!   as `user.disable` and `user.end_sessions` rows by the system, whose justification names
//!   the alert, and an `alert.update` row on the alert.
//! - An alert with no actor (a sign-in spray is about an address, not an account): nothing is
//!   disabled, and `address-flagged` is recorded on the alert (and audited), so the security
//!   officer sees the response was considered and what is left to do (block the address at the
//!   network edge; the alert's audit rows name it).
//!
//! Re-enabling an account disabled this way is refused ([`holding_alert`]) while the alert is
//! not closed: the security officer closes it, then an admin may enable the account.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::Severity;
use crate::domain::Error;
use crate::domain::access::decide_operation;
use crate::domain::audit::{Action, Actor, AuditContext, AuditEntry, AuditLog, Outcome, Purpose};
use crate::domain::entities::{app_user, security_alert, session};
use crate::domain::ids::UserId;

/// `security_alert.response` when the account was disabled.
pub const ACCOUNT_DISABLED: &str = "account-disabled";
/// `security_alert.response` when the alert names no account (an address).
pub const ADDRESS_FLAGGED: &str = "address-flagged";
/// `security_alert.response` when the account the alert names does not exist.
pub const NO_ACCOUNT: &str = "no-such-account";

/// What [`respond`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// Not critical: no automatic response.
    NotCritical,
    /// A response was taken before (by this call's earlier run, or another node); nothing new.
    AlreadyTaken(String),
    AccountDisabled {
        user: UserId,
        sessions_ended: u64,
    },
    AddressFlagged,
    NoAccount,
}

/// Takes the automatic response to alert `alert_id` if it is critical: disables its actor's
/// account and ends its sessions, or flags an address, and records it on the alert. Idempotent:
/// the response is claimed on the alert row first, so a second call (or node) does nothing.
/// Runs in its own transaction, or a savepoint of `conn`'s when `conn` is one.
#[tracing::instrument(skip_all, fields(alert_id = %alert_id))]
pub async fn respond<C>(conn: &C, audit: &AuditLog, alert_id: Uuid, now: DateTime<Utc>) -> Result<Response, Error>
where
    C: ConnectionTrait + TransactionTrait,
{
    let txn = conn.begin().await?;
    let alert = security_alert::Entity::find_by_id(alert_id).one(&txn).await?.ok_or(Error::NotFound)?;
    if Severity::parse(&alert.severity) != Some(Severity::Critical) {
        return Ok(Response::NotCritical);
    }
    if let Some(taken) = alert.response {
        return Ok(Response::AlreadyTaken(taken));
    }
    let account = match alert.user_id {
        Some(user) => app_user::Entity::find_by_id(user).one(&txn).await?.map(|row| UserId(row.id)),
        None => None,
    };
    let response = match (alert.user_id, account) {
        (None, _) => ADDRESS_FLAGGED,
        (Some(_), None) => NO_ACCOUNT,
        (Some(_), Some(_)) => ACCOUNT_DISABLED,
    };
    let claimed = security_alert::Entity::update_many()
        .col_expr(security_alert::Column::Response, Expr::value(response))
        .filter(security_alert::Column::Id.eq(alert_id))
        .filter(security_alert::Column::Response.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(Response::AlreadyTaken(response.to_owned()));
    }
    let ctx = AuditContext {
        actor: Actor::system(),
        purpose: Purpose::Operations,
        justification: Some(format!("security alert {alert_id} ({}): automatic response", alert.kind)),
        request_id: None,
        ip: None,
        user_agent: None,
    };
    let updated = AuditEntry {
        action: Action::AlertUpdate,
        resource_type: "security_alert",
        resource_id: Some(alert_id.to_string()),
        patient_id: None,
        outcome: Outcome::Allowed,
        rule: Some(format!("automatic-response:{response}")),
    };
    let outcome = match account {
        Some(user) => {
            let sessions_ended = disable(&txn, audit, &ctx, user, now).await?;
            Response::AccountDisabled { user, sessions_ended }
        }
        None if alert.user_id.is_some() => Response::NoAccount,
        None => Response::AddressFlagged,
    };
    audit.append(&txn, &ctx, updated).await?;
    txn.commit().await?;
    match &outcome {
        Response::AccountDisabled { user, sessions_ended } => {
            tracing::warn!(user_id = %user, sessions_ended, rule = %alert.kind, "account disabled by an alert");
        }
        other => tracing::warn!(rule = %alert.kind, response = ?other, "critical alert: nothing to disable"),
    }
    Ok(outcome)
}

/// Disables `user` and deletes its sessions in `conn`'s transaction, audited as the system.
/// Returns how many sessions ended.
async fn disable<C: ConnectionTrait>(
    conn: &C,
    audit: &AuditLog,
    ctx: &AuditContext,
    user: UserId,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let rows = |action: Action| -> Result<AuditEntry, Error> {
        // The same policy that lets the CLI disable an account lets the monitor do it.
        let decision = decide_operation(&ctx.actor, action);
        if !decision.allowed {
            return Err(Error::Internal(anyhow::anyhow!("the policy refuses the system {}", action.as_str())));
        }
        Ok(AuditEntry {
            action,
            resource_type: "user",
            resource_id: Some(user.to_string()),
            patient_id: None,
            outcome: Outcome::Allowed,
            rule: Some(format!("{}:automatic-response", decision.rule)),
        })
    };
    let (disabled, ended) = (rows(Action::UserDisable)?, rows(Action::UserEndSessions)?);
    app_user::Entity::update_many()
        .col_expr(app_user::Column::Status, Expr::value("disabled"))
        .col_expr(app_user::Column::UpdatedAt, Expr::value(now))
        .col_expr(app_user::Column::UpdatedBy, Expr::value(Option::<Uuid>::None))
        .filter(app_user::Column::Id.eq(user.0))
        .exec(conn)
        .await?;
    let sessions = session::Entity::delete_many().filter(session::Column::UserId.eq(user.0)).exec(conn).await?;
    audit.append(conn, ctx, disabled).await?;
    audit.append(conn, ctx, ended).await?;
    Ok(sessions.rows_affected)
}

/// The oldest alert, not closed, whose automatic response disabled `user`: while there is one,
/// the account stays disabled.
pub async fn holding_alert<C: ConnectionTrait>(conn: &C, user: UserId) -> Result<Option<Uuid>, Error> {
    Ok(security_alert::Entity::find()
        .filter(security_alert::Column::UserId.eq(user.0))
        .filter(security_alert::Column::Response.eq(ACCOUNT_DISABLED))
        .filter(security_alert::Column::Status.ne("closed"))
        .order_by_asc(security_alert::Column::CreatedAt)
        .one(conn)
        .await?
        .map(|alert| alert.id))
}

/// The audit rule of a refusal to enable an account held by `alert`.
pub fn held_rule(alert: Uuid) -> String {
    format!("security-alert-not-closed:{alert}")
}

/// What the admin is told (a 409): which alert holds the account, and who releases it.
pub fn held_error(alert: Uuid) -> Error {
    Error::Conflict(format!(
        "this account was disabled automatically by security alert {alert}; the security officer must close \
         that alert before the account can be enabled again"
    ))
}
