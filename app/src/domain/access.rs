//! The one place that decides who may touch a patient's PHI.
//!
//! Until care relationships exist (assignment, care team, consent, break-glass), a clinician is
//! refused every patient's chart: the policy fails closed rather than opening PHI by role
//! alone. Admins never see clinical PHI (minimum necessary, 45 CFR 164.502(b)).

use super::audit::{Action, Actor, Role};
use super::ids::PatientId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The rule that decided, recorded in the audit row.
    pub rule: &'static str,
}

impl Decision {
    const fn allow(rule: &'static str) -> Self {
        Self { allowed: true, rule }
    }

    const fn deny(rule: &'static str) -> Self {
        Self { allowed: false, rule }
    }
}

/// May `actor` administer user accounts (invite, disable, enable, re-enroll)? Account
/// administration is the admin's job; it never opens clinical PHI.
pub fn decide_user_admin(actor: &Actor) -> Decision {
    match actor.role {
        Role::System => Decision::allow("system-maintenance"),
        Role::Admin => Decision::allow("admin-manages-accounts"),
        _ => Decision::deny("not-an-admin"),
    }
}

/// May `actor` run an operation that concerns accounts or the audit trail rather than one
/// patient's chart? Admins manage accounts; admins and the security officer review the log.
pub fn decide_operation(actor: &Actor, action: Action) -> Decision {
    match action {
        Action::UserList
        | Action::UserInvite
        | Action::UserDisable
        | Action::UserEnable
        | Action::UserReenroll
        | Action::UserEndSessions
        | Action::PatientLookup => decide_user_admin(actor),
        Action::AuditRead | Action::AuditVerify => match actor.role {
            Role::System => Decision::allow("system-maintenance"),
            Role::Admin => Decision::allow("admin-reviews-audit"),
            Role::SecurityOfficer => Decision::allow("security-officer-reviews-audit"),
            _ => Decision::deny("not-an-auditor"),
        },
        _ => Decision::deny("not-an-operation"),
    }
}

/// May `actor` open the landing page of `page_role`? Each role has its own.
pub fn decide_page(actor: &Actor, page_role: Role) -> Decision {
    if actor.role == page_role { Decision::allow("own-role-page") } else { Decision::deny("another-roles-page") }
}

/// May `actor` perform `action` on `patient` (None for actions on no patient yet: create, search)?
pub fn decide(actor: &Actor, action: Action, patient: Option<PatientId>) -> Decision {
    if action == Action::PatientLookup {
        return decide_operation(actor, action);
    }
    match (actor.role, action) {
        (Role::System, _) => Decision::allow("system-maintenance"),
        (Role::Patient, Action::PatientRead) => match (actor.patient_id, patient) {
            (Some(own), Some(target)) if own == target => Decision::allow("patient-self"),
            _ => Decision::deny("not-own-record"),
        },
        (Role::Patient, _) => Decision::deny("patient-may-only-read-own-record"),
        (
            _,
            Action::UserInvite | Action::UserEnroll | Action::UserDisable | Action::UserEnable | Action::UserReenroll,
        ) => Decision::deny("not-a-patient-action"),
        (Role::Clinician, Action::PatientCreate) => Decision::allow("clinician-registers-patient"),
        (Role::Clinician, _) => Decision::deny("no-care-relationship"),
        (Role::Admin, _) => Decision::deny("admin-minimum-necessary"),
        (Role::SecurityOfficer, _) => Decision::deny("security-officer-minimum-necessary"),
        (Role::Anonymous, _) => Decision::deny("not-signed-in"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;

    fn actor(role: Role, own: Option<PatientId>) -> Actor {
        Actor { user_id: Some(UserId::new()), role, patient_id: own }
    }

    #[test]
    fn every_role_and_action_has_the_expected_decision() {
        let mine = PatientId::new();
        let theirs = PatientId::new();
        let actions = [
            Action::PatientCreate,
            Action::PatientRead,
            Action::PatientUpdate,
            Action::PatientDelete,
            Action::PatientSearch,
        ];
        for role in Role::ALL {
            for action in actions {
                for target in [Some(mine), Some(theirs), None] {
                    let decision = decide(&actor(role, Some(mine)), action, target);
                    let expected = match role {
                        Role::System => true,
                        Role::Patient => action == Action::PatientRead && target == Some(mine),
                        Role::Clinician => action == Action::PatientCreate,
                        Role::Admin | Role::SecurityOfficer | Role::Anonymous => false,
                    };
                    assert_eq!(decision.allowed, expected, "{role:?} {action:?} {target:?}");
                }
            }
        }
    }
}
