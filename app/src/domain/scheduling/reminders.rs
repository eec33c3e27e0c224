//! Appointment reminders by email, through jobs kept in the database.
//!
//! A job is claimed under a lease (`locked_by`, `locked_until`), so when several nodes share one
//! PostgreSQL only one runs it; a node that dies mid-job leaves a lease that expires and the job
//! runs again. Jobs survive restarts because they are rows. A failed send is retried with
//! backoff and never dropped. Every send is audited before it is attempted (fail closed: no
//! audit row, no email), and the email says only that a visit exists and where to sign in.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait};

use super::{REMINDER_JOB, Status};
use crate::domain::Error;
use crate::domain::audit::{Action, AuditContext, AuditEntry, AuditLog, Outcome};
use crate::domain::clock::Clock;
use crate::domain::crypto::{DataKeys, FieldRef};
use crate::domain::entities::{appointment, job, patient};

pub use crate::domain::jobs::enqueue;

/// Why a send failed, in words that carry no PHI (an SMTP reply can quote the address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailFailure {
    Connection,
    Rejected,
    Transient,
}

impl MailFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            MailFailure::Connection => "smtp-connection",
            MailFailure::Rejected => "smtp-rejected",
            MailFailure::Transient => "smtp-transient",
        }
    }
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailFailure>;
}

/// Where reminders go out from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    /// "none" (a local relay or test sink), "starttls" or "tls".
    pub security: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

/// Sends over SMTP with lettre.
pub struct SmtpMailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl SmtpMailer {
    pub fn new(settings: &SmtpSettings) -> Result<Self, Error> {
        use lettre::transport::smtp::authentication::Credentials;
        type Transport = lettre::AsyncSmtpTransport<lettre::Tokio1Executor>;
        let builder = match settings.security.as_str() {
            "none" => Transport::builder_dangerous(&settings.host),
            "starttls" => {
                Transport::starttls_relay(&settings.host).map_err(|e| Error::Internal(anyhow::Error::new(e)))?
            }
            "tls" => Transport::relay(&settings.host).map_err(|e| Error::Internal(anyhow::Error::new(e)))?,
            _ => return Err(Error::validation("smtp.security", "must be none, starttls or tls")),
        };
        let mut builder = builder.port(settings.port).timeout(Some(std::time::Duration::from_secs(20)));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from = settings.from.parse().map_err(|_| Error::validation("smtp.from", "is not an email address"))?;
        Ok(Self { transport: builder.build(), from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), MailFailure> {
        use lettre::AsyncTransport;
        let to = to.parse().map_err(|_| MailFailure::Rejected)?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|_| MailFailure::Rejected)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(err) if err.is_permanent() => Err(MailFailure::Rejected),
            Err(err) if err.is_transient() => Err(MailFailure::Transient),
            Err(_) => Err(MailFailure::Connection),
        }
    }
}

/// What a reminder says: that a visit exists and where to sign in. No name, no time, no
/// clinician, no reason: an inbox is not a safe place for any of it.
pub fn reminder_text(clinic: &str, sign_in: &str) -> (String, String) {
    let subject = format!("Reminder from {clinic}: you have an upcoming visit");
    let body = format!(
        "Hello,\r\n\r\nThis is a reminder that you have an upcoming visit with {clinic}.\r\n\
         Sign in at {sign_in} to see the date, time and details, or to change it.\r\n\r\n\
         Please do not reply to this email.\r\n"
    );
    (subject, body)
}

pub struct ReminderRunner {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    mailer: Arc<dyn Mailer>,
    /// This node's name in job leases.
    node: String,
    lease: Duration,
    clinic: String,
    sign_in_url: String,
}

impl std::fmt::Debug for ReminderRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReminderRunner").field("node", &self.node).finish_non_exhaustive()
    }
}

impl ReminderRunner {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        mailer: Arc<dyn Mailer>,
        clinic: String,
        sign_in_url: String,
    ) -> Self {
        Self {
            db,
            keys,
            audit,
            clock,
            mailer,
            node: crate::domain::lease::node_name(),
            lease: Duration::minutes(5),
            clinic,
            sign_in_url,
        }
    }

    /// Runs every due reminder once; returns how many were sent.
    pub async fn run_due(&self) -> Result<u64, Error> {
        let mut sent = 0;
        while let Some(job) = self.claim().await? {
            if self.run(&job).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    async fn claim(&self) -> Result<Option<job::Model>, Error> {
        crate::domain::jobs::claim(&self.db, &[REMINDER_JOB], &self.node, self.lease, self.clock.now()).await
    }

    /// Sends one reminder. Returns whether an email went out.
    async fn run(&self, job: &job::Model) -> Result<bool, Error> {
        let now = self.clock.now();
        let row = appointment::Entity::find_by_id(job.subject_id).one(&self.db).await?;
        let Some(row) = row.filter(|a| Status::parse(&a.status) == Some(Status::Confirmed) && a.starts_at > now) else {
            self.finish(job, "done", Some("not-needed")).await?;
            return Ok(false);
        };
        let patient_row = patient::Entity::find_by_id(row.patient_id).one(&self.db).await?.ok_or(Error::NotFound)?;
        let Some(sealed_email) = &patient_row.email else {
            self.finish(job, "done", Some("no-email-on-file")).await?;
            return Ok(false);
        };
        let ctx = AuditContext::system("reminders");
        let entry = |outcome, rule: &str| AuditEntry {
            action: Action::ReminderSend,
            resource_type: "appointment",
            resource_id: Some(row.id.to_string()),
            patient_id: Some(row.patient_id),
            outcome,
            rule: Some(rule.to_owned()),
        };
        // Audited before the email leaves: if this cannot be recorded, nothing is sent.
        self.audit.record(&self.db, &ctx, entry(Outcome::Allowed, "appointment-reminder")).await?;
        let key = self.keys.get(&self.db, patient_row.data_key_id).await?;
        let email = key.open_string(FieldRef::new("patient", "email", patient_row.id), sealed_email)?;
        let (subject, body) = reminder_text(&self.clinic, &self.sign_in_url);
        match self.mailer.send(&email, &subject, &body).await {
            Ok(()) => {
                self.finish(job, "done", None).await?;
                tracing::info!(job_id = %job.id, appointment_id = %row.id, "reminder sent");
                Ok(true)
            }
            Err(failure) => {
                let txn = self.db.begin().await?;
                self.audit.append(&txn, &ctx, entry(Outcome::Error, failure.as_str())).await?;
                let backoff = Duration::minutes(1 << job.attempts.clamp(0, 6));
                job::Entity::update_many()
                    .col_expr(job::Column::RunAt, Expr::value(now + backoff))
                    .col_expr(job::Column::LastError, Expr::value(failure.as_str()))
                    .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
                    .col_expr(job::Column::LockedUntil, Expr::value(Option::<DateTime<Utc>>::None))
                    .filter(job::Column::Id.eq(job.id))
                    .filter(job::Column::LockedBy.eq(self.node.as_str()))
                    .exec(&txn)
                    .await?;
                txn.commit().await?;
                tracing::warn!(job_id = %job.id, failure = failure.as_str(), attempts = job.attempts, "reminder not sent; will retry");
                Ok(false)
            }
        }
    }

    async fn finish(&self, job: &job::Model, status: &str, note: Option<&str>) -> Result<(), Error> {
        job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(status))
            .col_expr(job::Column::LastError, Expr::value(note))
            .col_expr(job::Column::FinishedAt, Expr::value(self.clock.now()))
            .filter(job::Column::Id.eq(job.id))
            .filter(job::Column::LockedBy.eq(self.node.as_str()))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
