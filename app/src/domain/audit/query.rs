//! Reading the audit log for review: filters and pages, newest first.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::domain::Error;
use crate::domain::entities::audit_event;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor_user_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One page of rows (`page` counts from 0) and the number of pages.
pub async fn page(
    db: &DatabaseConnection,
    query: &AuditQuery,
    page: u64,
    page_size: u64,
) -> Result<(Vec<audit_event::Model>, u64), Error> {
    let mut select = audit_event::Entity::find().order_by_desc(audit_event::Column::Seq);
    if let Some(actor) = query.actor_user_id {
        select = select.filter(audit_event::Column::ActorUserId.eq(actor));
    }
    if let Some(patient) = query.patient_id {
        select = select.filter(audit_event::Column::PatientId.eq(patient));
    }
    if let Some(action) = &query.action {
        select = select.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(outcome) = &query.outcome {
        select = select.filter(audit_event::Column::Outcome.eq(outcome.as_str()));
    }
    if let Some(from) = query.from {
        select = select.filter(audit_event::Column::OccurredAt.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(audit_event::Column::OccurredAt.lt(to));
    }
    let paginator = select.paginate(db, page_size.max(1));
    let pages = paginator.num_pages().await?;
    Ok((paginator.fetch_page(page).await?, pages))
}
