//! Incident response (45 CFR 164.308(a)(6)): the security officer opens an incident from one or
//! more alerts (the person and window come from them) or by hand, keeps an investigation log,
//! gets the affected patients from the audit log ([`affected`]), answers the four-factor risk
//! assessment of 164.402(2) ([`assessment`]), records the decision, and for a breach follows the
//! deadlines of 164.404-410 ([`deadlines`]), sends the individual notices ([`letters`]) and files
//! the report to HHS ([`hhs`]).
//!
//! Everything here is the security officer's (the policy's `Review` actions); the one access to
//! patient demographics, to address a notice, is decided per patient and only for a patient in
//! the incident's affected set ([`crate::domain::access::decide_incident_patient`]). Sealed
//! fields (title, assessment, HHS answers, notes) are under the incident's own data key.

pub mod affected;
pub mod assessment;
pub mod deadlines;
pub mod hhs;
pub mod letters;
mod notices;
mod reminders;
mod review;

pub use notices::NoticeRecipient;
pub use reminders::BREACH_DEADLINES;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use self::affected::{assign_alerts, snapshot, subject_and_window};
use self::assessment::{Assessment, Decision};
use self::deadlines::Deadlines;
use self::hhs::HhsAnswers;
use super::Error;
use super::access::Guard;
use super::audit::{Action, AuditContext, AuditLog};
use super::clock::Clock;
use super::crypto::{DataKey, DataKeys, FieldRef};
use super::entities::{incident, incident_patient, security_alert, security_note};
use super::ids::{PatientId, UserId};

const TABLE: &str = "incident";

/// A time range of activity under investigation, both ends included.
pub type Window = (DateTime<Utc>, DateTime<Utc>);
const NOTE_TABLE: &str = "security_note";

/// The clinic as the notices and the HHS report name it, from the settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClinicContact {
    pub name: String,
    pub street_address: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub contact_name: String,
    /// Toll-free, as 164.404(c)(1)(E) asks.
    pub contact_phone: String,
    pub contact_email: String,
}

impl Default for ClinicContact {
    fn default() -> Self {
        Self {
            name: "Clinic".into(),
            street_address: "1 Example Street".into(),
            city: "Springfield".into(),
            state: "ZZ".into(),
            zip: "00000".into(),
            contact_name: "Privacy Officer".into(),
            contact_phone: "1-800-555-0100".into(),
            contact_email: "privacy@clinic.example".into(),
        }
    }
}

impl ClinicContact {
    pub fn postal_address(&self) -> String {
        format!(
            "{}, {}, {}, {}, {} {}",
            self.contact_name, self.name, self.street_address, self.city, self.state, self.zip
        )
    }
}

/// How an incident comes to be opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewIncident {
    pub title: String,
    /// The alerts it starts from: their actor and window become the incident's.
    pub alerts: Vec<Uuid>,
    /// By hand: the person whose activity is investigated, and the window.
    pub subject: Option<UserId>,
    pub window: Option<Window>,
    /// Defaults to today (UTC).
    pub discovered: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentSummary {
    pub id: Uuid,
    pub title: String,
    pub status: String,
    pub opened_at: DateTime<Utc>,
    pub subject: Option<UserId>,
    pub discovered: NaiveDate,
    pub decision: Option<Decision>,
    pub affected: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertRef {
    pub id: Uuid,
    pub rule: String,
    pub severity: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub id: Uuid,
    pub author: UserId,
    pub at: DateTime<Utc>,
    pub body: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffectedPatient {
    pub id: PatientId,
    pub notified_at: Option<DateTime<Utc>>,
}

/// One incident as the officer works on it. Patients appear by id; their State only as counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    pub summary: IncidentSummary,
    pub opened_by: UserId,
    pub window: Option<Window>,
    pub alerts: Vec<AlertRef>,
    pub notes: Vec<Note>,
    pub affected: Vec<AffectedPatient>,
    pub per_state: Vec<(String, usize)>,
    pub assessment: Assessment,
    pub safe_harbor: bool,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Only for a breach.
    pub deadlines: Option<Deadlines>,
    pub hhs: HhsAnswers,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct IncidentRepo {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    guard: Guard,
    pub contact: ClinicContact,
}

impl std::fmt::Debug for IncidentRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IncidentRepo")
    }
}

impl IncidentRepo {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        guard: Guard,
    ) -> Self {
        Self { db, keys, audit, clock, guard, contact: ClinicContact::default() }
    }

    /// Opens an incident, assigns its alerts, and snapshots the affected set.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str(), alerts = new.alerts.len()))]
    pub async fn open(&self, ctx: &AuditContext, new: NewIncident) -> Result<Uuid, Error> {
        let permit = self.guard.check(ctx, Action::IncidentOpen, TABLE, None).await?;
        let title = new.title.trim();
        if !(1..=200).contains(&title.chars().count()) {
            return Err(Error::validation("title", "give the incident a title of 1 to 200 characters"));
        }
        let now = self.clock.now();
        let discovered = new.discovered.unwrap_or_else(|| now.date_naive());
        if discovered > now.date_naive() {
            return Err(Error::validation("discovered", "the discovery date cannot be in the future"));
        }
        let mut alerts = Vec::new();
        for id in &new.alerts {
            let row = security_alert::Entity::find_by_id(*id).one(&self.db).await?;
            alerts.push(row.ok_or_else(|| Error::validation("alert", "names an alert that does not exist"))?);
        }
        let (subject, window) = subject_and_window(&alerts, new.subject, new.window)?;
        let id = Uuid::now_v7();
        let opener = ctx.actor.user_id.ok_or(Error::Forbidden)?;
        let txn = self.db.begin().await?;
        let key = self.keys.create(&txn, id, now).await?;
        incident::ActiveModel {
            id: Set(id),
            data_key_id: Set(key.id()),
            title: Set(key.seal_str(FieldRef::new(TABLE, "title", id), title)?),
            status: Set("open".to_owned()),
            opened_by: Set(opener.0),
            opened_at: Set(now),
            subject_user_id: Set(subject.map(|s| s.0)),
            window_start: Set(window.map(|w| w.0)),
            window_end: Set(window.map(|w| w.1)),
            discovered_at: Set(discovered),
            assessment: Set(None),
            decision: Set(None),
            decided_by: Set(None),
            decided_at: Set(None),
            hhs_report: Set(None),
            closed_at: Set(None),
            closed_by: Set(None),
        }
        .insert(&txn)
        .await?;
        assign_alerts(&txn, id, &new.alerts).await?;
        let count = match (subject, window) {
            (Some(subject), Some((start, end))) => snapshot(&txn, id, subject, start, end).await?,
            _ => 0,
        };
        let mut entry = permit.entry(Action::IncidentOpen, TABLE, Some(id.to_string()));
        entry.rule = Some(format!("{}:affected={count}", permit.decision.rule));
        self.audit.append(&txn, &permit.ctx, entry).await?;
        txn.commit().await?;
        tracing::warn!(incident_id = %id, affected = count, "incident opened");
        Ok(id)
    }

    /// Open incidents first, newest first.
    pub async fn list(&self, ctx: &AuditContext) -> Result<Vec<IncidentSummary>, Error> {
        let permit = self.guard.check(ctx, Action::IncidentList, TABLE, None).await?;
        let txn = self.db.begin().await?;
        let rows = incident::Entity::find()
            .order_by_asc(incident::Column::Status)
            .order_by_desc(incident::Column::OpenedAt)
            .all(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.entry(Action::IncidentList, TABLE, None)).await?;
        txn.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let key = self.keys.get(&self.db, row.data_key_id).await?;
            let affected = self.affected_rows(&self.db, row.id).await?.len();
            out.push(summary(&key, &row, affected)?);
        }
        Ok(out)
    }

    /// One incident, audited as read.
    #[tracing::instrument(skip_all, fields(incident_id = %id))]
    pub async fn get(&self, ctx: &AuditContext, id: Uuid) -> Result<Incident, Error> {
        let permit = self.guard.check(ctx, Action::IncidentRead, TABLE, None).await?;
        let txn = self.db.begin().await?;
        let Some(row) = incident::Entity::find_by_id(id).one(&txn).await? else {
            txn.rollback().await?;
            return Err(Error::NotFound);
        };
        self.audit.append(&txn, &permit.ctx, permit.entry(Action::IncidentRead, TABLE, Some(id.to_string()))).await?;
        txn.commit().await?;
        self.load(&row).await
    }

    async fn load(&self, row: &incident::Model) -> Result<Incident, Error> {
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let affected: Vec<AffectedPatient> = self
            .affected_rows(&self.db, row.id)
            .await?
            .into_iter()
            .map(|p| AffectedPatient { id: PatientId(p.patient_id), notified_at: p.notified_at })
            .collect();
        let alerts = security_alert::Entity::find()
            .filter(security_alert::Column::IncidentId.eq(row.id))
            .order_by_asc(security_alert::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| AlertRef {
                id: a.id,
                rule: a.kind,
                severity: a.severity,
                status: a.status,
                created_at: a.created_at,
            })
            .collect();
        let notes = security_note::Entity::find()
            .filter(security_note::Column::IncidentId.eq(row.id))
            .order_by_asc(security_note::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|n| {
                let body = key.open_string(FieldRef::new(NOTE_TABLE, "body", n.id), &n.body)?;
                Ok(Note { id: n.id, author: UserId(n.author_id), at: n.created_at, body })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let ids: Vec<PatientId> = affected.iter().map(|p| p.id).collect();
        let per_state = notices::per_state(&self.db, &self.keys, &ids).await?;
        let assessment = open_json::<Assessment>(&key, row, "assessment", row.assessment.as_ref())?.unwrap_or_default();
        let hhs = open_json::<HhsAnswers>(&key, row, "hhs_report", row.hhs_report.as_ref())?.unwrap_or_default();
        let summary = summary(&key, row, affected.len())?;
        let deadlines = (summary.decision == Some(Decision::Breach))
            .then(|| deadlines::all(row.discovered_at, affected.len(), &per_state));
        Ok(Incident {
            opened_by: UserId(row.opened_by),
            window: row.window_start.zip(row.window_end),
            alerts,
            notes,
            affected,
            per_state,
            safe_harbor: assessment.safe_harbor(),
            assessment,
            decided_by: row.decided_by.map(UserId),
            decided_at: row.decided_at,
            deadlines,
            hhs,
            closed_at: row.closed_at,
            summary,
        })
    }

    /// Adds an entry to the investigation log.
    #[tracing::instrument(skip_all, fields(incident_id = %id))]
    pub async fn add_note(&self, ctx: &AuditContext, id: Uuid, body: &str) -> Result<Uuid, Error> {
        let (permit, row) = self.for_update(ctx, id).await?;
        let body = body.trim();
        if !(1..=4000).contains(&body.chars().count()) {
            return Err(Error::validation("note", "write the note in 1 to 4000 characters"));
        }
        let author = ctx.actor.user_id.ok_or(Error::Forbidden)?;
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let note = Uuid::now_v7();
        let txn = self.db.begin().await?;
        security_note::ActiveModel {
            id: Set(note),
            alert_id: Set(None),
            incident_id: Set(Some(id)),
            author_id: Set(author.0),
            data_key_id: Set(key.id()),
            body: Set(key.seal_str(FieldRef::new(NOTE_TABLE, "body", note), body)?),
            created_at: Set(self.clock.now()),
        }
        .insert(&txn)
        .await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::IncidentUpdate, TABLE, id, "note")).await?;
        txn.commit().await?;
        Ok(note)
    }

    /// Assigns more alerts. An alert about the incident's subject widens the window, and the
    /// affected set gains the patients of the wider window (it never loses any).
    #[tracing::instrument(skip_all, fields(incident_id = %id))]
    pub async fn add_alerts(&self, ctx: &AuditContext, id: Uuid, alert_ids: &[Uuid]) -> Result<usize, Error> {
        let (permit, row) = self.for_update(ctx, id).await?;
        let mut alerts = Vec::new();
        for alert in alert_ids {
            let found = security_alert::Entity::find_by_id(*alert).one(&self.db).await?;
            alerts.push(found.ok_or_else(|| Error::validation("alert", "names an alert that does not exist"))?);
        }
        let current = row.window_start.zip(row.window_end);
        let subject = row.subject_user_id.map(UserId);
        let (subject, window) = subject_and_window(&alerts, subject, current)?;
        let window = match (current, window) {
            (Some((s0, e0)), Some((s1, e1))) => Some((s0.min(s1), e0.max(e1))),
            (a, b) => a.or(b),
        };
        let txn = self.db.begin().await?;
        assign_alerts(&txn, id, alert_ids).await?;
        incident::Entity::update_many()
            .col_expr(incident::Column::SubjectUserId, Expr::value(subject.map(|s| s.0)))
            .col_expr(incident::Column::WindowStart, Expr::value(window.map(|w| w.0)))
            .col_expr(incident::Column::WindowEnd, Expr::value(window.map(|w| w.1)))
            .filter(incident::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let count = match (subject, window) {
            (Some(subject), Some((start, end))) => snapshot(&txn, id, subject, start, end).await?,
            _ => 0,
        };
        self.audit.append(&txn, &permit.ctx, permit.step(Action::IncidentUpdate, TABLE, id, "alerts")).await?;
        txn.commit().await?;
        Ok(count)
    }

    /// Closes the incident; nothing more is written to it.
    pub async fn close(&self, ctx: &AuditContext, id: Uuid) -> Result<(), Error> {
        let (permit, _) = self.for_update(ctx, id).await?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        incident::Entity::update_many()
            .col_expr(incident::Column::Status, Expr::value("closed"))
            .col_expr(incident::Column::ClosedAt, Expr::value(now))
            .col_expr(incident::Column::ClosedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .filter(incident::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        self.audit.append(&txn, &permit.ctx, permit.step(Action::IncidentUpdate, TABLE, id, "close")).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The permit for a change to incident `id`, and its row; a closed incident is a conflict.
    async fn for_update(
        &self,
        ctx: &AuditContext,
        id: Uuid,
    ) -> Result<(super::access::Permit, incident::Model), Error> {
        let permit = self.guard.check(ctx, Action::IncidentUpdate, TABLE, None).await?;
        let row = incident::Entity::find_by_id(id).one(&self.db).await?.ok_or(Error::NotFound)?;
        if row.status != "open" {
            return Err(Error::Conflict("this incident is closed".to_owned()));
        }
        Ok((permit, row))
    }

    async fn affected_rows<C: ConnectionTrait>(
        &self,
        conn: &C,
        id: Uuid,
    ) -> Result<Vec<incident_patient::Model>, Error> {
        Ok(incident_patient::Entity::find()
            .filter(incident_patient::Column::IncidentId.eq(id))
            .order_by_asc(incident_patient::Column::PatientId)
            .all(conn)
            .await?)
    }
}

fn summary(key: &DataKey, row: &incident::Model, affected: usize) -> Result<IncidentSummary, Error> {
    Ok(IncidentSummary {
        id: row.id,
        title: key.open_string(FieldRef::new(TABLE, "title", row.id), &row.title)?,
        status: row.status.clone(),
        opened_at: row.opened_at,
        subject: row.subject_user_id.map(UserId),
        discovered: row.discovered_at,
        decision: row.decision.as_deref().and_then(Decision::parse),
        affected,
    })
}

fn open_json<T: serde::de::DeserializeOwned>(
    key: &DataKey,
    row: &incident::Model,
    column: &'static str,
    sealed: Option<&super::crypto::Sealed>,
) -> Result<Option<T>, Error> {
    let Some(sealed) = sealed else { return Ok(None) };
    let json = key.open_string(FieldRef::new(TABLE, column, row.id), sealed)?;
    serde_json::from_str(&json)
        .map(Some)
        .map_err(|_| Error::Internal(anyhow::anyhow!("incident {} {column} is not valid", row.id)))
}

fn seal_json<T: serde::Serialize>(
    key: &DataKey,
    id: Uuid,
    column: &'static str,
    value: &T,
) -> Result<super::crypto::Sealed, Error> {
    let json = serde_json::to_string(value).map_err(|e| Error::Internal(anyhow::Error::new(e)))?;
    Ok(key.seal_str(FieldRef::new(TABLE, column, id), &json)?)
}
