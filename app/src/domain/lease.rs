//! Leases for periodic tasks that must run once per cluster, not once per node (the expired
//! session sweep). Each task has one row in `task_lease`; a node runs the task only if it takes
//! the row's lease, which it can only do once the previous lease has expired. The take is one
//! conditional UPDATE, so on PostgreSQL two nodes racing for it cannot both win (the second
//! re-reads the row after the first commits and finds it taken), and on SQLite there is one
//! writer anyway. Like the reminder jobs' leases (`scheduling::reminders`), a node that dies
//! holding a lease only delays the next run until it expires.

use std::sync::Arc;

use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::Error;
use super::clock::Clock;
use super::entities::task_lease;

/// The lease of the expired-session sweep (its row is created by the migration).
pub const SESSION_SWEEP: &str = "session-sweep";
/// The lease of the security monitor's detector run (`monitoring::runner`).
pub const SECURITY_MONITOR: &str = "security-monitor";

/// This process's part of every lease holder's name: what a node shutting down hands back.
static PROCESS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| Uuid::new_v4().simple().to_string().chars().take(12).collect());

/// A fresh holder name, `node-<process>-<random>`: unique per lease user, and recognisably this
/// process's when it hands its leases back.
pub fn node_name() -> String {
    format!("node-{}-{}", PROCESS.as_str(), Uuid::new_v4().simple())
}

/// What a node shutting down handed back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Released {
    pub task_leases: u64,
    pub job_leases: u64,
}

/// Hands back every task lease and every pending job's lease this process holds, so that another
/// node takes them up at once instead of when they expire. Called once this process's tasks have
/// stopped (graceful shutdown), so nothing here is still running the work.
pub async fn release_this_process(db: &DatabaseConnection) -> Result<Released, Error> {
    use super::entities::job;
    let pattern = format!("node-{}-%", PROCESS.as_str());
    let tasks = task_lease::Entity::update_many()
        .col_expr(task_lease::Column::LockedUntil, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .filter(task_lease::Column::Holder.like(pattern.as_str()))
        .filter(task_lease::Column::LockedUntil.is_not_null())
        .exec(db)
        .await?;
    let jobs = job::Entity::update_many()
        .col_expr(job::Column::LockedUntil, Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None))
        .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
        .filter(job::Column::LockedBy.like(pattern.as_str()))
        .filter(job::Column::Status.eq("pending"))
        .exec(db)
        .await?;
    Ok(Released { task_leases: tasks.rows_affected, job_leases: jobs.rows_affected })
}

#[derive(Clone)]
pub struct TaskLease {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    name: &'static str,
    /// This node's name in the lease.
    node: String,
}

impl std::fmt::Debug for TaskLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLease").field("name", &self.name).field("node", &self.node).finish_non_exhaustive()
    }
}

impl TaskLease {
    pub fn new(db: DatabaseConnection, clock: Arc<dyn Clock>, name: &'static str) -> Self {
        Self { db, clock, name, node: node_name() }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Takes the lease for `period` if nobody holds an unexpired one: true means this node runs
    /// the task now, and no node (this one included) runs it again before `period` is over.
    pub async fn acquire(&self, period: Duration) -> Result<bool, Error> {
        let now = self.clock.now();
        let taken = task_lease::Entity::update_many()
            .col_expr(task_lease::Column::Holder, Expr::value(self.node.as_str()))
            .col_expr(task_lease::Column::LockedUntil, Expr::value(now + period))
            .col_expr(task_lease::Column::LastRunAt, Expr::value(now))
            .filter(task_lease::Column::Name.eq(self.name))
            .filter(
                Condition::any()
                    .add(task_lease::Column::LockedUntil.is_null())
                    .add(task_lease::Column::LockedUntil.lte(now)),
            )
            .exec(&self.db)
            .await?;
        Ok(taken.rows_affected == 1)
    }
}
