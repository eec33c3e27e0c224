//! Who is acting, why, and from where: carried by every repository call.

use crate::domain::ids::{PatientId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Patient,
    Clinician,
    Admin,
    SecurityOfficer,
    /// The platform itself: CLI maintenance, seeding, background jobs.
    System,
    /// Nobody signed in: an invitee redeeming a link, a failed sign-in.
    Anonymous,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::Patient, Role::Clinician, Role::Admin, Role::SecurityOfficer, Role::System, Role::Anonymous];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Clinician => "clinician",
            Role::Admin => "admin",
            Role::SecurityOfficer => "security_officer",
            Role::System => "system",
            Role::Anonymous => "anonymous",
        }
    }

    /// The roles a user account can hold.
    pub fn parse_user_role(value: &str) -> Option<Self> {
        match value {
            "patient" => Some(Role::Patient),
            "clinician" => Some(Role::Clinician),
            "admin" => Some(Role::Admin),
            "security_officer" => Some(Role::SecurityOfficer),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<UserId>,
    pub role: Role,
    /// For a patient user: the patient record that is theirs.
    pub patient_id: Option<PatientId>,
}

impl Actor {
    pub fn system() -> Self {
        Self { user_id: None, role: Role::System, patient_id: None }
    }
}

/// Purpose of use, recorded with every access (HIPAA's treatment, payment, operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Treatment,
    Payment,
    Operations,
    Emergency,
    PatientRequest,
    SystemMaintenance,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Treatment => "treatment",
            Purpose::Payment => "payment",
            Purpose::Operations => "operations",
            Purpose::Emergency => "emergency",
            Purpose::PatientRequest => "patient_request",
            Purpose::SystemMaintenance => "system_maintenance",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    PatientCreate,
    PatientRead,
    PatientUpdate,
    PatientDelete,
    PatientSearch,
    UserInvite,
    UserEnroll,
    UserDisable,
    UserEnable,
    UserReenroll,
    UserEndSessions,
    AuthSignIn,
    AuthSignOut,
    UserList,
    PatientLookup,
    AuditRead,
    AuditVerify,
    PageOpen,
    PasskeyList,
    PasskeyAdd,
    PasskeyRename,
    PasskeyRemove,
    ChartRead,
    EntryCreate,
    EntryUpdate,
    EntryDelete,
    PatientList,
    AccessLogRead,
    ConsentList,
    ConsentGrant,
    ConsentRevoke,
    CareList,
    CareAssign,
    CareEnd,
    BreakGlassDeclare,
    BreakGlassList,
    BreakGlassReview,
    AlertList,
    ClinicianList,
    AppointmentBook,
    AppointmentChange,
    AppointmentRead,
    ScheduleManage,
    CalendarRead,
    ReminderSend,
    VisitTypeManage,
    AppointmentConfirm,
    VideoJoin,
    VideoAdmit,
    VideoLeave,
    VideoEnd,
    VideoWaitingList,
    VideoDelegate,
    MessageInbox,
    MessageRead,
    MessageSend,
    AttachmentRead,
    AccountRequestList,
    AccountRequestDecide,
    EnrollmentLinkIssue,
    AlertRead,
    AlertUpdate,
    AlertDeliver,
    MonitorRun,
    IncidentList,
    IncidentOpen,
    IncidentRead,
    IncidentUpdate,
    IncidentPatientOpen,
    IncidentExport,
    // h1: an admin records a workforce member's surname/address indexes and own patient record.
    WorkforceIdentitySet,
}

impl Action {
    /// Every action, for exhaustive policy tests.
    pub const ALL: [Action; 71] = [
        Action::PatientCreate,
        Action::PatientRead,
        Action::PatientUpdate,
        Action::PatientDelete,
        Action::PatientSearch,
        Action::UserInvite,
        Action::UserEnroll,
        Action::UserDisable,
        Action::UserEnable,
        Action::UserReenroll,
        Action::UserEndSessions,
        Action::AuthSignIn,
        Action::AuthSignOut,
        Action::UserList,
        Action::PatientLookup,
        Action::AuditRead,
        Action::AuditVerify,
        Action::PageOpen,
        Action::PasskeyList,
        Action::PasskeyAdd,
        Action::PasskeyRename,
        Action::PasskeyRemove,
        Action::ChartRead,
        Action::EntryCreate,
        Action::EntryUpdate,
        Action::EntryDelete,
        Action::PatientList,
        Action::AccessLogRead,
        Action::ConsentList,
        Action::ConsentGrant,
        Action::ConsentRevoke,
        Action::CareList,
        Action::CareAssign,
        Action::CareEnd,
        Action::BreakGlassDeclare,
        Action::BreakGlassList,
        Action::BreakGlassReview,
        Action::AlertList,
        Action::ClinicianList,
        Action::AppointmentBook,
        Action::AppointmentChange,
        Action::AppointmentRead,
        Action::ScheduleManage,
        Action::CalendarRead,
        Action::ReminderSend,
        Action::VisitTypeManage,
        Action::AppointmentConfirm,
        Action::VideoJoin,
        Action::VideoAdmit,
        Action::VideoLeave,
        Action::VideoEnd,
        Action::VideoWaitingList,
        Action::VideoDelegate,
        Action::MessageInbox,
        Action::MessageRead,
        Action::MessageSend,
        Action::AttachmentRead,
        Action::AccountRequestList,
        Action::AccountRequestDecide,
        Action::EnrollmentLinkIssue,
        Action::AlertRead,
        Action::AlertUpdate,
        Action::AlertDeliver,
        Action::MonitorRun,
        Action::IncidentList,
        Action::IncidentOpen,
        Action::IncidentRead,
        Action::IncidentUpdate,
        Action::IncidentPatientOpen,
        Action::IncidentExport,
        Action::WorkforceIdentitySet, // h1
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::PatientCreate => "patient.create",
            Action::PatientRead => "patient.read",
            Action::PatientUpdate => "patient.update",
            Action::PatientDelete => "patient.delete",
            Action::PatientSearch => "patient.search",
            Action::UserInvite => "user.invite",
            Action::UserEnroll => "user.enroll",
            Action::UserDisable => "user.disable",
            Action::UserEnable => "user.enable",
            Action::UserReenroll => "user.reenroll",
            Action::UserEndSessions => "user.end_sessions",
            Action::AuthSignIn => "auth.sign_in",
            Action::AuthSignOut => "auth.sign_out",
            Action::UserList => "user.list",
            Action::PatientLookup => "patient.lookup",
            Action::AuditRead => "audit.read",
            Action::AuditVerify => "audit.verify",
            Action::PageOpen => "page.open",
            Action::PasskeyList => "passkey.list",
            Action::PasskeyAdd => "passkey.add",
            Action::PasskeyRename => "passkey.rename",
            Action::PasskeyRemove => "passkey.remove",
            Action::ChartRead => "chart.read",
            Action::EntryCreate => "chart.entry.create",
            Action::EntryUpdate => "chart.entry.update",
            Action::EntryDelete => "chart.entry.delete",
            Action::PatientList => "patient.list",
            Action::AccessLogRead => "patient.access_log.read",
            Action::ConsentList => "consent.list",
            Action::ConsentGrant => "consent.grant",
            Action::ConsentRevoke => "consent.revoke",
            Action::CareList => "care.list",
            Action::CareAssign => "care.assign",
            Action::CareEnd => "care.end",
            Action::BreakGlassDeclare => "break_glass.declare",
            Action::BreakGlassList => "break_glass.list",
            Action::BreakGlassReview => "break_glass.review",
            Action::AlertList => "alert.list",
            Action::ClinicianList => "clinician.list",
            Action::AppointmentBook => "appointment.book",
            Action::AppointmentChange => "appointment.change",
            Action::AppointmentRead => "appointment.read",
            Action::ScheduleManage => "schedule.manage",
            Action::CalendarRead => "calendar.read",
            Action::ReminderSend => "reminder.send",
            Action::VisitTypeManage => "visit_type.manage",
            Action::AppointmentConfirm => "appointment.confirm",
            Action::VideoJoin => "video.join",
            Action::VideoAdmit => "video.admit",
            Action::VideoLeave => "video.leave",
            Action::VideoEnd => "video.end",
            Action::VideoWaitingList => "video.waiting_list",
            Action::VideoDelegate => "video.delegate",
            Action::MessageInbox => "message.inbox",
            Action::MessageRead => "message.read",
            Action::MessageSend => "message.send",
            Action::AttachmentRead => "message.attachment.read",
            Action::AccountRequestList => "account_request.list",
            Action::AccountRequestDecide => "account_request.decide",
            Action::EnrollmentLinkIssue => "user.enrollment_link",
            Action::AlertRead => "alert.read",
            Action::AlertUpdate => "alert.update",
            Action::AlertDeliver => "alert.deliver",
            Action::MonitorRun => "monitor.run",
            Action::IncidentList => "incident.list",
            Action::IncidentOpen => "incident.open",
            Action::IncidentRead => "incident.read",
            Action::IncidentUpdate => "incident.update",
            Action::IncidentPatientOpen => "incident.patient.open",
            Action::IncidentExport => "incident.export",
            Action::WorkforceIdentitySet => "user.identity.set", // h1
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    Denied,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }
}

/// The request's audit context. Built once per request by the server (or once per CLI run).
#[derive(Clone, Debug)]
pub struct AuditContext {
    pub actor: Actor,
    pub purpose: Purpose,
    pub justification: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl AuditContext {
    /// The same request, recorded under the purpose and justification an access decision gave.
    pub fn for_access(&self, purpose: Purpose, justification: Option<String>) -> Self {
        Self { purpose, justification: justification.or_else(|| self.justification.clone()), ..self.clone() }
    }

    /// The context of a command run by an operator on the server itself.
    pub fn system(command: &str) -> Self {
        Self {
            actor: Actor::system(),
            purpose: Purpose::SystemMaintenance,
            justification: Some(format!("cli: {command}")),
            request_id: None,
            ip: None,
            user_agent: None,
        }
    }
}
