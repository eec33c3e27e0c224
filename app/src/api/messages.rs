//! Secure messaging: the patient's threads with their care team and a clinician's inbox. Thin
//! adapters over `MessageRepo`, which asks the access policy and audits every send, open and
//! download. A patient always writes about their own record: no function here takes a patient
//! id from the browser. Attachments travel base64-encoded in JSON (the server's body limit for
//! these routes allows three files of 5 MiB); what they are is decided from their bytes.

use crate::api::codec::Json;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The most attachments a message may carry, and the most bytes each (5 MiB): checked in the
/// browser for a quick answer, and again by the server, which decides.
pub const MAX_ATTACHMENTS: usize = 3;
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_SUBJECT_CHARS: usize = 120;
pub const MAX_BODY_CHARS: usize = 5000;
/// The largest request body the server accepts for `/api/messages/*`: three files of 5 MiB as
/// base64, plus the text around them.
pub const MAX_REQUEST_BYTES: usize = 21 * 1024 * 1024;

// The browser's limits are the domain's.
#[cfg(feature = "ssr")]
const _: () = {
    use crate::domain::messaging as domain;
    assert!(MAX_ATTACHMENTS == domain::MAX_ATTACHMENTS);
    assert!(MAX_ATTACHMENT_BYTES == domain::MAX_ATTACHMENT_BYTES);
    assert!(MAX_SUBJECT_CHARS == domain::MAX_SUBJECT_CHARS);
    assert!(MAX_BODY_CHARS == domain::MAX_BODY_CHARS);
    assert!(MAX_REQUEST_BYTES > MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES.div_ceil(3) * 4 + 64 * 1024);
};

/// A thread as listed in the portal or a clinician's inbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRow {
    pub id: String,
    pub subject: String,
    /// In a clinician's inbox: whose thread it is.
    pub patient_name: Option<String>,
    pub last_message_at: DateTime<Utc>,
    pub messages: u64,
    /// Messages from others the signed-in reader has not opened.
    pub unread: u64,
}

/// A file as the browser sends it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentUpload {
    pub file_name: String,
    /// The type the browser reports; the server checks it against the bytes.
    pub content_type: String,
    pub data_base64: String,
}

impl std::fmt::Debug for AttachmentUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttachmentUpload({} base64 chars)", self.data_base64.len())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentView {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub id: String,
    /// "You", the clinician's name, or the patient's name.
    pub from: String,
    pub from_you: bool,
    pub from_patient: bool,
    pub body: String,
    pub sent_at: DateTime<Utc>,
    /// New to the reader at this opening.
    pub new: bool,
    pub attachments: Vec<AttachmentView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadView {
    pub id: String,
    pub subject: String,
    pub patient_name: String,
    pub messages: Vec<MessageView>,
}

/// An attachment's bytes for the browser to save.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentDownload {
    pub file_name: String,
    pub content_type: String,
    pub data_base64: String,
}

impl std::fmt::Debug for AttachmentDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttachmentDownload({} base64 chars)", self.data_base64.len())
    }
}

#[cfg(feature = "ssr")]
mod server {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::domain::audit::{Action, AuditContext, Purpose, Role};
    use crate::domain::ids::PatientId;
    use crate::domain::messaging::{NewAttachment, Thread, ThreadSummary};
    use crate::domain::state::Services;
    use crate::domain::users::User;

    /// The signed-in patient's own record. Anyone else is refused (and audited) by the policy.
    pub async fn own_record(action: Action) -> Result<(Services, AuditContext, PatientId), AppError> {
        let (services, user, mut ctx) = crate::api::context::signed_in(action).await?;
        ctx.purpose = Purpose::PatientRequest;
        match user.patient_id {
            Some(patient) => Ok((services, ctx, patient)),
            None => {
                let nobody = PatientId(uuid::Uuid::nil());
                services.guard.check(&ctx, action, "message_thread", Some(nobody)).await?;
                Err(AppError::Forbidden)
            }
        }
    }

    pub fn id(field: &str, value: &str) -> Result<uuid::Uuid, AppError> {
        crate::api::context::parse_id(field, value)
    }

    /// Decodes what the browser sent; a file that is not base64 is a validation error naming
    /// the field, never the file.
    pub fn uploads(files: Vec<AttachmentUpload>) -> Result<Vec<NewAttachment>, AppError> {
        files
            .into_iter()
            .enumerate()
            .map(|(n, file)| {
                let data = STANDARD.decode(file.data_base64.as_bytes()).map_err(|_| {
                    crate::domain::Error::validation(
                        "attachments",
                        &format!("Attachment {}: the file could not be read; please choose it again", n + 1),
                    )
                })?;
                let declared_type = Some(file.content_type).filter(|t| !t.trim().is_empty());
                Ok(NewAttachment { file_name: file.file_name, declared_type, data })
            })
            .collect()
    }

    pub fn row(summary: ThreadSummary, patient_name: Option<String>) -> ThreadRow {
        ThreadRow {
            id: summary.id.to_string(),
            subject: summary.subject,
            patient_name,
            last_message_at: summary.last_message_at,
            messages: summary.messages,
            unread: summary.unread,
        }
    }

    pub async fn view(services: &Services, user: &User, thread: Thread) -> Result<ThreadView, AppError> {
        let clinicians = thread.messages.iter().filter(|m| m.sender_role == Role::Clinician).map(|m| m.sender_id);
        let names = services.users.workforce_names(clinicians).await?;
        let patient_name = thread.patient_name;
        let messages = thread
            .messages
            .into_iter()
            .map(|m| {
                let from_you = m.sender_id == user.id;
                let from_patient = m.sender_role == Role::Patient;
                let from = if from_you {
                    "You".to_owned()
                } else if from_patient {
                    patient_name.clone()
                } else {
                    names.get(&m.sender_id).map_or_else(|| "Your care team".to_owned(), |(_, name)| name.clone())
                };
                MessageView {
                    id: m.id.to_string(),
                    from,
                    from_you,
                    from_patient,
                    body: m.body,
                    sent_at: m.created_at,
                    new: m.was_unread,
                    attachments: m
                        .attachments
                        .into_iter()
                        .map(|a| AttachmentView {
                            id: a.id.to_string(),
                            file_name: a.file_name,
                            content_type: a.content_type.mime().to_owned(),
                            size_bytes: a.size_bytes,
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(ThreadView { id: thread.id.to_string(), subject: thread.subject, patient_name, messages })
    }

    pub fn encode(data: &[u8]) -> String {
        STANDARD.encode(data)
    }
}

/// The signed-in patient's threads with their care team, newest first.
#[server(endpoint = "messages/my_threads", prefix = "/api", input = Json)]
pub async fn my_threads() -> Result<Vec<ThreadRow>, AppError> {
    use crate::domain::audit::Action;
    let (services, ctx, patient) = server::own_record(Action::MessageRead).await?;
    let threads = services.messages.threads_for_patient(&ctx, patient).await?;
    Ok(threads.into_iter().map(|t| server::row(t, None)).collect())
}

/// The patient writes to their care team; returns the new thread's id.
#[server(endpoint = "messages/start_thread", prefix = "/api", input = Json)]
pub async fn start_thread(
    subject: String,
    body: String,
    attachments: Vec<AttachmentUpload>,
) -> Result<String, AppError> {
    use crate::domain::audit::Action;
    let (services, ctx, patient) = server::own_record(Action::MessageSend).await?;
    let files = server::uploads(attachments)?;
    let (thread, _) = services.messages.start_thread(&ctx, patient, &subject, &body, files).await?;
    Ok(thread.to_string())
}

/// A clinician's inbox: the threads of their patients, newest first.
#[server(endpoint = "messages/inbox", prefix = "/api", input = Json)]
pub async fn message_inbox() -> Result<Vec<ThreadRow>, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::MessageInbox).await?;
    let items = services.messages.inbox(&ctx).await?;
    Ok(items.into_iter().map(|item| server::row(item.thread, Some(item.patient_name))).collect())
}

/// Opens a thread (audited, and marks its messages read for the reader).
#[server(endpoint = "messages/open_thread", prefix = "/api", input = Json)]
pub async fn open_thread(thread_id: String) -> Result<ThreadView, AppError> {
    use crate::domain::audit::Action;
    let (services, user, ctx) = super::context::signed_in(Action::MessageRead).await?;
    let thread = services.messages.open_thread(&ctx, server::id("thread_id", &thread_id)?).await?;
    server::view(&services, &user, thread).await
}

/// Answers in a thread; returns the new message's id.
#[server(endpoint = "messages/reply", prefix = "/api", input = Json)]
pub async fn reply(thread_id: String, body: String, attachments: Vec<AttachmentUpload>) -> Result<String, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::MessageSend).await?;
    let thread = server::id("thread_id", &thread_id)?;
    let files = server::uploads(attachments)?;
    Ok(services.messages.reply(&ctx, thread, &body, files).await?.to_string())
}

/// One attachment's bytes (audited), for the browser to save.
#[server(endpoint = "messages/attachment", prefix = "/api", input = Json)]
pub async fn download_attachment(attachment_id: String) -> Result<AttachmentDownload, AppError> {
    use crate::domain::audit::Action;
    let (services, _, ctx) = super::context::signed_in(Action::AttachmentRead).await?;
    let file = services.messages.attachment(&ctx, server::id("attachment_id", &attachment_id)?).await?;
    Ok(AttachmentDownload {
        file_name: file.info.file_name,
        content_type: file.info.content_type.mime().to_owned(),
        data_base64: server::encode(&file.data),
    })
}
