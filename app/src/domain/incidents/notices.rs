//! What leaves the incident: a patient's name and address opened one at a time to address a
//! notice, the notice letters, and the HHS report. Each is audited before it is returned, in
//! the same transaction; if the row cannot be written, nothing is returned.

use std::collections::BTreeMap;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::assessment::Assessment;
use super::hhs::{self, CoveredEntity, HhsAnswers};
use super::letters::{self, LetterFacts, Recipient};
use super::{IncidentRepo, TABLE, open_json};
use crate::domain::Error;
use crate::domain::access::{Permit, decide_incident_patient};
use crate::domain::audit::{Action, AuditContext, AuditEntry, Outcome};
use crate::domain::crypto::{DataKeys, FieldRef};
use crate::domain::entities::{incident, incident_patient, patient};
use crate::domain::ids::PatientId;
use crate::domain::patients::PostalAddress;

const PATIENT_TABLE: &str = "patient";

/// The demographics a notice needs (164.404(d)(1): written notice at the last known address).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeRecipient {
    pub patient_id: PatientId,
    pub given_name: String,
    pub family_name: String,
    pub address: Option<PostalAddress>,
}

/// Affected residents per State, opened by the system from the sealed addresses and returned
/// only as counts (164.406 needs them; nobody sees an address this way). No address: "unknown".
pub(super) async fn per_state(
    db: &DatabaseConnection,
    keys: &DataKeys,
    patients: &[PatientId],
) -> Result<Vec<(String, usize)>, Error> {
    let mut counts = BTreeMap::<String, usize>::new();
    let ids: Vec<Uuid> = patients.iter().map(|p| p.0).collect();
    for chunk in ids.chunks(500) {
        let rows = patient::Entity::find().filter(patient::Column::Id.is_in(chunk.to_vec())).all(db).await?;
        for row in rows {
            let state = match &row.address {
                Some(sealed) => {
                    let key = keys.get(db, row.data_key_id).await?;
                    let json = key.open_string(FieldRef::new(PATIENT_TABLE, "address", row.id), sealed)?;
                    let address: PostalAddress = serde_json::from_str(&json)
                        .map_err(|_| Error::Internal(anyhow::anyhow!("patient {} address is not valid", row.id)))?;
                    address.state.trim().to_uppercase()
                }
                None => "unknown".to_owned(),
            };
            *counts.entry(state).or_default() += 1;
        }
    }
    Ok(counts.into_iter().collect())
}

impl IncidentRepo {
    /// The permit to open `patient`'s demographics for incident `id`: the security officer, and
    /// only for a patient in that incident's affected set. A refusal is audited.
    async fn patient_permit(
        &self,
        ctx: &AuditContext,
        id: Uuid,
        patient: PatientId,
        action: Action,
    ) -> Result<(Permit, incident::Model), Error> {
        let row = incident::Entity::find_by_id(id).one(&self.db).await?;
        let in_set = match &row {
            Some(_) => incident_patient::Entity::find_by_id((id, patient.0)).one(&self.db).await?.is_some(),
            None => false,
        };
        let decision = decide_incident_patient(&ctx.actor, in_set);
        if !decision.allowed {
            let denied = AuditEntry {
                action,
                resource_type: TABLE,
                resource_id: Some(id.to_string()),
                patient_id: Some(patient.0),
                outcome: Outcome::Denied,
                rule: Some(decision.rule.to_owned()),
            };
            self.audit.record(&self.db, ctx, denied).await?;
            tracing::warn!(incident_id = %id, rule = decision.rule, "incident patient refused");
            return Err(Error::Forbidden);
        }
        let row = row.ok_or(Error::NotFound)?;
        let permit = Permit {
            decision,
            ctx: ctx.for_access(decision.purpose, Some(format!("incident {id}"))),
            patient: Some(patient),
        };
        Ok((permit, row))
    }

    async fn recipient<C: ConnectionTrait>(&self, conn: &C, patient: PatientId) -> Result<NoticeRecipient, Error> {
        let row = patient::Entity::find_by_id(patient.0).one(conn).await?.ok_or(Error::NotFound)?;
        let key = self.keys.get(conn, row.data_key_id).await?;
        let field = |column| FieldRef::new(PATIENT_TABLE, column, row.id);
        let address = row
            .address
            .as_ref()
            .map(|sealed| key.open_string(field("address"), sealed))
            .transpose()?
            .map(|json| serde_json::from_str::<PostalAddress>(&json))
            .transpose()
            .map_err(|_| Error::Internal(anyhow::anyhow!("patient {patient} address is not valid")))?;
        Ok(NoticeRecipient {
            patient_id: patient,
            given_name: key.open_string(field("given_name"), &row.given_name)?,
            family_name: key.open_string(field("family_name"), &row.family_name)?,
            address,
        })
    }

    /// Opens one affected patient's name and address, to address their notice. Audited
    /// (`incident.patient.open`) against that patient.
    #[tracing::instrument(skip_all, fields(incident_id = %id, patient_id = %patient))]
    pub async fn open_affected_patient(
        &self,
        ctx: &AuditContext,
        id: Uuid,
        patient: PatientId,
    ) -> Result<NoticeRecipient, Error> {
        let (permit, _) = self.patient_permit(ctx, id, patient, Action::IncidentPatientOpen).await?;
        let txn = self.db.begin().await?;
        let recipient = self.recipient(&txn, patient).await?;
        self.audit
            .append(&txn, &permit.ctx, permit.entry(Action::IncidentPatientOpen, TABLE, Some(id.to_string())))
            .await?;
        txn.commit().await?;
        Ok(recipient)
    }

    /// The notification letter of one affected patient, as HTML. Audited (`incident.export`,
    /// `letter`) against that patient; the first download marks the patient notified.
    #[tracing::instrument(skip_all, fields(incident_id = %id, patient_id = %patient))]
    pub async fn letter(&self, ctx: &AuditContext, id: Uuid, patient: PatientId) -> Result<String, Error> {
        let (permit, row) = self.patient_permit(ctx, id, patient, Action::IncidentExport).await?;
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let assessment =
            open_json::<Assessment>(&key, &row, "assessment", row.assessment.as_ref())?.unwrap_or_default();
        let answers = open_json::<HhsAnswers>(&key, &row, "hhs_report", row.hhs_report.as_ref())?.unwrap_or_default();
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let to = self.recipient(&txn, patient).await?;
        let address = to.address.as_ref().map_or_else(Vec::new, |a| {
            let mut lines = vec![a.line1.clone()];
            lines.extend(a.line2.clone());
            lines.push(format!("{}, {} {}", a.city, a.state, a.postal_code));
            lines
        });
        let facts = LetterFacts {
            breach_start: row.window_start.map(|t| t.date_naive()),
            breach_end: row.window_end.map(|t| t.date_naive()),
            discovered: row.discovered_at,
            phi_kinds: &assessment.phi_kinds,
            actions: &answers.actions_taken_in_response,
            today: now.date_naive(),
        };
        let recipient = Recipient { given_name: &to.given_name, family_name: &to.family_name, address };
        let html = letters::render(&self.contact, &recipient, &facts);
        incident_patient::Entity::update_many()
            .col_expr(incident_patient::Column::NotifiedAt, Expr::value(now))
            .filter(incident_patient::Column::IncidentId.eq(id))
            .filter(incident_patient::Column::PatientId.eq(patient.0))
            .filter(incident_patient::Column::NotifiedAt.is_null())
            .exec(&txn)
            .await?;
        let mut entry = permit.entry(Action::IncidentExport, "incident_letter", Some(id.to_string()));
        entry.rule = Some(format!("{}:letter", permit.decision.rule));
        self.audit.append(&txn, &permit.ctx, entry).await?;
        txn.commit().await?;
        Ok(html)
    }

    /// The HHS breach report as JSON, audited (`incident.export`, `hhs-report`).
    #[tracing::instrument(skip_all, fields(incident_id = %id))]
    pub async fn hhs_report(&self, ctx: &AuditContext, id: Uuid) -> Result<String, Error> {
        let permit = self.guard.check(ctx, Action::IncidentExport, TABLE, None).await?;
        let row = incident::Entity::find_by_id(id).one(&self.db).await?.ok_or(Error::NotFound)?;
        let incident = self.load(&row).await?;
        let deadlines = super::deadlines::all(row.discovered_at, incident.affected.len(), &incident.per_state);
        let contact = &self.contact;
        let entity = CoveredEntity {
            name: contact.name.clone(),
            entity_type: "Healthcare Provider".to_owned(),
            street_address: contact.street_address.clone(),
            city: contact.city.clone(),
            state: contact.state.clone(),
            zip: contact.zip.clone(),
            contact_name: contact.contact_name.clone(),
            contact_phone: contact.contact_phone.clone(),
            contact_email: contact.contact_email.clone(),
        };
        let facts = hhs::Facts {
            incident_id: id,
            window: (row.window_start.map(|t| t.date_naive()), row.window_end.map(|t| t.date_naive())),
            discovered: row.discovered_at,
            affected: incident.affected.len(),
            phi_kinds: &incident.assessment.phi_kinds,
            deadlines: &deadlines,
            decision: row.decision.as_deref(),
        };
        let report = hhs::report(entity, facts, incident.hhs);
        let json = serde_json::to_string_pretty(&report).map_err(|e| Error::Internal(anyhow::Error::new(e)))?;
        let txn = self.db.begin().await?;
        let mut entry = permit.entry(Action::IncidentExport, TABLE, Some(id.to_string()));
        entry.rule = Some(format!("{}:hhs-report", permit.decision.rule));
        self.audit.append(&txn, &permit.ctx, entry).await?;
        txn.commit().await?;
        Ok(json)
    }
}
