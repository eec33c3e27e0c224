//! Audit keys of their own, versioned: each audit row and each chain link records the version
//! of the key it was made with, so rows made before `server keys rotate-audit` still verify.
//! Rows written before this migration were made with the keys derived from the HMAC root,
//! which the key file calls version 0. Adding a column fires no UPDATE trigger.

use sea_orm_migration::prelude::*;

use crate::run_for_backend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BOTH: &[&str] = &[
    "ALTER TABLE audit_event ADD COLUMN key_version integer NOT NULL DEFAULT 0",
    "ALTER TABLE audit_chain ADD COLUMN key_version integer NOT NULL DEFAULT 0",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run_for_backend(manager, BOTH, BOTH).await
    }
}
