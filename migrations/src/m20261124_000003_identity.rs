//! Identity: users with one role each, their passkeys, single-use enrollment tokens, and
//! server-side sessions (so every app node sees the same sessions).
//!
//! Secrets are stored only as hashes: the enrollment token's and the session id's SHA-256, so a
//! copy of the database yields neither a usable link nor a usable cookie.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE app_user (
        id uuid PRIMARY KEY,
        role text NOT NULL,
        data_key_id uuid NOT NULL REFERENCES data_key (id),
        display_name bytea NOT NULL,
        patient_id uuid REFERENCES patient (id),
        status text NOT NULL,
        created_at timestamptz NOT NULL,
        created_by uuid,
        updated_at timestamptz NOT NULL,
        updated_by uuid,
        CONSTRAINT app_user_role_check CHECK (role IN ('patient', 'clinician', 'admin', 'security_officer')),
        CONSTRAINT app_user_status_check CHECK (status IN ('invited', 'active', 'disabled')),
        CONSTRAINT app_user_patient_link CHECK ((role = 'patient') = (patient_id IS NOT NULL))
    )"#,
    "CREATE UNIQUE INDEX app_user_patient_unique ON app_user (patient_id)",
    r#"CREATE TABLE passkey (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES app_user (id),
        credential_id bytea NOT NULL,
        passkey text NOT NULL,
        name text NOT NULL,
        created_at timestamptz NOT NULL,
        last_used_at timestamptz,
        CONSTRAINT passkey_credential_unique UNIQUE (credential_id)
    )"#,
    "CREATE INDEX passkey_user_idx ON passkey (user_id)",
    r#"CREATE TABLE enrollment (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES app_user (id),
        token_hash bytea NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL,
        created_by uuid,
        CONSTRAINT enrollment_token_unique UNIQUE (token_hash)
    )"#,
    "CREATE INDEX enrollment_user_idx ON enrollment (user_id)",
    r#"CREATE TABLE session (
        id_hash text PRIMARY KEY,
        user_id uuid,
        data text NOT NULL,
        expires_at timestamptz NOT NULL
    )"#,
    "CREATE INDEX session_user_idx ON session (user_id)",
    "CREATE INDEX session_expires_idx ON session (expires_at)",
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE app_user (
        id blob PRIMARY KEY NOT NULL,
        role text NOT NULL,
        data_key_id blob NOT NULL REFERENCES data_key (id),
        display_name blob NOT NULL,
        patient_id blob REFERENCES patient (id),
        status text NOT NULL,
        created_at text NOT NULL,
        created_by blob,
        updated_at text NOT NULL,
        updated_by blob,
        CONSTRAINT app_user_role_check CHECK (role IN ('patient', 'clinician', 'admin', 'security_officer')),
        CONSTRAINT app_user_status_check CHECK (status IN ('invited', 'active', 'disabled')),
        CONSTRAINT app_user_patient_link CHECK ((role = 'patient') = (patient_id IS NOT NULL))
    )"#,
    "CREATE UNIQUE INDEX app_user_patient_unique ON app_user (patient_id)",
    r#"CREATE TABLE passkey (
        id blob PRIMARY KEY NOT NULL,
        user_id blob NOT NULL REFERENCES app_user (id),
        credential_id blob NOT NULL,
        passkey text NOT NULL,
        name text NOT NULL,
        created_at text NOT NULL,
        last_used_at text,
        CONSTRAINT passkey_credential_unique UNIQUE (credential_id)
    )"#,
    "CREATE INDEX passkey_user_idx ON passkey (user_id)",
    r#"CREATE TABLE enrollment (
        id blob PRIMARY KEY NOT NULL,
        user_id blob NOT NULL REFERENCES app_user (id),
        token_hash blob NOT NULL,
        expires_at text NOT NULL,
        used_at text,
        revoked_at text,
        created_at text NOT NULL,
        created_by blob,
        CONSTRAINT enrollment_token_unique UNIQUE (token_hash)
    )"#,
    "CREATE INDEX enrollment_user_idx ON enrollment (user_id)",
    r#"CREATE TABLE session (
        id_hash text PRIMARY KEY NOT NULL,
        user_id blob,
        data text NOT NULL,
        expires_at text NOT NULL
    )"#,
    "CREATE INDEX session_user_idx ON session (user_id)",
    "CREATE INDEX session_expires_idx ON session (expires_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
