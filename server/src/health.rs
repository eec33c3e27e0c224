//! `/healthz`: the process answers. `/readyz`: the database answers, its schema is current and
//! the keys are loaded, and the audit chainer has not failed for longer than
//! `audit.chainer_failure_grace_seconds`; a load balancer sends traffic only when this says ready.

use app::domain::health;
use app::domain::state::Services;
use axum::Json;
use axum::extract::State;
use http::StatusCode;
use serde::Serialize;

#[derive(Serialize)]
pub struct ReadyBody {
    status: &'static str,
    database: bool,
    migrations_current: bool,
    keys_loaded: bool,
    audit_chainer: bool,
    /// Shutting down: the load balancer should send nothing new here.
    draining: bool,
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(services): State<Services>) -> (StatusCode, Json<ReadyBody>) {
    let readiness = health::check(&services).await;
    let code = if readiness.ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = ReadyBody {
        status: if readiness.ready() {
            "ready"
        } else if readiness.draining {
            "draining"
        } else {
            "not ready"
        },
        database: readiness.database,
        migrations_current: readiness.migrations_current,
        keys_loaded: readiness.keys_loaded,
        audit_chainer: readiness.audit_chainer,
        draining: readiness.draining,
    };
    (code, Json(body))
}
