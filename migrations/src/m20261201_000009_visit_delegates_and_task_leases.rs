//! A video visit's delegate, and leases for periodic tasks that must run once per cluster.
//!
//! `video_delegate` names the one colleague the appointment's clinician hands a video visit to
//! (ids and times only). `task_lease` holds one row per periodic task (the expired-session
//! sweep): a node runs the task only while it holds the row's unexpired lease, so several nodes
//! on one PostgreSQL run it once per period between them.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE video_delegate (
        appointment_id uuid PRIMARY KEY REFERENCES appointment (id),
        delegate_id uuid NOT NULL REFERENCES app_user (id),
        named_by uuid NOT NULL REFERENCES app_user (id),
        named_at timestamptz NOT NULL
    )"#,
    "CREATE INDEX video_delegate_delegate_idx ON video_delegate (delegate_id)",
    r#"CREATE TABLE task_lease (
        name text PRIMARY KEY,
        holder text,
        locked_until timestamptz,
        last_run_at timestamptz
    )"#,
    "INSERT INTO task_lease (name) VALUES ('session-sweep')",
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE video_delegate (
        appointment_id blob PRIMARY KEY NOT NULL REFERENCES appointment (id),
        delegate_id blob NOT NULL REFERENCES app_user (id),
        named_by blob NOT NULL REFERENCES app_user (id),
        named_at text NOT NULL
    )"#,
    "CREATE INDEX video_delegate_delegate_idx ON video_delegate (delegate_id)",
    r#"CREATE TABLE task_lease (
        name text PRIMARY KEY NOT NULL,
        holder text,
        locked_until text,
        last_run_at text
    )"#,
    "INSERT INTO task_lease (name) VALUES ('session-sweep')",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
