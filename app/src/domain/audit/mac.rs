//! The keyed MAC over one audit row's content. The encoding is length-prefixed so that no two
//! different rows can encode to the same bytes. The key is the audit MAC key of the version the
//! row records (`key_version`), so rows made before a rotation keep verifying.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::crypto::{AuditKeyKind, CryptoError, KekProvider};
use crate::domain::entities::audit_event;

pub struct EventMac {
    provider: Arc<dyn KekProvider>,
}

impl EventMac {
    pub fn new(provider: Arc<dyn KekProvider>) -> Self {
        Self { provider }
    }

    /// The audit key version new rows are made with.
    pub fn active_version(&self) -> i32 {
        i32::try_from(self.provider.audit_active_version()).unwrap_or(i32::MAX)
    }

    /// The MAC of everything in the row except its database-assigned `seq`, the MAC itself and
    /// the key version (which picks the key), under the key of `row.key_version`.
    pub fn compute(&self, row: &audit_event::Model) -> Result<[u8; 32], CryptoError> {
        Ok(self.keyed(row)?.finalize().into_bytes().into())
    }

    /// Constant-time comparison with the stored MAC (`hmac`'s own `verify_slice`). A row naming
    /// a key version that is not loaded does not match.
    pub fn matches(&self, row: &audit_event::Model) -> bool {
        self.keyed(row).is_ok_and(|mac| mac.verify_slice(&row.mac).is_ok())
    }

    fn keyed(&self, row: &audit_event::Model) -> Result<Hmac<Sha256>, CryptoError> {
        let version = u32::try_from(row.key_version).map_err(|_| CryptoError::UnknownAuditKey(u32::MAX))?;
        let key = self.provider.audit_key(version, AuditKeyKind::EventMac)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose()).expect("HMAC accepts any key length");
        let mut field = |value: Option<&[u8]>| match value {
            Some(bytes) => {
                mac.update(&(bytes.len() as u64).to_be_bytes());
                mac.update(bytes);
            }
            None => mac.update(&u64::MAX.to_be_bytes()),
        };
        field(Some(b"audit_event/v1"));
        field(Some(row.id.as_bytes()));
        field(Some(&row.occurred_at.timestamp_micros().to_be_bytes()));
        field(row.actor_user_id.as_ref().map(|id| id.as_bytes().as_slice()));
        field(Some(row.actor_role.as_bytes()));
        field(row.patient_id.as_ref().map(|id| id.as_bytes().as_slice()));
        field(Some(row.action.as_bytes()));
        field(Some(row.resource_type.as_bytes()));
        field(row.resource_id.as_deref().map(str::as_bytes));
        field(Some(row.outcome.as_bytes()));
        field(row.rule.as_deref().map(str::as_bytes));
        field(row.purpose.as_deref().map(str::as_bytes));
        field(row.justification.as_deref().map(str::as_bytes));
        field(row.ip.as_deref().map(str::as_bytes));
        field(row.user_agent.as_deref().map(str::as_bytes));
        field(row.request_id.as_deref().map(str::as_bytes));
        Ok(mac)
    }
}
