//! Alerts by email to every active security officer (and any extra addresses configured),
//! through the same lettre `Mailer` as the reminders. The subject and body name the rule, the
//! severity, ids, counts and a link: never a patient's name or any other PHI.

use std::sync::Arc;

use async_trait::async_trait;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{AlertFacts, Channel, Deliver, Failure};
use crate::domain::Error;
use crate::domain::audit::Role;
use crate::domain::crypto::{DataKeys, FieldRef};
use crate::domain::entities::app_user;
use crate::domain::monitoring::Severity;
use crate::domain::scheduling::reminders::Mailer;

pub struct EmailChannel {
    pub db: DatabaseConnection,
    pub keys: Arc<DataKeys>,
    pub mailer: Arc<dyn Mailer>,
    pub min_severity: Severity,
    /// Addresses that always get alerts (a shared security mailbox), besides the officers.
    pub extra_recipients: Vec<String>,
}

impl EmailChannel {
    /// Every active security officer's address (opened with the account's own key, only to
    /// send), then the extra ones, without repeats.
    pub async fn recipients(&self) -> Result<Vec<String>, Error> {
        let officers = app_user::Entity::find()
            .filter(app_user::Column::Role.eq(Role::SecurityOfficer.as_str()))
            .filter(app_user::Column::Status.eq("active"))
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for officer in officers {
            let Some(sealed) = &officer.email else { continue };
            let key = self.keys.get(&self.db, officer.data_key_id).await?;
            out.push(key.open_string(FieldRef::new("app_user", "email", officer.id), sealed)?);
        }
        out.extend(self.extra_recipients.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        out.retain(|address| seen.insert(address.to_lowercase()));
        Ok(out)
    }
}

/// The subject and body of an alert's email.
pub fn alert_text(alert: &AlertFacts) -> (String, String) {
    let subject = format!("Security alert ({}): {}", alert.severity.as_str(), alert.rule);
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    let body = format!(
        "A security alert was raised and waits for review.\r\n\r\n\
         Rule: {rule}\r\n\
         Severity: {severity}\r\n\
         Alert: {id}\r\n\
         Actor (user id): {actor}\r\n\
         Patients concerned: {patients}\r\n\
         Audit rows behind it: {rows}\r\n\
         Measured: {observed}\r\n\
         Window: {start} to {end}\r\n\r\n\
         Review it at:\r\n{link}\r\n\r\n\
         This message carries ids and counts only; sign in to see the rest.\r\n",
        rule = alert.rule,
        severity = alert.severity.as_str(),
        id = alert.id,
        actor = alert.actor.map_or_else(|| "-".to_owned(), |a| a.to_string()),
        patients = alert.patients.len(),
        rows = alert.seqs.len(),
        observed = alert.observed.map_or_else(|| "-".to_owned(), |o| o.to_string()),
        start = time(alert.window_start),
        end = time(alert.window_end),
        link = alert.link,
    );
    (subject, body)
}

#[async_trait]
impl Deliver for EmailChannel {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn min_severity(&self) -> Severity {
        self.min_severity
    }

    async fn deliver(&self, alert: &AlertFacts) -> Result<(), Failure> {
        let recipients = match self.recipients().await {
            Ok(recipients) => recipients,
            Err(err) => {
                tracing::error!(error = ?err, alert_id = %alert.id, "security officers' addresses could not be read");
                return Err(Failure::new("recipients-unreadable"));
            }
        };
        if recipients.is_empty() {
            // Nobody to tell is a failure, retried until an officer has an address.
            return Err(Failure::new("no-recipients"));
        }
        let (subject, body) = alert_text(alert);
        for to in &recipients {
            self.mailer.send(to, &subject, &body).await.map_err(|f| Failure::new(f.as_str()))?;
        }
        Ok(())
    }
}
