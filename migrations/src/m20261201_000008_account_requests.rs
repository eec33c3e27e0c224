//! Separation of duties for accounts: the invitee's email address (sealed under the account's
//! data key, like its display name), so that an enrollment link goes to the person invited and
//! never back to whoever invited them; and account requests, the pending changes that wait for a
//! second person under the two-person rule (or, with the rule off, the changes that took effect
//! and wait for the security officer's review).

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "ALTER TABLE app_user ADD COLUMN email bytea",
    r#"CREATE TABLE account_request (
        id uuid PRIMARY KEY,
        kind text NOT NULL,
        user_id uuid NOT NULL REFERENCES app_user (id),
        target_role text NOT NULL,
        status text NOT NULL,
        requested_by uuid REFERENCES app_user (id),
        requested_at timestamptz NOT NULL,
        decided_by uuid REFERENCES app_user (id),
        decided_at timestamptz,
        CONSTRAINT account_request_kind_check CHECK (kind IN ('invite', 'enable', 'reenroll')),
        CONSTRAINT account_request_status_check
            CHECK (status IN ('pending', 'approved', 'refused', 'applied', 'reviewed'))
    )"#,
    "CREATE INDEX account_request_status_idx ON account_request (status, requested_at)",
    "CREATE UNIQUE INDEX account_request_one_pending ON account_request (user_id) WHERE status = 'pending'",
];

const SQLITE: &[&str] = &[
    "ALTER TABLE app_user ADD COLUMN email blob",
    r#"CREATE TABLE account_request (
        id blob PRIMARY KEY NOT NULL,
        kind text NOT NULL,
        user_id blob NOT NULL REFERENCES app_user (id),
        target_role text NOT NULL,
        status text NOT NULL,
        requested_by blob REFERENCES app_user (id),
        requested_at text NOT NULL,
        decided_by blob REFERENCES app_user (id),
        decided_at text,
        CONSTRAINT account_request_kind_check CHECK (kind IN ('invite', 'enable', 'reenroll')),
        CONSTRAINT account_request_status_check
            CHECK (status IN ('pending', 'approved', 'refused', 'applied', 'reviewed'))
    )"#,
    "CREATE INDEX account_request_status_idx ON account_request (status, requested_at)",
    "CREATE UNIQUE INDEX account_request_one_pending ON account_request (user_id) WHERE status = 'pending'",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = ["DROP TABLE account_request", "ALTER TABLE app_user DROP COLUMN email"];
        run_for_backend(manager, &drop, &drop).await
    }
}
