//! Group commit for audit rows that commit on their own ([`AuditLog::record`]).
//!
//! A durable commit costs a disk flush (about 3 ms on the reference machine). SQLite flushes once
//! per transaction and has one writer, so a row a request at a time capped audited reads at a
//! few hundred per second. Here rows that arrive while a flush is under way wait for the next
//! one and go in together: one multi-row INSERT, one flush, then every waiter is answered. Each
//! caller still returns only after its own row is committed, and if the INSERT fails every row
//! in it fails, so the access each one records is refused (fail closed).
//!
//! The queue holds only requests in flight, nothing another node needs. The write itself runs
//! on a spawned task, so a request dropped half way (its client went away) never strands the
//! rows queued behind it.
//!
//! [`AuditLog::record`]: super::AuditLog::record

use std::sync::{Arc, Mutex};

use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::oneshot;

use crate::domain::Error;
use crate::domain::entities::audit_event;

/// At most this many rows per INSERT: well under SQLite's limit of bound parameters.
const MAX_BATCH: usize = 128;

type Reply = oneshot::Sender<Result<(), Arc<str>>>;

#[derive(Default)]
struct Queue {
    rows: Vec<(audit_event::ActiveModel, Reply)>,
    /// A writer task is running; it takes whatever is queued before it stops.
    writing: bool,
}

#[derive(Clone)]
pub(crate) struct GroupCommit {
    db: DatabaseConnection,
    queue: Arc<Mutex<Queue>>,
}

impl GroupCommit {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self { db, queue: Arc::default() }
    }

    /// Inserts `row` with whatever else is waiting and returns once it is committed.
    pub(crate) async fn commit(&self, row: audit_event::ActiveModel) -> Result<(), Error> {
        let (reply, committed) = oneshot::channel();
        let start_writer = {
            let mut queue = self.queue.lock().map_err(|_| poisoned())?;
            queue.rows.push((row, reply));
            !std::mem::replace(&mut queue.writing, true)
        };
        if start_writer {
            tokio::spawn(self.clone().write_until_empty());
        }
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(super::append_failed(anyhow::anyhow!("{message}"))),
            Err(_) => Err(super::append_failed(anyhow::anyhow!("the audit writer stopped before answering"))),
        }
    }

    async fn write_until_empty(self) {
        loop {
            let (rows, replies) = {
                let Ok(mut queue) = self.queue.lock() else { return };
                if queue.rows.is_empty() {
                    queue.writing = false;
                    return;
                }
                let take = queue.rows.len().min(MAX_BATCH);
                queue.rows.drain(..take).unzip::<_, _, Vec<_>, Vec<_>>()
            };
            let outcome = audit_event::Entity::insert_many(rows)
                .exec_without_returning(&self.db)
                .await
                .map(|_| ())
                .map_err(|err| Arc::<str>::from(err.to_string()));
            for reply in replies {
                // A caller that went away needs no answer; its row is committed or not with the rest.
                let _ = reply.send(outcome.clone());
            }
        }
    }
}

fn poisoned() -> Error {
    Error::Internal(anyhow::anyhow!("audit queue lock poisoned"))
}
