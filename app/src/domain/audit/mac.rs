//! The keyed MAC over one audit row's content. The encoding is length-prefixed so that no two
//! different rows can encode to the same bytes.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::crypto::{KekProvider, KeyBytes};
use crate::domain::entities::audit_event;

pub struct EventMac {
    key: KeyBytes,
}

impl EventMac {
    pub fn new(provider: &dyn KekProvider) -> Self {
        Self { key: provider.derive_secret("audit-mac/v1") }
    }

    /// The MAC of everything in the row except its database-assigned `seq` and the MAC itself.
    pub fn compute(&self, row: &audit_event::Model) -> [u8; 32] {
        self.keyed(row).finalize().into_bytes().into()
    }

    /// Constant-time comparison with the stored MAC (`hmac`'s own `verify_slice`).
    pub fn matches(&self, row: &audit_event::Model) -> bool {
        self.keyed(row).verify_slice(&row.mac).is_ok()
    }

    fn keyed(&self, row: &audit_event::Model) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose()).expect("HMAC accepts any key length");
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
        mac
    }
}
