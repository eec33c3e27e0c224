//! The clinic server process: configuration, telemetry, HTTP startup and middleware, and the
//! operator's command line.

pub mod alerting;
pub mod checkpoints;
pub mod cli;
pub mod config;
pub mod health;
pub mod incident_files;
pub mod keys;
pub mod middleware;
pub mod serve;
pub mod signaling;
pub mod startup;
pub mod telemetry;
pub mod tls;
