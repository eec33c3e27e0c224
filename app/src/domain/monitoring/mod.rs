//! Security monitoring (45 CFR 164.308(a)(1)(ii)(D) information system activity review): alerts
//! raised over the audit log, delivered to people and to a SIEM, and the response to them.
//!
//! [`alerts::raise`] is the one way an alert comes into being. It writes the alert, the audit
//! rows and patients behind it, in the caller's transaction, and refuses a finding already
//! raised (its dedup key is unique), so detectors on several nodes, or a detector run again over
//! the same rows, raise each finding once.

pub mod alerts;
pub mod delivery;
pub mod inbox;
pub mod response;
pub mod rules;
pub mod runner;

pub use alerts::{NewAlert, Severity, raise};
pub use runner::{Monitor, RunReport};
