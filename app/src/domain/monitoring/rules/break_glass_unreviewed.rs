//! `break-glass-unreviewed`: a break-glass declaration the security officer has not reviewed
//! within the window (default 24 hours) of its declaration. Read from the audit log alone: a
//! declaration is its `break_glass.declare` row, its review a `break_glass.review` row naming
//! the same declaration.
//!
//! Time, not a new row, completes this finding, so the rule looks at every declaration whose
//! deadline has passed by `now` (not only rows new to this run), back to
//! [`LOOKBACK`] beyond the window; each declaration raises one alert (its id is the dedup key).

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::Duration;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::break_glass_frequent::declarations;
use super::{Rule, RuleSettings, Scan};
use crate::domain::Error;
use crate::domain::entities::audit_event;
use crate::domain::ids::{PatientId, UserId};
use crate::domain::monitoring::{NewAlert, Severity};

pub const NAME: &str = "break-glass-unreviewed";

/// How far past its deadline a declaration is still looked at: a monitor switched off for
/// longer than this does not raise old declarations when it comes back (the review queue
/// still lists them).
pub const LOOKBACK: Duration = Duration::days(30);

/// 24 hours, medium.
pub fn default_settings() -> RuleSettings {
    RuleSettings {
        enabled: true,
        threshold: 1,
        window: Duration::hours(24),
        severity: Severity::Medium,
        critical_at: None,
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct BreakGlassUnreviewed;

#[async_trait]
impl Rule for BreakGlassUnreviewed {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn scan(&self, db: &DatabaseConnection, scan: &Scan) -> Result<Vec<NewAlert>, Error> {
        let deadline = scan.now - scan.settings.window;
        let declared = audit_event::Entity::find()
            .filter(declarations())
            .filter(audit_event::Column::Seq.lte(scan.up_to_seq))
            .filter(audit_event::Column::OccurredAt.lte(deadline))
            .filter(audit_event::Column::OccurredAt.gt(deadline - LOOKBACK))
            .order_by_asc(audit_event::Column::Seq)
            .all(db)
            .await?;
        let ids: Vec<String> = declared.iter().filter_map(|row| row.resource_id.clone()).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut reviewed = HashSet::new();
        for chunk in ids.chunks(500) {
            let rows = audit_event::Entity::find()
                .filter(audit_event::Column::Action.eq("break_glass.review"))
                .filter(audit_event::Column::Outcome.eq("allowed"))
                .filter(audit_event::Column::ResourceId.is_in(chunk.iter().cloned()))
                .filter(audit_event::Column::Seq.lte(scan.up_to_seq))
                .all(db)
                .await?;
            reviewed.extend(rows.into_iter().filter_map(|row| row.resource_id));
        }
        Ok(declared
            .into_iter()
            .filter_map(|row| {
                let id = row.resource_id.as_deref()?;
                if reviewed.contains(id) {
                    return None;
                }
                let declaration: Uuid = id.parse().ok()?;
                Some(NewAlert {
                    rule: NAME.to_owned(),
                    severity: scan.settings.severity,
                    actor: row.actor_user_id.map(UserId),
                    patients: row.patient_id.map(PatientId).into_iter().collect(),
                    window_start: row.occurred_at,
                    window_end: row.occurred_at + scan.settings.window,
                    observed: Some((scan.now - row.occurred_at).num_hours()),
                    seqs: vec![row.seq],
                    dedup: declaration.to_string(),
                    subject_id: Some(declaration),
                })
            })
            .collect())
    }
}
