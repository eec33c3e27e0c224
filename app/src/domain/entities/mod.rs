//! SeaORM entities: the rows as stored. None derives `Serialize`; PHI columns are [`Sealed`].
//!
//! [`Sealed`]: crate::domain::crypto::Sealed

pub mod account_request;
pub mod anonymous_budget;
pub mod app_user;
pub mod appointment;
pub mod appointment_slot;
pub mod audit_chain;
pub mod audit_event;
pub mod availability;
pub mod availability_exception;
pub mod break_glass;
pub mod care_relationship;
pub mod clinical_entry;
pub mod data_key;
pub mod enrollment;
pub mod incident;
pub mod incident_patient;
pub mod job;
pub mod message;
pub mod message_attachment;
pub mod message_read;
pub mod message_thread;
pub mod monitor_state;
pub mod passkey;
pub mod patient;
pub mod security_alert;
pub mod security_alert_event;
pub mod security_alert_patient;
pub mod security_note;
pub mod session;
pub mod task_lease;
pub mod video_delegate;
pub mod video_session;
pub mod video_signal;
pub mod visit_type;
