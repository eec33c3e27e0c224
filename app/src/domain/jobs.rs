//! Background work kept in the `job` table: added in the caller's transaction, claimed under a
//! lease so that one node runs each job, and run again if that node dies (its lease expires).
//! Appointment reminders and alert delivery share this.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement,
};
use uuid::Uuid;

use super::Error;
use super::entities::job;

/// Adds a job in the caller's transaction: it exists exactly when the work that needs it does.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    subject: Uuid,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    job::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set(kind.to_owned()),
        subject_id: Set(subject),
        run_at: Set(run_at),
        status: Set("pending".to_owned()),
        attempts: Set(0),
        last_error: Set(None),
        locked_by: Set(None),
        locked_until: Set(None),
        created_at: Set(now),
        finished_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Takes the oldest due pending job of one of `kinds` for `node` until `now + lease`, counting
/// the attempt, or None. On PostgreSQL, `SKIP LOCKED` lets nodes claim different jobs at once;
/// SQLite has one writer, so the conditional update alone decides.
pub async fn claim(
    db: &DatabaseConnection,
    kinds: &[&str],
    node: &str,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Option<job::Model>, Error> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let backend = db.get_database_backend();
    let lock = if backend == DbBackend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
    let placeholder = |n: usize| if backend == DbBackend::Postgres { format!("${n}") } else { "?".to_owned() };
    // In the order they appear (SQLite binds `?` by position): the node, the lease's end, the
    // kinds, then `now` three times.
    let kind_list = (0..kinds.len()).map(|i| placeholder(3 + i)).collect::<Vec<_>>().join(", ");
    let n = 3 + kinds.len();
    let sql = format!(
        "UPDATE job SET locked_by = {p1}, locked_until = {p2}, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM job WHERE kind IN ({kind_list}) AND status = 'pending' AND run_at <= {p3} \
         AND (locked_until IS NULL OR locked_until < {p4}) ORDER BY run_at LIMIT 1 {lock}) \
         AND (locked_until IS NULL OR locked_until < {p5}) RETURNING *",
        p1 = placeholder(1),
        p2 = placeholder(2),
        p3 = placeholder(n),
        p4 = placeholder(n + 1),
        p5 = placeholder(n + 2),
    );
    let mut values: Vec<sea_orm::Value> = vec![node.into(), (now + lease).into()];
    values.extend(kinds.iter().map(|&kind| sea_orm::Value::from(kind)));
    values.extend([now.into(), now.into(), now.into()]);
    Ok(job::Entity::find().from_raw_sql(Statement::from_sql_and_values(backend, sql, values)).one(db).await?)
}
