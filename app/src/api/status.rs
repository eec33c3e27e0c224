//! System status for the home page: is the platform ready to serve? Shows no PHI.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::codec::Json;
use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStatus {
    pub database: bool,
    pub migrations_current: bool,
    pub keys_loaded: bool,
    pub backend: String,
    pub version: String,
}

impl SystemStatus {
    pub fn ready(&self) -> bool {
        self.database && self.migrations_current && self.keys_loaded
    }
}

#[server(endpoint = "system_status", prefix = "/api", input = Json)]
pub async fn get_system_status() -> Result<SystemStatus, AppError> {
    use crate::domain::{db, health, state::AppState};

    let state = use_context::<AppState>().ok_or_else(|| {
        AppError::from(crate::domain::Error::Internal(anyhow::anyhow!("app state missing from context")))
    })?;
    let services = &state.services;
    let readiness = health::check(services).await;
    Ok(SystemStatus {
        database: readiness.database,
        migrations_current: readiness.migrations_current,
        keys_loaded: readiness.keys_loaded,
        backend: db::backend_name(&services.db).to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}
