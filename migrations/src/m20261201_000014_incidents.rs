//! Incident response (45 CFR 164.308(a)(6), 164.400-414): an incident record with its own data
//! key, the affected-patient set computed from the audit log, and the lease of the task that
//! raises alerts as breach-notification deadlines come near.
//!
//! The title, the four-factor assessment and the HHS report can describe what happened to whom,
//! so they are sealed under the incident's key. The investigation log lives in `security_note`
//! (its `incident_id` column), sealed under the same key. Alerts point at their incident through
//! `security_alert.incident_id`.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE incident (
        id uuid PRIMARY KEY,
        data_key_id uuid NOT NULL REFERENCES data_key (id),
        title bytea NOT NULL,
        status text NOT NULL DEFAULT 'open',
        opened_by uuid NOT NULL,
        opened_at timestamptz NOT NULL,
        subject_user_id uuid,
        window_start timestamptz,
        window_end timestamptz,
        discovered_at date NOT NULL,
        assessment bytea,
        decision text,
        decided_by uuid,
        decided_at timestamptz,
        hhs_report bytea,
        closed_at timestamptz,
        closed_by uuid,
        CONSTRAINT incident_status_check CHECK (status IN ('open', 'closed')),
        CONSTRAINT incident_decision_check
            CHECK (decision IS NULL OR decision IN ('not-a-breach', 'low-probability', 'breach'))
    )"#,
    "CREATE INDEX incident_status_idx ON incident (status, opened_at)",
    r#"CREATE TABLE incident_patient (
        incident_id uuid NOT NULL REFERENCES incident (id),
        patient_id uuid NOT NULL,
        notified_at timestamptz,
        CONSTRAINT incident_patient_pkey PRIMARY KEY (incident_id, patient_id)
    )"#,
    "CREATE INDEX security_alert_incident_idx ON security_alert (incident_id)",
    "INSERT INTO task_lease (name) VALUES ('breach-deadlines')",
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE incident (
        id blob PRIMARY KEY NOT NULL,
        data_key_id blob NOT NULL REFERENCES data_key (id),
        title blob NOT NULL,
        status text NOT NULL DEFAULT 'open',
        opened_by blob NOT NULL,
        opened_at text NOT NULL,
        subject_user_id blob,
        window_start text,
        window_end text,
        discovered_at text NOT NULL,
        assessment blob,
        decision text,
        decided_by blob,
        decided_at text,
        hhs_report blob,
        closed_at text,
        closed_by blob,
        CONSTRAINT incident_status_check CHECK (status IN ('open', 'closed')),
        CONSTRAINT incident_decision_check
            CHECK (decision IS NULL OR decision IN ('not-a-breach', 'low-probability', 'breach'))
    )"#,
    "CREATE INDEX incident_status_idx ON incident (status, opened_at)",
    r#"CREATE TABLE incident_patient (
        incident_id blob NOT NULL REFERENCES incident (id),
        patient_id blob NOT NULL,
        notified_at text,
        CONSTRAINT incident_patient_pkey PRIMARY KEY (incident_id, patient_id)
    )"#,
    "CREATE INDEX security_alert_incident_idx ON security_alert (incident_id)",
    "INSERT INTO task_lease (name) VALUES ('breach-deadlines')",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
