//! Planted occurrences of the sign-in, privilege-change and break-glass rules: the audit rows a
//! real occurrence writes (same actions, resource types, rules, purposes and contexts as
//! `api::auth`, `accounts`, `break_glass`), stamped at a time the test chooses, so a detector
//! run over them must raise exactly the planted finding.
//!
//! Rows get the MAC [`AuditLog::append`] would give them (through the log's own `EventMac`), so
//! the audit log still verifies; only their time is the test's, as `append` takes its time from
//! the log's clock.

use chrono::{DateTime, Duration, Utc};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::domain::Error;
use crate::domain::audit::{Action, Actor, AuditContext, AuditEntry, AuditLog, Outcome, Purpose, Role};
use crate::domain::ids::{PatientId, UserId};
use crate::domain::monitoring::rules::{
    break_glass_frequent, break_glass_unreviewed, privilege_change, sign_in_failures_account, sign_in_failures_address,
    sign_in_spray,
};

pub use super::audit_stream::Planted;

/// Appends one row as `audit.append` would, at `at`; its sequence number.
pub async fn append_at(
    db: &DatabaseConnection,
    audit: &AuditLog,
    ctx: &AuditContext,
    entry: AuditEntry,
    at: DateTime<Utc>,
) -> Result<i64, Error> {
    audit.append_at(db, ctx, entry, at).await
}

fn context(user: Option<UserId>, role: Role, purpose: Purpose, ip: &str) -> AuditContext {
    AuditContext {
        actor: Actor { user_id: user, role, patient_id: None },
        purpose,
        justification: None,
        request_id: Some(format!("req-{}", Uuid::now_v7().simple())),
        ip: Some(ip.to_owned()),
        user_agent: Some("plant/1.0".to_owned()),
    }
}

/// A refused passkey sign-in as `finish_sign_in` records it (anonymous, `session` resource,
/// the credential's account if known).
fn failed_sign_in(account: Option<UserId>, rule: &str) -> AuditEntry {
    AuditEntry {
        action: Action::AuthSignIn,
        resource_type: "session",
        resource_id: account.map(|a| a.to_string()),
        patient_id: None,
        outcome: Outcome::Denied,
        rule: Some(rule.to_owned()),
    }
}

/// Five forged assertions naming `account`'s credential, one a minute, each from another
/// address (so no address reaches its own threshold).
pub async fn plant_sign_in_failures_account(
    db: &DatabaseConnection,
    audit: &AuditLog,
    at: DateTime<Utc>,
    account: UserId,
) -> Result<Planted, Error> {
    let mut seqs = Vec::new();
    for i in 0..5 {
        let ctx = context(None, Role::Anonymous, Purpose::Operations, &format!("198.51.100.{}", i + 1));
        let entry = failed_sign_in(Some(account), "verification-failed");
        seqs.push(append_at(db, audit, &ctx, entry, at + Duration::minutes(i)).await?);
    }
    Ok(Planted { rule: sign_in_failures_account::NAME, actor: Some(account), seqs })
}

/// Five sign-ins with unknown credentials from `ip`, one a minute.
pub async fn plant_sign_in_failures_address(
    db: &DatabaseConnection,
    audit: &AuditLog,
    at: DateTime<Utc>,
    ip: &str,
) -> Result<Planted, Error> {
    let mut seqs = Vec::new();
    for i in 0..5 {
        let ctx = context(None, Role::Anonymous, Purpose::Operations, ip);
        seqs.push(
            append_at(db, audit, &ctx, failed_sign_in(None, "unknown-credential"), at + Duration::minutes(i)).await?,
        );
    }
    Ok(Planted { rule: sign_in_failures_address::NAME, actor: None, seqs })
}

/// One failed sign-in against each of ten accounts from `ip`, 30 seconds apart. Ten failures
/// from one address: `sign-in-failures-address` fires for the same rows as well.
pub async fn plant_sign_in_spray(
    db: &DatabaseConnection,
    audit: &AuditLog,
    at: DateTime<Utc>,
    ip: &str,
) -> Result<Planted, Error> {
    let mut seqs = Vec::new();
    for i in 0..10 {
        let ctx = context(None, Role::Anonymous, Purpose::Operations, ip);
        let entry = failed_sign_in(Some(UserId::new()), "verification-failed");
        seqs.push(append_at(db, audit, &ctx, entry, at + Duration::seconds(30 * i)).await?);
    }
    Ok(Planted { rule: sign_in_spray::NAME, actor: None, seqs })
}

/// `admin` re-enrolls `target` with the two-person rule off (applied at once, queued for the
/// security officer's review), as `AccountRequests::reenroll` records it.
pub async fn plant_privilege_change(
    db: &DatabaseConnection,
    audit: &AuditLog,
    at: DateTime<Utc>,
    admin: UserId,
    target: UserId,
) -> Result<Planted, Error> {
    let ctx = context(Some(admin), Role::Admin, Purpose::Operations, "192.0.2.20");
    let entry = AuditEntry {
        action: Action::UserReenroll,
        resource_type: "user",
        resource_id: Some(target.to_string()),
        patient_id: None,
        outcome: Outcome::Allowed,
        rule: Some(format!("admin-manages-accounts:review-queue:{}", Uuid::now_v7())),
    };
    let seq = append_at(db, audit, &ctx, entry, at).await?;
    Ok(Planted { rule: privilege_change::NAME, actor: Some(admin), seqs: vec![seq] })
}

/// The row `BreakGlassRepo::declare` writes; the declaration's id.
async fn declare(
    db: &DatabaseConnection,
    audit: &AuditLog,
    at: DateTime<Utc>,
    clinician: UserId,
    patient: PatientId,
) -> Result<(Uuid, i64), Error> {
    let id = Uuid::now_v7();
    let mut ctx = context(Some(clinician), Role::Clinician, Purpose::Emergency, "192.0.2.30");
    ctx.justification = Some(format!("break-glass {id}"));
    let entry = AuditEntry {
        action: Action::BreakGlassDeclare,
        resource_type: "break_glass",
        resource_id: Some(id.to_string()),
        patient_id: Some(patient.0),
        outcome: Outcome::Allowed,
        rule: Some("clinician-declares-emergency".to_owned()),
    };
    Ok((id, append_at(db, audit, &ctx, entry, at).await?))
}

/// One declaration by `clinician` for `patient` at `at`, never reviewed: a scan 24 hours or
/// more later raises it.
pub async fn plant_break_glass_unreviewed(
    db: &DatabaseConnection,
    audit: &AuditLog,
    at: DateTime<Utc>,
    clinician: UserId,
    patient: PatientId,
) -> Result<Planted, Error> {
    let (_, seq) = declare(db, audit, at, clinician, patient).await?;
    Ok(Planted { rule: break_glass_unreviewed::NAME, actor: Some(clinician), seqs: vec![seq] })
}

/// Four declarations by `clinician` for `patient`, one a day from `at`, each reviewed
/// (justified) by a security officer an hour later: only their number is wrong.
pub async fn plant_break_glass_frequent(
    db: &DatabaseConnection,
    audit: &AuditLog,
    at: DateTime<Utc>,
    clinician: UserId,
    patient: PatientId,
) -> Result<Planted, Error> {
    let officer = UserId::new();
    let mut seqs = Vec::new();
    for day in 0..4 {
        let declared_at = at + Duration::days(day);
        let (id, seq) = declare(db, audit, declared_at, clinician, patient).await?;
        seqs.push(seq);
        let ctx = context(Some(officer), Role::SecurityOfficer, Purpose::Operations, "192.0.2.40");
        let reviewed = AuditEntry {
            action: Action::BreakGlassReview,
            resource_type: "break_glass",
            resource_id: Some(id.to_string()),
            patient_id: Some(patient.0),
            outcome: Outcome::Allowed,
            rule: Some("security-officer-reviews:justified".to_owned()),
        };
        append_at(db, audit, &ctx, reviewed, declared_at + Duration::hours(1)).await?;
    }
    Ok(Planted { rule: break_glass_frequent::NAME, actor: Some(clinician), seqs })
}
