//! Care relationships: the facts the access policy rests on. An admin assigns clinicians to a
//! patient and manages the care team; a patient grants (and revokes) access to a named
//! clinician by consent. Relationships are ended, never deleted, and every change is audited.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use uuid::Uuid;

use super::Error;
use super::access::Guard;
use super::audit::{Action, AuditContext, AuditLog, Role};
use super::clock::Clock;
use super::entities::{account_request, app_user, care_relationship};
use super::ids::{PatientId, UserId};
use super::patients::live;

const RESOURCE: &str = "care_relationship";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CareKind {
    /// The patient's assigned clinician (e.g. primary care).
    Assignment,
    /// A member of the team treating the patient.
    CareTeam,
    /// A clinician the patient has named themselves.
    Consent,
}

impl CareKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CareKind::Assignment => "assignment",
            CareKind::CareTeam => "care_team",
            CareKind::Consent => "consent",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [CareKind::Assignment, CareKind::CareTeam, CareKind::Consent].into_iter().find(|k| k.as_str() == value)
    }

    /// A consent is the patient's to give and take back; the others are the admin's.
    fn actions(self) -> (Action, Action) {
        match self {
            CareKind::Consent => (Action::ConsentGrant, Action::ConsentRevoke),
            CareKind::Assignment | CareKind::CareTeam => (Action::CareAssign, Action::CareEnd),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CareLink {
    pub id: Uuid,
    pub patient_id: PatientId,
    pub clinician_id: UserId,
    pub kind: CareKind,
    pub since: DateTime<Utc>,
}

#[derive(Clone)]
pub struct CareRepo {
    db: DatabaseConnection,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    guard: Guard,
}

impl std::fmt::Debug for CareRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CareRepo")
    }
}

impl CareRepo {
    pub fn new(db: DatabaseConnection, audit: Arc<AuditLog>, clock: Arc<dyn Clock>, guard: Guard) -> Self {
        Self { db, audit, clock, guard }
    }

    /// The patient's active relationships: for an admin (who manages them) or for the patient
    /// (who sees who may open their chart).
    #[tracing::instrument(skip_all, fields(patient_id = %patient, actor_role = ctx.actor.role.as_str()))]
    pub async fn links(&self, ctx: &AuditContext, patient: PatientId) -> Result<Vec<CareLink>, Error> {
        let action = if ctx.actor.role == Role::Patient { Action::ConsentList } else { Action::CareList };
        let permit = self.guard.check(ctx, action, RESOURCE, Some(patient)).await?;
        let txn = self.db.begin().await?;
        let rows = care_relationship::Entity::find()
            .filter(care_relationship::Column::PatientId.eq(patient.0))
            .filter(care_relationship::Column::EndedAt.is_null())
            .order_by_asc(care_relationship::Column::CreatedAt)
            .all(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.entry(action, RESOURCE, None)).await?;
        txn.commit().await?;
        rows.into_iter().map(to_link).collect()
    }

    /// Starts a relationship. A consent is granted by the patient; an assignment or care-team
    /// membership by an admin. The clinician must hold an active or invited clinician account.
    #[tracing::instrument(skip_all, fields(patient_id = %patient, clinician_id = %clinician, kind = kind.as_str()))]
    pub async fn start(
        &self,
        ctx: &AuditContext,
        patient: PatientId,
        clinician: UserId,
        kind: CareKind,
    ) -> Result<Uuid, Error> {
        let (action, _) = kind.actions();
        let permit = match kind {
            CareKind::Consent => self.guard.check(ctx, action, RESOURCE, Some(patient)).await?,
            CareKind::Assignment | CareKind::CareTeam => {
                self.guard.check_assignment(ctx, RESOURCE, patient, clinician).await?
            }
        };
        let txn = self.db.begin().await?;
        if live(patient).one(&txn).await?.is_none() {
            self.audit.append(&txn, &permit.ctx, permit.failure(action, RESOURCE, None, "not-found")).await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        }
        let is_clinician = app_user::Entity::find_by_id(clinician.0)
            .filter(app_user::Column::Role.eq(Role::Clinician.as_str()))
            .filter(app_user::Column::Status.ne("disabled"))
            .one(&txn)
            .await?
            .is_some();
        // An invitation still waiting for its second person is not an account yet.
        let awaiting_approval = account_request::Entity::find()
            .filter(account_request::Column::UserId.eq(clinician.0))
            .filter(account_request::Column::Kind.eq("invite"))
            .filter(account_request::Column::Status.eq("pending"))
            .one(&txn)
            .await?
            .is_some();
        if !is_clinician || awaiting_approval {
            txn.rollback().await?;
            return Err(Error::validation("clinician", "choose an active clinician"));
        }
        let existing = care_relationship::Entity::find()
            .filter(care_relationship::Column::PatientId.eq(patient.0))
            .filter(care_relationship::Column::ClinicianId.eq(clinician.0))
            .filter(care_relationship::Column::Kind.eq(kind.as_str()))
            .filter(care_relationship::Column::EndedAt.is_null())
            .one(&txn)
            .await?;
        if existing.is_some() {
            txn.rollback().await?;
            return Err(Error::Conflict("this clinician already has this relationship with the patient".to_owned()));
        }
        let id = Uuid::now_v7();
        care_relationship::ActiveModel {
            id: Set(id),
            patient_id: Set(patient.0),
            clinician_id: Set(clinician.0),
            kind: Set(kind.as_str().to_owned()),
            created_at: Set(self.clock.now()),
            created_by: Set(ctx.actor.user_id.map(|u| u.0)),
            ended_at: Set(None),
            ended_by: Set(None),
        }
        .insert(&txn)
        .await?;
        let mut started = permit.entry(action, RESOURCE, Some(id.to_string()));
        started.rule = Some(format!("{}:{}", permit.decision.rule, kind.as_str()));
        self.audit.append(&txn, &permit.ctx, started).await?;
        txn.commit().await?;
        Ok(id)
    }

    /// Ends a relationship: the clinician loses access at once (the policy reads live rows).
    #[tracing::instrument(skip_all, fields(patient_id = %patient, link_id = %link))]
    pub async fn end(&self, ctx: &AuditContext, patient: PatientId, link: Uuid) -> Result<(), Error> {
        let row = care_relationship::Entity::find_by_id(link)
            .filter(care_relationship::Column::PatientId.eq(patient.0))
            .filter(care_relationship::Column::EndedAt.is_null())
            .one(&self.db)
            .await?;
        // Which action this is depends on the kind; an unknown link is checked as the
        // admin's action so that a probe is still decided and audited.
        let kind = row.as_ref().and_then(|r| CareKind::parse(&r.kind)).unwrap_or(CareKind::CareTeam);
        let (_, action) = kind.actions();
        let permit = self.guard.check(ctx, action, RESOURCE, Some(patient)).await?;
        let txn = self.db.begin().await?;
        let result = care_relationship::Entity::update_many()
            .col_expr(care_relationship::Column::EndedAt, Expr::value(self.clock.now()))
            .col_expr(care_relationship::Column::EndedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .filter(care_relationship::Column::Id.eq(link))
            .filter(care_relationship::Column::PatientId.eq(patient.0))
            .filter(care_relationship::Column::EndedAt.is_null())
            .exec(&txn)
            .await?;
        if row.is_none() || result.rows_affected == 0 {
            self.audit
                .append(&txn, &permit.ctx, permit.failure(action, RESOURCE, Some(link.to_string()), "not-found"))
                .await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        }
        let mut ended = permit.entry(action, RESOURCE, Some(link.to_string()));
        ended.rule = Some(format!("{}:{}", permit.decision.rule, kind.as_str()));
        self.audit.append(&txn, &permit.ctx, ended).await?;
        txn.commit().await?;
        Ok(())
    }
}

fn to_link(row: care_relationship::Model) -> Result<CareLink, Error> {
    Ok(CareLink {
        id: row.id,
        patient_id: PatientId(row.patient_id),
        clinician_id: UserId(row.clinician_id),
        kind: CareKind::parse(&row.kind)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("care relationship {} has an unknown kind", row.id)))?,
        since: row.created_at,
    })
}
