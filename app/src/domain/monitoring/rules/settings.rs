//! Rule settings: the defaults are written here, beside the rules; `[monitoring.rules.<name>]`
//! overrides only what it names, and a name that is not a rule is refused at startup (a typo
//! must not silently leave a rule at its default).

use std::collections::BTreeMap;

use chrono::Duration;

use super::{
    RuleSettings, after_hours, break_glass_frequent, break_glass_unreviewed, bulk_access, large_listing,
    privilege_change, probing, self_access, sign_in_failures_account, sign_in_failures_address, sign_in_spray,
    unexplained,
};
use crate::domain::monitoring::Severity;

/// The defaults of the rule called `name`; None if there is no such rule.
pub fn default_settings(name: &str) -> Option<RuleSettings> {
    match name {
        bulk_access::NAME => Some(bulk_access::default_settings()),
        after_hours::NAME => Some(after_hours::default_settings()),
        large_listing::NAME => Some(large_listing::default_settings()),
        self_access::NAME => Some(self_access::default_settings()),
        unexplained::NAME => Some(unexplained::default_settings()),
        probing::NAME => Some(probing::default_settings()),
        sign_in_failures_account::NAME => Some(sign_in_failures_account::default_settings()),
        sign_in_failures_address::NAME => Some(sign_in_failures_address::default_settings()),
        sign_in_spray::NAME => Some(sign_in_spray::default_settings()),
        privilege_change::NAME => Some(privilege_change::default_settings()),
        break_glass_unreviewed::NAME => Some(break_glass_unreviewed::default_settings()),
        break_glass_frequent::NAME => Some(break_glass_frequent::default_settings()),
        _ => None,
    }
}

/// What one `[monitoring.rules.<name>]` table says; None: keep the default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleOverride {
    pub enabled: Option<bool>,
    pub threshold: Option<i64>,
    pub window_minutes: Option<i64>,
    pub severity: Option<String>,
    /// 0 turns the critical level off.
    pub critical_at: Option<i64>,
}

/// Each named rule's settings: its defaults with `overrides` applied. Names may use `_` for
/// `-` (environment variables cannot carry a dash: `APP_MONITORING__RULES__BULK_ACCESS__...`).
pub fn resolve(
    names: &[&'static str],
    overrides: &BTreeMap<String, RuleOverride>,
) -> Result<BTreeMap<&'static str, RuleSettings>, String> {
    let mut out = BTreeMap::new();
    for &name in names {
        let settings = default_settings(name).ok_or_else(|| format!("rule {name} has no default settings"))?;
        out.insert(name, settings);
    }
    for (key, given) in overrides {
        let wanted = key.replace('_', "-");
        let Some((name, settings)) = out.iter_mut().find(|(name, _)| **name == wanted) else {
            let known: Vec<&str> = names.to_vec();
            return Err(format!("monitoring.rules.{key} is not a rule; the rules are: {}", known.join(", ")));
        };
        if let Some(enabled) = given.enabled {
            settings.enabled = enabled;
        }
        if let Some(threshold) = given.threshold {
            if threshold < 1 {
                return Err(format!("monitoring.rules.{name}.threshold must be at least 1"));
            }
            settings.threshold = threshold;
        }
        if let Some(minutes) = given.window_minutes {
            if !(1..=60 * 24 * 31).contains(&minutes) {
                return Err(format!("monitoring.rules.{name}.window_minutes must be between 1 and 44640"));
            }
            settings.window = Duration::minutes(minutes);
        }
        if let Some(severity) = &given.severity {
            settings.severity = Severity::parse(severity)
                .ok_or_else(|| format!("monitoring.rules.{name}.severity must be low, medium, high or critical"))?;
        }
        if let Some(critical) = given.critical_at {
            settings.critical_at = match critical {
                0 => None,
                n if n >= settings.threshold => Some(n),
                _ => {
                    return Err(format!(
                        "monitoring.rules.{name}.critical_at must be 0 (off) or at least the threshold"
                    ));
                }
            };
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 2] = [bulk_access::NAME, probing::NAME];

    #[test]
    fn an_override_changes_only_what_it_names() {
        let overrides =
            BTreeMap::from([("bulk_access".to_owned(), RuleOverride { threshold: Some(40), ..Default::default() })]);
        let resolved = resolve(&NAMES, &overrides).unwrap();
        let bulk = &resolved["bulk-access"];
        assert_eq!((bulk.threshold, bulk.window, bulk.critical_at), (40, Duration::minutes(10), Some(90)));
        assert_eq!(resolved["probing"].threshold, 10);
    }

    #[test]
    fn an_unknown_rule_name_is_refused_with_the_known_ones_listed() {
        let overrides = BTreeMap::from([("bulk-acess".to_owned(), RuleOverride::default())]);
        let err = resolve(&NAMES, &overrides).unwrap_err();
        assert_eq!(err, "monitoring.rules.bulk-acess is not a rule; the rules are: bulk-access, probing");
    }

    #[test]
    fn bad_values_name_the_setting() {
        let bad = |o: RuleOverride| resolve(&NAMES, &BTreeMap::from([("probing".to_owned(), o)])).unwrap_err();
        assert!(bad(RuleOverride { threshold: Some(0), ..Default::default() }).contains("probing.threshold"));
        assert!(bad(RuleOverride { severity: Some("urgent".into()), ..Default::default() }).contains("severity"));
        assert!(bad(RuleOverride { critical_at: Some(3), ..Default::default() }).contains("critical_at"));
    }
}
