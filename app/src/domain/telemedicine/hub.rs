//! Wakes the signaling connections of a visit when a signal for it is committed.
//!
//! The signal itself is a row; what travels here is only "appointment X has something new".
//! On PostgreSQL the wake goes out with `pg_notify` inside the transaction that wrote the row,
//! so it reaches every node listening on the database when (and only if) the row commits. On
//! SQLite there is one node, and the wake goes straight to this process's connections. A
//! connection that may have missed wakes (a listener that reconnected, a receiver that lagged)
//! gets [`Wake::Everything`] and re-reads from its last sequence number.

use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::domain::Error;

/// The PostgreSQL channel that carries `"<appointment id>:<seq>"`.
pub const CHANNEL: &str = "video_signal";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// A signal for this appointment has been committed.
    Appointment(Uuid),
    /// Wakes may have been lost: every connection re-reads.
    Everything,
}

#[derive(Clone, Debug)]
pub struct SignalHub {
    tx: broadcast::Sender<Wake>,
    backend: DbBackend,
}

impl SignalHub {
    pub fn new(backend: DbBackend) -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self { tx, backend }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Wake> {
        self.tx.subscribe()
    }

    /// Inside the transaction that wrote signal `seq`: tells the other nodes, on commit.
    pub(super) async fn notify_in(&self, txn: &DatabaseTransaction, appointment: Uuid, seq: i64) -> Result<(), Error> {
        if self.backend == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), format!("{appointment}:{seq}").into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// After the commit: this node's own connections need not wait for the database.
    pub(super) fn committed(&self, appointment: Uuid) {
        // No receiver is not an error: nobody is in the room on this node.
        let _ = self.tx.send(Wake::Appointment(appointment));
    }

    /// Forwards the database's notifications to this node's connections until the process
    /// ends. PostgreSQL only; on SQLite there is nothing to listen to.
    pub fn spawn_listener(&self, db: &DatabaseConnection) -> Option<tokio::task::JoinHandle<()>> {
        if self.backend != DbBackend::Postgres {
            return None;
        }
        let pool = db.get_postgres_connection_pool().clone();
        let tx = self.tx.clone();
        Some(tokio::spawn(async move {
            loop {
                if let Err(err) = listen(&pool, &tx).await {
                    tracing::error!(error = %err, "signaling listener failed; reconnecting");
                }
                let _ = tx.send(Wake::Everything);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }))
    }
}

async fn listen(pool: &sqlx::PgPool, tx: &broadcast::Sender<Wake>) -> Result<(), sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    // Anything committed while we were not listening is found by the re-read this causes.
    let _ = tx.send(Wake::Everything);
    loop {
        match listener.try_recv().await? {
            Some(notification) => match parse(notification.payload()) {
                Some(appointment) => {
                    let _ = tx.send(Wake::Appointment(appointment));
                }
                None => tracing::warn!("ignored a malformed signaling notification"),
            },
            // The connection dropped and has been re-established: notifications may be lost.
            None => {
                tracing::warn!("signaling listener reconnected");
                let _ = tx.send(Wake::Everything);
            }
        }
    }
}

fn parse(payload: &str) -> Option<Uuid> {
    let (appointment, seq) = payload.split_once(':')?;
    seq.parse::<i64>().ok()?;
    Uuid::parse_str(appointment).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_names_its_appointment_and_anything_else_is_ignored() {
        let id = Uuid::new_v4();
        assert_eq!(parse(&format!("{id}:42")), Some(id));
        assert_eq!(parse(&format!("{id}")), None);
        assert_eq!(parse("not-a-uuid:1"), None);
        assert_eq!(parse(&format!("{id}:x")), None);
    }
}
