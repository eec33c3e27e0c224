//! Saving the four-factor assessment and the HHS answers, and recording the decision.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::assessment::{Assessment, Decision};
use super::hhs::HhsAnswers;
use super::{IncidentRepo, TABLE, seal_json};
use crate::domain::Error;
use crate::domain::audit::Action;
use crate::domain::audit::AuditContext;
use crate::domain::entities::incident;

impl IncidentRepo {
    /// Saves the answers given so far (any may be missing until the decision).
    #[tracing::instrument(skip_all, fields(incident_id = %id))]
    pub async fn save_assessment(&self, ctx: &AuditContext, id: Uuid, answers: &Assessment) -> Result<(), Error> {
        answers.validate()?;
        let (permit, row) = self.for_update(ctx, id).await?;
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let sealed = seal_json(&key, id, "assessment", answers)?;
        let txn = self.db.begin().await?;
        incident::Entity::update_many()
            .col_expr(incident::Column::Assessment, Expr::value(sealed))
            .filter(incident::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::IncidentUpdate, TABLE, id, "assessment")).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Records the decision on the saved assessment: refused (422, naming the factor) unless
    /// all four factors and the encryption question are answered.
    #[tracing::instrument(skip_all, fields(incident_id = %id, decision = decision.as_str()))]
    pub async fn decide(&self, ctx: &AuditContext, id: Uuid, decision: Decision) -> Result<(), Error> {
        let (permit, row) = self.for_update(ctx, id).await?;
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let answers =
            super::open_json::<Assessment>(&key, &row, "assessment", row.assessment.as_ref())?.unwrap_or_default();
        answers.supports(decision)?;
        let txn = self.db.begin().await?;
        incident::Entity::update_many()
            .col_expr(incident::Column::Decision, Expr::value(decision.as_str()))
            .col_expr(incident::Column::DecidedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .col_expr(incident::Column::DecidedAt, Expr::value(self.clock.now()))
            .filter(incident::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let step = format!("decision:{}", decision.as_str());
        self.audit.append(&txn, &permit.ctx, permit.step(Action::IncidentUpdate, TABLE, id, &step)).await?;
        txn.commit().await?;
        tracing::warn!(incident_id = %id, decision = decision.as_str(), "incident decided");
        Ok(())
    }

    /// Saves the officer's answers to the HHS portal's questions.
    #[tracing::instrument(skip_all, fields(incident_id = %id))]
    pub async fn save_hhs_answers(&self, ctx: &AuditContext, id: Uuid, answers: &HhsAnswers) -> Result<(), Error> {
        answers.validate()?;
        let (permit, row) = self.for_update(ctx, id).await?;
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let sealed = seal_json(&key, id, "hhs_report", answers)?;
        let txn = self.db.begin().await?;
        incident::Entity::update_many()
            .col_expr(incident::Column::HhsReport, Expr::value(sealed))
            .filter(incident::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::IncidentUpdate, TABLE, id, "hhs-answers")).await?;
        txn.commit().await?;
        Ok(())
    }
}
