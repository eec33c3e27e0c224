//! `audit verify`: walks the chain and the log and names the first row that does not hold.
//!
//! Pass 1 follows the chain by position: every link must follow its predecessor, point at an
//! existing row whose content matches its MAC, and hash correctly. Pass 2 looks at rows not
//! yet linked: each must match its MAC, and only rows younger than the grace period may be
//! unlinked. Together they find a changed row (MAC), a deleted row (a link to nothing, or a gap
//! in positions) and an inserted row (no valid MAC without the key, or a duplicate id).

use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::chain::{AuditChainer, GENESIS, linked_subquery};
use super::mac::EventMac;
use crate::domain::Error;
use crate::domain::entities::{audit_chain, audit_event};

const PAGE: u64 = 2_000;
const MAX_FINDINGS: usize = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The row's content no longer matches its MAC: changed, or inserted without the key.
    EventAltered { seq: i64 },
    /// A link points at a row that is gone.
    EventMissing { seq: i64, position: i64 },
    /// A link is missing from the chain: its row and link were deleted together.
    ChainGap { position: i64 },
    /// A link's hash does not follow from its predecessor.
    ChainAltered { position: i64, seq: i64 },
    /// A second row with an id already seen: a copied row.
    DuplicateEvent { seq: i64, id: Uuid },
    /// A row older than the grace period that was never linked.
    Unchained { seq: i64 },
}

impl Finding {
    /// The audit row this finding is about, where there is one.
    pub fn seq(&self) -> Option<i64> {
        match self {
            Finding::EventAltered { seq }
            | Finding::EventMissing { seq, .. }
            | Finding::ChainAltered { seq, .. }
            | Finding::DuplicateEvent { seq, .. }
            | Finding::Unchained { seq } => Some(*seq),
            Finding::ChainGap { .. } => None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::EventAltered { seq } => {
                write!(f, "audit row seq {seq} does not match its MAC: it was changed, or inserted without the key")
            }
            Finding::EventMissing { seq, position } => {
                write!(f, "audit row seq {seq} was deleted (chain position {position} points at it)")
            }
            Finding::ChainGap { position } => {
                write!(f, "chain position {position} is missing: a row and its link were deleted")
            }
            Finding::ChainAltered { position, seq } => {
                write!(f, "chain link at position {position} (audit row seq {seq}) does not follow from the one before")
            }
            Finding::DuplicateEvent { seq, id } => {
                write!(f, "audit row seq {seq} repeats the id {id} of an earlier row")
            }
            Finding::Unchained { seq } => write!(f, "audit row seq {seq} was never linked into the chain"),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub events_checked: u64,
    pub links_checked: u64,
    /// Rows younger than the grace period, not yet linked: normal on a live system.
    pub pending: u64,
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }

    pub fn first_problem(&self) -> Option<&Finding> {
        self.findings.first()
    }

    fn found(&mut self, finding: Finding) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(finding);
        }
    }
}

/// Walks the whole log. `progress(done, total)` is called after each page.
pub async fn verify(
    db: &DatabaseConnection,
    mac: &EventMac,
    chainer: &AuditChainer,
    now: DateTime<Utc>,
    grace: Duration,
    mut progress: impl FnMut(u64, u64),
) -> Result<VerifyReport, Error> {
    let total = audit_event::Entity::find().count(db).await?;
    let mut report = VerifyReport::default();
    let mut seen_ids = HashSet::new();

    // Pass 1: the chain, by position.
    let mut prev_link = GENESIS.to_vec();
    let mut expected_position = 1;
    loop {
        let links = audit_chain::Entity::find()
            .filter(audit_chain::Column::Position.gte(expected_position))
            .order_by_asc(audit_chain::Column::Position)
            .limit(PAGE)
            .all(db)
            .await?;
        if links.is_empty() {
            break;
        }
        let seqs: Vec<i64> = links.iter().map(|l| l.event_seq).collect();
        let events: HashMap<i64, audit_event::Model> = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.is_in(seqs))
            .all(db)
            .await?
            .into_iter()
            .map(|e| (e.seq, e))
            .collect();
        for link in links {
            if link.position != expected_position {
                report.found(Finding::ChainGap { position: expected_position });
            }
            expected_position = link.position + 1;
            report.links_checked += 1;
            match events.get(&link.event_seq) {
                None => report.found(Finding::EventMissing { seq: link.event_seq, position: link.position }),
                Some(event) => {
                    report.events_checked += 1;
                    if !mac.matches(event) {
                        report.found(Finding::EventAltered { seq: event.seq });
                    }
                    if !seen_ids.insert(event.id) {
                        report.found(Finding::DuplicateEvent { seq: event.seq, id: event.id });
                    }
                    // A link naming a key version that is not loaded cannot be shown to hold.
                    if !chainer.link_matches(
                        &prev_link,
                        link.position,
                        event.seq,
                        &event.mac,
                        link.key_version,
                        &link.link,
                    ) {
                        report.found(Finding::ChainAltered { position: link.position, seq: event.seq });
                    }
                }
            }
            prev_link = link.link;
        }
        progress(report.events_checked, total);
    }

    // Pass 2: rows not linked yet.
    let mut after_seq = i64::MIN;
    loop {
        let unlinked = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gt(after_seq))
            .filter(Expr::exists(linked_subquery()).not())
            .order_by_asc(audit_event::Column::Seq)
            .limit(PAGE)
            .all(db)
            .await?;
        let Some(last) = unlinked.last() else { break };
        after_seq = last.seq;
        for event in unlinked {
            report.events_checked += 1;
            if !mac.matches(&event) {
                report.found(Finding::EventAltered { seq: event.seq });
            } else if !seen_ids.insert(event.id) {
                report.found(Finding::DuplicateEvent { seq: event.seq, id: event.id });
            } else if event.occurred_at < now - grace {
                report.found(Finding::Unchained { seq: event.seq });
            } else {
                report.pending += 1;
            }
        }
        progress(report.events_checked, total);
    }
    // Findings in log order, so the first one named is the earliest bad row.
    report.findings.sort_by_key(|f| f.seq().unwrap_or(i64::MAX));
    Ok(report)
}
