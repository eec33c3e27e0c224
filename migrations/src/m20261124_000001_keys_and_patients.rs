//! Wrapped data keys (one per patient) and the patient table, whose PHI columns hold only
//! sealed bytes and keyed blind indexes.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE data_key (
        id uuid PRIMARY KEY,
        subject_id uuid NOT NULL,
        kek_id text NOT NULL,
        kek_version integer NOT NULL,
        wrapped bytea,
        created_at timestamptz NOT NULL,
        rewrapped_at timestamptz,
        destroyed_at timestamptz,
        CONSTRAINT data_key_subject_unique UNIQUE (subject_id),
        CONSTRAINT data_key_wrapped_or_destroyed CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
    )"#,
    "CREATE INDEX data_key_kek_version_idx ON data_key (kek_id, kek_version)",
    r#"CREATE TABLE patient (
        id uuid PRIMARY KEY,
        data_key_id uuid NOT NULL REFERENCES data_key (id),
        given_name bytea NOT NULL,
        family_name bytea NOT NULL,
        birth_date bytea NOT NULL,
        sex bytea NOT NULL,
        ssn bytea,
        mrn bytea NOT NULL,
        phone bytea,
        email bytea,
        address bytea,
        name_bidx bytea NOT NULL,
        birth_date_bidx bytea NOT NULL,
        mrn_bidx bytea NOT NULL,
        phone_bidx bytea,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL,
        created_by uuid,
        updated_at timestamptz NOT NULL,
        updated_by uuid,
        deleted_at timestamptz,
        deleted_by uuid
    )"#,
    "CREATE UNIQUE INDEX patient_mrn_bidx_unique ON patient (mrn_bidx) WHERE deleted_at IS NULL",
    "CREATE INDEX patient_name_bidx_idx ON patient (name_bidx)",
    "CREATE INDEX patient_birth_date_bidx_idx ON patient (birth_date_bidx)",
    "CREATE INDEX patient_phone_bidx_idx ON patient (phone_bidx)",
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE data_key (
        id blob PRIMARY KEY NOT NULL,
        subject_id blob NOT NULL,
        kek_id text NOT NULL,
        kek_version integer NOT NULL,
        wrapped blob,
        created_at text NOT NULL,
        rewrapped_at text,
        destroyed_at text,
        CONSTRAINT data_key_subject_unique UNIQUE (subject_id),
        CONSTRAINT data_key_wrapped_or_destroyed CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
    )"#,
    "CREATE INDEX data_key_kek_version_idx ON data_key (kek_id, kek_version)",
    r#"CREATE TABLE patient (
        id blob PRIMARY KEY NOT NULL,
        data_key_id blob NOT NULL REFERENCES data_key (id),
        given_name blob NOT NULL,
        family_name blob NOT NULL,
        birth_date blob NOT NULL,
        sex blob NOT NULL,
        ssn blob,
        mrn blob NOT NULL,
        phone blob,
        email blob,
        address blob,
        name_bidx blob NOT NULL,
        birth_date_bidx blob NOT NULL,
        mrn_bidx blob NOT NULL,
        phone_bidx blob,
        version integer NOT NULL DEFAULT 1,
        created_at text NOT NULL,
        created_by blob,
        updated_at text NOT NULL,
        updated_by blob,
        deleted_at text,
        deleted_by blob
    )"#,
    "CREATE UNIQUE INDEX patient_mrn_bidx_unique ON patient (mrn_bidx) WHERE deleted_at IS NULL",
    "CREATE INDEX patient_name_bidx_idx ON patient (name_bidx)",
    "CREATE INDEX patient_birth_date_bidx_idx ON patient (birth_date_bidx)",
    "CREATE INDEX patient_phone_bidx_idx ON patient (phone_bidx)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
