//! Signed checkpoints of the chain head, kept outside the database.
//!
//! The MACs and the chain prove that no row was changed, inserted or removed from the middle,
//! but whoever owns the database can delete the newest rows together with their links, or
//! restore last week's copy, and what is left still verifies. So every few seconds the chainer
//! signs the head (position, audit row seq, link hash, time) with an Ed25519 key (RFC 8032) and
//! writes that checkpoint to an append-only file and, where configured, to syslog: places the
//! database owner does not control. `audit verify --checkpoints FILE` then proves that the log
//! still reaches the newest checkpoint and holds the very link each checkpoint names.
//!
//! A checkpoint is one line of JSON; a line with text before the `{` (a syslog header) is read
//! from its first `{`, so an export of the syslog stream verifies as well as the local file.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

use super::chain::ChainHead;
use crate::domain::Error;
use crate::domain::crypto::{AuditKeyKind, CryptoError, KekProvider};
use crate::domain::entities::audit_chain;

const DOMAIN: &[u8] = b"clinic/audit-checkpoint/v1";

/// One signed statement: "at `at`, the chain's newest link was `link`, at `position`, for
/// audit row `event_seq`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub position: i64,
    pub event_seq: i64,
    pub link: Vec<u8>,
    pub at: DateTime<Utc>,
    pub key_version: u32,
    pub signature: [u8; 64],
}

/// The line format. Field names are short and stable: files outlive releases.
#[derive(Serialize, Deserialize)]
struct CheckpointLine {
    v: u8,
    position: i64,
    seq: i64,
    link: String,
    at: DateTime<Utc>,
    key_version: u32,
    sig: String,
}

impl Checkpoint {
    fn message(position: i64, event_seq: i64, link: &[u8], at: DateTime<Utc>, key_version: u32) -> Vec<u8> {
        let mut message = DOMAIN.to_vec();
        message.extend_from_slice(&position.to_be_bytes());
        message.extend_from_slice(&event_seq.to_be_bytes());
        message.extend_from_slice(&(link.len() as u64).to_be_bytes());
        message.extend_from_slice(link);
        message.extend_from_slice(&at.timestamp_micros().to_be_bytes());
        message.extend_from_slice(&key_version.to_be_bytes());
        message
    }

    /// One line of JSON, without the newline.
    pub fn to_line(&self) -> String {
        let line = CheckpointLine {
            v: 1,
            position: self.position,
            seq: self.event_seq,
            link: hex::encode(&self.link),
            at: self.at,
            key_version: self.key_version,
            sig: B64.encode(self.signature),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }

    /// Reads a line from its first `{`. `None` for a line that is not a checkpoint at all.
    pub fn parse(line: &str) -> Option<Self> {
        let json = &line[line.find('{')?..];
        let line: CheckpointLine = serde_json::from_str(json).ok()?;
        if line.v != 1 {
            return None;
        }
        let signature: [u8; 64] = B64.decode(&line.sig).ok()?.try_into().ok()?;
        Some(Self {
            position: line.position,
            event_seq: line.seq,
            link: hex::decode(&line.link).ok()?,
            at: line.at,
            key_version: line.key_version,
            signature,
        })
    }
}

/// Signs and checks checkpoints with the audit signing key of each version.
pub struct CheckpointSigner {
    provider: Arc<dyn KekProvider>,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CheckpointSigner")
    }
}

impl CheckpointSigner {
    pub fn new(provider: Arc<dyn KekProvider>) -> Self {
        Self { provider }
    }

    fn signing_key(&self, version: u32) -> Result<SigningKey, CryptoError> {
        let seed = self.provider.audit_key(version, AuditKeyKind::CheckpointSigning)?;
        Ok(SigningKey::from_bytes(seed.expose()))
    }

    /// The public half of a version's signing key: what verifies its checkpoints.
    pub fn public_key(&self, version: u32) -> Result<VerifyingKey, CryptoError> {
        Ok(self.signing_key(version)?.verifying_key())
    }

    /// Signs `head` as of `at` with the active version.
    pub fn sign(&self, head: &ChainHead, at: DateTime<Utc>) -> Result<Checkpoint, CryptoError> {
        let key_version = self.provider.audit_active_version();
        let key = self.signing_key(key_version)?;
        let message = Checkpoint::message(head.position, head.event_seq, &head.link, at, key_version);
        let signature = key.sign(&message).to_bytes();
        Ok(Checkpoint {
            position: head.position,
            event_seq: head.event_seq,
            link: head.link.clone(),
            at,
            key_version,
            signature,
        })
    }

    /// True when the signature is the one its key version makes (strict RFC 8032 checks).
    pub fn is_genuine(&self, checkpoint: &Checkpoint) -> bool {
        let Ok(public) = self.public_key(checkpoint.key_version) else { return false };
        let message = Checkpoint::message(
            checkpoint.position,
            checkpoint.event_seq,
            &checkpoint.link,
            checkpoint.at,
            checkpoint.key_version,
        );
        public.verify_strict(&message, &Signature::from_bytes(&checkpoint.signature)).is_ok()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckpointFinding {
    /// A line that is not a checkpoint, or whose signature does not verify: refused, not used.
    Forged { line: usize },
    /// The log ends before a genuine checkpoint: its newest rows were deleted together with
    /// their links, or an older copy of the database was restored.
    LogEndsEarly { last_good_seq: i64, last_position: i64, checkpoint_seq: i64, checkpoint_position: i64 },
    /// The chain holds another link where a genuine checkpoint names one: the chain was
    /// rewritten, or an older copy was restored and written on since.
    Diverged { position: i64, checkpoint_seq: i64, last_good_seq: i64 },
}

impl fmt::Display for CheckpointFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointFinding::Forged { line } => {
                write!(f, "checkpoint on line {line} is not signed by any audit key: refused")
            }
            CheckpointFinding::LogEndsEarly { last_good_seq, last_position, checkpoint_seq, checkpoint_position } => {
                write!(
                    f,
                    "the log ends at audit row seq {last_good_seq} (chain position {last_position}), but a signed \
                     checkpoint vouches for seq {checkpoint_seq} (position {checkpoint_position}): rows after seq \
                     {last_good_seq} were deleted, or an older copy of the database was restored; last good seq \
                     {last_good_seq}"
                )
            }
            CheckpointFinding::Diverged { position, checkpoint_seq, last_good_seq } => {
                write!(
                    f,
                    "chain position {position} is not the link a signed checkpoint names for seq {checkpoint_seq}: \
                     the chain was rewritten or an older copy restored; last good seq {last_good_seq}"
                )
            }
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointReport {
    /// Genuine checkpoints compared with the chain.
    pub checked: u64,
    /// The newest genuine checkpoint's audit row seq.
    pub newest_seq: Option<i64>,
    pub findings: Vec<CheckpointFinding>,
}

impl CheckpointReport {
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Compares the chain in `db` with the checkpoints in `text` (one per line).
pub async fn check(db: &DatabaseConnection, signer: &CheckpointSigner, text: &str) -> Result<CheckpointReport, Error> {
    let mut report = CheckpointReport::default();
    let mut genuine = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match Checkpoint::parse(line).filter(|checkpoint| signer.is_genuine(checkpoint)) {
            Some(checkpoint) => genuine.push(checkpoint),
            None => report.findings.push(CheckpointFinding::Forged { line: index + 1 }),
        }
    }
    genuine.sort_by_key(|checkpoint| checkpoint.position);
    report.checked = genuine.len() as u64;
    report.newest_seq = genuine.last().map(|checkpoint| checkpoint.event_seq);
    let Some(newest) = genuine.last() else { return Ok(report) };

    let positions: Vec<i64> = genuine.iter().map(|checkpoint| checkpoint.position).collect();
    let mut links: HashMap<i64, audit_chain::Model> = HashMap::new();
    for chunk in positions.chunks(1_000) {
        let found =
            audit_chain::Entity::find().filter(audit_chain::Column::Position.is_in(chunk.to_vec())).all(db).await?;
        links.extend(found.into_iter().map(|link| (link.position, link)));
    }
    let head = audit_chain::Entity::find()
        .filter(audit_chain::Column::Position.lte(newest.position))
        .order_by_desc(audit_chain::Column::Position)
        .one(db)
        .await?;

    // The newest seq every checkpoint up to here agrees with.
    let mut last_good_seq = 0;
    for checkpoint in &genuine {
        match links.get(&checkpoint.position) {
            Some(link) if link.link == checkpoint.link && link.event_seq == checkpoint.event_seq => {
                last_good_seq = checkpoint.event_seq;
            }
            Some(_) => {
                report.findings.push(CheckpointFinding::Diverged {
                    position: checkpoint.position,
                    checkpoint_seq: checkpoint.event_seq,
                    last_good_seq,
                });
                return Ok(report);
            }
            None => {
                let (last_position, last_seq) = head.as_ref().map_or((0, 0), |h| (h.position, h.event_seq));
                report.findings.push(if last_position < checkpoint.position {
                    CheckpointFinding::LogEndsEarly {
                        last_good_seq: last_seq,
                        last_position,
                        checkpoint_seq: newest.event_seq,
                        checkpoint_position: newest.position,
                    }
                } else {
                    // A link missing from the middle: `verify` names the gap too.
                    CheckpointFinding::Diverged {
                        position: checkpoint.position,
                        checkpoint_seq: checkpoint.event_seq,
                        last_good_seq,
                    }
                });
                return Ok(report);
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::crypto::LocalKeyring;

    fn head() -> ChainHead {
        ChainHead { position: 7, event_seq: 9, link: vec![0xab; 32] }
    }

    #[test]
    fn a_checkpoint_round_trips_through_its_line_and_a_syslog_header() {
        let signer = CheckpointSigner::new(Arc::new(LocalKeyring::generate("test")));
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap();
        let checkpoint = signer.sign(&head(), at).unwrap();
        let line = checkpoint.to_line();
        assert!(line.starts_with(r#"{"v":1,"position":7,"seq":9,"link":"abab"#), "{line}");
        assert_eq!(Checkpoint::parse(&line), Some(checkpoint.clone()));
        let syslog = format!("<110>1 2026-12-01T09:30:00.000000Z host clinic 42 audit-checkpoint - {line}");
        assert_eq!(Checkpoint::parse(&syslog), Some(checkpoint.clone()));
        assert!(signer.is_genuine(&checkpoint));
    }

    #[test]
    fn a_changed_field_or_another_key_breaks_the_signature() {
        let signer = CheckpointSigner::new(Arc::new(LocalKeyring::generate("test")));
        let other = CheckpointSigner::new(Arc::new(LocalKeyring::generate("test")));
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 30, 0).unwrap();
        let checkpoint = signer.sign(&head(), at).unwrap();
        assert!(!other.is_genuine(&checkpoint));
        let mut later = checkpoint.clone();
        later.at = at + chrono::Duration::seconds(1);
        assert!(!signer.is_genuine(&later));
        let mut shorter = checkpoint.clone();
        shorter.event_seq = 8;
        assert!(!signer.is_genuine(&shorter));
        let mut unknown = checkpoint;
        unknown.key_version = 5;
        assert!(!signer.is_genuine(&unknown));
    }
}
