//! The keyed MAC over one audit row's content. The encoding is length-prefixed so that no two
//! different rows can encode to the same bytes. The key is the audit MAC key of the version the
//! row records (`key_version`), so rows made before a rotation keep verifying.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

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
        let mut mac = self.keyed_state(row.key_version)?;
        EventFields::of(row).feed(&mut mac);
        Ok(mac)
    }

    /// The HMAC state keyed for `version`, before any content: `audit verify` clones it per
    /// row instead of deriving the key's pads again each time.
    pub(super) fn keyed_state(&self, version: i32) -> Result<Hmac<Sha256>, CryptoError> {
        let version = u32::try_from(version).map_err(|_| CryptoError::UnknownAuditKey(u32::MAX))?;
        let key = self.provider.audit_key(version, AuditKeyKind::EventMac)?;
        Ok(Hmac::<Sha256>::new_from_slice(key.expose()).expect("HMAC accepts any key length"))
    }
}

/// One row's MACed content, borrowed: from a model, or straight from a streamed database row.
pub(super) struct EventFields<'a> {
    pub id: [u8; 16],
    pub occurred_at_micros: i64,
    pub actor_user_id: Option<[u8; 16]>,
    pub actor_role: &'a str,
    pub patient_id: Option<[u8; 16]>,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<&'a str>,
    pub outcome: &'a str,
    pub rule: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub justification: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

impl<'a> EventFields<'a> {
    fn of(row: &'a audit_event::Model) -> Self {
        Self {
            id: row.id.into_bytes(),
            occurred_at_micros: row.occurred_at.timestamp_micros(),
            actor_user_id: row.actor_user_id.map(Uuid::into_bytes),
            actor_role: &row.actor_role,
            patient_id: row.patient_id.map(Uuid::into_bytes),
            action: &row.action,
            resource_type: &row.resource_type,
            resource_id: row.resource_id.as_deref(),
            outcome: &row.outcome,
            rule: row.rule.as_deref(),
            purpose: row.purpose.as_deref(),
            justification: row.justification.as_deref(),
            ip: row.ip.as_deref(),
            user_agent: row.user_agent.as_deref(),
            request_id: row.request_id.as_deref(),
        }
    }

    /// Length-prefixed, with a distinct marker for an absent value.
    pub(super) fn feed(&self, mac: &mut Hmac<Sha256>) {
        let mut field = |value: Option<&[u8]>| match value {
            Some(bytes) => {
                mac.update(&(bytes.len() as u64).to_be_bytes());
                mac.update(bytes);
            }
            None => mac.update(&u64::MAX.to_be_bytes()),
        };
        field(Some(b"audit_event/v1"));
        field(Some(&self.id));
        field(Some(&self.occurred_at_micros.to_be_bytes()));
        field(self.actor_user_id.as_ref().map(<[u8; 16]>::as_slice));
        field(Some(self.actor_role.as_bytes()));
        field(self.patient_id.as_ref().map(<[u8; 16]>::as_slice));
        field(Some(self.action.as_bytes()));
        field(Some(self.resource_type.as_bytes()));
        field(self.resource_id.map(str::as_bytes));
        field(Some(self.outcome.as_bytes()));
        field(self.rule.map(str::as_bytes));
        field(self.purpose.map(str::as_bytes));
        field(self.justification.map(str::as_bytes));
        field(self.ip.map(str::as_bytes));
        field(self.user_agent.map(str::as_bytes));
        field(self.request_id.map(str::as_bytes));
    }
}
