//! The breach report to the Secretary (45 CFR 164.408), with the fields of HHS's breach portal
//! (ocrportal.hhs.gov/ocr/breach): the covered entity and its contact, business associate
//! involvement, the breach's start and end dates, the discovery date, the number affected, the
//! type of breach, the location of the breached information, the type of PHI involved, the
//! safeguards in place before the breach, the individual (and substitute, media) notice dates,
//! and the actions taken in response. The officer answers the portal's own checklists; the
//! dates and counts come from the incident.

use chrono::NaiveDate;
use serde::Serialize;

use super::deadlines::Deadlines;
pub use crate::breach::{ACTIONS, BREACH_TYPES, HhsAnswers, LOCATIONS, SAFEGUARDS};
use crate::domain::Error;

impl HhsAnswers {
    pub fn validate(&self) -> Result<(), Error> {
        let lists: [(&str, &Vec<String>, &[&str]); 4] = [
            ("type_of_breach", &self.type_of_breach, BREACH_TYPES),
            ("location_of_breached_information", &self.location_of_breached_information, LOCATIONS),
            ("safeguards_in_place_prior_to_breach", &self.safeguards_in_place_prior_to_breach, SAFEGUARDS),
            ("actions_taken_in_response", &self.actions_taken_in_response, ACTIONS),
        ];
        for (field, chosen, allowed) in lists {
            if chosen.iter().any(|c| !allowed.contains(&c.as_str())) {
                return Err(Error::validation(field, "holds a choice that is not one of the portal's"));
            }
        }
        if self.description.chars().count() > 4000 {
            return Err(Error::validation("description", "must be at most 4000 characters"));
        }
        if self.business_associate_name.as_deref().is_some_and(|n| n.chars().count() > 200) {
            return Err(Error::validation("business_associate_name", "must be at most 200 characters"));
        }
        Ok(())
    }
}

/// Who reports: the covered entity and its contact person, from the settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CoveredEntity {
    pub name: String,
    #[serde(rename = "type")]
    pub entity_type: String,
    pub street_address: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
}

/// The report as exported: one JSON object, every portal field present (null when unknown).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HhsReport {
    pub report_type: &'static str,
    pub incident_id: String,
    pub covered_entity: CoveredEntity,
    pub business_associate_involved: bool,
    pub business_associate_name: Option<String>,
    pub breach_start_date: Option<NaiveDate>,
    pub breach_end_date: Option<NaiveDate>,
    pub discovery_date: NaiveDate,
    pub number_of_individuals_affected: usize,
    pub type_of_breach: Vec<String>,
    pub location_of_breached_information: Vec<String>,
    /// Clinical, Demographic, Financial, Other: from the assessment's checklist.
    pub type_of_phi_involved: Vec<&'static str>,
    pub safeguards_in_place_prior_to_breach: Vec<String>,
    pub individual_notice_date: Option<NaiveDate>,
    pub individual_notice_deadline: NaiveDate,
    pub substitute_notice_required: bool,
    pub media_notice_required: bool,
    pub media_notice_states: Vec<String>,
    pub hhs_deadline: NaiveDate,
    pub description: String,
    pub actions_taken_in_response: Vec<String>,
    pub risk_assessment_decision: Option<String>,
}

/// The portal's PHI categories for the assessment's kinds.
pub fn portal_phi_types(kinds: &[String]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for kind in kinds {
        let category = match kind.as_str() {
            "demographic" | "contact" | "identifiers" => "Demographic",
            "clinical" | "appointments" => "Clinical",
            "financial" => "Financial",
            _ => "Other",
        };
        if !out.contains(&category) {
            out.push(category);
        }
    }
    out.sort_unstable();
    out
}

pub struct Facts<'a> {
    pub incident_id: uuid::Uuid,
    pub window: (Option<NaiveDate>, Option<NaiveDate>),
    pub discovered: NaiveDate,
    pub affected: usize,
    pub phi_kinds: &'a [String],
    pub deadlines: &'a Deadlines,
    pub decision: Option<&'a str>,
}

pub fn report(entity: CoveredEntity, facts: Facts<'_>, answers: HhsAnswers) -> HhsReport {
    HhsReport {
        report_type: "HHS OCR breach of unsecured protected health information (45 CFR 164.408)",
        incident_id: facts.incident_id.to_string(),
        covered_entity: entity,
        business_associate_involved: answers.business_associate_involved,
        business_associate_name: answers.business_associate_name.filter(|_| answers.business_associate_involved),
        breach_start_date: facts.window.0,
        breach_end_date: facts.window.1,
        discovery_date: facts.discovered,
        number_of_individuals_affected: facts.affected,
        type_of_breach: answers.type_of_breach,
        location_of_breached_information: answers.location_of_breached_information,
        type_of_phi_involved: portal_phi_types(facts.phi_kinds),
        safeguards_in_place_prior_to_breach: answers.safeguards_in_place_prior_to_breach,
        individual_notice_date: answers.individual_notice_date,
        individual_notice_deadline: facts.deadlines.individuals,
        substitute_notice_required: answers.substitute_notice_required,
        media_notice_required: !facts.deadlines.media.is_empty(),
        media_notice_states: facts.deadlines.media.iter().map(|(state, _, _)| state.clone()).collect(),
        hhs_deadline: facts.deadlines.hhs,
        description: answers.description,
        actions_taken_in_response: answers.actions_taken_in_response,
        risk_assessment_decision: facts.decision.map(str::to_owned),
    }
}
