//! The breach-assessment and HHS-report forms, shared by the browser (the checklists it
//! offers) and the server (which validates against the same lists and seals the answers under
//! the incident's key). See `domain::incidents` for what each answer means in 45 CFR 164.402
//! and 164.408.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The kinds of PHI the checklist offers, with the label a letter uses for each.
pub const PHI_KINDS: &[(&str, &str)] = &[
    ("demographic", "your name, date of birth and sex"),
    ("contact", "your address, telephone number or email address"),
    ("identifiers", "identifiers such as your medical record number or Social Security number"),
    ("clinical", "clinical information such as diagnoses, notes, vital signs or medications"),
    ("messages", "messages between you and your care team"),
    ("appointments", "appointment dates and visit types"),
    ("financial", "billing or insurance information"),
];

/// Whether the PHI was acquired or viewed (factor 3).
pub const ACQUIRED: &[&str] = &["acquired", "viewed", "not-acquired-or-viewed", "unknown"];

/// The answers as saved; any may be missing until the decision.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    /// Factor 1: the kinds of PHI (keys of [`PHI_KINDS`]) ...
    pub phi_kinds: Vec<String>,
    /// ... and the nature and extent, in words.
    pub nature_extent: String,
    /// Factor 2: who used or received it.
    pub unauthorized_person: String,
    /// Factor 3: one of [`ACQUIRED`], with what shows it.
    pub acquired_or_viewed: Option<String>,
    pub acquired_detail: String,
    /// Factor 4: what has been done to mitigate it.
    pub mitigation: String,
    /// Was the PHI involved encrypted at rest (as stored) when it was taken?
    pub encrypted_at_rest: Option<bool>,
    /// Were the encryption keys compromised?
    pub keys_compromised: Option<bool>,
}

pub const BREACH_TYPES: &[&str] = &[
    "Hacking/IT Incident",
    "Improper Disposal",
    "Loss",
    "Theft",
    "Unauthorized Access/Disclosure",
    "Unknown",
    "Other",
];

pub const LOCATIONS: &[&str] = &[
    "Desktop Computer",
    "Electronic Medical Record",
    "Email",
    "Laptop",
    "Network Server",
    "Other Portable Electronic Devices",
    "Paper/Films",
    "Other",
];

pub const SAFEGUARDS: &[&str] = &[
    "None",
    "Privacy Rule Safeguards (Training, Policies and Procedures, etc.)",
    "Security Rule Administrative Safeguards (Risk Analysis, Risk Management, etc.)",
    "Security Rule Physical Safeguards (Facility Access Controls, Workstation Security, etc.)",
    "Security Rule Technical Safeguards (Access Controls, Transmission Security, etc.)",
];

pub const ACTIONS: &[&str] = &[
    "Adopted encryption technologies",
    "Changed password/strengthened password requirements",
    "Created a new/updated Security Rule Risk Analysis",
    "Implemented new technical safeguards",
    "Implemented periodic technical and nontechnical evaluations",
    "Improved physical security",
    "Provided individuals with free credit monitoring",
    "Revised business associate contracts",
    "Revised policies and procedures",
    "Sanctioned workforce members involved (including termination)",
    "Took steps to mitigate harm",
    "Trained or retrained workforce members",
    "Other",
];

/// The officer's answers to the portal's questions that the incident cannot answer itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HhsAnswers {
    pub type_of_breach: Vec<String>,
    pub location_of_breached_information: Vec<String>,
    pub safeguards_in_place_prior_to_breach: Vec<String>,
    pub actions_taken_in_response: Vec<String>,
    /// A short description of the breach, as the portal asks (no patient names).
    pub description: String,
    pub business_associate_involved: bool,
    pub business_associate_name: Option<String>,
    /// When the individual notices went out (or will).
    pub individual_notice_date: Option<NaiveDate>,
    pub substitute_notice_required: bool,
}
