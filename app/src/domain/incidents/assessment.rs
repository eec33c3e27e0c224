//! The breach risk assessment of 45 CFR 164.402(2): an impermissible use or disclosure of PHI
//! is presumed a breach unless a risk assessment of at least these four factors shows a low
//! probability that the PHI has been compromised:
//!
//! 1. the nature and extent of the PHI involved (kinds of identifiers, likelihood of
//!    re-identification);
//! 2. the unauthorized person who used the PHI or to whom it was disclosed;
//! 3. whether the PHI was actually acquired or viewed;
//! 4. the extent to which the risk has been mitigated.
//!
//! And the safe harbor of 164.402 ("unsecured PHI") with HHS's guidance: PHI encrypted as that
//! guidance specifies, whose key was not compromised, is not unsecured, so its loss is not a
//! breach that must be notified. The form asks both questions; a decision is refused until all
//! four factors and the key question are answered.

pub use crate::breach::{ACQUIRED, Assessment, PHI_KINDS};
use crate::domain::Error;

/// The decision the assessment supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    NotABreach,
    LowProbability,
    Breach,
}

impl Decision {
    pub const ALL: [Decision; 3] = [Decision::NotABreach, Decision::LowProbability, Decision::Breach];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::NotABreach => "not-a-breach",
            Decision::LowProbability => "low-probability",
            Decision::Breach => "breach",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == value)
    }
}

const MAX_TEXT: usize = 4000;

impl Assessment {
    /// Checks what is given (known kinds, lengths); missing answers are allowed while saving.
    pub fn validate(&self) -> Result<(), Error> {
        if self.phi_kinds.iter().any(|k| !PHI_KINDS.iter().any(|(key, _)| key == k)) {
            return Err(Error::validation("phi_kinds", "holds a kind of PHI that is not on the checklist"));
        }
        if let Some(value) = &self.acquired_or_viewed
            && !ACQUIRED.contains(&value.as_str())
        {
            return Err(Error::validation(
                "acquired_or_viewed",
                "choose acquired, viewed, not acquired or viewed, or unknown",
            ));
        }
        for (field, text) in [
            ("nature_extent", &self.nature_extent),
            ("unauthorized_person", &self.unauthorized_person),
            ("acquired_detail", &self.acquired_detail),
            ("mitigation", &self.mitigation),
        ] {
            if text.chars().count() > MAX_TEXT {
                return Err(Error::validation(field, "must be at most 4000 characters"));
            }
        }
        Ok(())
    }

    /// The first unanswered factor (or the key question), named as the form names it.
    pub fn missing(&self) -> Option<(&'static str, &'static str)> {
        let blank = |s: &str| s.trim().is_empty();
        if self.phi_kinds.is_empty() || blank(&self.nature_extent) {
            return Some(("nature_extent", "factor 1 (the nature and extent of the PHI involved) is not answered"));
        }
        if blank(&self.unauthorized_person) {
            return Some((
                "unauthorized_person",
                "factor 2 (the unauthorized person who used or received the PHI) is not answered",
            ));
        }
        if self.acquired_or_viewed.is_none() {
            return Some((
                "acquired_or_viewed",
                "factor 3 (whether the PHI was actually acquired or viewed) is not answered",
            ));
        }
        if blank(&self.mitigation) {
            return Some(("mitigation", "factor 4 (the extent to which the risk has been mitigated) is not answered"));
        }
        if self.encrypted_at_rest.is_none() || self.keys_compromised.is_none() {
            return Some((
                "keys_compromised",
                "the encryption question (encrypted at rest, keys compromised) is not answered",
            ));
        }
        None
    }

    /// Safe harbor: the PHI was encrypted and its keys were not compromised, so it was not
    /// "unsecured PHI" and the notification duty of 164.404-410 does not arise.
    pub fn safe_harbor(&self) -> bool {
        self.encrypted_at_rest == Some(true) && self.keys_compromised == Some(false)
    }

    /// May `decision` be recorded on these answers? All four factors first; a breach of PHI
    /// that was secured is a contradiction.
    pub fn supports(&self, decision: Decision) -> Result<(), Error> {
        if let Some((field, message)) = self.missing() {
            return Err(Error::validation(field, message));
        }
        if decision == Decision::Breach && self.safe_harbor() {
            return Err(Error::validation(
                "decision",
                "the PHI was encrypted and its keys were not compromised: it was not unsecured PHI, so this is not a notifiable breach",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> Assessment {
        Assessment {
            phi_kinds: vec!["demographic".into(), "clinical".into()],
            nature_extent: "charts of three patients".into(),
            unauthorized_person: "a clinician of the clinic, no care relationship".into(),
            acquired_or_viewed: Some("viewed".into()),
            acquired_detail: "chart reads in the audit log".into(),
            mitigation: "access removed, retraining".into(),
            encrypted_at_rest: Some(false),
            keys_compromised: Some(false),
        }
    }

    #[test]
    fn each_missing_factor_is_named() {
        assert_eq!(complete().missing(), None);
        type Change = fn(&mut Assessment);
        let cases: [(Change, &str); 6] = [
            (|a| a.phi_kinds.clear(), "nature_extent"),
            (|a| a.nature_extent = " ".into(), "nature_extent"),
            (|a| a.unauthorized_person.clear(), "unauthorized_person"),
            (|a| a.acquired_or_viewed = None, "acquired_or_viewed"),
            (|a| a.mitigation.clear(), "mitigation"),
            (|a| a.keys_compromised = None, "keys_compromised"),
        ];
        for (change, field) in cases {
            let mut a = complete();
            change(&mut a);
            assert_eq!(a.missing().map(|(f, _)| f), Some(field));
        }
    }

    #[test]
    fn encrypted_phi_with_safe_keys_is_not_a_notifiable_breach() {
        let mut a = complete();
        a.encrypted_at_rest = Some(true);
        a.keys_compromised = Some(false);
        assert!(a.safe_harbor());
        assert!(a.supports(Decision::Breach).is_err());
        assert!(a.supports(Decision::NotABreach).is_ok());
        a.keys_compromised = Some(true);
        assert!(!a.safe_harbor());
        assert!(a.supports(Decision::Breach).is_ok());
    }
}
