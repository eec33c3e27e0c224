//! Secure messaging between a patient and their care team: threads, messages, who has read
//! which message (for unread counts), and attachments.
//!
//! A thread's subject, a message's body, an attachment's file name and its bytes are PHI: each
//! is sealed under the patient's data key, bound to its row and column. Only ids, times, the
//! sender, an attachment's sniffed content type and its size are in clear.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE message_thread (
        id uuid PRIMARY KEY,
        patient_id uuid NOT NULL REFERENCES patient (id),
        data_key_id uuid NOT NULL REFERENCES data_key (id),
        subject bytea NOT NULL,
        created_by uuid NOT NULL REFERENCES app_user (id),
        created_at timestamptz NOT NULL,
        last_message_at timestamptz NOT NULL
    )"#,
    "CREATE INDEX message_thread_patient_idx ON message_thread (patient_id, last_message_at)",
    r#"CREATE TABLE message (
        id uuid PRIMARY KEY,
        thread_id uuid NOT NULL REFERENCES message_thread (id),
        sender_id uuid NOT NULL REFERENCES app_user (id),
        sender_role text NOT NULL,
        body bytea NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT message_sender_role_check CHECK (sender_role IN ('patient', 'clinician'))
    )"#,
    "CREATE INDEX message_thread_idx ON message (thread_id, created_at)",
    r#"CREATE TABLE message_read (
        message_id uuid NOT NULL REFERENCES message (id),
        user_id uuid NOT NULL REFERENCES app_user (id),
        read_at timestamptz NOT NULL,
        CONSTRAINT message_read_pkey PRIMARY KEY (message_id, user_id)
    )"#,
    "CREATE INDEX message_read_user_idx ON message_read (user_id)",
    r#"CREATE TABLE message_attachment (
        id uuid PRIMARY KEY,
        message_id uuid NOT NULL REFERENCES message (id),
        file_name bytea NOT NULL,
        content_type text NOT NULL,
        size_bytes bigint NOT NULL,
        data bytea NOT NULL,
        CONSTRAINT message_attachment_type_check CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
        CONSTRAINT message_attachment_size_check CHECK (size_bytes BETWEEN 1 AND 5242880)
    )"#,
    "CREATE INDEX message_attachment_message_idx ON message_attachment (message_id)",
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE message_thread (
        id blob PRIMARY KEY NOT NULL,
        patient_id blob NOT NULL REFERENCES patient (id),
        data_key_id blob NOT NULL REFERENCES data_key (id),
        subject blob NOT NULL,
        created_by blob NOT NULL REFERENCES app_user (id),
        created_at text NOT NULL,
        last_message_at text NOT NULL
    )"#,
    "CREATE INDEX message_thread_patient_idx ON message_thread (patient_id, last_message_at)",
    r#"CREATE TABLE message (
        id blob PRIMARY KEY NOT NULL,
        thread_id blob NOT NULL REFERENCES message_thread (id),
        sender_id blob NOT NULL REFERENCES app_user (id),
        sender_role text NOT NULL,
        body blob NOT NULL,
        created_at text NOT NULL,
        CONSTRAINT message_sender_role_check CHECK (sender_role IN ('patient', 'clinician'))
    )"#,
    "CREATE INDEX message_thread_idx ON message (thread_id, created_at)",
    r#"CREATE TABLE message_read (
        message_id blob NOT NULL REFERENCES message (id),
        user_id blob NOT NULL REFERENCES app_user (id),
        read_at text NOT NULL,
        CONSTRAINT message_read_pkey PRIMARY KEY (message_id, user_id)
    )"#,
    "CREATE INDEX message_read_user_idx ON message_read (user_id)",
    r#"CREATE TABLE message_attachment (
        id blob PRIMARY KEY NOT NULL,
        message_id blob NOT NULL REFERENCES message (id),
        file_name blob NOT NULL,
        content_type text NOT NULL,
        size_bytes integer NOT NULL,
        data blob NOT NULL,
        CONSTRAINT message_attachment_type_check CHECK (content_type IN ('application/pdf', 'image/png', 'image/jpeg')),
        CONSTRAINT message_attachment_size_check CHECK (size_bytes BETWEEN 1 AND 5242880)
    )"#,
    "CREATE INDEX message_attachment_message_idx ON message_attachment (message_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
