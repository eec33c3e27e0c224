//! HTTP and process tests: the real server on a random port, the real binary for CLI paths.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod accounts;
mod auth;
mod cli;
mod headers;
mod health;
mod helpers;
mod logs;
mod matrix;
mod messages;
mod pages;
mod records;
mod schedule;
mod sessions;
mod video;
