//! Per-address budget of anonymous calls: how many calls one address made in one window, by
//! bucket, so that the audit log keeps the first calls of each window in full and one summary
//! row for the rest, and sign-in challenges (session rows) are bounded per address. A table
//! and not memory, so the budget holds across every node of a cluster.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE anonymous_budget (
        address text NOT NULL,
        bucket text NOT NULL,
        window_start bigint NOT NULL,
        calls bigint NOT NULL,
        summarized boolean NOT NULL DEFAULT false,
        CONSTRAINT anonymous_budget_pkey PRIMARY KEY (address, bucket, window_start)
    )"#,
    "CREATE INDEX anonymous_budget_open_idx ON anonymous_budget (summarized, window_start)",
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE anonymous_budget (
        address text NOT NULL,
        bucket text NOT NULL,
        window_start bigint NOT NULL,
        calls bigint NOT NULL,
        summarized boolean NOT NULL DEFAULT false,
        CONSTRAINT anonymous_budget_pkey PRIMARY KEY (address, bucket, window_start)
    )"#,
    "CREATE INDEX anonymous_budget_open_idx ON anonymous_budget (summarized, window_start)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
