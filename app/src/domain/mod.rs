//! Server-only domain: everything that touches the database, keys or PHI. Compiled only with
//! the `ssr` feature so that none of it can reach the WASM bundle.

pub mod access;
pub mod access_history;
pub mod accounts;
pub mod anonymous;
pub mod audit;
pub mod break_glass;
pub mod care;
pub mod client_address;
pub mod clock;
pub mod crypto;
pub mod db;
pub mod entities;
pub mod health;
pub mod ids;
pub mod incidents;
pub mod jobs;
pub mod lease;
pub mod lifecycle;
pub mod messaging;
pub mod monitoring;
pub mod notices;
pub mod passkeys;
pub mod patients;
pub mod records;
pub mod scheduling;
pub mod seed;
pub mod seed_clinic;
pub mod sessions;
pub mod state;
pub mod syslog;
pub mod telemedicine;
#[cfg(feature = "test-support")]
pub mod test_support;
pub mod throttle;
pub mod users;

pub use error::Error;

mod error;

/// The Content-Security-Policy nonce minted for one response, put in the request's extensions
/// by the server's security-headers middleware and stamped on the hydration script.
#[derive(Clone, Debug)]
pub struct CspNonce(pub String);
