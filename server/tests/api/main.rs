//! HTTP and process tests: the real server on a random port, the real binary for CLI paths.

mod cli;
mod headers;
mod health;
mod helpers;
mod logs;
mod pages;
