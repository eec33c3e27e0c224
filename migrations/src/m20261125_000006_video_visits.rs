//! Video visits: the waiting room's state for each video appointment, and the signaling
//! messages (SDP offers and answers, ICE candidates, room events) that pass between the
//! browsers of one visit.
//!
//! Signals live in a table, not in a process's memory, so two app nodes on one PostgreSQL can
//! carry one visit: a node writes the row and, in the same transaction, NOTIFYs its sequence
//! number (a NOTIFY is limited to 8,000 bytes and vanishes with a rolled-back transaction,
//! so the payload never travels in it). A browser that reconnects re-reads what it missed by
//! sequence number. The payload is sealed: SDP carries network addresses.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE video_session (
        appointment_id uuid PRIMARY KEY REFERENCES appointment (id),
        state text NOT NULL,
        waiting_since timestamptz,
        admitted_at timestamptz,
        admitted_by uuid REFERENCES app_user (id),
        ended_at timestamptz,
        ended_by uuid REFERENCES app_user (id),
        updated_at timestamptz NOT NULL,
        CONSTRAINT video_session_state_check CHECK (state IN ('waiting', 'admitted', 'ended'))
    )"#,
    r#"CREATE TABLE video_signal (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        appointment_id uuid NOT NULL REFERENCES appointment (id),
        sender_id uuid NOT NULL REFERENCES app_user (id),
        connection_id uuid NOT NULL,
        kind text NOT NULL,
        data_key_id uuid NOT NULL REFERENCES data_key (id),
        payload bytea,
        created_at timestamptz NOT NULL
    )"#,
    "CREATE INDEX video_signal_appointment_idx ON video_signal (appointment_id, seq)",
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE video_session (
        appointment_id blob PRIMARY KEY NOT NULL REFERENCES appointment (id),
        state text NOT NULL,
        waiting_since text,
        admitted_at text,
        admitted_by blob REFERENCES app_user (id),
        ended_at text,
        ended_by blob REFERENCES app_user (id),
        updated_at text NOT NULL,
        CONSTRAINT video_session_state_check CHECK (state IN ('waiting', 'admitted', 'ended'))
    )"#,
    r#"CREATE TABLE video_signal (
        seq integer PRIMARY KEY AUTOINCREMENT,
        id blob NOT NULL UNIQUE,
        appointment_id blob NOT NULL REFERENCES appointment (id),
        sender_id blob NOT NULL REFERENCES app_user (id),
        connection_id blob NOT NULL,
        kind text NOT NULL,
        data_key_id blob NOT NULL REFERENCES data_key (id),
        payload blob,
        created_at text NOT NULL
    )"#,
    "CREATE INDEX video_signal_appointment_idx ON video_signal (appointment_id, seq)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
