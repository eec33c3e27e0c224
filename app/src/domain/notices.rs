//! Security notices to an account's owner by email: a passkey was added to their account. The
//! owner learns of a change they did not make even if whoever made it holds their session.
//!
//! Sent only when mail is configured (`[reminders.smtp]`), to the address on file: a patient
//! account's is the patient's email (sealed; opened for this send only, audited first as the
//! reminders do); a workforce account's is the address its invitation named (sealed). An account
//! with no address on file gets none, which the audit row says. The
//! message names the clinic and the time, never the device name or anything from the chart.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, EntityTrait};

use super::Error;
use super::audit::{Action, AuditContext, AuditEntry, AuditLog, Outcome};
use super::clock::Clock;
use super::crypto::{DataKeys, FieldRef};
use super::entities::{app_user, patient};
use super::scheduling::reminders::Mailer;
use super::users::User;

#[derive(Clone)]
pub struct AccountNotices {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    mailer: Option<Arc<dyn Mailer>>,
    clinic: String,
}

impl std::fmt::Debug for AccountNotices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountNotices").field("mail", &self.mailer.is_some()).finish_non_exhaustive()
    }
}

impl AccountNotices {
    /// Without a mailer: nothing is sent.
    pub fn new(db: DatabaseConnection, keys: Arc<DataKeys>, audit: Arc<AuditLog>, clock: Arc<dyn Clock>) -> Self {
        Self { db, keys, audit, clock, mailer: None, clinic: "the clinic".to_owned() }
    }

    /// Sends notices through `mailer`, signed with the clinic's name.
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>, clinic: &str) -> Self {
        self.mailer = Some(mailer);
        self.clinic = clinic.to_owned();
        self
    }

    /// Tells `user` that a passkey was added to their account. A failed send is audited and
    /// logged, never an error: the passkey is added either way.
    pub async fn passkey_added(&self, ctx: &AuditContext, user: &User) -> Result<(), Error> {
        let Some(mailer) = &self.mailer else { return Ok(()) };
        let row = |outcome, rule: &str| AuditEntry {
            action: Action::PasskeyAdd,
            resource_type: "user",
            resource_id: Some(user.id.to_string()),
            patient_id: None,
            outcome,
            rule: Some(rule.to_owned()),
        };
        let address = match user.patient_id {
            Some(patient_id) => match patient::Entity::find_by_id(patient_id.0).one(&self.db).await? {
                Some(patient_row) => match &patient_row.email {
                    Some(sealed) => {
                        // Audited before the address is opened: no row, no email.
                        self.audit.record(&self.db, ctx, row(Outcome::Allowed, "owner-notice-sent")).await?;
                        let key = self.keys.get(&self.db, patient_row.data_key_id).await?;
                        Some(key.open_string(FieldRef::new("patient", "email", patient_row.id), sealed)?)
                    }
                    None => None,
                },
                None => None,
            },
            // A workforce account's address is the one its invitation named, sealed the same way.
            None => match app_user::Entity::find_by_id(user.id.0).one(&self.db).await? {
                Some(account) => match &account.email {
                    Some(sealed) => {
                        self.audit.record(&self.db, ctx, row(Outcome::Allowed, "owner-notice-sent")).await?;
                        let key = self.keys.get(&self.db, account.data_key_id).await?;
                        Some(key.open_string(FieldRef::new("app_user", "email", account.id), sealed)?)
                    }
                    None => None,
                },
                None => None,
            },
        };
        let Some(address) = address else {
            return self.audit.record(&self.db, ctx, row(Outcome::Allowed, "owner-notice:no-address-on-file")).await;
        };
        let when = self.clock.now().format("%Y-%m-%d %H:%M UTC");
        let subject = format!("A passkey was added to your {} account", self.clinic);
        let body = format!(
            "Hello,\r\n\r\nA new passkey was added to your {} account at {when}. It can now be used to sign \
             in as you.\r\n\r\nIf this was you, there is nothing to do. If it was not, call the clinic \
             now: we will remove it and secure your account.\r\n\r\nPlease do not reply to this email.\r\n",
            self.clinic
        );
        if let Err(failure) = mailer.send(&address, &subject, &body).await {
            tracing::warn!(user_id = %user.id, failure = failure.as_str(), "passkey notice not sent");
            self.audit.record(&self.db, ctx, row(Outcome::Error, failure.as_str())).await?;
        }
        Ok(())
    }
}
