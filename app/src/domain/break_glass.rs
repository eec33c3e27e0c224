//! Break-glass: emergency access for a clinician with no relationship to the patient (45 CFR
//! 164.312(a)(2)(ii)). The clinician writes a reason; access lasts a limited time; the
//! declaration raises a security alert and waits in a review queue until the security officer
//! records whether it was justified. The reason may describe the patient, so it is sealed under
//! the patient's data key, and audit rows point at the declaration instead of quoting it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::Error;
use super::access::Guard;
use super::audit::{Action, AuditContext, AuditLog};
use super::clock::Clock;
use super::crypto::{DataKeys, FieldRef};
use super::entities::{break_glass, security_alert};
use super::ids::{PatientId, UserId};
use super::patients::live;

const TABLE: &str = "break_glass";
pub const ALERT_KIND: &str = "break_glass";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewStatus {
    Pending,
    Justified,
    Unjustified,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Justified => "justified",
            ReviewStatus::Unjustified => "unjustified",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [ReviewStatus::Pending, ReviewStatus::Justified, ReviewStatus::Unjustified]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    pub id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// One declaration as the security officer reviews it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub id: Uuid,
    pub patient_id: PatientId,
    pub clinician_id: UserId,
    pub reason: String,
    pub declared_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: ReviewStatus,
    pub reviewed_by: Option<UserId>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

#[derive(Clone)]
pub struct BreakGlassRepo {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    guard: Guard,
    /// How long a declaration opens the chart.
    pub duration: Duration,
}

impl std::fmt::Debug for BreakGlassRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BreakGlassRepo")
    }
}

impl BreakGlassRepo {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        guard: Guard,
    ) -> Self {
        Self { db, keys, audit, clock, guard, duration: Duration::minutes(60) }
    }

    /// Declares an emergency: opens the chart to this clinician until the returned time.
    #[tracing::instrument(skip_all, fields(patient_id = %patient, actor_role = ctx.actor.role.as_str()))]
    pub async fn declare(&self, ctx: &AuditContext, patient: PatientId, reason: &str) -> Result<Declaration, Error> {
        let permit = self.guard.check(ctx, Action::BreakGlassDeclare, TABLE, Some(patient)).await?;
        let reason = reason.trim();
        let length = reason.chars().count();
        if !(10..=1000).contains(&length) {
            return Err(Error::validation("reason", "describe the emergency in 10 to 1000 characters"));
        }
        let Some(clinician) = ctx.actor.user_id else { return Err(Error::Forbidden) };
        let now = self.clock.now();
        let id = Uuid::now_v7();
        let expires_at = now + self.duration;
        let txn = self.db.begin().await?;
        let Some(row) = live(patient).one(&txn).await? else {
            self.audit
                .append(&txn, &permit.ctx, permit.failure(Action::BreakGlassDeclare, TABLE, None, "not-found"))
                .await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        let key = self.keys.get(&txn, row.data_key_id).await?;
        break_glass::ActiveModel {
            id: Set(id),
            patient_id: Set(patient.0),
            clinician_id: Set(clinician.0),
            data_key_id: Set(key.id()),
            reason: Set(key.seal_str(FieldRef::new(TABLE, "reason", id), reason)?),
            declared_at: Set(now),
            expires_at: Set(expires_at),
            review_status: Set(ReviewStatus::Pending.as_str().to_owned()),
            reviewed_by: Set(None),
            reviewed_at: Set(None),
            review_note: Set(None),
        }
        .insert(&txn)
        .await?;
        security_alert::ActiveModel {
            id: Set(Uuid::now_v7()),
            kind: Set(ALERT_KIND.to_owned()),
            user_id: Set(Some(clinician.0)),
            patient_id: Set(Some(patient.0)),
            subject_id: Set(Some(id)),
            created_at: Set(now),
            status: Set("open".to_owned()),
            closed_by: Set(None),
            closed_at: Set(None),
            severity: Set("high".to_owned()),
            window_start: Set(Some(now)),
            window_end: Set(Some(expires_at)),
            observed: Set(None),
            dedup_key: Set(Some(format!("{ALERT_KIND}:{id}"))),
            response: Set(None),
            acknowledged_by: Set(None),
            acknowledged_at: Set(None),
            incident_id: Set(None),
            fanned_out: Set(false),
        }
        .insert(&txn)
        .await?;
        let ctx = permit.ctx.for_access(permit.decision.purpose, Some(format!("break-glass {id}")));
        self.audit.append(&txn, &ctx, permit.entry(Action::BreakGlassDeclare, TABLE, Some(id.to_string()))).await?;
        txn.commit().await?;
        tracing::warn!(break_glass_id = %id, "break-glass declared");
        Ok(Declaration { id, expires_at })
    }

    /// The live declaration of this clinician for this patient, if any.
    pub async fn active(&self, clinician: UserId, patient: PatientId) -> Result<Option<Declaration>, Error> {
        let now = self.clock.now();
        Ok(break_glass::Entity::find()
            .filter(break_glass::Column::ClinicianId.eq(clinician.0))
            .filter(break_glass::Column::PatientId.eq(patient.0))
            .filter(break_glass::Column::DeclaredAt.lte(now))
            .filter(break_glass::Column::ExpiresAt.gt(now))
            .order_by_desc(break_glass::Column::ExpiresAt)
            .one(&self.db)
            .await?
            .map(|row| Declaration { id: row.id, expires_at: row.expires_at }))
    }

    /// The review queue: pending declarations first, then the most recent reviewed ones. The
    /// security officer reads each reason, so each is audited against its patient.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn queue(&self, ctx: &AuditContext) -> Result<Vec<Review>, Error> {
        let permit = self.guard.check(ctx, Action::BreakGlassList, TABLE, None).await?;
        let txn = self.db.begin().await?;
        let mut rows = break_glass::Entity::find()
            .filter(break_glass::Column::ReviewStatus.eq(ReviewStatus::Pending.as_str()))
            .order_by_asc(break_glass::Column::DeclaredAt)
            .all(&txn)
            .await?;
        rows.extend(
            break_glass::Entity::find()
                .filter(break_glass::Column::ReviewStatus.ne(ReviewStatus::Pending.as_str()))
                .order_by_desc(break_glass::Column::ReviewedAt)
                .limit(50)
                .all(&txn)
                .await?,
        );
        for row in &rows {
            let mut read = permit.entry(Action::BreakGlassList, TABLE, Some(row.id.to_string()));
            read.patient_id = Some(row.patient_id);
            self.audit.append(&txn, &permit.ctx, read).await?;
        }
        txn.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let key = self.keys.get(&self.db, row.data_key_id).await?;
            let open = |column, sealed| key.open_string(FieldRef::new(TABLE, column, row.id), sealed);
            out.push(Review {
                id: row.id,
                patient_id: PatientId(row.patient_id),
                clinician_id: UserId(row.clinician_id),
                reason: open("reason", &row.reason)?,
                declared_at: row.declared_at,
                expires_at: row.expires_at,
                status: ReviewStatus::parse(&row.review_status)
                    .ok_or_else(|| Error::Internal(anyhow::anyhow!("break-glass {} has an unknown status", row.id)))?,
                reviewed_by: row.reviewed_by.map(UserId),
                reviewed_at: row.reviewed_at,
                note: row.review_note.as_ref().map(|n| open("review_note", n)).transpose()?,
            });
        }
        Ok(out)
    }

    /// Records the security officer's outcome and closes the alert. A declaration is
    /// reviewed once.
    #[tracing::instrument(skip_all, fields(break_glass_id = %id))]
    pub async fn review(&self, ctx: &AuditContext, id: Uuid, outcome: ReviewStatus, note: &str) -> Result<(), Error> {
        let row = break_glass::Entity::find_by_id(id).one(&self.db).await?;
        let patient = row.as_ref().map(|r| PatientId(r.patient_id));
        let permit = self.guard.check(ctx, Action::BreakGlassReview, TABLE, patient).await?;
        let Some(row) = row else { return Err(Error::NotFound) };
        if outcome == ReviewStatus::Pending {
            return Err(Error::validation("outcome", "choose justified or unjustified"));
        }
        let note = note.trim();
        if note.chars().count() > 2000 {
            return Err(Error::validation("note", "must be at most 2000 characters"));
        }
        let now = self.clock.now();
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let sealed_note =
            (!note.is_empty()).then(|| key.seal_str(FieldRef::new(TABLE, "review_note", id), note)).transpose()?;
        let txn = self.db.begin().await?;
        let result = break_glass::Entity::update_many()
            .col_expr(break_glass::Column::ReviewStatus, Expr::value(outcome.as_str()))
            .col_expr(break_glass::Column::ReviewedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .col_expr(break_glass::Column::ReviewedAt, Expr::value(now))
            .col_expr(break_glass::Column::ReviewNote, Expr::value(sealed_note))
            .filter(break_glass::Column::Id.eq(id))
            .filter(break_glass::Column::ReviewStatus.eq(ReviewStatus::Pending.as_str()))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            txn.rollback().await?;
            return Err(Error::Conflict("this declaration has already been reviewed".to_owned()));
        }
        security_alert::Entity::update_many()
            .col_expr(security_alert::Column::Status, Expr::value("closed"))
            .col_expr(security_alert::Column::ClosedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .col_expr(security_alert::Column::ClosedAt, Expr::value(now))
            .filter(security_alert::Column::SubjectId.eq(id))
            // An acknowledged alert is closed by the review too: the review is its outcome.
            .filter(security_alert::Column::Status.ne("closed"))
            .exec(&txn)
            .await?;
        let mut reviewed = permit.entry(Action::BreakGlassReview, TABLE, Some(id.to_string()));
        reviewed.rule = Some(format!("{}:{}", permit.decision.rule, outcome.as_str()));
        self.audit.append(&txn, &permit.ctx, reviewed).await?;
        txn.commit().await?;
        Ok(())
    }
}
