//! `privilege-change`: changes that give someone more reach than they had, each worth a second
//! look even when the policy allowed it (45 CFR 164.308(a)(4)(ii)(C), access modification):
//!
//! - `role-granted`: an account invited, or re-enabled, with the admin or security officer
//!   role (the role is the account's, read from `app_user`: the audit row names the account).
//!   A request still waiting for its second person (`...:awaiting-approval:...`) grants
//!   nothing yet; the approval's row does. Grants made on the host (System rows: `admin
//!   bootstrap`'s first admin, the demo seed) are not reported.
//! - `reenrolled`: an account re-enrolled (its passkeys replaced: whoever enrolls next holds it).
//! - `assigner-created-the-account`: an admin relating a clinician account they created to a
//!   patient. The policy refuses it (the denied row's rule says so); an allowed assignment
//!   whose clinician turns out to have been created by the assigner is reported the same way.
//! - `assigned-then-read`: someone created a care relationship for a patient and then opened
//!   that patient's chart (allowed or not) within the window: the relationship may exist to
//!   explain the read.
//!
//! The alert's actor is whoever made the change; `subject_id` is the account changed (for the
//! first three) and patients are named by id. One alert per triggering audit row.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::entities::{app_user, audit_event, care_relationship};
use crate::domain::ids::{PatientId, UserId};
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "privilege-change";

/// The roles whose grant is reported.
const PRIVILEGED: [&str; 2] = ["admin", "security_officer"];

/// How assignments are told apart from their read.
const ASSIGN: &str = "care.assign";
const READ: &str = "chart.read";

/// High; `assigned-then-read` looks 24 hours after the assignment.
pub fn default_settings() -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold: 1,
        window: Duration::hours(24),
        severity: Severity::High,
        critical_at: None,
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct PrivilegeChange;

#[async_trait]
impl Rule for PrivilegeChange {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let new = audit_event::Entity::find()
            .filter(audit_event::Column::Action.is_in(["user.invite", "user.enable", "user.reenroll", ASSIGN]))
            .filter(audit_event::Column::Seq.gt(scan.after_seq))
            .filter(audit_event::Column::Seq.lte(scan.up_to_seq))
            .order_by_asc(audit_event::Column::Seq)
            .all(db)
            .await?;
        let mut out = account_changes(db, scan, &new).await?;
        out.extend(assigned_then_read(db, scan).await?);
        Ok(out)
    }
}

fn parse(id: Option<&str>) -> Option<Uuid> {
    id.and_then(|id| id.parse().ok())
}

fn finding(scan: &Scan, kind: &str, row: &audit_event::Model, subject: Option<Uuid>) -> NewAlert {
    NewAlert {
        rule: NAME.to_owned(),
        severity: scan.settings.severity,
        actor: row.actor_user_id.map(UserId),
        patients: row.patient_id.map(PatientId).into_iter().collect(),
        window_start: row.occurred_at,
        window_end: row.occurred_at,
        observed: None,
        seqs: vec![row.seq],
        dedup: format!("{kind}|{}", row.seq),
        subject_id: subject,
    }
}

/// Role grants, re-enrollments and assignments of an account the assigner created.
async fn account_changes(
    db: &DatabaseConnection,
    scan: &Scan,
    rows: &[audit_event::Model],
) -> Result<Vec<NewAlert>, Error> {
    let granted = |row: &audit_event::Model| {
        row.outcome == "allowed" && !row.rule.as_deref().is_some_and(|rule| rule.contains(":awaiting-approval:"))
    };
    // The accounts and relationships the rows name, read in two queries.
    let accounts: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.action != ASSIGN && granted(r))
        .filter_map(|r| parse(r.resource_id.as_deref()))
        .collect();
    let links: Vec<Uuid> = rows
        .iter()
        .filter(|r| r.action == ASSIGN && granted(r))
        .filter_map(|r| parse(r.resource_id.as_deref()))
        .collect();
    let links: HashMap<Uuid, Uuid> = care_relationship::Entity::find()
        .filter(care_relationship::Column::Id.is_in(links))
        .all(db)
        .await?
        .into_iter()
        .map(|link| (link.id, link.clinician_id))
        .collect();
    let users: HashMap<Uuid, app_user::Model> = app_user::Entity::find()
        .filter(app_user::Column::Id.is_in(accounts.into_iter().chain(links.values().copied())))
        .all(db)
        .await?
        .into_iter()
        .map(|user| (user.id, user))
        .collect();
    let mut out = Vec::new();
    for row in rows {
        let target = parse(row.resource_id.as_deref());
        match row.action.as_str() {
            ASSIGN if row.outcome == "denied" && row.rule.as_deref() == Some("assigner-created-the-account") => {
                out.push(finding(scan, "assigner-created-the-account", row, target));
            }
            ASSIGN if granted(row) => {
                let clinician = target.and_then(|link| links.get(&link)).copied();
                let created_by = clinician.and_then(|c| users.get(&c)).and_then(|u| u.created_by);
                if created_by.is_some() && created_by == row.actor_user_id {
                    out.push(finding(scan, "assigner-created-the-account", row, clinician));
                }
            }
            "user.reenroll" if granted(row) => out.push(finding(scan, "reenrolled", row, target)),
            // The host operator's grants (System rows) are the bootstrap's first admin and the
            // demo seed: the CLI makes no other privileged account, and only while none exists.
            "user.invite" | "user.enable" if granted(row) && row.actor_user_id.is_some() => {
                let role = target.and_then(|t| users.get(&t)).map(|u| u.role.as_str());
                if role.is_some_and(|role| PRIVILEGED.contains(&role)) {
                    out.push(finding(scan, "role-granted", row, target));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// A chart read, new to this run, by someone who created a care relationship for that patient
/// within the window before it. One alert per assignment (its first read). Assignments are few:
/// they are read first, and only their authors' reads after them.
async fn assigned_then_read(db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
    let earliest: Option<chrono::DateTime<chrono::Utc>> = audit_event::Entity::find()
        .select_only()
        .column_as(audit_event::Column::OccurredAt.min(), "earliest")
        .filter(audit_event::Column::Seq.gt(scan.after_seq))
        .filter(audit_event::Column::Seq.lte(scan.up_to_seq))
        .into_tuple::<Option<chrono::DateTime<chrono::Utc>>>()
        .one(db)
        .await?
        .flatten();
    let Some(earliest) = earliest else { return Ok(Vec::new()) };
    let assignments = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(ASSIGN))
        .filter(audit_event::Column::Outcome.eq("allowed"))
        .filter(audit_event::Column::ActorUserId.is_not_null())
        .filter(audit_event::Column::OccurredAt.gte(earliest - scan.settings.window))
        .filter(audit_event::Column::Seq.lte(scan.up_to_seq))
        .order_by_asc(audit_event::Column::Seq)
        .all(db)
        .await?;
    let assigners: Vec<Uuid> = assignments.iter().filter_map(|a| a.actor_user_id).collect();
    if assigners.is_empty() {
        return Ok(Vec::new());
    }
    let reads = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(READ))
        .filter(audit_event::Column::ActorUserId.is_in(assigners))
        .filter(audit_event::Column::PatientId.is_not_null())
        .filter(audit_event::Column::Seq.gt(scan.after_seq))
        .filter(audit_event::Column::Seq.lte(scan.up_to_seq))
        .order_by_asc(audit_event::Column::Seq)
        .all(db)
        .await?;
    let mut out: Vec<NewAlert> = Vec::new();
    let mut reported: Vec<i64> = Vec::new();
    for read in &reads {
        let assignment = assignments.iter().find(|a| {
            a.actor_user_id == read.actor_user_id
                && a.patient_id == read.patient_id
                && a.seq < read.seq
                && a.occurred_at <= read.occurred_at
                && read.occurred_at - a.occurred_at <= scan.settings.window
                && !reported.contains(&a.seq)
        });
        let Some(assignment) = assignment else { continue };
        reported.push(assignment.seq);
        out.push(NewAlert {
            rule: NAME.to_owned(),
            severity: scan.settings.severity,
            actor: read.actor_user_id.map(UserId),
            patients: read.patient_id.map(PatientId).into_iter().collect(),
            window_start: assignment.occurred_at,
            window_end: read.occurred_at,
            observed: None,
            seqs: vec![assignment.seq, read.seq],
            dedup: format!("assigned-then-read|{}", assignment.seq),
            subject_id: parse(assignment.resource_id.as_deref()),
        });
    }
    Ok(out)
}
