//! SeaORM entities: the rows as stored. None derives `Serialize`; PHI columns are [`Sealed`].
//!
//! [`Sealed`]: crate::domain::crypto::Sealed

pub mod app_user;
pub mod audit_chain;
pub mod audit_event;
pub mod data_key;
pub mod enrollment;
pub mod passkey;
pub mod patient;
pub mod session;
