//! Every cell of role x relationship x consent x break-glass x part in a video visit x target x
//! action, each with the decision the issue asks for, written out independently of `decide`'s
//! structure.

use super::*;
use crate::domain::ids::UserId;

const CHART_READ: [Action; 2] = [Action::PatientRead, Action::ChartRead];
const CHART_WRITE: [Action; 4] = [Action::PatientUpdate, Action::EntryCreate, Action::EntryUpdate, Action::EntryDelete];
const PATIENT_OWN: [Action; 4] =
    [Action::AccessLogRead, Action::ConsentList, Action::ConsentGrant, Action::ConsentRevoke];
const CARE_ADMIN: [Action; 3] = [Action::CareList, Action::CareAssign, Action::CareEnd];
const REVIEW: [Action; 10] = [
    Action::BreakGlassList,
    Action::BreakGlassReview,
    Action::AlertList,
    Action::AlertRead,
    Action::AlertUpdate,
    Action::IncidentList,
    Action::IncidentOpen,
    Action::IncidentRead,
    Action::IncidentUpdate,
    Action::IncidentExport,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Own,
    Other,
    NoPatient,
}

fn relationships() -> Vec<Relationship> {
    let mut all = Vec::new();
    for visit in [VisitPart::None, VisitPart::Clinician, VisitPart::Delegate] {
        for bits in 0..16u8 {
            all.push(Relationship {
                assigned: bits & 1 != 0,
                care_team: bits & 2 != 0,
                consent: bits & 4 != 0,
                break_glass: bits & 8 != 0,
                visit,
            });
        }
    }
    all
}

/// The expected decision: allowed with (rule, purpose), or denied with rule.
fn expected(
    role: Role,
    action: Action,
    target: Target,
    r: Relationship,
) -> Result<(&'static str, Purpose), &'static str> {
    use Purpose::*;
    if role == Role::System {
        return Ok(("system-maintenance", SystemMaintenance));
    }
    if role == Role::Anonymous {
        return Err("not-signed-in");
    }
    let clinician_chart = || {
        if r.assigned {
            Ok(("assigned-clinician", Treatment))
        } else if r.care_team {
            Ok(("care-team", Treatment))
        } else if r.consent {
            Ok(("patient-consent", Treatment))
        } else if r.break_glass {
            Ok(("break-glass", Emergency))
        } else {
            Err("no-care-relationship")
        }
    };
    let minimum_necessary = match role {
        Role::Admin => "admin-minimum-necessary",
        _ => "security-officer-minimum-necessary",
    };
    if CHART_READ.contains(&action) {
        return match (role, target) {
            (Role::Patient, Target::Own) => Ok(("patient-self", PatientRequest)),
            (Role::Patient, _) => Err("not-own-record"),
            (Role::Clinician, _) => clinician_chart(),
            _ => Err(minimum_necessary),
        };
    }
    if CHART_WRITE.contains(&action) {
        return match (role, target) {
            (Role::Patient, Target::Own) => Err("patients-do-not-edit-charts"),
            (Role::Patient, _) => Err("not-own-record"),
            (Role::Clinician, _) => clinician_chart(),
            _ => Err(minimum_necessary),
        };
    }
    if PATIENT_OWN.contains(&action) {
        return match (role, target) {
            (Role::Patient, Target::Own) => Ok(("patient-self", PatientRequest)),
            (Role::Patient, _) => Err("not-own-record"),
            _ => Err("only-the-patient"),
        };
    }
    if CARE_ADMIN.contains(&action) {
        return if role == Role::Admin {
            Ok(("admin-manages-care-relationships", Operations))
        } else {
            Err("not-an-admin")
        };
    }
    if REVIEW.contains(&action) {
        return if role == Role::SecurityOfficer {
            Ok(("security-officer-reviews", Operations))
        } else {
            Err("not-the-security-officer")
        };
    }
    match action {
        Action::PatientCreate if role == Role::Clinician => Ok(("clinician-registers-patient", Treatment)),
        Action::PatientCreate => Err("only-clinicians-register-patients"),
        Action::PatientDelete => Err("records-management-only"),
        Action::PatientSearch | Action::PatientList if role == Role::Clinician => {
            Ok(("clinician-finds-patients", Treatment))
        }
        Action::PatientSearch | Action::PatientList => Err("only-clinicians-search-patients"),
        Action::PatientLookup if role == Role::Admin => Ok(("admin-manages-accounts", Operations)),
        Action::PatientLookup => Err("not-an-admin"),
        Action::BreakGlassDeclare if role == Role::Clinician && target != Target::NoPatient => {
            Ok(("clinician-declares-emergency", Emergency))
        }
        Action::BreakGlassDeclare => Err("only-clinicians-break-glass"),
        Action::ClinicianList => Ok(("workforce-directory", Operations)),
        Action::AppointmentBook | Action::AppointmentChange => match (role, target) {
            (Role::Patient, Target::Own) => Ok(("patient-self", PatientRequest)),
            (Role::Patient, _) => Err("not-own-record"),
            (Role::Clinician, _) => clinician_chart(),
            (Role::Admin, _) => Ok(("front-desk-schedules", Operations)),
            _ => Err("not-a-scheduler"),
        },
        Action::AppointmentConfirm => match role {
            Role::Patient => Err("staff-only"),
            Role::Clinician => clinician_chart(),
            Role::Admin => Ok(("front-desk-schedules", Operations)),
            _ => Err("not-a-scheduler"),
        },
        Action::AppointmentRead => match (role, target) {
            (Role::Patient, Target::Own) => Ok(("patient-self", PatientRequest)),
            (Role::Patient, _) => Err("not-own-record"),
            (Role::Clinician, _) => clinician_chart(),
            _ => Err(minimum_necessary),
        },
        Action::ScheduleManage => match role {
            Role::Admin => Ok(("admin-manages-schedule", Operations)),
            Role::Clinician => Ok(("clinician-manages-own-hours", Operations)),
            _ => Err("not-a-scheduler"),
        },
        Action::CalendarRead if matches!(role, Role::Admin | Role::Clinician) => Ok(("staff-calendar", Operations)),
        Action::CalendarRead => Err("not-staff"),
        Action::ReminderSend | Action::AlertDeliver | Action::MonitorRun => Err("system-only"),
        // A video visit: its clinician or their delegate, whatever else relates them to the
        // patient; a care team, a consent or break-glass alone opens no one else's call.
        Action::VideoJoin | Action::VideoLeave => match (role, target, r.visit) {
            (Role::Patient, Target::Own, _) => Ok(("patient-self", PatientRequest)),
            (Role::Patient, _, _) => Err("not-own-record"),
            (Role::Clinician, _, VisitPart::Clinician) => Ok(("visit-clinician", Treatment)),
            (Role::Clinician, _, VisitPart::Delegate) => Ok(("visit-delegate", Treatment)),
            (Role::Clinician, _, VisitPart::None) => Err("not-the-visits-clinician"),
            _ => Err(minimum_necessary),
        },
        Action::VideoAdmit | Action::VideoEnd => match (role, r.visit) {
            (Role::Clinician, VisitPart::Clinician) => Ok(("visit-clinician", Treatment)),
            (Role::Clinician, VisitPart::Delegate) => Ok(("visit-delegate", Treatment)),
            (Role::Clinician, VisitPart::None) => Err("not-the-visits-clinician"),
            _ => Err("clinician-only"),
        },
        Action::VideoDelegate => match (role, r.visit) {
            (Role::Clinician, VisitPart::Clinician) => Ok(("visit-clinician", Treatment)),
            (Role::Clinician, _) => Err("only-the-visits-clinician"),
            _ => Err("clinician-only"),
        },
        Action::VideoWaitingList | Action::MessageInbox if role == Role::Clinician => {
            Ok(("clinician-own-queue", Treatment))
        }
        Action::VideoWaitingList | Action::MessageInbox => Err("clinician-only"),
        Action::MessageRead | Action::MessageSend | Action::AttachmentRead => match (role, target) {
            (Role::Patient, Target::Own) => Ok(("patient-self", PatientRequest)),
            (Role::Patient, _) => Err("not-own-record"),
            (Role::Clinician, _) if !(r.assigned || r.care_team || r.consent) => {
                Err("messaging-needs-care-relationship")
            }
            (Role::Clinician, _) => clinician_chart(),
            _ => Err(minimum_necessary),
        },
        Action::VisitTypeManage if role == Role::Admin => Ok(("admin-manages-schedule", Operations)),
        Action::VisitTypeManage => Err("not-an-admin"),
        _ => Err("not-a-patient-action"),
    }
}

#[test]
fn every_role_relationship_target_and_action_has_the_expected_decision() {
    let mine = PatientId::new();
    let theirs = PatientId::new();
    let mut cells = 0;
    for role in Role::ALL {
        let actor = Actor { user_id: Some(UserId::new()), role, patient_id: Some(mine) };
        for relationship in relationships() {
            for (target, patient) in
                [(Target::Own, Some(mine)), (Target::Other, Some(theirs)), (Target::NoPatient, None)]
            {
                for action in Action::ALL {
                    let decision = decide(&actor, action, patient, relationship);
                    let got = if decision.allowed { Ok((decision.rule, decision.purpose)) } else { Err(decision.rule) };
                    let want = expected(role, action, target, relationship);
                    assert_eq!(got, want, "{role:?} {action:?} {target:?} {relationship:?}");
                    cells += 1;
                }
            }
        }
    }
    assert_eq!(cells, 6 * 16 * 3 * 3 * Action::ALL.len());
}

#[test]
fn a_clinician_without_any_relationship_is_refused_every_chart_action() {
    let actor = Actor { user_id: Some(UserId::new()), role: Role::Clinician, patient_id: None };
    for action in CHART_READ.into_iter().chain(CHART_WRITE) {
        let decision = decide(&actor, action, Some(PatientId::new()), Relationship::default());
        assert_eq!((decision.allowed, decision.rule), (false, "no-care-relationship"), "{action:?}");
    }
}

#[test]
fn break_glass_alone_opens_the_chart_for_emergency_purposes_only() {
    let actor = Actor { user_id: Some(UserId::new()), role: Role::Clinician, patient_id: None };
    let emergency = Relationship { break_glass: true, ..Relationship::default() };
    let decision = decide(&actor, Action::ChartRead, Some(PatientId::new()), emergency);
    assert!(decision.allowed);
    assert_eq!((decision.rule, decision.purpose), ("break-glass", Purpose::Emergency));
}

#[test]
fn break_glass_opens_the_chart_but_not_the_patients_messages() {
    let actor = Actor { user_id: Some(UserId::new()), role: Role::Clinician, patient_id: None };
    let emergency = Relationship { break_glass: true, ..Relationship::default() };
    for action in [Action::MessageRead, Action::MessageSend, Action::AttachmentRead] {
        let decision = decide(&actor, action, Some(PatientId::new()), emergency);
        assert_eq!((decision.allowed, decision.rule), (false, "messaging-needs-care-relationship"), "{action:?}");
    }
}

#[test]
fn a_care_team_clinician_with_consent_and_break_glass_is_refused_a_visit_that_is_not_theirs() {
    let actor = Actor { user_id: Some(UserId::new()), role: Role::Clinician, patient_id: None };
    let everything_but_the_visit =
        Relationship { assigned: true, care_team: true, consent: true, break_glass: true, visit: VisitPart::None };
    for action in [Action::VideoJoin, Action::VideoLeave, Action::VideoAdmit, Action::VideoEnd] {
        let decision = decide(&actor, action, Some(PatientId::new()), everything_but_the_visit);
        assert_eq!((decision.allowed, decision.rule), (false, "not-the-visits-clinician"), "{action:?}");
    }
    let delegate = Relationship { visit: VisitPart::Delegate, ..Relationship::default() };
    let decision = decide(&actor, Action::VideoAdmit, Some(PatientId::new()), delegate);
    assert_eq!((decision.allowed, decision.rule), (true, "visit-delegate"));
    let decision = decide(&actor, Action::VideoDelegate, Some(PatientId::new()), delegate);
    assert_eq!(
        (decision.allowed, decision.rule),
        (false, "only-the-visits-clinician"),
        "a delegate does not pass it on"
    );
}

#[test]
fn account_requests_and_operator_links_are_decided_by_role() {
    // (role, list, decide, enrollment link)
    type Rule = Result<&'static str, &'static str>;
    let table: [(Role, Rule, Rule, Rule); 6] = [
        (Role::Patient, Err("not-an-account-reviewer"), Err("not-an-account-reviewer"), Err("host-operator-only")),
        (Role::Clinician, Err("not-an-account-reviewer"), Err("not-an-account-reviewer"), Err("host-operator-only")),
        (Role::Admin, Ok("admin-account-requests"), Ok("admin-account-requests"), Err("host-operator-only")),
        (
            Role::SecurityOfficer,
            Ok("security-officer-account-requests"),
            Ok("security-officer-account-requests"),
            Err("host-operator-only"),
        ),
        (Role::System, Ok("system-maintenance"), Err("a-person-approves"), Ok("system-maintenance")),
        (Role::Anonymous, Err("not-an-account-reviewer"), Err("not-an-account-reviewer"), Err("host-operator-only")),
    ];
    for (role, list, decide_request, link) in table {
        let actor = Actor { user_id: Some(UserId::new()), role, patient_id: None };
        let got = |action| {
            let d = decide_operation(&actor, action);
            if d.allowed { Ok(d.rule) } else { Err(d.rule) }
        };
        assert_eq!(got(Action::AccountRequestList), list, "{role:?} list");
        assert_eq!(got(Action::AccountRequestDecide), decide_request, "{role:?} decide");
        assert_eq!(got(Action::EnrollmentLinkIssue), link, "{role:?} link");
    }
}

#[test]
fn the_two_person_rule_names_who_approves_and_nobody_approves_their_own_request() {
    let (admin, other_admin, officer, target) = (UserId::new(), UserId::new(), UserId::new(), UserId::new());
    let person = |id, role| Actor { user_id: Some(id), role, patient_id: None };
    let facts = |requested_by, target, target_role| AccountRequestFacts { requested_by, target, target_role };
    let cases: Vec<(Actor, AccountRequestFacts, Result<&str, &str>)> = vec![
        // The security officer approves an admin's change to a clinician, patient or admin.
        (
            person(officer, Role::SecurityOfficer),
            facts(Some(admin), target, Role::Clinician),
            Ok("security-officer-approves"),
        ),
        (
            person(officer, Role::SecurityOfficer),
            facts(Some(admin), target, Role::Patient),
            Ok("security-officer-approves"),
        ),
        (
            person(officer, Role::SecurityOfficer),
            facts(Some(admin), target, Role::Admin),
            Ok("security-officer-approves"),
        ),
        // Another admin does not.
        (
            person(other_admin, Role::Admin),
            facts(Some(admin), target, Role::Clinician),
            Err("the-security-officer-approves"),
        ),
        // The requester never approves their own request, whatever their role.
        (person(admin, Role::Admin), facts(Some(admin), target, Role::Clinician), Err("own-request")),
        (person(admin, Role::Admin), facts(Some(admin), target, Role::SecurityOfficer), Err("own-request")),
        (person(officer, Role::SecurityOfficer), facts(Some(officer), target, Role::Clinician), Err("own-request")),
        // A change to the security officer's account is approved by an admin who did not ask.
        (
            person(other_admin, Role::Admin),
            facts(Some(admin), officer, Role::SecurityOfficer),
            Ok("admin-approves-security-officer-change"),
        ),
        (
            person(officer, Role::SecurityOfficer),
            facts(Some(admin), officer, Role::SecurityOfficer),
            Err("own-account"),
        ),
        (
            person(UserId::new(), Role::SecurityOfficer),
            facts(Some(admin), officer, Role::SecurityOfficer),
            Err("an-admin-approves-security-officer-changes"),
        ),
        // Nobody approves a change to their own account.
        (person(officer, Role::SecurityOfficer), facts(Some(admin), officer, Role::Admin), Err("own-account")),
        // Other roles never approve.
        (
            person(target, Role::Clinician),
            facts(Some(admin), UserId::new(), Role::Clinician),
            Err("the-security-officer-approves"),
        ),
        (
            person(target, Role::Patient),
            facts(Some(admin), UserId::new(), Role::SecurityOfficer),
            Err("an-admin-approves-security-officer-changes"),
        ),
        // The system is not a second person.
        (Actor::system(), facts(Some(admin), target, Role::Clinician), Err("a-person-approves")),
    ];
    for (approver, facts, want) in cases {
        let d = decide_account_request(&approver, facts);
        let got = if d.allowed { Ok(d.rule) } else { Err(d.rule) };
        assert_eq!(got, want, "{:?} deciding {facts:?}", approver.role);
    }
}

#[test]
fn an_admin_never_assigns_an_account_they_created() {
    let admin = Actor { user_id: Some(UserId::new()), role: Role::Admin, patient_id: None };
    let patient = PatientId::new();
    let rule = |actor: &Actor, created_by_actor| {
        let d = decide_assignment(actor, patient, Assignee { created_by_actor });
        if d.allowed { Ok(d.rule) } else { Err(d.rule) }
    };
    assert_eq!(rule(&admin, true), Err("assigner-created-the-account"));
    assert_eq!(rule(&admin, false), Ok("admin-manages-care-relationships"));
    let clinician = Actor { role: Role::Clinician, ..admin.clone() };
    assert_eq!(rule(&clinician, false), Err("not-an-admin"));
    assert_eq!(rule(&clinician, true), Err("not-an-admin"));
    // Seeding and CLI steps run as the system, which made every account it relates.
    assert_eq!(rule(&Actor::system(), true), Ok("system-maintenance"));
}

#[test]
fn only_the_security_officer_opens_a_patient_of_an_incident_and_only_one_in_its_affected_set() {
    let actor = |role| Actor { user_id: Some(UserId::new()), role, patient_id: None };
    let cases = [
        (Role::SecurityOfficer, true, Ok("security-officer-breach-notice")),
        (Role::SecurityOfficer, false, Err("not-in-incident-affected-set")),
        (Role::Clinician, true, Err("not-the-security-officer")),
        (Role::Clinician, false, Err("not-the-security-officer")),
        (Role::Admin, true, Err("not-the-security-officer")),
        (Role::Patient, true, Err("not-the-security-officer")),
        (Role::System, true, Err("not-the-security-officer")),
        (Role::Anonymous, true, Err("not-the-security-officer")),
    ];
    for (role, in_set, want) in cases {
        let got = decide_incident_patient(&actor(role), in_set);
        let got = if got.allowed { Ok(got.rule) } else { Err(got.rule) };
        assert_eq!(got, want, "{role:?} in_set={in_set}");
    }
    // Without the set, the general policy refuses it to everyone but the system.
    let officer = actor(Role::SecurityOfficer);
    assert!(!decide(&officer, Action::IncidentPatientOpen, None, Relationship::default()).allowed);
}
