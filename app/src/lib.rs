//! The full-stack application: pages (`ui`), typed server functions (`api`) and, on the server
//! only, the domain (`domain`): entities, repositories, crypto, audit and access policy.
#![recursion_limit = "256"]

pub mod api;
pub mod breach;
pub mod clinical;
pub mod error;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod domain;

pub use error::AppError;
pub use ui::{App, shell};
