//! Scheduling: visit types (with the clinic's self-scheduling switches), clinicians' weekly hours
//! and exceptions, appointments (the reason for visit sealed), and the jobs table that keeps
//! reminders across restarts and among nodes.
//!
//! Double-booking is refused by the database itself on both backends: an appointment holds one
//! `appointment_slot` row per 15-minute cell it covers, and the primary key on
//! (clinician, cell) lets only one appointment hold a cell, however many requests race.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE visit_type (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        modality text NOT NULL,
        duration_minutes integer NOT NULL,
        self_schedule boolean NOT NULL,
        requires_approval boolean NOT NULL,
        active boolean NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT visit_type_modality_check CHECK (modality IN ('in_person', 'video')),
        CONSTRAINT visit_type_duration_check CHECK (duration_minutes BETWEEN 15 AND 240 AND duration_minutes % 15 = 0)
    )"#,
    r#"CREATE TABLE availability (
        id uuid PRIMARY KEY,
        clinician_id uuid NOT NULL REFERENCES app_user (id),
        weekday integer NOT NULL,
        start_time text NOT NULL,
        end_time text NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT availability_weekday_check CHECK (weekday BETWEEN 0 AND 6)
    )"#,
    "CREATE INDEX availability_clinician_idx ON availability (clinician_id)",
    r#"CREATE TABLE availability_exception (
        id uuid PRIMARY KEY,
        clinician_id uuid REFERENCES app_user (id),
        kind text NOT NULL,
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        created_by uuid,
        CONSTRAINT availability_exception_kind_check CHECK (kind IN ('time_off', 'holiday')),
        CONSTRAINT availability_exception_span_check CHECK (ends_at > starts_at)
    )"#,
    "CREATE INDEX availability_exception_span_idx ON availability_exception (starts_at, ends_at)",
    r#"CREATE TABLE appointment (
        id uuid PRIMARY KEY,
        patient_id uuid NOT NULL REFERENCES patient (id),
        clinician_id uuid NOT NULL REFERENCES app_user (id),
        visit_type_id uuid NOT NULL REFERENCES visit_type (id),
        starts_at timestamptz NOT NULL,
        ends_at timestamptz NOT NULL,
        status text NOT NULL,
        data_key_id uuid NOT NULL REFERENCES data_key (id),
        reason bytea NOT NULL,
        cancel_reason bytea,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        created_by uuid,
        updated_at timestamptz NOT NULL,
        updated_by uuid,
        CONSTRAINT appointment_status_check CHECK (status IN ('requested', 'confirmed', 'cancelled', 'no_show', 'completed')),
        CONSTRAINT appointment_span_check CHECK (ends_at > starts_at)
    )"#,
    "CREATE INDEX appointment_clinician_idx ON appointment (clinician_id, starts_at)",
    "CREATE INDEX appointment_patient_idx ON appointment (patient_id, starts_at)",
    r#"CREATE TABLE appointment_slot (
        clinician_id uuid NOT NULL REFERENCES app_user (id),
        slot_start timestamptz NOT NULL,
        appointment_id uuid NOT NULL REFERENCES appointment (id),
        CONSTRAINT appointment_slot_taken PRIMARY KEY (clinician_id, slot_start)
    )"#,
    "CREATE INDEX appointment_slot_appointment_idx ON appointment_slot (appointment_id)",
    r#"CREATE TABLE job (
        id uuid PRIMARY KEY,
        kind text NOT NULL,
        subject_id uuid NOT NULL,
        run_at timestamptz NOT NULL,
        status text NOT NULL,
        attempts integer NOT NULL,
        last_error text,
        locked_by text,
        locked_until timestamptz,
        created_at timestamptz NOT NULL,
        finished_at timestamptz,
        CONSTRAINT job_status_check CHECK (status IN ('pending', 'done', 'cancelled'))
    )"#,
    "CREATE INDEX job_due_idx ON job (status, run_at)",
    "CREATE INDEX job_subject_idx ON job (subject_id)",
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE visit_type (
        id blob PRIMARY KEY NOT NULL,
        name text NOT NULL,
        modality text NOT NULL,
        duration_minutes integer NOT NULL,
        self_schedule boolean NOT NULL,
        requires_approval boolean NOT NULL,
        active boolean NOT NULL,
        created_at text NOT NULL,
        updated_at text NOT NULL,
        CONSTRAINT visit_type_modality_check CHECK (modality IN ('in_person', 'video')),
        CONSTRAINT visit_type_duration_check CHECK (duration_minutes BETWEEN 15 AND 240 AND duration_minutes % 15 = 0)
    )"#,
    r#"CREATE TABLE availability (
        id blob PRIMARY KEY NOT NULL,
        clinician_id blob NOT NULL REFERENCES app_user (id),
        weekday integer NOT NULL,
        start_time text NOT NULL,
        end_time text NOT NULL,
        created_at text NOT NULL,
        CONSTRAINT availability_weekday_check CHECK (weekday BETWEEN 0 AND 6)
    )"#,
    "CREATE INDEX availability_clinician_idx ON availability (clinician_id)",
    r#"CREATE TABLE availability_exception (
        id blob PRIMARY KEY NOT NULL,
        clinician_id blob REFERENCES app_user (id),
        kind text NOT NULL,
        starts_at text NOT NULL,
        ends_at text NOT NULL,
        created_at text NOT NULL,
        created_by blob,
        CONSTRAINT availability_exception_kind_check CHECK (kind IN ('time_off', 'holiday')),
        CONSTRAINT availability_exception_span_check CHECK (ends_at > starts_at)
    )"#,
    "CREATE INDEX availability_exception_span_idx ON availability_exception (starts_at, ends_at)",
    r#"CREATE TABLE appointment (
        id blob PRIMARY KEY NOT NULL,
        patient_id blob NOT NULL REFERENCES patient (id),
        clinician_id blob NOT NULL REFERENCES app_user (id),
        visit_type_id blob NOT NULL REFERENCES visit_type (id),
        starts_at text NOT NULL,
        ends_at text NOT NULL,
        status text NOT NULL,
        data_key_id blob NOT NULL REFERENCES data_key (id),
        reason blob NOT NULL,
        cancel_reason blob,
        version integer NOT NULL,
        created_at text NOT NULL,
        created_by blob,
        updated_at text NOT NULL,
        updated_by blob,
        CONSTRAINT appointment_status_check CHECK (status IN ('requested', 'confirmed', 'cancelled', 'no_show', 'completed')),
        CONSTRAINT appointment_span_check CHECK (ends_at > starts_at)
    )"#,
    "CREATE INDEX appointment_clinician_idx ON appointment (clinician_id, starts_at)",
    "CREATE INDEX appointment_patient_idx ON appointment (patient_id, starts_at)",
    r#"CREATE TABLE appointment_slot (
        clinician_id blob NOT NULL REFERENCES app_user (id),
        slot_start text NOT NULL,
        appointment_id blob NOT NULL REFERENCES appointment (id),
        CONSTRAINT appointment_slot_taken PRIMARY KEY (clinician_id, slot_start)
    )"#,
    "CREATE INDEX appointment_slot_appointment_idx ON appointment_slot (appointment_id)",
    r#"CREATE TABLE job (
        id blob PRIMARY KEY NOT NULL,
        kind text NOT NULL,
        subject_id blob NOT NULL,
        run_at text NOT NULL,
        status text NOT NULL,
        attempts integer NOT NULL,
        last_error text,
        locked_by text,
        locked_until text,
        created_at text NOT NULL,
        finished_at text,
        CONSTRAINT job_status_check CHECK (status IN ('pending', 'done', 'cancelled'))
    )"#,
    "CREATE INDEX job_due_idx ON job (status, run_at)",
    "CREATE INDEX job_subject_idx ON job (subject_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
