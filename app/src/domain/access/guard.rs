//! Loads the facts the policy needs (care relationships, an unexpired break-glass, the actor's
//! part in a video visit), asks
//! [`decide`](super::decide), and audits every refusal before it is returned. Allowed accesses
//! are audited by the repository that performs them, in the same transaction, through the
//! [`Permit`] this returns.

use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{Assignee, Decision, Relationship, VisitPart, decide, decide_assignment};
use crate::domain::Error;
use crate::domain::audit::{Action, AuditContext, AuditEntry, AuditLog, Outcome, Role};
use crate::domain::clock::Clock;
use crate::domain::entities::{app_user, appointment, break_glass, care_relationship, video_delegate};
use crate::domain::ids::{PatientId, UserId};

#[derive(Clone)]
pub struct Guard {
    db: DatabaseConnection,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Guard")
    }
}

/// An allowed decision, with the request's audit context set to the purpose (and, for
/// break-glass, the declaration) that the decision rests on.
#[derive(Clone, Debug)]
pub struct Permit {
    pub decision: Decision,
    pub ctx: AuditContext,
    pub patient: Option<PatientId>,
}

impl Permit {
    /// The audit row of the allowed access this permit covers.
    pub fn entry(&self, action: Action, resource_type: &'static str, resource_id: Option<String>) -> AuditEntry {
        AuditEntry {
            action,
            resource_type,
            resource_id,
            patient_id: self.patient.map(|p| p.0),
            outcome: Outcome::Allowed,
            rule: Some(self.decision.rule.to_owned()),
        }
    }

    /// The audit row of one step of an allowed change to `id` (booked, admitted, ended...): the
    /// rule that allowed it, then what happened.
    pub fn step(&self, action: Action, resource_type: &'static str, id: Uuid, what: &str) -> AuditEntry {
        AuditEntry {
            rule: Some(format!("{}:{what}", self.decision.rule)),
            ..self.entry(action, resource_type, Some(id.to_string()))
        }
    }

    /// The audit row of an access the permit allowed that then failed (not found, stale).
    pub fn failure(
        &self,
        action: Action,
        resource_type: &'static str,
        resource_id: Option<String>,
        reason: &str,
    ) -> AuditEntry {
        AuditEntry {
            outcome: Outcome::Error,
            rule: Some(reason.to_owned()),
            ..self.entry(action, resource_type, resource_id)
        }
    }
}

impl Guard {
    pub fn new(db: DatabaseConnection, audit: Arc<AuditLog>, clock: Arc<dyn Clock>) -> Self {
        Self { db, audit, clock }
    }

    /// Decides; a refusal is audited (in its own transaction) and returned as Forbidden.
    #[tracing::instrument(skip_all, fields(action = action.as_str(), actor_role = ctx.actor.role.as_str()))]
    pub async fn check(
        &self,
        ctx: &AuditContext,
        action: Action,
        resource_type: &'static str,
        patient: Option<PatientId>,
    ) -> Result<Permit, Error> {
        let (relationship, break_glass) = match (ctx.actor.role, ctx.actor.user_id, patient) {
            (Role::Clinician, Some(user), Some(patient)) => self.relationship(&self.db, user, patient).await?,
            _ => (Relationship::default(), None),
        };
        let resource_id = patient.map(|p| p.to_string());
        self.conclude(ctx, action, resource_type, patient, resource_id, relationship, break_glass).await
    }

    /// Decides an action on one video visit (None: an appointment that does not exist). The
    /// policy is told, besides the relationship to the patient, whether the actor is the
    /// appointment's clinician or the delegate named for it. A refusal names the appointment.
    #[tracing::instrument(skip_all, fields(action = action.as_str(), actor_role = ctx.actor.role.as_str()))]
    pub async fn check_visit(
        &self,
        ctx: &AuditContext,
        action: Action,
        resource_type: &'static str,
        appointment: Option<&appointment::Model>,
    ) -> Result<Permit, Error> {
        let patient = appointment.map(|a| PatientId(a.patient_id));
        let (mut relationship, break_glass) = match (ctx.actor.role, ctx.actor.user_id, patient) {
            (Role::Clinician, Some(user), Some(patient)) => self.relationship(&self.db, user, patient).await?,
            _ => (Relationship::default(), None),
        };
        if let (Role::Clinician, Some(user), Some(row)) = (ctx.actor.role, ctx.actor.user_id, appointment) {
            relationship.visit = self.visit_part(user, row).await?;
        }
        let resource_id = appointment.map(|a| a.id.to_string());
        self.conclude(ctx, action, resource_type, patient, resource_id, relationship, break_glass).await
    }

    /// Who `user` is to the video visit `row`: its clinician, its delegate, or neither.
    pub async fn visit_part(&self, user: UserId, row: &appointment::Model) -> Result<VisitPart, Error> {
        if row.clinician_id == user.0 {
            return Ok(VisitPart::Clinician);
        }
        let delegate = video_delegate::Entity::find_by_id(row.id)
            .filter(video_delegate::Column::DelegateId.eq(user.0))
            .one(&self.db)
            .await?;
        Ok(if delegate.is_some() { VisitPart::Delegate } else { VisitPart::None })
    }

    #[allow(clippy::too_many_arguments)]
    async fn conclude(
        &self,
        ctx: &AuditContext,
        action: Action,
        resource_type: &'static str,
        patient: Option<PatientId>,
        resource_id: Option<String>,
        relationship: Relationship,
        break_glass: Option<Uuid>,
    ) -> Result<Permit, Error> {
        let decision = decide(&ctx.actor, action, patient, relationship);
        if !decision.allowed {
            let denied = AuditEntry {
                action,
                resource_type,
                resource_id,
                patient_id: patient.map(|p| p.0),
                outcome: Outcome::Denied,
                rule: Some(decision.rule.to_owned()),
            };
            self.audit.record(&self.db, ctx, denied).await?;
            tracing::warn!(rule = decision.rule, "access denied");
            return Err(Error::Forbidden);
        }
        // The audit row of a break-glass access points at the declaration, whose sealed reason
        // the security officer reviews; the reason itself stays out of the audit table.
        let justification = match (decision.rule, break_glass) {
            ("break-glass", Some(id)) => Some(format!("break-glass {id}")),
            _ => None,
        };
        Ok(Permit { decision, ctx: ctx.for_access(decision.purpose, justification), patient })
    }

    /// Decides an assignment or care-team membership of `clinician` to `patient`, with who
    /// created that account as an input; a refusal is audited and returned as Forbidden.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn check_assignment(
        &self,
        ctx: &AuditContext,
        resource_type: &'static str,
        patient: PatientId,
        clinician: UserId,
    ) -> Result<Permit, Error> {
        let created_by = app_user::Entity::find_by_id(clinician.0).one(&self.db).await?.and_then(|row| row.created_by);
        let assignee =
            Assignee { created_by_actor: created_by.is_some() && created_by == ctx.actor.user_id.map(|u| u.0) };
        let decision = decide_assignment(&ctx.actor, patient, assignee);
        if !decision.allowed {
            let denied = AuditEntry {
                action: Action::CareAssign,
                resource_type,
                resource_id: Some(clinician.to_string()),
                patient_id: Some(patient.0),
                outcome: Outcome::Denied,
                rule: Some(decision.rule.to_owned()),
            };
            self.audit.record(&self.db, ctx, denied).await?;
            tracing::warn!(rule = decision.rule, "assignment refused");
            return Err(Error::Forbidden);
        }
        Ok(Permit { decision, ctx: ctx.for_access(decision.purpose, None), patient: Some(patient) })
    }

    /// What relates `clinician` to `patient` right now, and the live break-glass declaration
    /// if there is one.
    pub async fn relationship<C: ConnectionTrait>(
        &self,
        conn: &C,
        clinician: UserId,
        patient: PatientId,
    ) -> Result<(Relationship, Option<Uuid>), Error> {
        let kinds = care_relationship::Entity::find()
            .filter(care_relationship::Column::PatientId.eq(patient.0))
            .filter(care_relationship::Column::ClinicianId.eq(clinician.0))
            .filter(care_relationship::Column::EndedAt.is_null())
            .all(conn)
            .await?;
        let has = |kind: &str| kinds.iter().any(|row| row.kind == kind);
        let now = self.clock.now();
        let emergency = break_glass::Entity::find()
            .filter(break_glass::Column::ClinicianId.eq(clinician.0))
            .filter(break_glass::Column::PatientId.eq(patient.0))
            .filter(break_glass::Column::DeclaredAt.lte(now))
            .filter(break_glass::Column::ExpiresAt.gt(now))
            .order_by_desc(break_glass::Column::ExpiresAt)
            .one(conn)
            .await?;
        let relationship = Relationship {
            assigned: has("assignment"),
            care_team: has("care_team"),
            consent: has("consent"),
            break_glass: emergency.is_some(),
            visit: VisitPart::None,
        };
        Ok((relationship, emergency.map(|row| row.id)))
    }

    /// [`relationship`](Self::relationship) for many patients at once, in two queries whatever
    /// their number (a calendar or a list, without a query per row). A patient with no
    /// relationship is absent from the map.
    pub async fn relationships<C: ConnectionTrait>(
        &self,
        conn: &C,
        clinician: UserId,
        patients: &[PatientId],
    ) -> Result<std::collections::HashMap<PatientId, Relationship>, Error> {
        let mut out = std::collections::HashMap::<PatientId, Relationship>::new();
        if patients.is_empty() {
            return Ok(out);
        }
        let ids: Vec<Uuid> = patients.iter().map(|p| p.0).collect();
        let kinds = care_relationship::Entity::find()
            .filter(care_relationship::Column::PatientId.is_in(ids.clone()))
            .filter(care_relationship::Column::ClinicianId.eq(clinician.0))
            .filter(care_relationship::Column::EndedAt.is_null())
            .all(conn)
            .await?;
        for row in kinds {
            let facts = out.entry(PatientId(row.patient_id)).or_default();
            match row.kind.as_str() {
                "assignment" => facts.assigned = true,
                "care_team" => facts.care_team = true,
                "consent" => facts.consent = true,
                _ => {}
            }
        }
        let now = self.clock.now();
        let emergencies = break_glass::Entity::find()
            .filter(break_glass::Column::ClinicianId.eq(clinician.0))
            .filter(break_glass::Column::PatientId.is_in(ids))
            .filter(break_glass::Column::DeclaredAt.lte(now))
            .filter(break_glass::Column::ExpiresAt.gt(now))
            .all(conn)
            .await?;
        for row in emergencies {
            out.entry(PatientId(row.patient_id)).or_default().break_glass = true;
        }
        Ok(out)
    }
}
