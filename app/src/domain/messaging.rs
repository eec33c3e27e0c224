//! `MessageRepo`: secure messaging between a patient and their care team (45 CFR
//! 164.312(a)(1), (b), (e)(1)).
//!
//! A thread belongs to one patient. Its subject, every message body, every attachment's file name
//! and bytes are sealed under that patient's data key, bound to their table, column and row, so
//! the database never holds them in clear. Who may write or read is decided by the one access
//! policy (`message.send`, `message.read`, `message.attachment.read`, `message.inbox`): the
//! patient on their own threads, a clinician only with a live assignment, care-team membership
//! or the patient's consent. An emergency (break-glass) opens the chart, never the messages.
//!
//! Opening a thread writes one audit row naming the patient and marks its messages read for the
//! reader in the same transaction; PHI is opened only after that commits (fail closed).
//! Attachments are limited to PDF, PNG and JPEG, decided from their first bytes rather than the
//! browser's word, at most [`MAX_ATTACHMENTS`] per message of [`MAX_ATTACHMENT_BYTES`] each.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::Error;
use super::access::Guard;
use super::audit::{Action, AuditContext, AuditEntry, AuditLog, Outcome, Role};
use super::clock::Clock;
use super::crypto::{DataKey, DataKeys, FieldRef, Sealed};
use super::entities::{care_relationship, message, message_attachment, message_read, message_thread, patient};
use super::ids::{PatientId, UserId};
use super::patients::live;
use crate::error::FieldError;

const THREADS: &str = "message_thread";
const MESSAGES: &str = "message";
const ATTACHMENTS: &str = "message_attachment";

pub const MAX_SUBJECT_CHARS: usize = 120;
pub const MAX_BODY_CHARS: usize = 5000;
pub const MAX_ATTACHMENTS: usize = 3;
/// 5 MiB.
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_FILE_NAME_CHARS: usize = 120;
/// The most threads a list shows (newest activity first): a bound on every answer.
pub const MAX_THREADS_LISTED: u64 = 200;

/// The kinds of file a message may carry, told apart by their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentType {
    Pdf,
    Png,
    Jpeg,
}

impl AttachmentType {
    pub fn mime(self) -> &'static str {
        match self {
            AttachmentType::Pdf => "application/pdf",
            AttachmentType::Png => "image/png",
            AttachmentType::Jpeg => "image/jpeg",
        }
    }

    pub fn parse(mime: &str) -> Option<Self> {
        [AttachmentType::Pdf, AttachmentType::Png, AttachmentType::Jpeg].into_iter().find(|t| t.mime() == mime)
    }

    /// What the bytes are, from their signature: `%PDF-`, the PNG signature, or a JPEG SOI
    /// marker followed by another marker.
    pub fn sniff(data: &[u8]) -> Option<Self> {
        if data.starts_with(b"%PDF-") {
            Some(AttachmentType::Pdf)
        } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(AttachmentType::Png)
        } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(AttachmentType::Jpeg)
        } else {
            None
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            AttachmentType::Pdf => &["pdf"],
            AttachmentType::Png => &["png"],
            AttachmentType::Jpeg => &["jpg", "jpeg"],
        }
    }
}

/// A file as the sender gave it. Its name and bytes are PHI: `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAttachment {
    pub file_name: String,
    /// What the browser said the file is; checked against the bytes, never trusted.
    pub declared_type: Option<String>,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for NewAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NewAttachment({} bytes)", self.data.len())
    }
}

/// A thread as listed: subject, times and how many messages the reader has not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadSummary {
    pub id: Uuid,
    pub patient_id: PatientId,
    pub subject: String,
    pub created_at: DateTime<Utc>,
    pub last_message_at: DateTime<Utc>,
    pub messages: u64,
    pub unread: u64,
}

/// A thread in a clinician's inbox, with the patient's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxItem {
    pub thread: ThreadSummary,
    pub patient_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentInfo {
    pub id: Uuid,
    pub file_name: String,
    pub content_type: AttachmentType,
    pub size_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: Uuid,
    pub sender_id: UserId,
    pub sender_role: Role,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// Not read by this reader before this opening.
    pub was_unread: bool,
    pub attachments: Vec<AttachmentInfo>,
}

/// An opened thread, oldest message first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    pub id: Uuid,
    pub patient_id: PatientId,
    /// "Family, Given".
    pub patient_name: String,
    pub subject: String,
    pub messages: Vec<Message>,
    /// The rule that opened it (`patient-self`, `assigned-clinician`, ...).
    pub rule: &'static str,
}

/// An attachment's bytes, opened for an allowed reader.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub info: AttachmentInfo,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Attachment({}, {} bytes)", self.info.id, self.data.len())
    }
}

#[derive(Clone)]
pub struct MessageRepo {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    guard: Guard,
}

impl std::fmt::Debug for MessageRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageRepo")
    }
}

/// A validated attachment, ready to seal.
struct CheckedAttachment {
    file_name: String,
    kind: AttachmentType,
    data: Vec<u8>,
}

impl MessageRepo {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        guard: Guard,
    ) -> Self {
        Self { db, keys, audit, clock, guard }
    }

    /// Starts a thread about `patient` with its first message; returns the thread's and the
    /// message's ids.
    #[tracing::instrument(skip_all, fields(patient_id = %patient, actor_role = ctx.actor.role.as_str()))]
    pub async fn start_thread(
        &self,
        ctx: &AuditContext,
        patient: PatientId,
        subject: &str,
        body: &str,
        attachments: Vec<NewAttachment>,
    ) -> Result<(Uuid, Uuid), Error> {
        let permit = self.guard.check(ctx, Action::MessageSend, THREADS, Some(patient)).await?;
        let (sender, sender_role) = sender(ctx)?;
        let mut problems = Vec::new();
        let subject = collect(&mut problems, validate_subject(subject));
        let body = collect(&mut problems, validate_body(body));
        let attachments = collect(&mut problems, validate_attachments(attachments));
        let (Some(subject), Some(body), Some(attachments), true) = (subject, body, attachments, problems.is_empty())
        else {
            return Err(Error::Validation(problems));
        };
        let now = self.clock.now();
        let (thread_id, message_id) = (Uuid::now_v7(), Uuid::now_v7());
        let txn = self.db.begin().await?;
        let Some(row) = live(patient).one(&txn).await? else {
            self.audit
                .append(&txn, &permit.ctx, permit.failure(Action::MessageSend, THREADS, None, "not-found"))
                .await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        let key = self.keys.get(&txn, row.data_key_id).await?;
        message_thread::ActiveModel {
            id: Set(thread_id),
            patient_id: Set(patient.0),
            data_key_id: Set(key.id()),
            subject: Set(key.seal_str(subject_field(thread_id, patient.0), subject)?),
            created_by: Set(sender.0),
            created_at: Set(now),
            last_message_at: Set(now),
        }
        .insert(&txn)
        .await?;
        insert_message(&txn, &key, thread_id, message_id, sender, sender_role, body, attachments, now).await?;
        self.audit
            .append(&txn, &permit.ctx, permit.entry(Action::MessageSend, MESSAGES, Some(message_id.to_string())))
            .await?;
        txn.commit().await?;
        tracing::debug!(thread_id = %thread_id, message_id = %message_id, "message thread started");
        Ok((thread_id, message_id))
    }

    /// Adds a message to a thread; returns its id.
    #[tracing::instrument(skip_all, fields(thread_id = %thread, actor_role = ctx.actor.role.as_str()))]
    pub async fn reply(
        &self,
        ctx: &AuditContext,
        thread: Uuid,
        body: &str,
        attachments: Vec<NewAttachment>,
    ) -> Result<Uuid, Error> {
        let row = self.thread_row(thread).await?;
        let patient = PatientId(row.patient_id);
        let permit = self.guard.check(ctx, Action::MessageSend, THREADS, Some(patient)).await?;
        let (sender, sender_role) = sender(ctx)?;
        let mut problems = Vec::new();
        let body = collect(&mut problems, validate_body(body));
        let attachments = collect(&mut problems, validate_attachments(attachments));
        let (Some(body), Some(attachments), true) = (body, attachments, problems.is_empty()) else {
            return Err(Error::Validation(problems));
        };
        let now = self.clock.now();
        let message_id = Uuid::now_v7();
        let txn = self.db.begin().await?;
        let key = self.keys.get(&txn, row.data_key_id).await?;
        insert_message(&txn, &key, thread, message_id, sender, sender_role, body, attachments, now).await?;
        message_thread::Entity::update_many()
            .col_expr(message_thread::Column::LastMessageAt, Expr::value(now))
            .filter(message_thread::Column::Id.eq(thread))
            .exec(&txn)
            .await?;
        self.audit
            .append(&txn, &permit.ctx, permit.entry(Action::MessageSend, MESSAGES, Some(message_id.to_string())))
            .await?;
        txn.commit().await?;
        tracing::debug!(message_id = %message_id, "message sent");
        Ok(message_id)
    }

    /// The patient's threads, newest activity first, with the caller's unread counts. One
    /// `message.read` row for the list.
    #[tracing::instrument(skip_all, fields(patient_id = %patient, actor_role = ctx.actor.role.as_str()))]
    pub async fn threads_for_patient(
        &self,
        ctx: &AuditContext,
        patient: PatientId,
    ) -> Result<Vec<ThreadSummary>, Error> {
        let permit = self.guard.check(ctx, Action::MessageRead, "message_threads", Some(patient)).await?;
        let reader = reader(ctx)?;
        let txn = self.db.begin().await?;
        let rows = message_thread::Entity::find()
            .filter(message_thread::Column::PatientId.eq(patient.0))
            .order_by_desc(message_thread::Column::LastMessageAt)
            .limit(MAX_THREADS_LISTED)
            .all(&txn)
            .await?;
        let counts = counts(&txn, reader, rows.iter().map(|r| r.id)).await?;
        self.audit.append(&txn, &permit.ctx, permit.entry(Action::MessageRead, "message_threads", None)).await?;
        txn.commit().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let key = self.keys.get(&self.db, row.data_key_id).await?;
            out.push(summary(&key, row, &counts)?);
        }
        Ok(out)
    }

    /// A clinician's inbox: the threads of every patient they are assigned to, on the care team
    /// of, or named in the consent of, newest activity first, with their unread counts. Each
    /// patient shown is audited.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn inbox(&self, ctx: &AuditContext) -> Result<Vec<InboxItem>, Error> {
        let permit = self.guard.check(ctx, Action::MessageInbox, "message_inbox", None).await?;
        let clinician = reader(ctx)?;
        let txn = self.db.begin().await?;
        let patients: BTreeSet<Uuid> = care_relationship::Entity::find()
            .filter(care_relationship::Column::ClinicianId.eq(clinician.0))
            .filter(care_relationship::Column::EndedAt.is_null())
            .filter(care_relationship::Column::Kind.is_in(["assignment", "care_team", "consent"]))
            .all(&txn)
            .await?
            .into_iter()
            .map(|link| link.patient_id)
            .collect();
        let live_patients: HashMap<Uuid, patient::Model> = patient::Entity::find()
            .filter(patient::Column::Id.is_in(patients))
            .filter(patient::Column::DeletedAt.is_null())
            .all(&txn)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect();
        let rows = message_thread::Entity::find()
            .filter(message_thread::Column::PatientId.is_in(live_patients.keys().copied()))
            .order_by_desc(message_thread::Column::LastMessageAt)
            .limit(MAX_THREADS_LISTED)
            .all(&txn)
            .await?;
        let counts = counts(&txn, clinician, rows.iter().map(|r| r.id)).await?;
        let shown: BTreeSet<Uuid> = rows.iter().map(|r| r.patient_id).collect();
        for patient in &shown {
            let entry = AuditEntry {
                action: Action::MessageInbox,
                resource_type: "message_inbox",
                resource_id: Some(patient.to_string()),
                patient_id: Some(*patient),
                outcome: Outcome::Allowed,
                rule: Some(permit.decision.rule.to_owned()),
            };
            self.audit.append(&txn, &permit.ctx, entry).await?;
        }
        txn.commit().await?;
        let mut names = HashMap::with_capacity(shown.len());
        for id in shown {
            let Some(row) = live_patients.get(&id) else { continue };
            let key = self.keys.get(&self.db, row.data_key_id).await?;
            names.insert(id, patient_name(&key, row)?);
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let key = self.keys.get(&self.db, row.data_key_id).await?;
            let patient_name = names.get(&row.patient_id).cloned().unwrap_or_default();
            out.push(InboxItem { thread: summary(&key, row, &counts)?, patient_name });
        }
        Ok(out)
    }

    /// Opens a thread: every message, oldest first, with its attachments' names. Marks them read
    /// for the reader and writes one `message.read` row naming the patient, in one transaction.
    #[tracing::instrument(skip_all, fields(thread_id = %thread, actor_role = ctx.actor.role.as_str()))]
    pub async fn open_thread(&self, ctx: &AuditContext, thread: Uuid) -> Result<Thread, Error> {
        let row = self.thread_row(thread).await?;
        let patient = PatientId(row.patient_id);
        let permit = self.guard.check(ctx, Action::MessageRead, THREADS, Some(patient)).await?;
        let reader = reader(ctx)?;
        let now = self.clock.now();
        let txn = self.db.begin().await?;
        let Some(patient_row) = patient::Entity::find_by_id(patient.0).one(&txn).await? else {
            self.audit
                .append(
                    &txn,
                    &permit.ctx,
                    permit.failure(Action::MessageRead, THREADS, Some(thread.to_string()), "not-found"),
                )
                .await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        let messages = message::Entity::find()
            .filter(message::Column::ThreadId.eq(thread))
            .order_by_asc(message::Column::CreatedAt)
            .order_by_asc(message::Column::Id)
            .all(&txn)
            .await?;
        let ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
        let already: BTreeSet<Uuid> = message_read::Entity::find()
            .filter(message_read::Column::UserId.eq(reader.0))
            .filter(message_read::Column::MessageId.is_in(ids.clone()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| r.message_id)
            .collect();
        let attachments: Vec<(Uuid, Uuid, Sealed, String, i64)> = message_attachment::Entity::find()
            .select_only()
            .columns([
                message_attachment::Column::Id,
                message_attachment::Column::MessageId,
                message_attachment::Column::FileName,
                message_attachment::Column::ContentType,
                message_attachment::Column::SizeBytes,
            ])
            .filter(message_attachment::Column::MessageId.is_in(ids))
            .order_by_asc(message_attachment::Column::Id)
            .into_tuple()
            .all(&txn)
            .await?;
        let newly_read: Vec<message_read::ActiveModel> = messages
            .iter()
            .filter(|m| m.sender_id != reader.0 && !already.contains(&m.id))
            .map(|m| message_read::ActiveModel { message_id: Set(m.id), user_id: Set(reader.0), read_at: Set(now) })
            .collect();
        if !newly_read.is_empty() {
            message_read::Entity::insert_many(newly_read)
                .on_conflict_do_nothing_on([message_read::Column::MessageId, message_read::Column::UserId])
                .exec_without_returning(&txn)
                .await?;
        }
        self.audit
            .append(&txn, &permit.ctx, permit.entry(Action::MessageRead, THREADS, Some(thread.to_string())))
            .await?;
        txn.commit().await?;

        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let mut files: BTreeMap<Uuid, Vec<AttachmentInfo>> = BTreeMap::new();
        for (id, message_id, name, content_type, size) in attachments {
            files.entry(message_id).or_default().push(attachment_info(
                &key,
                id,
                message_id,
                &name,
                &content_type,
                size,
            )?);
        }
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            let body = key.open_string(body_field(m.id, m.thread_id, UserId(m.sender_id), &m.sender_role), &m.body)?;
            out.push(Message {
                id: m.id,
                sender_id: UserId(m.sender_id),
                sender_role: Role::parse_user_role(&m.sender_role).unwrap_or(Role::Clinician),
                body,
                created_at: m.created_at,
                was_unread: m.sender_id != reader.0 && !already.contains(&m.id),
                attachments: files.remove(&m.id).unwrap_or_default(),
            });
        }
        Ok(Thread {
            id: row.id,
            patient_id: patient,
            patient_name: patient_name(&key, &patient_row)?,
            subject: key.open_string(subject_field(row.id, row.patient_id), &row.subject)?,
            messages: out,
            rule: permit.decision.rule,
        })
    }

    /// One attachment's bytes, audited as `message.attachment.read`.
    #[tracing::instrument(skip_all, fields(attachment_id = %id, actor_role = ctx.actor.role.as_str()))]
    pub async fn attachment(&self, ctx: &AuditContext, id: Uuid) -> Result<Attachment, Error> {
        let owner: Option<Uuid> = message_attachment::Entity::find_by_id(id)
            .select_only()
            .column(message_attachment::Column::MessageId)
            .into_tuple()
            .one(&self.db)
            .await?;
        let Some(message_id) = owner else { return Err(Error::NotFound) };
        let thread: Option<Uuid> = message::Entity::find_by_id(message_id)
            .select_only()
            .column(message::Column::ThreadId)
            .into_tuple()
            .one(&self.db)
            .await?;
        let Some(thread) = thread else { return Err(Error::NotFound) };
        let row = self.thread_row(thread).await?;
        let permit =
            self.guard.check(ctx, Action::AttachmentRead, ATTACHMENTS, Some(PatientId(row.patient_id))).await?;
        let txn = self.db.begin().await?;
        let Some(file) = message_attachment::Entity::find_by_id(id).one(&txn).await? else {
            txn.rollback().await?;
            return Err(Error::NotFound);
        };
        self.audit
            .append(&txn, &permit.ctx, permit.entry(Action::AttachmentRead, ATTACHMENTS, Some(id.to_string())))
            .await?;
        txn.commit().await?;
        let key = self.keys.get(&self.db, row.data_key_id).await?;
        let info =
            attachment_info(&key, file.id, file.message_id, &file.file_name, &file.content_type, file.size_bytes)?;
        let field = attachment_field("data", file.id, file.message_id, &file.content_type);
        let data = key.open(field, &file.data)?.to_vec();
        Ok(Attachment { info, data })
    }

    async fn thread_row(&self, thread: Uuid) -> Result<message_thread::Model, Error> {
        message_thread::Entity::find_by_id(thread).one(&self.db).await?.ok_or(Error::NotFound)
    }
}

/// Who sends: a patient or a clinician with an account. The policy has already refused anyone
/// else; this keeps the stored sender honest.
fn sender(ctx: &AuditContext) -> Result<(UserId, &'static str), Error> {
    let user = reader(ctx)?;
    match ctx.actor.role {
        Role::Patient => Ok((user, "patient")),
        Role::Clinician => Ok((user, "clinician")),
        _ => Err(Error::Forbidden),
    }
}

fn reader(ctx: &AuditContext) -> Result<UserId, Error> {
    ctx.actor.user_id.ok_or(Error::Forbidden)
}

fn collect<T>(problems: &mut Vec<FieldError>, result: Result<T, Vec<FieldError>>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(found) => {
            problems.extend(found);
            None
        }
    }
}

fn field_error(field: &str, message: String) -> Vec<FieldError> {
    vec![FieldError { field: field.to_owned(), message }]
}

pub fn validate_subject(subject: &str) -> Result<&str, Vec<FieldError>> {
    let subject = subject.trim();
    match subject.chars().count() {
        0 => Err(field_error("subject", "Subject: please write a subject".to_owned())),
        n if n > MAX_SUBJECT_CHARS => {
            Err(field_error("subject", format!("Subject: at most {MAX_SUBJECT_CHARS} characters")))
        }
        _ if subject.chars().any(char::is_control) => {
            Err(field_error("subject", "Subject: must be one line of text".to_owned()))
        }
        _ => match crate::api::input::text_problem(subject, false) {
            Some(problem) => Err(field_error("subject", format!("Subject: {problem}"))),
            None => Ok(subject),
        },
    }
}

pub fn validate_body(body: &str) -> Result<&str, Vec<FieldError>> {
    let body = body.trim();
    match body.chars().count() {
        0 => Err(field_error("body", "Message: please write a message".to_owned())),
        n if n > MAX_BODY_CHARS => Err(field_error("body", format!("Message: at most {MAX_BODY_CHARS} characters"))),
        _ => Ok(body),
    }
}

/// Checks every attachment and names each one that fails by its position, never by its name.
fn validate_attachments(files: Vec<NewAttachment>) -> Result<Vec<CheckedAttachment>, Vec<FieldError>> {
    if files.len() > MAX_ATTACHMENTS {
        return Err(field_error("attachments", format!("Attachments: at most {MAX_ATTACHMENTS} files per message")));
    }
    let mut problems = Vec::new();
    let mut checked = Vec::with_capacity(files.len());
    for (n, file) in files.into_iter().enumerate() {
        match check_attachment(file) {
            Ok(file) => checked.push(file),
            Err(problem) => problems.push(FieldError {
                field: "attachments".to_owned(),
                message: format!("Attachment {}: {problem}", n + 1),
            }),
        }
    }
    if problems.is_empty() { Ok(checked) } else { Err(problems) }
}

fn check_attachment(file: NewAttachment) -> Result<CheckedAttachment, &'static str> {
    let name = file.file_name.rsplit(['/', '\\']).next().unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_FILE_NAME_CHARS || name.chars().any(char::is_control) {
        return Err("the file name must be 1 to 120 characters of text");
    }
    if file.data.is_empty() {
        return Err("the file is empty");
    }
    if file.data.len() > MAX_ATTACHMENT_BYTES {
        return Err("the file is larger than 5 MiB");
    }
    let Some(kind) = AttachmentType::sniff(&file.data) else {
        return Err("only PDF, PNG and JPEG files can be attached");
    };
    let declared = file.declared_type.as_deref().map(str::trim).filter(|t| !t.is_empty());
    if declared.is_some_and(|declared| AttachmentType::parse(&declared.to_ascii_lowercase()) != Some(kind)) {
        return Err("the file's content does not match its stated type");
    }
    if let Some((_, extension)) = name.rsplit_once('.')
        && !kind.extensions().contains(&extension.to_ascii_lowercase().as_str())
    {
        return Err("the file name's extension does not match its content");
    }
    Ok(CheckedAttachment { file_name: name, kind, data: file.data })
}

#[allow(clippy::too_many_arguments)] // One row and its attachments, inside the caller's transaction.
async fn insert_message(
    txn: &DatabaseTransaction,
    key: &DataKey,
    thread: Uuid,
    id: Uuid,
    sender: UserId,
    sender_role: &'static str,
    body: &str,
    attachments: Vec<CheckedAttachment>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    message::ActiveModel {
        id: Set(id),
        thread_id: Set(thread),
        sender_id: Set(sender.0),
        sender_role: Set(sender_role.to_owned()),
        body: Set(key.seal_str(body_field(id, thread, sender, sender_role), body)?),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    for file in attachments {
        let file_id = Uuid::now_v7();
        let size = i64::try_from(file.data.len()).map_err(|_| Error::Internal(anyhow::anyhow!("attachment size")))?;
        let mime = file.kind.mime();
        message_attachment::ActiveModel {
            id: Set(file_id),
            message_id: Set(id),
            file_name: Set(key.seal_str(attachment_field("file_name", file_id, id, mime), &file.file_name)?),
            content_type: Set(mime.to_owned()),
            size_bytes: Set(size),
            data: Set(key.seal(attachment_field("data", file_id, id, mime), &file.data)?),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Per thread: (messages, messages from others that `reader` has not read).
async fn counts(
    txn: &DatabaseTransaction,
    reader: UserId,
    threads: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, (u64, u64)>, Error> {
    let threads: Vec<Uuid> = threads.collect();
    if threads.is_empty() {
        return Ok(HashMap::new());
    }
    let messages: Vec<(Uuid, Uuid, Uuid)> = message::Entity::find()
        .select_only()
        .columns([message::Column::Id, message::Column::ThreadId, message::Column::SenderId])
        .filter(message::Column::ThreadId.is_in(threads))
        .into_tuple()
        .all(txn)
        .await?;
    let read: BTreeSet<Uuid> = message_read::Entity::find()
        .filter(message_read::Column::UserId.eq(reader.0))
        .filter(message_read::Column::MessageId.is_in(messages.iter().map(|(id, _, _)| *id)))
        .all(txn)
        .await?
        .into_iter()
        .map(|r| r.message_id)
        .collect();
    let mut out: HashMap<Uuid, (u64, u64)> = HashMap::new();
    for (id, thread, sender) in messages {
        let entry = out.entry(thread).or_default();
        entry.0 += 1;
        if sender != reader.0 && !read.contains(&id) {
            entry.1 += 1;
        }
    }
    Ok(out)
}

fn summary(
    key: &DataKey,
    row: message_thread::Model,
    counts: &HashMap<Uuid, (u64, u64)>,
) -> Result<ThreadSummary, Error> {
    let (messages, unread) = counts.get(&row.id).copied().unwrap_or_default();
    Ok(ThreadSummary {
        id: row.id,
        patient_id: PatientId(row.patient_id),
        subject: key.open_string(subject_field(row.id, row.patient_id), &row.subject)?,
        created_at: row.created_at,
        last_message_at: row.last_message_at,
        messages,
        unread,
    })
}

// Sealed values bound to the clear columns that decide who reads them or what they claim to be
// (see `crypto::FieldRef::bind`): a thread moved to another patient, a message moved to another
// thread or sender, or an attachment moved to another message or given another type by SQL no
// longer opens.

fn subject_field(thread: Uuid, patient: Uuid) -> FieldRef {
    FieldRef::new(THREADS, "subject", thread).bind("patient_id", patient.as_bytes())
}

fn body_field(message: Uuid, thread: Uuid, sender: UserId, sender_role: &str) -> FieldRef {
    FieldRef::new(MESSAGES, "body", message)
        .bind("thread_id", thread.as_bytes())
        .bind("sender_id", sender.0.as_bytes())
        .bind("sender_role", sender_role)
}

fn attachment_field(column: &'static str, file: Uuid, message: Uuid, content_type: &str) -> FieldRef {
    FieldRef::new(ATTACHMENTS, column, file).bind("message_id", message.as_bytes()).bind("content_type", content_type)
}

/// The patient's name as a thread shows it: "Family, Given". Opened under the access the
/// caller's permit allowed and audited.
fn patient_name(key: &DataKey, row: &patient::Model) -> Result<String, Error> {
    let field = |column| FieldRef::new("patient", column, row.id);
    let given = key.open_string(field("given_name"), &row.given_name)?;
    let family = key.open_string(field("family_name"), &row.family_name)?;
    Ok(format!("{family}, {given}"))
}

fn attachment_info(
    key: &DataKey,
    id: Uuid,
    message_id: Uuid,
    name: &Sealed,
    content_type: &str,
    size: i64,
) -> Result<AttachmentInfo, Error> {
    let content_type = AttachmentType::parse(content_type)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("attachment {id} has an unknown content type")))?;
    Ok(AttachmentInfo {
        id,
        file_name: key.open_string(attachment_field("file_name", id, message_id, content_type.mime()), name)?,
        content_type,
        size_bytes: u64::try_from(size).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, declared: Option<&str>, data: &[u8]) -> NewAttachment {
        NewAttachment { file_name: name.to_owned(), declared_type: declared.map(str::to_owned), data: data.to_vec() }
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn files_are_told_apart_by_their_first_bytes() {
        assert_eq!(AttachmentType::sniff(b"%PDF-1.7\n"), Some(AttachmentType::Pdf));
        assert_eq!(AttachmentType::sniff(PNG), Some(AttachmentType::Png));
        assert_eq!(AttachmentType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(AttachmentType::Jpeg));
        assert_eq!(AttachmentType::sniff(b"MZ\x90\0"), None);
        assert_eq!(AttachmentType::sniff(b"GIF89a"), None);
    }

    #[test]
    fn an_executable_claiming_to_be_a_png_is_refused_without_naming_the_file() {
        let errors = validate_attachments(vec![file("secret-name.png", Some("image/png"), b"MZ\x90\0\x03")])
            .err()
            .unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "attachments");
        assert!(errors[0].message.contains("only PDF, PNG and JPEG"), "{}", errors[0].message);
        assert!(!errors[0].message.contains("secret-name"));
    }

    #[test]
    fn a_stated_type_or_extension_that_disagrees_with_the_bytes_is_refused() {
        assert!(validate_attachments(vec![file("scan.png", Some("application/pdf"), PNG)]).is_err());
        assert!(validate_attachments(vec![file("scan.exe", Some("image/png"), PNG)]).is_err());
        assert!(validate_attachments(vec![file("scan.PNG", Some("image/png"), PNG)]).is_ok());
        assert!(validate_attachments(vec![file("scan", None, PNG)]).is_ok());
    }

    #[test]
    fn size_and_count_limits_hold_at_their_edges() {
        let mut big = PNG.to_vec();
        big.resize(MAX_ATTACHMENT_BYTES, 0);
        assert!(validate_attachments(vec![file("a.png", None, &big)]).is_ok());
        big.push(0);
        assert!(validate_attachments(vec![file("a.png", None, &big)]).is_err());
        let four = (0..4).map(|_| file("a.png", None, PNG)).collect();
        assert!(validate_attachments(four).is_err());
        assert!(validate_attachments(vec![file("a.png", None, b"")]).is_err());
    }

    #[test]
    fn subjects_and_bodies_have_length_limits_and_never_quote_their_text() {
        assert!(validate_subject("  ").is_err());
        assert!(validate_subject(&"x".repeat(MAX_SUBJECT_CHARS)).is_ok());
        assert!(validate_subject(&"x".repeat(MAX_SUBJECT_CHARS + 1)).is_err());
        assert!(validate_body(&"é".repeat(MAX_BODY_CHARS)).is_ok());
        let errors = validate_body(&"Quokka".repeat(1000)).err().unwrap_or_default();
        assert!(errors.iter().all(|e| !e.message.contains("Quokka")));
    }

    #[test]
    fn a_subject_with_a_bidi_override_or_a_zero_width_space_is_refused() {
        let message = |subject: &str| validate_subject(subject).err().unwrap_or_default().remove(0).message;
        assert_eq!(message("Results \u{202E}fdp.exe"), "Subject: must not contain bidirectional control characters");
        assert_eq!(message("Re\u{200B}fill"), "Subject: must not contain invisible characters");
        assert_eq!(validate_subject("Refill for Zoë"), Ok("Refill for Zoë"));
    }

    #[test]
    fn a_path_in_the_file_name_is_dropped() {
        let checked = check_attachment(file("C:\\Users\\x\\scan.png", None, PNG)).ok();
        assert_eq!(checked.map(|c| c.file_name), Some("scan.png".to_owned()));
    }
}
