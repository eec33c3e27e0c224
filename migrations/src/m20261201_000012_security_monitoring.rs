//! Security monitoring (45 CFR 164.308(a)(1)(ii)(D), 164.308(a)(6)): alerts raised by detectors
//! over the audit log, the audit rows and patients behind each, notes on them, the detectors'
//! progress, and the blind indexes that let a detector compare a workforce member's surname and
//! address with a patient's without opening either.
//!
//! `security_alert` already holds break-glass alerts; it gains the rule's severity, its window,
//! a key that makes the same finding impossible to raise twice, and the response taken. Ids,
//! counts and times only: an alert never carries a PHI value. Notes are sealed.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "ALTER TABLE security_alert ADD COLUMN severity text NOT NULL DEFAULT 'medium'",
    "ALTER TABLE security_alert ADD COLUMN window_start timestamptz",
    "ALTER TABLE security_alert ADD COLUMN window_end timestamptz",
    "ALTER TABLE security_alert ADD COLUMN observed bigint",
    "ALTER TABLE security_alert ADD COLUMN dedup_key text",
    "ALTER TABLE security_alert ADD COLUMN response text",
    "ALTER TABLE security_alert ADD COLUMN acknowledged_by uuid",
    "ALTER TABLE security_alert ADD COLUMN acknowledged_at timestamptz",
    "ALTER TABLE security_alert ADD COLUMN incident_id uuid",
    "ALTER TABLE security_alert ADD COLUMN fanned_out boolean NOT NULL DEFAULT false",
    "CREATE UNIQUE INDEX security_alert_dedup_idx ON security_alert (dedup_key)",
    "CREATE INDEX security_alert_status_idx ON security_alert (status, created_at)",
    "CREATE INDEX security_alert_user_idx ON security_alert (user_id)",
    "CREATE INDEX security_alert_fan_out_idx ON security_alert (fanned_out)",
    r#"CREATE TABLE security_alert_event (
        alert_id uuid NOT NULL REFERENCES security_alert (id),
        seq bigint NOT NULL,
        CONSTRAINT security_alert_event_pkey PRIMARY KEY (alert_id, seq)
    )"#,
    r#"CREATE TABLE security_alert_patient (
        alert_id uuid NOT NULL REFERENCES security_alert (id),
        patient_id uuid NOT NULL,
        CONSTRAINT security_alert_patient_pkey PRIMARY KEY (alert_id, patient_id)
    )"#,
    r#"CREATE TABLE security_note (
        id uuid PRIMARY KEY,
        alert_id uuid REFERENCES security_alert (id),
        incident_id uuid,
        author_id uuid NOT NULL REFERENCES app_user (id),
        data_key_id uuid NOT NULL REFERENCES data_key (id),
        body bytea NOT NULL,
        created_at timestamptz NOT NULL
    )"#,
    "CREATE INDEX security_note_alert_idx ON security_note (alert_id, created_at)",
    "CREATE INDEX security_note_incident_idx ON security_note (incident_id, created_at)",
    r#"CREATE TABLE monitor_state (
        rule text PRIMARY KEY,
        last_seq bigint NOT NULL DEFAULT 0,
        last_run_at timestamptz
    )"#,
    "INSERT INTO task_lease (name) VALUES ('security-monitor')",
    "INSERT INTO task_lease (name) VALUES ('alert-delivery')",
    "ALTER TABLE patient ADD COLUMN family_name_bidx bytea",
    "ALTER TABLE patient ADD COLUMN address_bidx bytea",
    "CREATE INDEX patient_family_name_bidx_idx ON patient (family_name_bidx)",
    "ALTER TABLE app_user ADD COLUMN family_name_bidx bytea",
    "ALTER TABLE app_user ADD COLUMN address_bidx bytea",
    "ALTER TABLE app_user ADD COLUMN own_patient_id uuid",
    "CREATE INDEX audit_event_actor_time_idx ON audit_event (actor_user_id, occurred_at)",
];

const SQLITE: &[&str] = &[
    "ALTER TABLE security_alert ADD COLUMN severity text NOT NULL DEFAULT 'medium'",
    "ALTER TABLE security_alert ADD COLUMN window_start text",
    "ALTER TABLE security_alert ADD COLUMN window_end text",
    "ALTER TABLE security_alert ADD COLUMN observed bigint",
    "ALTER TABLE security_alert ADD COLUMN dedup_key text",
    "ALTER TABLE security_alert ADD COLUMN response text",
    "ALTER TABLE security_alert ADD COLUMN acknowledged_by blob",
    "ALTER TABLE security_alert ADD COLUMN acknowledged_at text",
    "ALTER TABLE security_alert ADD COLUMN incident_id blob",
    "ALTER TABLE security_alert ADD COLUMN fanned_out boolean NOT NULL DEFAULT false",
    "CREATE UNIQUE INDEX security_alert_dedup_idx ON security_alert (dedup_key)",
    "CREATE INDEX security_alert_status_idx ON security_alert (status, created_at)",
    "CREATE INDEX security_alert_user_idx ON security_alert (user_id)",
    "CREATE INDEX security_alert_fan_out_idx ON security_alert (fanned_out)",
    r#"CREATE TABLE security_alert_event (
        alert_id blob NOT NULL REFERENCES security_alert (id),
        seq bigint NOT NULL,
        CONSTRAINT security_alert_event_pkey PRIMARY KEY (alert_id, seq)
    )"#,
    r#"CREATE TABLE security_alert_patient (
        alert_id blob NOT NULL REFERENCES security_alert (id),
        patient_id blob NOT NULL,
        CONSTRAINT security_alert_patient_pkey PRIMARY KEY (alert_id, patient_id)
    )"#,
    r#"CREATE TABLE security_note (
        id blob PRIMARY KEY NOT NULL,
        alert_id blob REFERENCES security_alert (id),
        incident_id blob,
        author_id blob NOT NULL REFERENCES app_user (id),
        data_key_id blob NOT NULL REFERENCES data_key (id),
        body blob NOT NULL,
        created_at text NOT NULL
    )"#,
    "CREATE INDEX security_note_alert_idx ON security_note (alert_id, created_at)",
    "CREATE INDEX security_note_incident_idx ON security_note (incident_id, created_at)",
    r#"CREATE TABLE monitor_state (
        rule text PRIMARY KEY NOT NULL,
        last_seq bigint NOT NULL DEFAULT 0,
        last_run_at text
    )"#,
    "INSERT INTO task_lease (name) VALUES ('security-monitor')",
    "INSERT INTO task_lease (name) VALUES ('alert-delivery')",
    "ALTER TABLE patient ADD COLUMN family_name_bidx blob",
    "ALTER TABLE patient ADD COLUMN address_bidx blob",
    "CREATE INDEX patient_family_name_bidx_idx ON patient (family_name_bidx)",
    "ALTER TABLE app_user ADD COLUMN family_name_bidx blob",
    "ALTER TABLE app_user ADD COLUMN address_bidx blob",
    "ALTER TABLE app_user ADD COLUMN own_patient_id blob",
    "CREATE INDEX audit_event_actor_time_idx ON audit_event (actor_user_id, occurred_at)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
