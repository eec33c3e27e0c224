//! SeaORM entities: the rows as stored. None derives `Serialize`; PHI columns are [`Sealed`].
//!
//! [`Sealed`]: crate::domain::crypto::Sealed

pub mod app_user;
pub mod audit_chain;
pub mod audit_event;
pub mod break_glass;
pub mod care_relationship;
pub mod clinical_entry;
pub mod data_key;
pub mod enrollment;
pub mod passkey;
pub mod patient;
pub mod security_alert;
pub mod session;
