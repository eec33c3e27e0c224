//! Schema migrations. They describe the database as it was at each step and never import the
//! application's entities, so an old migration keeps meaning what it meant when it shipped.
//!
//! DDL is written per backend where the two differ in ways that matter for security: the
//! append-only triggers on the audit tables are the database's own refusal to rewrite history,
//! and they only exist as backend-specific SQL.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_keys_and_patients;
mod m20261124_000002_audit_log;
mod m20261124_000003_identity;
mod m20261124_000004_care_and_records;
mod m20261124_000005_scheduling;
mod m20261125_000006_video_visits;
mod m20261125_000007_messaging;
mod m20261201_000008_account_requests;
mod m20261201_000009_visit_delegates_and_task_leases;
mod m20261201_000010_anonymous_budget;
mod m20261201_000011_audit_key_versions;
mod m20261201_000012_security_monitoring;
mod m20261201_000013_alert_acknowledged;
mod m20261201_000014_incidents;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_keys_and_patients::Migration),
            Box::new(m20261124_000002_audit_log::Migration),
            Box::new(m20261124_000003_identity::Migration),
            Box::new(m20261124_000004_care_and_records::Migration),
            Box::new(m20261124_000005_scheduling::Migration),
            Box::new(m20261125_000006_video_visits::Migration),
            Box::new(m20261125_000007_messaging::Migration),
            Box::new(m20261201_000008_account_requests::Migration),
            Box::new(m20261201_000009_visit_delegates_and_task_leases::Migration),
            Box::new(m20261201_000010_anonymous_budget::Migration),
            Box::new(m20261201_000011_audit_key_versions::Migration),
            Box::new(m20261201_000012_security_monitoring::Migration),
            Box::new(m20261201_000013_alert_acknowledged::Migration),
            Box::new(m20261201_000014_incidents::Migration),
        ]
    }
}

/// Runs the script written for the connected backend, statement by statement.
pub(crate) async fn run_for_backend(
    manager: &SchemaManager<'_>,
    postgres: &[&str],
    sqlite: &[&str],
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::DbBackend;
    let statements = match manager.get_database_backend() {
        DbBackend::Postgres => postgres,
        DbBackend::Sqlite => sqlite,
        other => return Err(DbErr::Migration(format!("unsupported database backend {other:?}"))),
    };
    let conn = manager.get_connection();
    for statement in statements {
        conn.execute_unprepared(statement).await?;
    }
    Ok(())
}
