//! The one place that decides who may touch a patient's PHI (45 CFR 164.308(a)(4),
//! 164.312(a)(1)).
//!
//! Role alone never opens a chart. A clinician needs a relationship to the patient: assigned to
//! them, on their care team, named in the patient's consent, or a declared emergency
//! (break-glass) that has not expired. Admins manage accounts and care relationships but never
//! see clinical PHI, and the security officer reviews without reading charts (minimum
//! necessary, 164.502(b)). A patient sees their own record. Every decision names its rule and
//! the purpose of use, and both go into the audit row.
//!
//! A video visit is narrower than the chart: only the appointment's clinician, or the one
//! colleague that clinician names as delegate for that visit, joins, admits and ends it. Being on
//! the care team, named in a consent or under break-glass opens the chart, never someone else's
//! call ([`VisitPart`]).
//!
//! [`decide`] is a pure function of the actor, the action and the facts about the relationship,
//! so it can be tested exhaustively; [`Guard`] loads those facts and audits every refusal.

mod guard;

pub use guard::{Guard, Permit};

use super::audit::{Action, Actor, Purpose, Role};
use super::ids::{PatientId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The rule that decided, recorded in the audit row.
    pub rule: &'static str,
    /// The purpose of use the access is recorded under.
    pub purpose: Purpose,
}

impl Decision {
    const fn allow(rule: &'static str) -> Self {
        Self { allowed: true, rule, purpose: Purpose::Operations }
    }

    const fn allow_for(rule: &'static str, purpose: Purpose) -> Self {
        Self { allowed: true, rule, purpose }
    }

    const fn deny(rule: &'static str) -> Self {
        Self { allowed: false, rule, purpose: Purpose::Operations }
    }
}

/// What is known about a clinician's relationship to one patient, loaded by [`Guard`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relationship {
    pub assigned: bool,
    pub care_team: bool,
    pub consent: bool,
    /// A break-glass declaration for this patient that has not expired.
    pub break_glass: bool,
    /// The actor's part in the video visit the action is about ([`Guard::check_visit`]).
    pub visit: VisitPart,
}

/// Who the actor is to one video visit: the appointment's clinician, the delegate that
/// clinician named for it, or neither (every other action, and everyone else).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VisitPart {
    #[default]
    None,
    Clinician,
    Delegate,
}

impl Relationship {
    /// Any of the facts that let a clinician see the patient (names on calendars and lists).
    pub fn any(self) -> bool {
        self.assigned || self.care_team || self.consent || self.break_glass
    }
}

/// May `actor` administer user accounts (invite, disable, enable, re-enroll)? Account
/// administration is the admin's job; it never opens clinical PHI.
pub fn decide_user_admin(actor: &Actor) -> Decision {
    match actor.role {
        Role::System => SYSTEM,
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
        | Action::WorkforceIdentitySet
        | Action::PatientLookup => decide_user_admin(actor),
        // Both sides of the two-person rule see the requests; who may decide one is
        // `decide_account_request`'s question.
        Action::AccountRequestList | Action::AccountRequestDecide => match actor.role {
            Role::Admin => Decision::allow("admin-account-requests"),
            Role::SecurityOfficer => Decision::allow("security-officer-account-requests"),
            Role::System if action == Action::AccountRequestList => SYSTEM,
            Role::System => Decision::deny("a-person-approves"),
            _ => Decision::deny("not-an-account-reviewer"),
        },
        // A fresh enrollment link is printed on the host, never sent to a browser.
        Action::EnrollmentLinkIssue => match actor.role {
            Role::System => SYSTEM,
            _ => Decision::deny("host-operator-only"),
        },
        Action::AuditRead | Action::AuditVerify => match actor.role {
            Role::System => SYSTEM,
            Role::Admin => Decision::allow("admin-reviews-audit"),
            Role::SecurityOfficer => Decision::allow("security-officer-reviews-audit"),
            _ => Decision::deny("not-an-auditor"),
        },
        _ => Decision::deny("not-an-operation"),
    }
}

/// What is known about a pending account request when someone decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountRequestFacts {
    /// Who asked for the change (None: the system, e.g. a CLI step).
    pub requested_by: Option<UserId>,
    /// The account the change is to.
    pub target: UserId,
    /// The role that account holds.
    pub target_role: Role,
}

/// May `approver` approve or refuse an account change someone else asked for (the two-person
/// rule, 45 CFR 164.308(a)(3)(ii)(A)-(B) and (a)(4)(ii)(C))? The security officer approves the
/// admins' changes; an admin approves changes to a security officer's account. Nobody decides
/// their own request or a change to their own account.
pub fn decide_account_request(approver: &Actor, facts: AccountRequestFacts) -> Decision {
    let Some(approver_id) = approver.user_id else {
        return Decision::deny("a-person-approves");
    };
    if facts.requested_by == Some(approver_id) {
        return Decision::deny("own-request");
    }
    if facts.target == approver_id {
        return Decision::deny("own-account");
    }
    match (facts.target_role, approver.role) {
        (Role::SecurityOfficer, Role::Admin) => Decision::allow("admin-approves-security-officer-change"),
        (Role::SecurityOfficer, _) => Decision::deny("an-admin-approves-security-officer-changes"),
        (_, Role::SecurityOfficer) => Decision::allow("security-officer-approves"),
        _ => Decision::deny("the-security-officer-approves"),
    }
}

/// What is known about the clinician account an admin wants to relate to a patient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Assignee {
    /// The admin asking is the one who created (invited) that account.
    pub created_by_actor: bool,
}

/// May `actor` give this clinician account a care relationship (assignment, care team)? The
/// care-relationship rules of [`decide`] first; then an account an admin created is never
/// assigned by that same admin, or one person could make an account and point it at any chart.
pub fn decide_assignment(actor: &Actor, patient: PatientId, assignee: Assignee) -> Decision {
    let decision = decide(actor, Action::CareAssign, Some(patient), Relationship::default());
    if decision.allowed && actor.role != Role::System && assignee.created_by_actor {
        return Decision::deny("assigner-created-the-account");
    }
    decision
}

/// May `actor` open one patient's demographics (name, address) to write the breach notice of an
/// incident (45 CFR 164.404)? Only the security officer, and only for a patient in that
/// incident's affected set, computed from the audit log: the incident is the purpose, so it
/// bounds the access (minimum necessary, 164.502(b)). [`decide`] itself refuses this action,
/// since it is never decided without knowing the set.
pub fn decide_incident_patient(actor: &Actor, in_affected_set: bool) -> Decision {
    match (actor.role, in_affected_set) {
        (Role::SecurityOfficer, true) => Decision::allow("security-officer-breach-notice"),
        (Role::SecurityOfficer, false) => Decision::deny("not-in-incident-affected-set"),
        _ => Decision::deny("not-the-security-officer"),
    }
}

/// May `actor` open the landing page of `page_role`? Each role has its own.
pub fn decide_page(actor: &Actor, page_role: Role) -> Decision {
    if actor.role == page_role { Decision::allow("own-role-page") } else { Decision::deny("another-roles-page") }
}

const SYSTEM: Decision = Decision::allow_for("system-maintenance", Purpose::SystemMaintenance);

/// How the policy treats an action on a patient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Reads one patient's PHI.
    ChartRead,
    /// Writes one patient's PHI.
    ChartWrite,
    /// A patient managing their own record's sharing and access history.
    PatientOwn,
    /// Admin work on care relationships: who, never what is in the chart.
    CareAdmin,
    /// Security officer review work.
    Review,
}

fn kind(action: Action) -> Option<Kind> {
    Some(match action {
        Action::PatientRead | Action::ChartRead => Kind::ChartRead,
        Action::PatientUpdate | Action::EntryCreate | Action::EntryUpdate | Action::EntryDelete => Kind::ChartWrite,
        Action::AccessLogRead | Action::ConsentList | Action::ConsentGrant | Action::ConsentRevoke => Kind::PatientOwn,
        Action::CareList | Action::CareAssign | Action::CareEnd => Kind::CareAdmin,
        Action::BreakGlassList
        | Action::BreakGlassReview
        | Action::AlertList
        | Action::AlertRead
        | Action::AlertUpdate
        | Action::IncidentList
        | Action::IncidentOpen
        | Action::IncidentRead
        | Action::IncidentUpdate
        | Action::IncidentExport => Kind::Review,
        _ => return None,
    })
}

/// May `actor` perform `action` on `patient` (None for actions on no single patient: create,
/// search, lists), given what is known about their `relationship` to that patient?
pub fn decide(actor: &Actor, action: Action, patient: Option<PatientId>, relationship: Relationship) -> Decision {
    if actor.role == Role::System {
        return SYSTEM;
    }
    if actor.role == Role::Anonymous {
        return Decision::deny("not-signed-in");
    }
    let own = matches!((actor.patient_id, patient), (Some(own), Some(target)) if own == target);
    match action {
        Action::PatientCreate => match actor.role {
            Role::Clinician => Decision::allow_for("clinician-registers-patient", Purpose::Treatment),
            _ => Decision::deny("only-clinicians-register-patients"),
        },
        Action::PatientDelete => Decision::deny("records-management-only"),
        Action::PatientSearch | Action::PatientList => match actor.role {
            Role::Clinician => Decision::allow_for("clinician-finds-patients", Purpose::Treatment),
            _ => Decision::deny("only-clinicians-search-patients"),
        },
        Action::PatientLookup => decide_operation(actor, action),
        Action::BreakGlassDeclare => match (actor.role, patient) {
            (Role::Clinician, Some(_)) => Decision::allow_for("clinician-declares-emergency", Purpose::Emergency),
            _ => Decision::deny("only-clinicians-break-glass"),
        },
        Action::ClinicianList => Decision::allow("workforce-directory"),
        Action::AppointmentBook | Action::AppointmentChange => match actor.role {
            Role::Patient if own => Decision::allow_for("patient-self", Purpose::PatientRequest),
            Role::Patient => Decision::deny("not-own-record"),
            Role::Clinician => decide_chart(actor, Some(Kind::ChartWrite), own, relationship),
            Role::Admin => Decision::allow("front-desk-schedules"),
            _ => Decision::deny("not-a-scheduler"),
        },
        // Confirming a request or recording a missed visit is the clinic's, never the patient's.
        Action::AppointmentConfirm => match actor.role {
            Role::Patient => Decision::deny("staff-only"),
            Role::Clinician => decide_chart(actor, Some(Kind::ChartWrite), own, relationship),
            Role::Admin => Decision::allow("front-desk-schedules"),
            _ => Decision::deny("not-a-scheduler"),
        },
        Action::AppointmentRead => match actor.role {
            Role::Patient | Role::Clinician => decide_chart(actor, Some(Kind::ChartRead), own, relationship),
            Role::Admin => Decision::deny("admin-minimum-necessary"),
            _ => Decision::deny("security-officer-minimum-necessary"),
        },
        Action::ScheduleManage => match actor.role {
            Role::Admin => Decision::allow("admin-manages-schedule"),
            Role::Clinician => Decision::allow("clinician-manages-own-hours"),
            _ => Decision::deny("not-a-scheduler"),
        },
        Action::CalendarRead => match actor.role {
            Role::Admin | Role::Clinician => Decision::allow("staff-calendar"),
            _ => Decision::deny("not-staff"),
        },
        Action::ReminderSend | Action::AlertDeliver | Action::MonitorRun => Decision::deny("system-only"),
        // A video visit is joined by the appointment's patient, its clinician or the delegate the
        // clinician named for it; no chart relationship (not even break-glass) stands in for that.
        Action::VideoJoin | Action::VideoLeave => match actor.role {
            Role::Patient => decide_chart(actor, Some(Kind::ChartRead), own, relationship),
            Role::Clinician => decide_visit(relationship.visit),
            Role::Admin => Decision::deny("admin-minimum-necessary"),
            _ => Decision::deny("security-officer-minimum-necessary"),
        },
        Action::VideoAdmit | Action::VideoEnd => match actor.role {
            Role::Clinician => decide_visit(relationship.visit),
            _ => Decision::deny("clinician-only"),
        },
        // Only the visit's own clinician hands it to a colleague; a delegate does not pass it on.
        Action::VideoDelegate => match (actor.role, relationship.visit) {
            (Role::Clinician, VisitPart::Clinician) => Decision::allow_for("visit-clinician", Purpose::Treatment),
            (Role::Clinician, _) => Decision::deny("only-the-visits-clinician"),
            _ => Decision::deny("clinician-only"),
        },
        Action::VideoWaitingList | Action::MessageInbox => match actor.role {
            Role::Clinician => Decision::allow_for("clinician-own-queue", Purpose::Treatment),
            _ => Decision::deny("clinician-only"),
        },
        // Messages are between a patient and their care team. An emergency opens the chart, not
        // the patient's correspondence.
        Action::MessageRead | Action::MessageSend | Action::AttachmentRead => match actor.role {
            Role::Clinician if !(relationship.assigned || relationship.care_team || relationship.consent) => {
                Decision::deny("messaging-needs-care-relationship")
            }
            _ => decide_chart(actor, Some(Kind::ChartRead), own, relationship),
        },
        Action::VisitTypeManage => match actor.role {
            Role::Admin => Decision::allow("admin-manages-schedule"),
            _ => Decision::deny("not-an-admin"),
        },
        _ => match kind(action) {
            Some(Kind::ChartRead | Kind::ChartWrite) => decide_chart(actor, kind(action), own, relationship),
            Some(Kind::PatientOwn) => match (actor.role, own) {
                (Role::Patient, true) => Decision::allow_for("patient-self", Purpose::PatientRequest),
                (Role::Patient, false) => Decision::deny("not-own-record"),
                _ => Decision::deny("only-the-patient"),
            },
            Some(Kind::CareAdmin) => match actor.role {
                Role::Admin => Decision::allow("admin-manages-care-relationships"),
                _ => Decision::deny("not-an-admin"),
            },
            Some(Kind::Review) => match actor.role {
                Role::SecurityOfficer => Decision::allow("security-officer-reviews"),
                _ => Decision::deny("not-the-security-officer"),
            },
            None => Decision::deny("not-a-patient-action"),
        },
    }
}

fn decide_visit(part: VisitPart) -> Decision {
    match part {
        VisitPart::Clinician => Decision::allow_for("visit-clinician", Purpose::Treatment),
        VisitPart::Delegate => Decision::allow_for("visit-delegate", Purpose::Treatment),
        VisitPart::None => Decision::deny("not-the-visits-clinician"),
    }
}

fn decide_chart(actor: &Actor, kind: Option<Kind>, own: bool, relationship: Relationship) -> Decision {
    match actor.role {
        Role::Patient => match (own, kind) {
            (true, Some(Kind::ChartRead)) => Decision::allow_for("patient-self", Purpose::PatientRequest),
            (true, _) => Decision::deny("patients-do-not-edit-charts"),
            (false, _) => Decision::deny("not-own-record"),
        },
        Role::Clinician => {
            let Relationship { assigned, care_team, consent, break_glass, .. } = relationship;
            if assigned {
                Decision::allow_for("assigned-clinician", Purpose::Treatment)
            } else if care_team {
                Decision::allow_for("care-team", Purpose::Treatment)
            } else if consent {
                Decision::allow_for("patient-consent", Purpose::Treatment)
            } else if break_glass {
                Decision::allow_for("break-glass", Purpose::Emergency)
            } else {
                Decision::deny("no-care-relationship")
            }
        }
        Role::Admin => Decision::deny("admin-minimum-necessary"),
        Role::SecurityOfficer => Decision::deny("security-officer-minimum-necessary"),
        Role::System => SYSTEM,
        Role::Anonymous => Decision::deny("not-signed-in"),
    }
}

#[cfg(test)]
mod tests;
