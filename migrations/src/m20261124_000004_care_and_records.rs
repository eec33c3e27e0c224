//! Care relationships (assignment, care team, patient consent), break-glass declarations with
//! their review, security alerts, and the clinical record.
//!
//! A clinical entry's content (problem, medication, vital sign, note, ...) is one sealed value
//! bound to its row; only its kind, its release flag and the audit columns are in clear.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE care_relationship (
        id uuid PRIMARY KEY,
        patient_id uuid NOT NULL REFERENCES patient (id),
        clinician_id uuid NOT NULL REFERENCES app_user (id),
        kind text NOT NULL,
        created_at timestamptz NOT NULL,
        created_by uuid,
        ended_at timestamptz,
        ended_by uuid,
        CONSTRAINT care_relationship_kind_check CHECK (kind IN ('assignment', 'care_team', 'consent'))
    )"#,
    "CREATE UNIQUE INDEX care_relationship_active_unique ON care_relationship (patient_id, clinician_id, kind) \
     WHERE ended_at IS NULL",
    "CREATE INDEX care_relationship_clinician_idx ON care_relationship (clinician_id) WHERE ended_at IS NULL",
    r#"CREATE TABLE break_glass (
        id uuid PRIMARY KEY,
        patient_id uuid NOT NULL REFERENCES patient (id),
        clinician_id uuid NOT NULL REFERENCES app_user (id),
        data_key_id uuid NOT NULL REFERENCES data_key (id),
        reason bytea NOT NULL,
        declared_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        review_status text NOT NULL,
        reviewed_by uuid,
        reviewed_at timestamptz,
        review_note bytea,
        CONSTRAINT break_glass_review_check CHECK (review_status IN ('pending', 'justified', 'unjustified'))
    )"#,
    "CREATE INDEX break_glass_access_idx ON break_glass (clinician_id, patient_id, expires_at)",
    "CREATE INDEX break_glass_review_idx ON break_glass (review_status, declared_at)",
    r#"CREATE TABLE security_alert (
        id uuid PRIMARY KEY,
        kind text NOT NULL,
        user_id uuid,
        patient_id uuid,
        subject_id uuid,
        created_at timestamptz NOT NULL,
        status text NOT NULL,
        closed_by uuid,
        closed_at timestamptz,
        CONSTRAINT security_alert_status_check CHECK (status IN ('open', 'closed'))
    )"#,
    "CREATE INDEX security_alert_open_idx ON security_alert (status, created_at)",
    r#"CREATE TABLE clinical_entry (
        id uuid PRIMARY KEY,
        patient_id uuid NOT NULL REFERENCES patient (id),
        data_key_id uuid NOT NULL REFERENCES data_key (id),
        kind text NOT NULL,
        body bytea NOT NULL,
        released boolean NOT NULL,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        created_by uuid,
        updated_at timestamptz NOT NULL,
        updated_by uuid,
        deleted_at timestamptz,
        deleted_by uuid,
        CONSTRAINT clinical_entry_kind_check CHECK (kind IN
            ('encounter', 'problem', 'medication', 'allergy', 'vital', 'note', 'result'))
    )"#,
    "CREATE INDEX clinical_entry_patient_idx ON clinical_entry (patient_id, kind) WHERE deleted_at IS NULL",
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE care_relationship (
        id blob PRIMARY KEY NOT NULL,
        patient_id blob NOT NULL REFERENCES patient (id),
        clinician_id blob NOT NULL REFERENCES app_user (id),
        kind text NOT NULL,
        created_at text NOT NULL,
        created_by blob,
        ended_at text,
        ended_by blob,
        CONSTRAINT care_relationship_kind_check CHECK (kind IN ('assignment', 'care_team', 'consent'))
    )"#,
    "CREATE UNIQUE INDEX care_relationship_active_unique ON care_relationship (patient_id, clinician_id, kind) \
     WHERE ended_at IS NULL",
    "CREATE INDEX care_relationship_clinician_idx ON care_relationship (clinician_id) WHERE ended_at IS NULL",
    r#"CREATE TABLE break_glass (
        id blob PRIMARY KEY NOT NULL,
        patient_id blob NOT NULL REFERENCES patient (id),
        clinician_id blob NOT NULL REFERENCES app_user (id),
        data_key_id blob NOT NULL REFERENCES data_key (id),
        reason blob NOT NULL,
        declared_at text NOT NULL,
        expires_at text NOT NULL,
        review_status text NOT NULL,
        reviewed_by blob,
        reviewed_at text,
        review_note blob,
        CONSTRAINT break_glass_review_check CHECK (review_status IN ('pending', 'justified', 'unjustified'))
    )"#,
    "CREATE INDEX break_glass_access_idx ON break_glass (clinician_id, patient_id, expires_at)",
    "CREATE INDEX break_glass_review_idx ON break_glass (review_status, declared_at)",
    r#"CREATE TABLE security_alert (
        id blob PRIMARY KEY NOT NULL,
        kind text NOT NULL,
        user_id blob,
        patient_id blob,
        subject_id blob,
        created_at text NOT NULL,
        status text NOT NULL,
        closed_by blob,
        closed_at text,
        CONSTRAINT security_alert_status_check CHECK (status IN ('open', 'closed'))
    )"#,
    "CREATE INDEX security_alert_open_idx ON security_alert (status, created_at)",
    r#"CREATE TABLE clinical_entry (
        id blob PRIMARY KEY NOT NULL,
        patient_id blob NOT NULL REFERENCES patient (id),
        data_key_id blob NOT NULL REFERENCES data_key (id),
        kind text NOT NULL,
        body blob NOT NULL,
        released boolean NOT NULL,
        version integer NOT NULL,
        created_at text NOT NULL,
        created_by blob,
        updated_at text NOT NULL,
        updated_by blob,
        deleted_at text,
        deleted_by blob,
        CONSTRAINT clinical_entry_kind_check CHECK (kind IN
            ('encounter', 'problem', 'medication', 'allergy', 'vital', 'note', 'result'))
    )"#,
    "CREATE INDEX clinical_entry_patient_idx ON clinical_entry (patient_id, kind) WHERE deleted_at IS NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
