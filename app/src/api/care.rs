//! The admin's care-relationship management: who is assigned to a patient and who is on the
//! care team. The admin finds the patient by MRN (resolved to an id without opening the record)
//! and never sees the chart.

use crate::api::codec::Json;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::portal::CareLinkView;
use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientCare {
    pub patient_id: String,
    pub links: Vec<CareLinkView>,
}

#[server(endpoint = "care/for_mrn", prefix = "/api", input = Json)]
pub async fn care_for_mrn(mrn: String) -> Result<PatientCare, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::CareList).await?;
    let patient = services
        .patients
        .id_by_mrn(&ctx, mrn.trim())
        .await?
        .ok_or_else(|| crate::domain::Error::validation("mrn", "no patient has this MRN"))?;
    let links = services.care.links(&ctx, patient).await?;
    Ok(PatientCare { patient_id: patient.to_string(), links: super::portal::care_link_views(&services, links).await? })
}

#[server(endpoint = "care/assign", prefix = "/api", input = Json)]
pub async fn assign_care(patient_id: String, clinician_id: String, kind: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    use crate::domain::care::CareKind;
    let (services, _, ctx) = super::context::signed_in(Action::CareAssign).await?;
    let patient = crate::domain::ids::PatientId(super::context::parse_id("patient_id", &patient_id)?);
    let clinician = crate::domain::ids::UserId(super::context::parse_id("clinician_id", &clinician_id)?);
    let kind = match CareKind::parse(&kind) {
        Some(kind @ (CareKind::Assignment | CareKind::CareTeam)) => kind,
        _ => return Err(crate::domain::Error::validation("kind", "choose assignment or care team").into()),
    };
    services.care.start(&ctx, patient, clinician, kind).await?;
    Ok(())
}

#[server(endpoint = "care/end", prefix = "/api", input = Json)]
pub async fn end_care(patient_id: String, link_id: String) -> Result<(), AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::CareEnd).await?;
    let patient = crate::domain::ids::PatientId(super::context::parse_id("patient_id", &patient_id)?);
    let link = super::context::parse_id("link_id", &link_id)?;
    services.care.end(&ctx, patient, link).await?;
    Ok(())
}
