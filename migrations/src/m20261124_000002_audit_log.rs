//! The audit log (45 CFR 164.312(b)): one row per access to PHI, allowed, denied or failed.
//!
//! `audit_event` rows are written inside the request's own transaction, each with a keyed MAC
//! over its content. `audit_chain` links them: a background step appends one chain row per
//! event, in order, each with a keyed hash over the previous link, so a changed, deleted or
//! inserted row breaks the chain. Neither key lives in the database. Both tables refuse UPDATE
//! and DELETE (and TRUNCATE on PostgreSQL) through triggers, so even the application's own
//! database role cannot rewrite history without first dropping a trigger as the table owner.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    r#"CREATE TABLE audit_event (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id uuid NOT NULL,
        occurred_at timestamptz NOT NULL,
        actor_user_id uuid,
        actor_role text NOT NULL,
        patient_id uuid,
        action text NOT NULL,
        resource_type text NOT NULL,
        resource_id text,
        outcome text NOT NULL,
        rule text,
        purpose text,
        justification text,
        ip text,
        user_agent text,
        request_id text,
        mac bytea NOT NULL,
        CONSTRAINT audit_event_id_unique UNIQUE (id),
        CONSTRAINT audit_event_outcome_check CHECK (outcome IN ('allowed', 'denied', 'error'))
    )"#,
    "CREATE INDEX audit_event_patient_idx ON audit_event (patient_id, seq)",
    "CREATE INDEX audit_event_actor_idx ON audit_event (actor_user_id, seq)",
    "CREATE INDEX audit_event_occurred_at_idx ON audit_event (occurred_at)",
    r#"CREATE TABLE audit_chain (
        position bigint PRIMARY KEY,
        event_seq bigint NOT NULL,
        link bytea NOT NULL,
        chained_at timestamptz NOT NULL,
        CONSTRAINT audit_chain_event_unique UNIQUE (event_seq)
    )"#,
    r#"CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END
    $$"#,
    r#"CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
        FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"#,
    r#"CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"#,
    r#"CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain
        FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"#,
    r#"CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()"#,
];

const SQLITE: &[&str] = &[
    r#"CREATE TABLE audit_event (
        seq integer PRIMARY KEY AUTOINCREMENT,
        id blob NOT NULL,
        occurred_at text NOT NULL,
        actor_user_id blob,
        actor_role text NOT NULL,
        patient_id blob,
        action text NOT NULL,
        resource_type text NOT NULL,
        resource_id text,
        outcome text NOT NULL,
        rule text,
        purpose text,
        justification text,
        ip text,
        user_agent text,
        request_id text,
        mac blob NOT NULL,
        CONSTRAINT audit_event_id_unique UNIQUE (id),
        CONSTRAINT audit_event_outcome_check CHECK (outcome IN ('allowed', 'denied', 'error'))
    )"#,
    "CREATE INDEX audit_event_patient_idx ON audit_event (patient_id, seq)",
    "CREATE INDEX audit_event_actor_idx ON audit_event (actor_user_id, seq)",
    "CREATE INDEX audit_event_occurred_at_idx ON audit_event (occurred_at)",
    r#"CREATE TABLE audit_chain (
        position integer PRIMARY KEY NOT NULL,
        event_seq integer NOT NULL,
        link blob NOT NULL,
        chained_at text NOT NULL,
        CONSTRAINT audit_chain_event_unique UNIQUE (event_seq)
    )"#,
    r#"CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'audit tables are append-only: UPDATE on audit_event refused'); END"#,
    r#"CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
        BEGIN SELECT RAISE(ABORT, 'audit tables are append-only: DELETE on audit_event refused'); END"#,
    r#"CREATE TRIGGER audit_chain_no_update BEFORE UPDATE ON audit_chain
        BEGIN SELECT RAISE(ABORT, 'audit tables are append-only: UPDATE on audit_chain refused'); END"#,
    r#"CREATE TRIGGER audit_chain_no_delete BEFORE DELETE ON audit_chain
        BEGIN SELECT RAISE(ABORT, 'audit tables are append-only: DELETE on audit_chain refused'); END"#,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, POSTGRES, SQLITE).await
    }
}
