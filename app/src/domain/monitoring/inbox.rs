//! The security officer's alert inbox (45 CFR 164.308(a)(1)(ii)(D) information system activity
//! review, 164.308(a)(6) incident procedures): alerts listed and filtered, one alert with the
//! audit rows behind it, acknowledged, closed with a note, annotated, and counted for the
//! officer's home page.
//!
//! Every call goes through the [`Guard`] (security officer only) and writes its audit row in the
//! same transaction as the read or change, so an inbox that cannot record is an inbox that does
//! not answer. Alerts carry ids, counts and times only; a note may say what the officer found,
//! so its body is sealed under the author's data key and bound to its alert.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::Severity;
use crate::domain::Error;
use crate::domain::access::{Guard, Permit};
use crate::domain::audit::{Action, AuditContext, AuditLog};
use crate::domain::clock::Clock;
use crate::domain::crypto::{DataKeys, FieldRef};
use crate::domain::entities::{
    app_user, audit_event, security_alert, security_alert_event, security_alert_patient, security_note,
};
use crate::domain::ids::{PatientId, UserId};

const TABLE: &str = "security_alert";
const NOTES: &str = "security_note";
/// Alerts per page of the inbox.
pub const PAGE_SIZE: u64 = 50;
/// The audit rows shown with one alert; the total is always given.
pub const EVENT_LIMIT: u64 = 500;
const NOTE_MAX: usize = 2000;
/// Beyond any real inbox; it keeps the page's offset far from overflowing.
const MAX_PAGE: u64 = 1_000_000;

/// Where an alert is in the officer's work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 3] = [AlertStatus::Open, AlertStatus::Acknowledged, AlertStatus::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// The inbox's filters; None: any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub rule: Option<String>,
    pub actor: Option<UserId>,
    pub severity: Option<Severity>,
}

/// One alert as a row of the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertSummary {
    pub id: Uuid,
    pub rule: String,
    pub severity: Severity,
    pub status: AlertStatus,
    pub actor: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub observed: Option<i64>,
    pub response: Option<String>,
    pub incident_id: Option<Uuid>,
    /// How many patients it concerns.
    pub patients: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertPage {
    pub alerts: Vec<AlertSummary>,
    /// Alerts matching the filters, over all pages.
    pub total: u64,
    pub page: u64,
    /// Every rule that has raised an alert, for the rule filter.
    pub rules: Vec<String>,
}

/// One audit row behind an alert: ids, actions and outcomes, never a PHI value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertEvent {
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<UserId>,
    pub actor_role: String,
    pub patient_id: Option<PatientId>,
    pub action: String,
    pub resource_type: String,
    pub outcome: String,
    pub rule: Option<String>,
    pub ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertNote {
    pub id: Uuid,
    pub author: UserId,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertDetail {
    pub summary: AlertSummary,
    pub patients: Vec<PatientId>,
    /// The record the alert is about (a break-glass declaration), if one.
    pub subject_id: Option<Uuid>,
    pub acknowledged_by: Option<UserId>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub closed_by: Option<UserId>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The audit rows behind it, oldest first, at most [`EVENT_LIMIT`].
    pub events: Vec<AlertEvent>,
    pub events_total: u64,
    pub notes: Vec<AlertNote>,
}

/// Alerts by status and severity, for the officer's home page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertCounts(pub HashMap<(AlertStatus, Severity), u64>);

impl AlertCounts {
    pub fn get(&self, status: AlertStatus, severity: Severity) -> u64 {
        self.0.get(&(status, severity)).copied().unwrap_or(0)
    }

    pub fn status_total(&self, status: AlertStatus) -> u64 {
        Severity::ALL.into_iter().map(|s| self.get(status, s)).sum()
    }
}

#[derive(Clone)]
pub struct AlertInbox {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    guard: Guard,
}

impl std::fmt::Debug for AlertInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertInbox")
    }
}

impl AlertInbox {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        guard: Guard,
    ) -> Self {
        Self { db, keys, audit, clock, guard }
    }

    /// One page (from 0) of the alerts matching `filter`, newest first.
    #[tracing::instrument(skip_all, fields(page, actor_role = ctx.actor.role.as_str()))]
    pub async fn list(&self, ctx: &AuditContext, filter: &AlertFilter, page: u64) -> Result<AlertPage, Error> {
        let permit = self.guard.check(ctx, Action::AlertList, TABLE, None).await?;
        if page > MAX_PAGE {
            return Err(Error::validation("page", "is out of range"));
        }
        let mut select = security_alert::Entity::find()
            .order_by_desc(security_alert::Column::CreatedAt)
            .order_by_desc(security_alert::Column::Id);
        if let Some(status) = filter.status {
            select = select.filter(security_alert::Column::Status.eq(status.as_str()));
        }
        if let Some(rule) = &filter.rule {
            select = select.filter(security_alert::Column::Kind.eq(rule.as_str()));
        }
        if let Some(actor) = filter.actor {
            select = select.filter(security_alert::Column::UserId.eq(actor.0));
        }
        if let Some(severity) = filter.severity {
            select = select.filter(security_alert::Column::Severity.eq(severity.as_str()));
        }
        let txn = self.db.begin().await?;
        let paginator = select.paginate(&txn, PAGE_SIZE);
        let total = paginator.num_items().await?;
        let rows = paginator.fetch_page(page).await?;
        let rules: Vec<String> = security_alert::Entity::find()
            .select_only()
            .column(security_alert::Column::Kind)
            .distinct()
            .order_by_asc(security_alert::Column::Kind)
            .into_tuple()
            .all(&txn)
            .await?;
        let counts = patient_counts(&txn, rows.iter().map(|r| r.id).collect()).await?;
        let listed = permit.entry(Action::AlertList, TABLE, Some(format!("page {page}")));
        self.audit.append(&txn, &permit.ctx, listed).await?;
        txn.commit().await?;
        let alerts = rows
            .into_iter()
            .map(|row| {
                let linked = counts.get(&row.id).copied().unwrap_or(0);
                // A break-glass alert names its one patient on the alert row only.
                let patients = linked.max(u64::from(row.patient_id.is_some()));
                summary(row, patients)
            })
            .collect::<Result<_, _>>()?;
        Ok(AlertPage { alerts, total, page, rules })
    }

    /// One alert: its patients, the audit rows behind it and its notes.
    #[tracing::instrument(skip_all, fields(alert_id = %id))]
    pub async fn detail(&self, ctx: &AuditContext, id: Uuid) -> Result<AlertDetail, Error> {
        let permit = self.guard.check(ctx, Action::AlertRead, TABLE, None).await?;
        let txn = self.db.begin().await?;
        let Some(row) = security_alert::Entity::find_by_id(id).one(&txn).await? else {
            let missing = permit.failure(Action::AlertRead, TABLE, Some(id.to_string()), "not-found");
            self.audit.append(&txn, &permit.ctx, missing).await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        let mut patients: Vec<PatientId> = security_alert_patient::Entity::find()
            .filter(security_alert_patient::Column::AlertId.eq(id))
            .order_by_asc(security_alert_patient::Column::PatientId)
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| PatientId(p.patient_id))
            .collect();
        // A break-glass alert names its one patient on the alert row only.
        if let Some(one) = row.patient_id.map(PatientId)
            && !patients.contains(&one)
        {
            patients.insert(0, one);
        }
        let seqs = security_alert_event::Entity::find().filter(security_alert_event::Column::AlertId.eq(id));
        let events_total = seqs.clone().count(&txn).await?;
        let linked: Vec<i64> = seqs
            .select_only()
            .column(security_alert_event::Column::Seq)
            .order_by_asc(security_alert_event::Column::Seq)
            .limit(EVENT_LIMIT)
            .into_tuple()
            .all(&txn)
            .await?;
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.is_in(linked))
            .order_by_asc(audit_event::Column::Seq)
            .all(&txn)
            .await?
            .into_iter()
            .map(|e| AlertEvent {
                seq: e.seq,
                occurred_at: e.occurred_at,
                actor_user_id: e.actor_user_id.map(UserId),
                actor_role: e.actor_role,
                patient_id: e.patient_id.map(PatientId),
                action: e.action,
                resource_type: e.resource_type,
                outcome: e.outcome,
                rule: e.rule,
                ip: e.ip,
            })
            .collect();
        let notes = security_note::Entity::find()
            .filter(security_note::Column::AlertId.eq(id))
            .order_by_asc(security_note::Column::CreatedAt)
            .order_by_asc(security_note::Column::Id)
            .all(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.entry(Action::AlertRead, TABLE, Some(id.to_string()))).await?;
        txn.commit().await?;
        let mut opened = Vec::with_capacity(notes.len());
        for note in notes {
            let key = self.keys.get(&self.db, note.data_key_id).await?;
            opened.push(AlertNote {
                id: note.id,
                author: UserId(note.author_id),
                body: key.open_string(note_field(note.id, id), &note.body)?,
                created_at: note.created_at,
            });
        }
        let (subject_id, acknowledged_by, acknowledged_at, closed_by, closed_at) =
            (row.subject_id, row.acknowledged_by, row.acknowledged_at, row.closed_by, row.closed_at);
        Ok(AlertDetail {
            summary: summary(row, patients.len() as u64)?,
            patients,
            subject_id,
            acknowledged_by: acknowledged_by.map(UserId),
            acknowledged_at,
            closed_by: closed_by.map(UserId),
            closed_at,
            events,
            events_total,
            notes: opened,
        })
    }

    /// Open -> acknowledged: someone is looking at it. Anything else is a conflict.
    #[tracing::instrument(skip_all, fields(alert_id = %id))]
    pub async fn acknowledge(&self, ctx: &AuditContext, id: Uuid) -> Result<(), Error> {
        let permit = self.guard.check(ctx, Action::AlertUpdate, TABLE, None).await?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let changed = security_alert::Entity::update_many()
            .col_expr(security_alert::Column::Status, Expr::value(AlertStatus::Acknowledged.as_str()))
            .col_expr(security_alert::Column::AcknowledgedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .col_expr(security_alert::Column::AcknowledgedAt, Expr::value(now))
            .filter(security_alert::Column::Id.eq(id))
            .filter(security_alert::Column::Status.eq(AlertStatus::Open.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if changed == 0 {
            return self.refuse(txn, &permit, id, "only an open alert can be acknowledged").await;
        }
        self.audit.append(&txn, &permit.ctx, permit.step(Action::AlertUpdate, TABLE, id, "acknowledge")).await?;
        txn.commit().await?;
        tracing::info!(alert_id = %id, "alert acknowledged");
        Ok(())
    }

    /// Open or acknowledged -> closed, with the officer's note saying why (sealed, kept with the
    /// alert's other notes). Closing a closed alert is a conflict.
    #[tracing::instrument(skip_all, fields(alert_id = %id))]
    pub async fn close(&self, ctx: &AuditContext, id: Uuid, note: &str) -> Result<(), Error> {
        let permit = self.guard.check(ctx, Action::AlertUpdate, TABLE, None).await?;
        let note = note_text(note, "say why the alert is closed")?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let changed = security_alert::Entity::update_many()
            .col_expr(security_alert::Column::Status, Expr::value(AlertStatus::Closed.as_str()))
            .col_expr(security_alert::Column::ClosedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .col_expr(security_alert::Column::ClosedAt, Expr::value(now))
            .filter(security_alert::Column::Id.eq(id))
            .filter(security_alert::Column::Status.ne(AlertStatus::Closed.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        if changed == 0 {
            return self.refuse(txn, &permit, id, "this alert is already closed").await;
        }
        self.write_note(&txn, ctx, id, note, now).await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::AlertUpdate, TABLE, id, "close")).await?;
        txn.commit().await?;
        tracing::info!(alert_id = %id, "alert closed");
        Ok(())
    }

    /// Adds a note to an alert, whatever its status (a closed alert can still be annotated).
    #[tracing::instrument(skip_all, fields(alert_id = %id))]
    pub async fn add_note(&self, ctx: &AuditContext, id: Uuid, body: &str) -> Result<Uuid, Error> {
        let permit = self.guard.check(ctx, Action::AlertUpdate, TABLE, None).await?;
        let body = note_text(body, "write the note")?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        if security_alert::Entity::find_by_id(id).one(&txn).await?.is_none() {
            let missing = permit.failure(Action::AlertUpdate, TABLE, Some(id.to_string()), "not-found");
            self.audit.append(&txn, &permit.ctx, missing).await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        }
        let note = self.write_note(&txn, ctx, id, body, now).await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::AlertUpdate, TABLE, id, "note")).await?;
        txn.commit().await?;
        Ok(note)
    }

    /// Alerts by status and severity.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn counts(&self, ctx: &AuditContext) -> Result<AlertCounts, Error> {
        let permit = self.guard.check(ctx, Action::AlertList, TABLE, None).await?;
        let txn = self.db.begin().await?;
        let rows: Vec<(String, String, i64)> = security_alert::Entity::find()
            .select_only()
            .column(security_alert::Column::Status)
            .column(security_alert::Column::Severity)
            .column_as(security_alert::Column::Id.count(), "n")
            .group_by(security_alert::Column::Status)
            .group_by(security_alert::Column::Severity)
            .into_tuple()
            .all(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.entry(Action::AlertList, TABLE, Some("counts".to_owned()))).await?;
        txn.commit().await?;
        let mut counts = AlertCounts::default();
        for (status, severity, n) in rows {
            let status = AlertStatus::parse(&status)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("an alert has an unknown status")))?;
            let severity = Severity::parse(&severity)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("an alert has an unknown severity")))?;
            counts.0.insert((status, severity), u64::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }

    /// A change that did not apply: NotFound if there is no such alert, otherwise a conflict
    /// with `conflict`. Either way the attempt is audited.
    async fn refuse(
        &self,
        txn: sea_orm::DatabaseTransaction,
        permit: &Permit,
        id: Uuid,
        conflict: &str,
    ) -> Result<(), Error> {
        let exists = security_alert::Entity::find_by_id(id).one(&txn).await?.is_some();
        let reason = if exists { "conflict" } else { "not-found" };
        txn.rollback().await?;
        self.audit
            .record(&self.db, &permit.ctx, permit.failure(Action::AlertUpdate, TABLE, Some(id.to_string()), reason))
            .await?;
        Err(if exists { Error::Conflict(conflict.to_owned()) } else { Error::NotFound })
    }

    /// Seals `body` under the author's own data key, bound to the alert.
    async fn write_note<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        alert: Uuid,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<Uuid, Error> {
        let author = ctx.actor.user_id.ok_or(Error::Forbidden)?;
        let user = app_user::Entity::find_by_id(author.0).one(conn).await?.ok_or(Error::Forbidden)?;
        let key = self.keys.get(conn, user.data_key_id).await?;
        let id = Uuid::now_v7();
        security_note::ActiveModel {
            id: Set(id),
            alert_id: Set(Some(alert)),
            incident_id: Set(None),
            author_id: Set(author.0),
            data_key_id: Set(key.id()),
            body: Set(key.seal_str(note_field(id, alert), body)?),
            created_at: Set(now),
        }
        .insert(conn)
        .await?;
        Ok(id)
    }
}

/// A note's body opens only in its own row and for the alert it was written on.
fn note_field(note: Uuid, alert: Uuid) -> FieldRef {
    FieldRef::new(NOTES, "body", note).bind("alert_id", alert.as_bytes())
}

fn note_text<'a>(body: &'a str, empty: &str) -> Result<&'a str, Error> {
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::validation("note", empty));
    }
    if body.chars().count() > NOTE_MAX {
        return Err(Error::validation("note", "must be at most 2000 characters"));
    }
    Ok(body)
}

async fn patient_counts<C: ConnectionTrait>(conn: &C, alerts: Vec<Uuid>) -> Result<HashMap<Uuid, u64>, Error> {
    if alerts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, i64)> = security_alert_patient::Entity::find()
        .select_only()
        .column(security_alert_patient::Column::AlertId)
        .column_as(security_alert_patient::Column::PatientId.count(), "n")
        .filter(Condition::all().add(security_alert_patient::Column::AlertId.is_in(alerts)))
        .group_by(security_alert_patient::Column::AlertId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(|(id, n)| (id, u64::try_from(n).unwrap_or(0))).collect())
}

fn summary(row: security_alert::Model, patients: u64) -> Result<AlertSummary, Error> {
    let severity = Severity::parse(&row.severity)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("alert {} has an unknown severity", row.id)))?;
    let status = AlertStatus::parse(&row.status)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("alert {} has an unknown status", row.id)))?;
    Ok(AlertSummary {
        id: row.id,
        rule: row.kind,
        severity,
        status,
        actor: row.user_id.map(UserId),
        created_at: row.created_at,
        window_start: row.window_start,
        window_end: row.window_end,
        observed: row.observed,
        response: row.response,
        incident_id: row.incident_id,
        patients,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_back_from_their_names() {
        assert_eq!(AlertStatus::parse("open"), Some(AlertStatus::Open));
        assert_eq!(AlertStatus::parse("acknowledged"), Some(AlertStatus::Acknowledged));
        assert_eq!(AlertStatus::parse("closed"), Some(AlertStatus::Closed));
        assert_eq!(AlertStatus::parse("Closed"), None);
    }

    #[test]
    fn a_note_is_required_and_bounded() {
        assert!(matches!(note_text("   ", "write the note"), Err(Error::Validation(_))));
        assert!(matches!(note_text(&"x".repeat(2001), "write the note"), Err(Error::Validation(_))));
        assert_eq!(note_text("  checked with the clinic  ", "write the note").unwrap(), "checked with the clinic");
    }
}
