//! `PatientRepo`: the only code that reads or writes patient demographics.
//!
//! Every method takes the request's [`AuditContext`] and writes its audit row in the same
//! transaction as the read or write. PHI is opened only after that transaction commits, so if
//! the audit row cannot be written, no PHI is returned (fail closed). Denied attempts are
//! audited too, in a transaction of their own.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::Error;
use super::access::{Guard, Permit};
use super::audit::{Action, AuditContext, AuditEntry, AuditLog, Outcome, Role};
use super::clock::Clock;
use super::crypto::{
    BlindIndexer, DataKey, DataKeys, FieldRef, Sealed, normalize_digits, normalize_phone, normalize_text,
};
use super::entities::{care_relationship, patient};
use super::ids::PatientId;
use super::monitoring::rules::self_access;
use crate::error::FieldError;

const TABLE: &str = "patient";
const RESOURCE: &str = "patient";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "female" => Some(Sex::Female),
            "male" => Some(Sex::Male),
            "other" => Some(Sex::Other),
            "unknown" => Some(Sex::Unknown),
            _ => None,
        }
    }
}

/// A postal address. Serialized only to be sealed into one column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub country: String,
}

/// Demographics as entered: used to create or replace a patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPatient {
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub ssn: Option<String>,
    pub mrn: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<PostalAddress>,
}

/// Demographics as opened for an allowed reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patient {
    pub id: PatientId,
    pub version: i32,
    pub details: NewPatient,
}

#[derive(Clone)]
pub struct PatientRepo {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    indexer: Arc<BlindIndexer>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    guard: Guard,
    /// Searches per clinician and window.
    pub search_budget: super::throttle::SearchBudget,
}

impl std::fmt::Debug for PatientRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientRepo")
    }
}

impl PatientRepo {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        indexer: Arc<BlindIndexer>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        guard: Guard,
    ) -> Self {
        Self { db, keys, indexer, audit, clock, guard, search_budget: Default::default() }
    }

    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn create(&self, ctx: &AuditContext, new: NewPatient) -> Result<PatientId, Error> {
        let permit = self.authorize(ctx, Action::PatientCreate, None).await?;
        validate(&new)?;
        let id = PatientId::new();
        let now = self.clock.now();
        let actor = ctx.actor.user_id.map(|u| u.0);
        let txn = self.db.begin().await?;
        let key = self.keys.create(&txn, id.0, now).await?;
        let sealed = self.seal(&key, id, &new)?;
        patient::ActiveModel {
            id: Set(id.0),
            data_key_id: Set(key.id()),
            version: Set(1),
            created_at: Set(now),
            created_by: Set(actor),
            updated_at: Set(now),
            updated_by: Set(actor),
            deleted_at: Set(None),
            deleted_by: Set(None),
            ..sealed
        }
        .insert(&txn)
        .await?;
        // The clinician who registers a patient is on their care team from the start.
        if let (Role::Clinician, Some(clinician)) = (ctx.actor.role, actor) {
            care_relationship::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                patient_id: Set(id.0),
                clinician_id: Set(clinician),
                kind: Set("care_team".to_owned()),
                created_at: Set(now),
                created_by: Set(Some(clinician)),
                ended_at: Set(None),
                ended_by: Set(None),
            }
            .insert(&txn)
            .await?;
        }
        self.audit
            .append(&txn, &permit.ctx, entry(Action::PatientCreate, Some(id), Outcome::Allowed, permit.decision.rule))
            .await?;
        txn.commit().await?;
        tracing::debug!(patient_id = %id, "patient created");
        Ok(id)
    }

    #[tracing::instrument(skip_all, fields(patient_id = %id, actor_role = ctx.actor.role.as_str()))]
    pub async fn get(&self, ctx: &AuditContext, id: PatientId) -> Result<Patient, Error> {
        let permit = self.authorize(ctx, Action::PatientRead, Some(id)).await?;
        let txn = self.db.begin().await?;
        let row = live(id).one(&txn).await?;
        let Some(row) = row else {
            self.audit
                .append(&txn, &permit.ctx, entry(Action::PatientRead, Some(id), Outcome::Error, "not-found"))
                .await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        self.audit
            .append(&txn, &permit.ctx, entry(Action::PatientRead, Some(id), Outcome::Allowed, permit.decision.rule))
            .await?;
        txn.commit().await?;
        self.open(&self.db, row).await
    }

    /// Finds live patients matching every given criterion exactly, through the blind indexes:
    /// the database never sees a name, birth date, MRN or phone in clear. Returns only what a
    /// clinician needs to pick the right person; each match is audited with its patient id.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn search(&self, ctx: &AuditContext, criteria: &SearchCriteria) -> Result<Vec<PatientMatch>, Error> {
        let permit = self.authorize(ctx, Action::PatientSearch, None).await?;
        criteria.validate()?;
        if let Some(clinician) = ctx.actor.user_id {
            let used =
                super::throttle::searches_by(&self.db, clinician.0, self.search_budget, self.clock.now()).await?;
            if used >= self.search_budget.max {
                let mut refused = entry(Action::PatientSearch, None, Outcome::Denied, "rate-limited-search");
                refused.resource_type = super::throttle::SEARCH_RESOURCE;
                self.audit.record(&self.db, &permit.ctx, refused).await?;
                tracing::warn!("patient search refused: budget used up");
                return Err(Error::TooManyRequests);
            }
        }
        let mut query = patient::Entity::find().filter(patient::Column::DeletedAt.is_null());
        let mut used = Vec::new();
        if let (Some(given), Some(family)) = (&criteria.given_name, &criteria.family_name) {
            query =
                query.filter(patient::Column::NameBidx.eq(self.indexer.index(TABLE, "name", &name_key(given, family))));
            used.push("name");
        }
        if let Some(birth_date) = criteria.birth_date {
            let value = birth_date.format("%Y-%m-%d").to_string();
            query = query.filter(patient::Column::BirthDateBidx.eq(self.indexer.index(TABLE, "birth_date", &value)));
            used.push("birth_date");
        }
        if let Some(mrn) = &criteria.mrn {
            query = query.filter(patient::Column::MrnBidx.eq(self.indexer.index(TABLE, "mrn", &normalize_text(mrn))));
            used.push("mrn");
        }
        if let Some(phone) = &criteria.phone {
            query = query.filter(patient::Column::PhoneBidx.eq(self.indexer.index(
                TABLE,
                "phone",
                &normalize_phone(phone),
            )));
            used.push("phone");
        }
        use sea_orm::QuerySelect;
        let txn = self.db.begin().await?;
        let rows = query.limit(SEARCH_LIMIT).all(&txn).await?;
        let criteria_used = used.join(",");
        // One row for the search itself (what the search budget counts), one per patient found.
        let mut searched = entry(Action::PatientSearch, None, Outcome::Allowed, permit.decision.rule);
        searched.resource_type = super::throttle::SEARCH_RESOURCE;
        // `rows:N;criteria`: what the large-listing detector counts (monitoring::rules::large_listing).
        searched.resource_id = Some(format!("rows:{};{criteria_used}", rows.len()));
        self.audit.append(&txn, &permit.ctx, searched).await?;
        for row in &rows {
            let mut found =
                entry(Action::PatientSearch, Some(PatientId(row.id)), Outcome::Allowed, permit.decision.rule);
            found.resource_id = Some(criteria_used.clone());
            self.audit.append(&txn, &permit.ctx, found).await?;
        }
        txn.commit().await?;
        let mut matches = Vec::with_capacity(rows.len());
        for row in rows {
            matches.push(self.open_match(&self.db, row).await?);
        }
        Ok(matches)
    }

    /// The clinician's own patients: those they are assigned to, on the care team of, or
    /// named in the consent of. Each listed patient is audited.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn my_patients(&self, ctx: &AuditContext) -> Result<Vec<(PatientMatch, Vec<String>)>, Error> {
        let permit = self.authorize(ctx, Action::PatientList, None).await?;
        let Some(clinician) = ctx.actor.user_id else { return Err(Error::Forbidden) };
        let txn = self.db.begin().await?;
        let links = care_relationship::Entity::find()
            .filter(care_relationship::Column::ClinicianId.eq(clinician.0))
            .filter(care_relationship::Column::EndedAt.is_null())
            .all(&txn)
            .await?;
        let mut kinds: std::collections::BTreeMap<uuid::Uuid, Vec<String>> = std::collections::BTreeMap::new();
        for link in links {
            kinds.entry(link.patient_id).or_default().push(link.kind);
        }
        let rows = patient::Entity::find()
            .filter(patient::Column::Id.is_in(kinds.keys().copied().collect::<Vec<_>>()))
            .filter(patient::Column::DeletedAt.is_null())
            .all(&txn)
            .await?;
        // One summary row with the count (`rows:N`, read by the large-listing detector), then
        // one per patient listed.
        let mut summary = entry(Action::PatientList, None, Outcome::Allowed, permit.decision.rule);
        summary.resource_id = Some(format!("rows:{}", rows.len()));
        self.audit.append(&txn, &permit.ctx, summary).await?;
        for row in &rows {
            let listed = entry(Action::PatientList, Some(PatientId(row.id)), Outcome::Allowed, permit.decision.rule);
            self.audit.append(&txn, &permit.ctx, listed).await?;
        }
        txn.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let relationship = kinds.remove(&row.id).unwrap_or_default();
            out.push((self.open_match(&self.db, row).await?, relationship));
        }
        out.sort_by(|(a, _), (b, _)| (&a.family_name, &a.given_name).cmp(&(&b.family_name, &b.given_name)));
        Ok(out)
    }

    /// The id of the live patient with this MRN, and nothing else: what an admin needs to link
    /// a patient's account to their record without seeing the record.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn id_by_mrn(&self, ctx: &AuditContext, mrn: &str) -> Result<Option<PatientId>, Error> {
        let permit = self.authorize(ctx, Action::PatientLookup, None).await?;
        let index = self.indexer.index(TABLE, "mrn", &normalize_text(mrn));
        let txn = self.db.begin().await?;
        let found = patient::Entity::find()
            .filter(patient::Column::MrnBidx.eq(index))
            .filter(patient::Column::DeletedAt.is_null())
            .one(&txn)
            .await?
            .map(|row| PatientId(row.id));
        let mut audit_entry = entry(Action::PatientLookup, found, Outcome::Allowed, permit.decision.rule);
        audit_entry.resource_id = Some("mrn".to_owned());
        self.audit.append(&txn, &permit.ctx, audit_entry).await?;
        txn.commit().await?;
        Ok(found)
    }

    /// Replaces the demographics if `expected_version` is still current; a stale edit is a
    /// conflict, never a silent overwrite.
    #[tracing::instrument(skip_all, fields(patient_id = %id, actor_role = ctx.actor.role.as_str()))]
    pub async fn update(
        &self,
        ctx: &AuditContext,
        id: PatientId,
        expected_version: i32,
        new: NewPatient,
    ) -> Result<i32, Error> {
        let permit = self.authorize(ctx, Action::PatientUpdate, Some(id)).await?;
        let ctx = &permit.ctx;
        validate(&new)?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let Some(row) = live(id).one(&txn).await? else {
            self.audit.append(&txn, ctx, entry(Action::PatientUpdate, Some(id), Outcome::Error, "not-found")).await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        let key = self.keys.get(&txn, row.data_key_id).await?;
        let sealed = self.seal(&key, id, &new)?;
        let mut update = patient::Entity::update_many()
            .col_expr(patient::Column::Version, Expr::value(expected_version + 1))
            .col_expr(patient::Column::UpdatedAt, Expr::value(now))
            .col_expr(patient::Column::UpdatedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)));
        for (column, value) in sealed_columns(sealed) {
            update = update.col_expr(column, value);
        }
        let result = update
            .filter(patient::Column::Id.eq(id.0))
            .filter(patient::Column::Version.eq(expected_version))
            .filter(patient::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            self.audit
                .append(&txn, ctx, entry(Action::PatientUpdate, Some(id), Outcome::Error, "stale-version"))
                .await?;
            txn.commit().await?;
            return Err(Error::Conflict("this patient was changed by someone else; reload and try again".to_owned()));
        }
        self.audit
            .append(&txn, ctx, entry(Action::PatientUpdate, Some(id), Outcome::Allowed, permit.decision.rule))
            .await?;
        txn.commit().await?;
        Ok(expected_version + 1)
    }

    /// Soft delete: the row stays for retention and audit, invisible to normal reads.
    #[tracing::instrument(skip_all, fields(patient_id = %id, actor_role = ctx.actor.role.as_str()))]
    pub async fn delete(&self, ctx: &AuditContext, id: PatientId) -> Result<(), Error> {
        let permit = self.authorize(ctx, Action::PatientDelete, Some(id)).await?;
        let ctx = &permit.ctx;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let result = patient::Entity::update_many()
            .col_expr(patient::Column::DeletedAt, Expr::value(now))
            .col_expr(patient::Column::DeletedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .filter(patient::Column::Id.eq(id.0))
            .filter(patient::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        let (outcome, rule) = if result.rows_affected == 0 {
            (Outcome::Error, "not-found")
        } else {
            (Outcome::Allowed, permit.decision.rule)
        };
        self.audit.append(&txn, ctx, entry(Action::PatientDelete, Some(id), outcome, rule)).await?;
        txn.commit().await?;
        if result.rows_affected == 0 { Err(Error::NotFound) } else { Ok(()) }
    }

    /// Asks the access policy; a refusal is audited before it is returned.
    async fn authorize(&self, ctx: &AuditContext, action: Action, patient: Option<PatientId>) -> Result<Permit, Error> {
        self.guard.check(ctx, action, RESOURCE, patient).await
    }

    fn seal(&self, key: &DataKey, id: PatientId, new: &NewPatient) -> Result<patient::ActiveModel, Error> {
        let field = |column| FieldRef::new(TABLE, column, id.0);
        let seal = |column, value: &str| key.seal_str(field(column), value);
        let seal_opt = |column, value: Option<&str>| value.map(|v| seal(column, v)).transpose();
        let address = new
            .address
            .as_ref()
            .map(|a| serde_json::to_string(a).map_err(|e| Error::Internal(anyhow::Error::new(e))))
            .transpose()?;
        let birth_date = new.birth_date.format("%Y-%m-%d").to_string();
        Ok(patient::ActiveModel {
            given_name: Set(seal("given_name", &new.given_name)?),
            family_name: Set(seal("family_name", &new.family_name)?),
            birth_date: Set(seal("birth_date", &birth_date)?),
            sex: Set(seal("sex", new.sex.as_str())?),
            ssn: Set(seal_opt("ssn", new.ssn.as_deref())?),
            mrn: Set(seal("mrn", &new.mrn)?),
            phone: Set(seal_opt("phone", new.phone.as_deref())?),
            email: Set(seal_opt("email", new.email.as_deref())?),
            address: Set(seal_opt("address", address.as_deref())?),
            name_bidx: Set(self.indexer.index(TABLE, "name", &name_key(&new.given_name, &new.family_name))),
            birth_date_bidx: Set(self.indexer.index(TABLE, "birth_date", &birth_date)),
            mrn_bidx: Set(self.indexer.index(TABLE, "mrn", &normalize_text(&new.mrn))),
            phone_bidx: Set(new.phone.as_deref().map(|p| self.indexer.index(TABLE, "phone", &normalize_phone(p)))),
            // For the self-access detector: compared with a workforce member's own, never opened.
            family_name_bidx: Set(Some(self_access::family_index(&self.indexer, &new.family_name))),
            address_bidx: Set(new
                .address
                .as_ref()
                .map(|a| self_access::address_index(&self.indexer, &a.line1, &a.postal_code))),
            ..Default::default()
        })
    }

    async fn open_match<C: ConnectionTrait>(&self, conn: &C, row: patient::Model) -> Result<PatientMatch, Error> {
        let key = self.keys.get(conn, row.data_key_id).await?;
        let field = |column| FieldRef::new(TABLE, column, row.id);
        let open = |column, sealed: &Sealed| key.open_string(field(column), sealed);
        let id = PatientId(row.id);
        let birth_date = NaiveDate::parse_from_str(&open("birth_date", &row.birth_date)?, "%Y-%m-%d")
            .map_err(|_| Error::Internal(anyhow::anyhow!("patient {id} birth_date is not a date")))?;
        Ok(PatientMatch {
            id,
            given_name: open("given_name", &row.given_name)?,
            family_name: open("family_name", &row.family_name)?,
            birth_date,
            mrn: open("mrn", &row.mrn)?,
        })
    }

    /// Opens a row read under a permit the caller holds and has audited.
    pub(super) async fn open<C: ConnectionTrait>(&self, conn: &C, row: patient::Model) -> Result<Patient, Error> {
        let key = self.keys.get(conn, row.data_key_id).await?;
        let id = PatientId(row.id);
        let field = |column| FieldRef::new(TABLE, column, row.id);
        let open = |column, sealed: &Sealed| key.open_string(field(column), sealed);
        let open_opt = |column, sealed: &Option<Sealed>| sealed.as_ref().map(|s| open(column, s)).transpose();
        let birth_date = NaiveDate::parse_from_str(&open("birth_date", &row.birth_date)?, "%Y-%m-%d")
            .map_err(|_| Error::Internal(anyhow::anyhow!("patient {id} birth_date is not a date")))?;
        let sex = Sex::parse(&open("sex", &row.sex)?)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("patient {id} sex is not a known value")))?;
        let address = open_opt("address", &row.address)?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|_| Error::Internal(anyhow::anyhow!("patient {id} address is not valid")))?;
        Ok(Patient {
            id,
            version: row.version,
            details: NewPatient {
                given_name: open("given_name", &row.given_name)?,
                family_name: open("family_name", &row.family_name)?,
                birth_date,
                sex,
                ssn: open_opt("ssn", &row.ssn)?,
                mrn: open("mrn", &row.mrn)?,
                phone: open_opt("phone", &row.phone)?,
                email: open_opt("email", &row.email)?,
                address,
            },
        })
    }
}

const SEARCH_LIMIT: u64 = 25;

/// Exact-match search criteria; every one given must match. A name needs both parts, since
/// the index covers the full name, and a second identifier; an MRN is enough alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchCriteria {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub mrn: Option<String>,
    pub phone: Option<String>,
}

impl SearchCriteria {
    fn validate(&self) -> Result<(), Error> {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
        if blank(&self.given_name) != blank(&self.family_name) {
            return Err(Error::validation("name", "search by name needs both the given and the family name"));
        }
        // An MRN names one patient; a name needs a second identifier. A date of birth or a
        // phone number alone would list strangers.
        let name = !blank(&self.given_name);
        let second = self.birth_date.is_some() || !blank(&self.phone);
        if blank(&self.mrn) && !(name && second) {
            return Err(Error::validation(
                "search",
                "search by MRN, or by full name together with date of birth or phone number",
            ));
        }
        Ok(())
    }
}

/// Just enough to tell patients apart in a search result or a patient list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientMatch {
    pub id: PatientId,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: NaiveDate,
    pub mrn: String,
}

/// A patient's name as calendars and waiting lists show it, "Given Family". The caller has
/// decided and audited that its reader may see it.
pub(super) async fn display_name<C: ConnectionTrait>(
    keys: &DataKeys,
    conn: &C,
    patient: PatientId,
) -> Result<String, Error> {
    let row = patient::Entity::find_by_id(patient.0).one(conn).await?.ok_or(Error::NotFound)?;
    let key = keys.get(conn, row.data_key_id).await?;
    let given = key.open_string(FieldRef::new("patient", "given_name", patient.0), &row.given_name)?;
    let family = key.open_string(FieldRef::new("patient", "family_name", patient.0), &row.family_name)?;
    Ok(format!("{given} {family}"))
}

/// [`display_name`] for many patients in one query (keys come from the data-key cache); a
/// patient that does not exist is absent from the map.
pub(super) async fn display_names<C: ConnectionTrait>(
    keys: &DataKeys,
    conn: &C,
    patients: &[PatientId],
) -> Result<std::collections::HashMap<PatientId, String>, Error> {
    let mut out = std::collections::HashMap::new();
    if patients.is_empty() {
        return Ok(out);
    }
    let rows =
        patient::Entity::find().filter(patient::Column::Id.is_in(patients.iter().map(|p| p.0))).all(conn).await?;
    for row in rows {
        let key = keys.get(conn, row.data_key_id).await?;
        let given = key.open_string(FieldRef::new("patient", "given_name", row.id), &row.given_name)?;
        let family = key.open_string(FieldRef::new("patient", "family_name", row.id), &row.family_name)?;
        out.insert(PatientId(row.id), format!("{given} {family}"));
    }
    Ok(out)
}

pub(super) fn live(id: PatientId) -> sea_orm::Select<patient::Entity> {
    patient::Entity::find_by_id(id.0).filter(patient::Column::DeletedAt.is_null())
}

fn entry(action: Action, patient: Option<PatientId>, outcome: Outcome, rule: &str) -> AuditEntry {
    AuditEntry {
        action,
        resource_type: RESOURCE,
        resource_id: patient.map(|p| p.to_string()),
        patient_id: patient.map(|p| p.0),
        outcome,
        rule: Some(rule.to_owned()),
    }
}

/// The sealed and index columns of an [`patient::ActiveModel`] built by `seal`, as updates.
fn sealed_columns(model: patient::ActiveModel) -> Vec<(patient::Column, sea_orm::sea_query::SimpleExpr)> {
    use patient::Column as C;
    let mut out = Vec::new();
    for column in [
        C::GivenName,
        C::FamilyName,
        C::BirthDate,
        C::Sex,
        C::Ssn,
        C::Mrn,
        C::Phone,
        C::Email,
        C::Address,
        C::NameBidx,
        C::BirthDateBidx,
        C::MrnBidx,
        C::PhoneBidx,
        C::FamilyNameBidx,
        C::AddressBidx,
    ] {
        if let Some(value) = model.get(column).into_value() {
            out.push((column, Expr::value(value)));
        }
    }
    out
}

/// The normalized full name that the name index covers: "family|given".
pub fn name_key(given: &str, family: &str) -> String {
    format!("{}|{}", normalize_text(family), normalize_text(given))
}

/// Checks every field and reports all that fail, by field name only.
pub fn validate(new: &NewPatient) -> Result<(), Error> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: &str| {
        errors.push(FieldError { field: field.to_owned(), message: message.to_owned() });
    };
    for (field, value) in [("given_name", &new.given_name), ("family_name", &new.family_name)] {
        let len = value.trim().chars().count();
        if len == 0 || len > 100 {
            fail(field, "must be 1 to 100 characters");
        }
    }
    let today = chrono::Utc::now().date_naive();
    if new.birth_date > today || new.birth_date.year() < 1880 {
        fail("birth_date", "must be a past date after 1880");
    }
    if let Some(ssn) = &new.ssn
        && (normalize_digits(ssn).len() != 9 || ssn.chars().any(|c| !c.is_ascii_digit() && c != '-'))
    {
        fail("ssn", "must be 9 digits, as 123-45-6789");
    }
    let mrn = new.mrn.trim();
    if mrn.is_empty() || mrn.len() > 32 || !mrn.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        fail("mrn", "must be 1 to 32 letters, digits or dashes");
    }
    if let Some(phone) = &new.phone {
        let digits = normalize_digits(phone).len();
        if !(7..=15).contains(&digits) || phone.chars().any(|c| !(c.is_ascii_digit() || " +-().".contains(c))) {
            fail("phone", "must be 7 to 15 digits");
        }
    }
    if let Some(email) = &new.email {
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.contains(char::is_whitespace);
        if !valid {
            fail("email", "must be an email address");
        }
    }
    if let Some(address) = &new.address
        && [&address.line1, &address.city, &address.postal_code, &address.country].iter().any(|v| v.trim().is_empty())
    {
        fail("address", "needs a street line, city, postal code and country");
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
}
