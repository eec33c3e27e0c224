//! Readiness: the database answers, its schema is current, keys are loaded, and the audit
//! chainer has not been failing for longer than its grace period; and the node is not shutting down.

use sea_orm::ConnectionTrait;

use super::db;
use super::state::Services;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub database: bool,
    pub migrations_current: bool,
    pub keys_loaded: bool,
    pub audit_chainer: bool,
    /// Shutting down: not ready, whatever else holds.
    pub draining: bool,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        !self.draining && self.database && self.migrations_current && self.keys_loaded && self.audit_chainer
    }
}

pub async fn check(services: &Services) -> Readiness {
    if services.lifecycle.is_draining() {
        // Said at once, without asking the database: the balancer should look elsewhere now.
        return Readiness {
            database: false,
            migrations_current: false,
            keys_loaded: false,
            audit_chainer: false,
            draining: true,
        };
    }
    let database = services.db.execute_unprepared("SELECT 1").await.is_ok();
    let migrations_current = database && matches!(db::migrations_current(&services.db).await, Ok(true));
    // The provider exists only once key material parsed; a wrap round trip proves it works.
    let provider = services.keys.provider();
    let probe = super::crypto::KeyBytes::random();
    let id = uuid::Uuid::nil();
    let keys_loaded = provider
        .wrap(id, &probe)
        .and_then(|wrapped| provider.unwrap(id, &wrapped))
        .map(|back| back.expose() == probe.expose())
        .unwrap_or(false);
    let audit_chainer = services.chainer.is_healthy();
    Readiness { database, migrations_current, keys_loaded, audit_chainer, draining: false }
}
