//! `ChartRepo`: the clinical record (encounters, problems, medications, allergies, vital signs,
//! notes, lab results). Each entry is sealed whole under the patient's data key, bound to its
//! row; edits are optimistic (a stale version is a conflict, never a silent overwrite); deletes
//! are soft. Opening a chart is one audited `chart.read`, writes one row each, in the same
//! transaction as the access, and PHI is opened only after that commits (fail closed).
//!
//! An entry's body is bound to the clear columns that decide who reads it: its patient, its kind
//! and its `released` flag ([`entry_field`]). A flag flipped by SQL makes the body fail to open:
//! the patient gets an error (audited), and the care team still reads it, with the tampering
//! audited ([`Audience::release_states`] is the one place that decides which states may open).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use uuid::Uuid;

use super::Error;
use super::access::{Guard, Permit};
use super::audit::{Action, AuditContext, AuditLog, Role};
use super::clock::Clock;
use super::crypto::{CryptoError, DataKey, DataKeys, FieldRef, Sealed};
use super::entities::clinical_entry;
use super::ids::{PatientId, UserId};
use super::patients::{Patient, PatientRepo, live};
use crate::clinical::{EntryBody, EntryKind};

const TABLE: &str = "clinical_entry";
const RESOURCE: &str = "chart";

#[derive(Clone, Debug, PartialEq)]
pub struct ChartEntry {
    pub id: Uuid,
    pub version: i32,
    pub body: EntryBody,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<UserId>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<UserId>,
}

/// A chart as the reader may see it: a patient sees only what has been released to them.
#[derive(Clone, Debug)]
pub struct Chart {
    pub patient: Patient,
    pub entries: Vec<ChartEntry>,
    /// The rule that opened it (e.g. `assigned-clinician`, `break-glass`).
    pub rule: &'static str,
}

#[derive(Clone)]
pub struct ChartRepo {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    guard: Guard,
    patients: PatientRepo,
}

impl std::fmt::Debug for ChartRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChartRepo")
    }
}

impl ChartRepo {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        guard: Guard,
        patients: PatientRepo,
    ) -> Self {
        Self { db, keys, audit, clock, guard, patients }
    }

    /// Opens the whole chart: demographics and every live entry, newest first.
    #[tracing::instrument(skip_all, fields(patient_id = %patient, actor_role = ctx.actor.role.as_str()))]
    pub async fn read(&self, ctx: &AuditContext, patient: PatientId) -> Result<Chart, Error> {
        let permit = self.guard.check(ctx, Action::ChartRead, RESOURCE, Some(patient)).await?;
        // Reads need no transaction: the audit row is one INSERT, committed before anything is
        // opened or returned, and an error writing it ends the read here.
        let Some(row) = live(patient).one(&self.db).await? else {
            self.audit
                .record(&self.db, &permit.ctx, permit.failure(Action::ChartRead, RESOURCE, None, "not-found"))
                .await?;
            return Err(Error::NotFound);
        };
        let audience = Audience::of(ctx.actor.role);
        let mut query = clinical_entry::Entity::find()
            .filter(clinical_entry::Column::PatientId.eq(patient.0))
            .filter(clinical_entry::Column::DeletedAt.is_null());
        if !audience.sees_unreleased() {
            query = query.filter(clinical_entry::Column::Released.eq(true));
        }
        let rows = query.order_by_desc(clinical_entry::Column::CreatedAt).all(&self.db).await?;
        self.audit
            .record(&self.db, &permit.ctx, permit.entry(Action::ChartRead, RESOURCE, Some(patient.to_string())))
            .await?;
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let patient_record = self.patients.open(&self.db, row).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let id = row.id;
            match open_entry(&key, row, audience) {
                Ok((entry, Integrity::Intact)) => entries.push(entry),
                Ok((entry, Integrity::ReleasedColumnAltered)) => {
                    tracing::error!(entry_id = %id, "chart entry's released column does not match its sealed body");
                    let finding = "integrity-failure:released-column-altered";
                    let row =
                        permit.failure(Action::ChartRead, entry.body.kind().as_str(), Some(id.to_string()), finding);
                    self.audit.record(&self.db, &permit.ctx, row).await?;
                    entries.push(entry);
                }
                Err(err) => {
                    tracing::error!(entry_id = %id, error = %err, "chart entry failed its integrity check");
                    let row = permit.failure(Action::ChartRead, RESOURCE, Some(id.to_string()), "integrity-failure");
                    self.audit.record(&self.db, &permit.ctx, row).await?;
                    return Err(err);
                }
            }
        }
        Ok(Chart { patient: patient_record, entries, rule: permit.decision.rule })
    }

    /// Adds an entry; returns its id and version.
    #[tracing::instrument(skip_all, fields(patient_id = %patient, actor_role = ctx.actor.role.as_str()))]
    pub async fn add(&self, ctx: &AuditContext, patient: PatientId, body: EntryBody) -> Result<(Uuid, i32), Error> {
        let permit = self.guard.check(ctx, Action::EntryCreate, RESOURCE, Some(patient)).await?;
        validate(&body, self.clock.now())?;
        let now = self.clock.now();
        let actor = ctx.actor.user_id.map(|u| u.0);
        let id = Uuid::now_v7();
        let txn = self.db.begin().await?;
        let Some(row) = live(patient).one(&txn).await? else {
            self.audit
                .append(&txn, &permit.ctx, permit.failure(Action::EntryCreate, RESOURCE, None, "not-found"))
                .await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        let key = self.keys.get(&txn, row.data_key_id).await?;
        clinical_entry::ActiveModel {
            id: Set(id),
            patient_id: Set(patient.0),
            data_key_id: Set(key.id()),
            kind: Set(body.kind().as_str().to_owned()),
            body: Set(seal_body(&key, id, patient, &body)?),
            released: Set(body.released_to_patient()),
            version: Set(1),
            created_at: Set(now),
            created_by: Set(actor),
            updated_at: Set(now),
            updated_by: Set(actor),
            deleted_at: Set(None),
            deleted_by: Set(None),
        }
        .insert(&txn)
        .await?;
        self.audit
            .append(&txn, &permit.ctx, permit.entry(Action::EntryCreate, body.kind().as_str(), Some(id.to_string())))
            .await?;
        txn.commit().await?;
        tracing::debug!(entry_id = %id, kind = body.kind().as_str(), "chart entry added");
        Ok((id, 1))
    }

    /// Replaces an entry if `expected_version` is still current; returns the new version. A
    /// stale edit is refused with a conflict and changes nothing.
    #[tracing::instrument(skip_all, fields(patient_id = %patient, entry_id = %entry, actor_role = ctx.actor.role.as_str()))]
    pub async fn update(
        &self,
        ctx: &AuditContext,
        patient: PatientId,
        entry: Uuid,
        expected_version: i32,
        body: EntryBody,
    ) -> Result<i32, Error> {
        let permit = self.guard.check(ctx, Action::EntryUpdate, RESOURCE, Some(patient)).await?;
        let next = next_version(expected_version)?;
        validate(&body, self.clock.now())?;
        let txn = self.db.begin().await?;
        let existing = self.live_entry(&txn, &permit, Action::EntryUpdate, patient, entry).await?;
        let Some(existing) = existing else {
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        if existing.kind != body.kind().as_str() {
            txn.rollback().await?;
            return Err(Error::validation("kind", "an entry keeps its kind; add a new entry instead"));
        }
        let key = self.keys.get(&txn, existing.data_key_id).await?;
        let result = clinical_entry::Entity::update_many()
            .col_expr(clinical_entry::Column::Body, Expr::value(seal_body(&key, entry, patient, &body)?))
            .col_expr(clinical_entry::Column::Released, Expr::value(body.released_to_patient()))
            .col_expr(clinical_entry::Column::Version, Expr::value(next))
            .col_expr(clinical_entry::Column::UpdatedAt, Expr::value(self.clock.now()))
            .col_expr(clinical_entry::Column::UpdatedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .filter(clinical_entry::Column::Id.eq(entry))
            .filter(clinical_entry::Column::Version.eq(expected_version))
            .filter(clinical_entry::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        let resource = body.kind().as_str();
        if result.rows_affected == 0 {
            let stale = permit.failure(Action::EntryUpdate, resource, Some(entry.to_string()), "stale-version");
            self.audit.append(&txn, &permit.ctx, stale).await?;
            txn.commit().await?;
            return Err(stale_edit());
        }
        self.audit
            .append(&txn, &permit.ctx, permit.entry(Action::EntryUpdate, resource, Some(entry.to_string())))
            .await?;
        txn.commit().await?;
        Ok(next)
    }

    /// Soft delete: kept for retention and audit, gone from the chart.
    #[tracing::instrument(skip_all, fields(patient_id = %patient, entry_id = %entry, actor_role = ctx.actor.role.as_str()))]
    pub async fn delete(
        &self,
        ctx: &AuditContext,
        patient: PatientId,
        entry: Uuid,
        expected_version: i32,
    ) -> Result<(), Error> {
        let permit = self.guard.check(ctx, Action::EntryDelete, RESOURCE, Some(patient)).await?;
        let next = next_version(expected_version)?;
        let txn = self.db.begin().await?;
        let Some(existing) = self.live_entry(&txn, &permit, Action::EntryDelete, patient, entry).await? else {
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        let result = clinical_entry::Entity::update_many()
            .col_expr(clinical_entry::Column::DeletedAt, Expr::value(self.clock.now()))
            .col_expr(clinical_entry::Column::DeletedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .col_expr(clinical_entry::Column::Version, Expr::value(next))
            .filter(clinical_entry::Column::Id.eq(entry))
            .filter(clinical_entry::Column::Version.eq(expected_version))
            .filter(clinical_entry::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            let stale = permit.failure(
                Action::EntryDelete,
                leak_kind(&existing.kind),
                Some(entry.to_string()),
                "stale-version",
            );
            self.audit.append(&txn, &permit.ctx, stale).await?;
            txn.commit().await?;
            return Err(stale_edit());
        }
        let deleted = permit.entry(Action::EntryDelete, leak_kind(&existing.kind), Some(entry.to_string()));
        self.audit.append(&txn, &permit.ctx, deleted).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The live entry `entry` of `patient`, or None after auditing the miss.
    async fn live_entry(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        permit: &Permit,
        action: Action,
        patient: PatientId,
        entry: Uuid,
    ) -> Result<Option<clinical_entry::Model>, Error> {
        let row = clinical_entry::Entity::find_by_id(entry)
            .filter(clinical_entry::Column::PatientId.eq(patient.0))
            .filter(clinical_entry::Column::DeletedAt.is_null())
            .one(txn)
            .await?;
        if row.is_none() {
            self.audit
                .append(txn, &permit.ctx, permit.failure(action, RESOURCE, Some(entry.to_string()), "not-found"))
                .await?;
        }
        Ok(row)
    }
}

/// The audit resource type for a stored kind: one of the fixed kind names, never stored text.
fn leak_kind(kind: &str) -> &'static str {
    EntryKind::parse(kind).map_or(RESOURCE, EntryKind::as_str)
}

/// The version an edit writes. Versions start at 1 and grow by one, so one the browser sends
/// outside 1..i32::MAX was never current: a validation error, not an overflow.
fn next_version(expected: i32) -> Result<i32, Error> {
    expected
        .checked_add(1)
        .filter(|_| expected >= 1)
        .ok_or_else(|| Error::validation("version", "is not a version of this entry"))
}

fn stale_edit() -> Error {
    Error::Conflict(
        "this entry was changed by someone else since you opened it; reload the chart and try again".to_owned(),
    )
}

/// Dates are checked against the latest calendar date anywhere on Earth (UTC+14), so a clinician
/// east of UTC can record today's date in the morning, and no date later than that passes.
fn validate(body: &EntryBody, now: DateTime<Utc>) -> Result<(), Error> {
    body.validate((now + chrono::Duration::hours(14)).date_naive()).map_err(Error::Validation)
}

/// Who reads a chart, as far as release goes: the one place that decides which entries a reader
/// sees and under which `released` states an entry's body may open for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Audience {
    /// The patient, in the portal: released entries only.
    Patient,
    /// Everyone the access policy lets open the chart otherwise (care team, break-glass):
    /// every live entry, drafts included.
    Staff,
}

impl Audience {
    fn of(role: Role) -> Self {
        if role == Role::Patient { Audience::Patient } else { Audience::Staff }
    }

    fn sees_unreleased(self) -> bool {
        self == Audience::Staff
    }

    /// The `released` states to try when opening a row whose column says `column`, in order;
    /// an opening under any state but the first means the column was altered. A patient's body
    /// opens only as released, so a flag flipped to true opens nothing for them; staff may read
    /// either, so they still read an entry whose flag was flipped, and the change is reported.
    fn release_states(self, column: bool) -> &'static [bool] {
        match (self, column) {
            (Audience::Patient, true) => &[true],
            (Audience::Patient, false) => &[],
            (Audience::Staff, true) => &[true, false],
            (Audience::Staff, false) => &[false, true],
        }
    }
}

/// What opening an entry found out about its clear columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Integrity {
    Intact,
    /// The body opened only under the other `released` state than its column holds.
    ReleasedColumnAltered,
}

/// Where an entry's body lives, bound to the clear columns that decide who reads it. Changing
/// the row's patient, kind or `released` flag outside this module makes the body fail to open.
fn entry_field(id: Uuid, patient: PatientId, kind: &str, released: bool) -> FieldRef {
    FieldRef::new(TABLE, "body", id)
        .bind("patient_id", patient.0.as_bytes())
        .bind("kind", kind)
        .bind("released", if released { "released" } else { "unreleased" })
}

fn seal_body(key: &DataKey, id: Uuid, patient: PatientId, body: &EntryBody) -> Result<Sealed, Error> {
    let json = serde_json::to_string(body).map_err(|e| Error::Internal(anyhow::Error::new(e)))?;
    let field = entry_field(id, patient, body.kind().as_str(), body.released_to_patient());
    Ok(key.seal_str(field, &json)?)
}

fn open_entry(key: &DataKey, row: clinical_entry::Model, audience: Audience) -> Result<(ChartEntry, Integrity), Error> {
    let patient = PatientId(row.patient_id);
    let mut opened = None;
    for (attempt, released) in audience.release_states(row.released).iter().enumerate() {
        match key.open_string(entry_field(row.id, patient, &row.kind, *released), &row.body) {
            Ok(json) => {
                let integrity = if attempt == 0 { Integrity::Intact } else { Integrity::ReleasedColumnAltered };
                opened = Some((json, *released, integrity));
                break;
            }
            Err(CryptoError::Authentication(_)) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    let Some((json, released, integrity)) = opened else {
        return Err(Error::Internal(anyhow::anyhow!("chart entry {} failed its integrity check", row.id)));
    };
    let body: EntryBody = serde_json::from_str(&json)
        .map_err(|_| Error::Internal(anyhow::anyhow!("chart entry {} does not hold a valid entry", row.id)))?;
    if body.kind().as_str() != row.kind || body.released_to_patient() != released {
        return Err(Error::Internal(anyhow::anyhow!("chart entry {} does not match its columns", row.id)));
    }
    let entry = ChartEntry {
        id: row.id,
        version: row.version,
        body,
        created_at: row.created_at,
        created_by: row.created_by.map(UserId),
        updated_at: row.updated_at,
        updated_by: row.updated_by.map(UserId),
    };
    Ok((entry, integrity))
}
