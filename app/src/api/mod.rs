//! Typed server functions and the DTOs they exchange. Bodies run on the server only; each is a
//! thin adapter: read the request, call one domain service, map to a DTO.

pub mod admin;
pub mod alerts;
pub mod auth;
pub mod care;
pub mod chart;
pub mod codec;
#[cfg(feature = "ssr")]
pub mod context;
pub mod incidents;
pub mod input;
pub mod messages;
pub mod portal;
pub mod schedule;
pub mod security;
pub mod status;
pub mod video;
pub mod workforce;
