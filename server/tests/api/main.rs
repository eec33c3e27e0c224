//! HTTP and process tests: the real server on a random port, the real binary for CLI paths.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod accounts;
mod alert_delivery;
mod alerts;
mod anonymous;
mod assets;
mod audit_trail;
mod auth;
mod bad_input;
mod cli;
mod client_address;
mod concurrent_start;
mod headers;
mod health;
mod helpers;
mod incidents;
mod lockout;
mod logs;
mod matrix;
mod messages;
mod monitor_task;
mod monitoring_response;
mod monitoring_sign_in;
mod pages;
mod records;
mod schedule;
mod session_end;
mod sessions;
mod shutdown;
mod soft_passkey;
mod tls;
mod video;
mod workforce_identity;
