//! Separation of duties for accounts (45 CFR 164.308(a)(3)(ii)(A)-(B), (a)(4)(ii)(B)-(C)).
//!
//! An admin invites, re-enrolls and re-enables accounts, but never receives an enrollment link:
//! the link is emailed to the invitee (the address entered at invitation, sealed at rest; for a
//! patient, the address on their record), or, where no mail relay is configured, printed on the
//! host by an operator (`server admin enrollment-link`). Granting or restoring a privileged role
//! (clinician, admin, security officer) and re-enrolling any account are requests that take
//! effect only when a second person approves ([`access::decide_account_request`] says who). With
//! the two-person rule turned off (a clinic with one administrator) each change takes effect at
//! once and waits in the security officer's review queue instead. Every request, approval,
//! refusal and link sent is audited.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use uuid::Uuid;

use super::Error;
use super::access::{self, AccountRequestFacts};
use super::audit::{Action, AuditContext, AuditEntry, AuditLog, Outcome, Role};
use super::clock::Clock;
use super::crypto::{DataKeys, FieldRef};
use super::entities::{account_request, patient};
use super::ids::UserId;
use super::scheduling::reminders::Mailer;
use super::users::{Invitation, NewUser, User, UserRepo, UserStatus, entry, validate};

const RESOURCE: &str = "account_request";

/// What an account change asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Invite,
    Enable,
    Reenroll,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Invite => "invite",
            RequestKind::Enable => "enable",
            RequestKind::Reenroll => "reenroll",
        }
    }

    fn parse(value: &str) -> Result<Self, Error> {
        match value {
            "invite" => Ok(RequestKind::Invite),
            "enable" => Ok(RequestKind::Enable),
            "reenroll" => Ok(RequestKind::Reenroll),
            _ => Err(Error::Internal(anyhow::anyhow!("unknown account request kind"))),
        }
    }

    fn action(self) -> Action {
        match self {
            RequestKind::Invite => Action::UserInvite,
            RequestKind::Enable => Action::UserEnable,
            RequestKind::Reenroll => Action::UserReenroll,
        }
    }
}

/// How the enrollment link of a change that took effect reached (or will reach) its person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkDelivery {
    /// Emailed to the invitee.
    Emailed,
    /// No mail relay, no address, or the relay refused: an operator prints a fresh link on the
    /// host with `server admin enrollment-link --user <id>`.
    OnHost,
    /// The change needs no link (re-enabling an account).
    NotNeeded,
}

impl LinkDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkDelivery::Emailed => "emailed",
            LinkDelivery::OnHost => "on-host",
            LinkDelivery::NotNeeded => "not-needed",
        }
    }
}

/// What became of an admin's account change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Waits for a second person's approval (request id).
    AwaitingApproval(Uuid),
    /// Took effect.
    Done(LinkDelivery),
}

/// A request as the approval queues show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRequest {
    pub id: Uuid,
    pub kind: RequestKind,
    pub user_id: UserId,
    pub target_role: Role,
    /// pending (waits for approval) or applied (took effect with the rule off; waits for review).
    pub status: String,
    pub requested_by: Option<UserId>,
    pub requested_at: DateTime<Utc>,
    /// Whether the reader may decide it (the two-person rule, asked of the policy).
    pub decidable: bool,
}

#[derive(Clone)]
pub struct AccountRequests {
    db: DatabaseConnection,
    users: UserRepo,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    /// The relay enrollment links go out through; None where no mail is configured.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// Off only for a clinic with a single administrator (`accounts.two_person_rule`).
    pub two_person_rule: bool,
    pub link_ttl: Duration,
    pub clinic: String,
    pub public_url: url::Url,
}

impl std::fmt::Debug for AccountRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRequests").field("two_person_rule", &self.two_person_rule).finish_non_exhaustive()
    }
}

fn privileged(role: Role) -> bool {
    matches!(role, Role::Clinician | Role::Admin | Role::SecurityOfficer)
}

impl AccountRequests {
    pub fn new(
        db: DatabaseConnection,
        users: UserRepo,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        public_url: url::Url,
    ) -> Self {
        Self {
            db,
            users,
            keys,
            audit,
            clock,
            mailer: None,
            two_person_rule: true,
            link_ttl: Duration::hours(72),
            clinic: "Clinic".to_owned(),
            public_url,
        }
    }

    /// Invites a person. A workforce account needs the invitee's email address; a patient's
    /// link goes to the address on their record, so the admin cannot send it elsewhere.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn invite(
        &self,
        ctx: &AuditContext,
        new: NewUser,
        email: Option<&str>,
    ) -> Result<(UserId, ChangeOutcome), Error> {
        let decision = self.users.authorize(ctx, Action::UserInvite, None).await?;
        validate(&new)?;
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        let email = match (new.role, email) {
            (Role::Patient, None) => None,
            (Role::Patient, Some(_)) => {
                return Err(Error::validation("email", "a patient's link goes to the email on their record"));
            }
            (_, None) => return Err(Error::validation("email", "enter the invitee's email address")),
            (_, Some(email)) => Some(valid_email(email)?.to_owned()),
        };
        let txn = self.db.begin().await?;
        let email = match (new.patient_id, email) {
            (Some(patient), _) => self.patient_email(&txn, patient.0).await?,
            (None, email) => email,
        };
        let id = self.users.insert_account(&txn, ctx, &new, email.as_deref()).await?;
        let outcome = self.request_or_apply(&txn, ctx, RequestKind::Invite, id, new.role, decision.rule).await?;
        txn.commit().await?;
        tracing::info!(user_id = %id, role = new.role.as_str(), "user invited");
        Ok((id, self.after_commit(ctx, id, outcome).await?))
    }

    /// Asks to re-enroll an account: its passkeys, links and sessions end and a new link goes
    /// to the person, once a second person approves.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn reenroll(&self, ctx: &AuditContext, id: UserId) -> Result<ChangeOutcome, Error> {
        let decision = self.users.authorize(ctx, Action::UserReenroll, Some(id)).await?;
        self.users.refuse_if_held(ctx, Action::UserReenroll, id).await?;
        let user = self.users.get(id).await?;
        self.refuse_if_pending(ctx, Action::UserReenroll, &user).await?;
        let txn = self.db.begin().await?;
        let outcome = self.request_or_apply(&txn, ctx, RequestKind::Reenroll, id, user.role, decision.rule).await?;
        txn.commit().await?;
        self.after_commit(ctx, id, outcome).await
    }

    /// Enables a disabled account. Restoring a privileged role waits for approval; a patient's
    /// account is enabled at once.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn enable(&self, ctx: &AuditContext, id: UserId) -> Result<ChangeOutcome, Error> {
        let user = self.users.get(id).await?;
        if !privileged(user.role) || user.status != UserStatus::Disabled {
            self.users.enable(ctx, id).await?;
            return Ok(ChangeOutcome::Done(LinkDelivery::NotNeeded));
        }
        let decision = self.users.authorize(ctx, Action::UserEnable, Some(id)).await?;
        self.users.refuse_if_held(ctx, Action::UserEnable, id).await?;
        self.refuse_if_pending(ctx, Action::UserEnable, &user).await?;
        let txn = self.db.begin().await?;
        let outcome = self.request_or_apply(&txn, ctx, RequestKind::Enable, id, user.role, decision.rule).await?;
        txn.commit().await?;
        self.after_commit(ctx, id, outcome).await
    }

    /// Requests waiting for approval or (with the rule off) for review, oldest first, each
    /// marked with whether `ctx`'s actor may decide it. Audited as one read.
    pub async fn queue(&self, ctx: &AuditContext) -> Result<Vec<AccountRequest>, Error> {
        let decision = self.users.authorize(ctx, Action::AccountRequestList, None).await?;
        let txn = self.db.begin().await?;
        let rows = account_request::Entity::find()
            .filter(account_request::Column::Status.is_in(["pending", "applied"]))
            .order_by_asc(account_request::Column::RequestedAt)
            .all(&txn)
            .await?;
        let listed = AuditEntry {
            action: Action::AccountRequestList,
            resource_type: RESOURCE,
            resource_id: None,
            patient_id: None,
            outcome: Outcome::Allowed,
            rule: Some(decision.rule.to_owned()),
        };
        self.audit.append(&txn, ctx, listed).await?;
        txn.commit().await?;
        rows.into_iter()
            .map(|row| {
                let request = to_request(row)?;
                let decidable = access::decide_account_request(&ctx.actor, request.facts()).allowed;
                Ok(AccountRequest { decidable, ..request })
            })
            .collect()
    }

    /// Approves (`approve`) or refuses a request. A pending request's change takes effect on
    /// approval; a refused invitation leaves its account disabled. With the rule off, approving
    /// marks an applied change reviewed and refusing it disables the account after the fact.
    #[tracing::instrument(skip_all, fields(request_id = %id, approve))]
    pub async fn decide(&self, ctx: &AuditContext, id: Uuid, approve: bool) -> Result<(), Error> {
        self.users.authorize(ctx, Action::AccountRequestDecide, None).await?;
        // Approving a re-enable or re-enrollment lets the account back in: not while an
        // automatic response holds it (refused before the decision, audited).
        let asked = account_request::Entity::find_by_id(id)
            .filter(account_request::Column::Status.eq("pending"))
            .one(&self.db)
            .await?;
        if let Some(asked) = asked.filter(|_| approve) {
            let kind = RequestKind::parse(&asked.kind)?;
            if kind != RequestKind::Invite {
                self.users.refuse_if_held(ctx, kind.action(), UserId(asked.user_id)).await?;
            }
        }
        let txn = self.db.begin().await?;
        let row = account_request::Entity::find_by_id(id)
            .filter(account_request::Column::Status.is_in(["pending", "applied"]))
            .one(&txn)
            .await?;
        let Some(row) = row else {
            self.audit.append(&txn, ctx, decision_entry(id, None, Outcome::Error, "not-found")).await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        };
        let request = to_request(row.clone())?;
        let decision = access::decide_account_request(&ctx.actor, request.facts());
        if !decision.allowed {
            self.audit
                .append(&txn, ctx, decision_entry(id, Some(request.user_id), Outcome::Denied, decision.rule))
                .await?;
            txn.commit().await?;
            tracing::warn!(rule = decision.rule, "account request decision refused");
            return Err(Error::Forbidden);
        }
        let pending = row.status == "pending";
        let status = match (pending, approve) {
            (true, true) => "approved",
            (false, true) => "reviewed",
            (_, false) => "refused",
        };
        let result = account_request::Entity::update_many()
            .col_expr(account_request::Column::Status, Expr::value(status))
            .col_expr(account_request::Column::DecidedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .col_expr(account_request::Column::DecidedAt, Expr::value(self.clock.now()))
            .filter(account_request::Column::Id.eq(id))
            .filter(account_request::Column::Status.eq(row.status.as_str()))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            txn.rollback().await?;
            return Err(Error::Conflict("this request was decided by someone else; reload".to_owned()));
        }
        let user = request.user_id;
        let rule = format!("{}:{status}", decision.rule);
        self.audit.append(&txn, ctx, decision_entry(id, Some(user), Outcome::Allowed, &rule)).await?;
        let mut outcome = Pending::Nothing;
        let mut end_sessions = false;
        match (pending, approve, request.kind) {
            (true, true, kind) => {
                outcome = self.apply(&txn, ctx, kind, user).await?;
                let target = self.users.load(&txn, user).await?;
                let change = format!("two-person-rule:approved:{id}");
                self.audit
                    .append(&txn, ctx, entry(kind.action(), user, target.patient_id, Outcome::Allowed, &change))
                    .await?;
                end_sessions = kind == RequestKind::Reenroll;
            }
            (true, false, RequestKind::Invite) | (false, false, _) => {
                self.users.write_status(&txn, ctx, user, UserStatus::Disabled).await?;
                self.users.revoke_links(&txn, user).await?;
                let undone = format!("{}:refused:disabled", decision.rule);
                self.audit.append(&txn, ctx, entry(Action::UserDisable, user, None, Outcome::Allowed, &undone)).await?;
                end_sessions = true;
            }
            (true, false, _) | (false, true, _) => {}
        }
        txn.commit().await?;
        if end_sessions {
            self.users.end_all_sessions(user).await?;
        }
        if let Pending::Link(invitation) = outcome {
            self.deliver(ctx, user, &invitation).await?;
        }
        Ok(())
    }

    /// Records the change as a pending request (rule on, privileged role or any re-enrollment)
    /// or applies it now (rule off, or a patient account's invitation or re-enabling).
    async fn request_or_apply<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        kind: RequestKind,
        user: UserId,
        role: Role,
        rule: &str,
    ) -> Result<Applied, Error> {
        let needs_second_person = kind == RequestKind::Reenroll || privileged(role);
        let patient = self.users.load(conn, user).await?.patient_id;
        if needs_second_person && self.two_person_rule {
            let request = self.insert_request(conn, ctx, kind, user, role, "pending").await?;
            let change = format!("{rule}:awaiting-approval:{request}");
            self.audit.append(conn, ctx, entry(kind.action(), user, patient, Outcome::Allowed, &change)).await?;
            return Ok(Applied::Awaiting(request));
        }
        let outcome = self.apply(conn, ctx, kind, user).await?;
        let change = if needs_second_person {
            let request = self.insert_request(conn, ctx, kind, user, role, "applied").await?;
            format!("{rule}:review-queue:{request}")
        } else {
            rule.to_owned()
        };
        self.audit.append(conn, ctx, entry(kind.action(), user, patient, Outcome::Allowed, &change)).await?;
        Ok(Applied::Now(outcome, kind == RequestKind::Reenroll))
    }

    /// Makes the change, in `conn`'s transaction.
    async fn apply<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        kind: RequestKind,
        user: UserId,
    ) -> Result<Pending, Error> {
        Ok(match kind {
            RequestKind::Invite => Pending::Link(self.users.issue_enrollment(conn, ctx, user, self.link_ttl).await?),
            RequestKind::Reenroll => Pending::Link(self.users.reset_enrollment(conn, ctx, user, self.link_ttl).await?),
            RequestKind::Enable => {
                self.users.write_status(conn, ctx, user, UserStatus::Active).await?;
                Pending::Nothing
            }
        })
    }

    async fn after_commit(&self, ctx: &AuditContext, user: UserId, applied: Applied) -> Result<ChangeOutcome, Error> {
        match applied {
            Applied::Awaiting(request) => Ok(ChangeOutcome::AwaitingApproval(request)),
            Applied::Now(pending, end_sessions) => {
                if end_sessions {
                    self.users.end_all_sessions(user).await?;
                }
                match pending {
                    Pending::Link(invitation) => Ok(ChangeOutcome::Done(self.deliver(ctx, user, &invitation).await?)),
                    Pending::Nothing => Ok(ChangeOutcome::Done(LinkDelivery::NotNeeded)),
                }
            }
        }
    }

    /// Emails the link to the account's address, audited before it leaves. Without a relay or
    /// an address, or when the relay refuses, the link is dropped here (only its hash is
    /// stored) and the operator prints a fresh one on the host.
    async fn deliver(&self, ctx: &AuditContext, user: UserId, invitation: &Invitation) -> Result<LinkDelivery, Error> {
        let Some(mailer) = &self.mailer else { return Ok(LinkDelivery::OnHost) };
        let Some(address) = self.users.email_of(&self.db, user).await? else { return Ok(LinkDelivery::OnHost) };
        let patient = self.users.get(user).await?.patient_id;
        let sent = |outcome, rule: &str| entry(Action::EnrollmentLinkIssue, user, patient, outcome, rule);
        self.audit.record(&self.db, ctx, sent(Outcome::Allowed, "emailed-to-invitee")).await?;
        let link = format!("{}/enroll#{}", self.public_url.as_str().trim_end_matches('/'), invitation.token.expose());
        let (subject, body) = enrollment_text(&self.clinic, &link, self.link_ttl.num_hours());
        match mailer.send(&address, &subject, &body).await {
            Ok(()) => Ok(LinkDelivery::Emailed),
            Err(failure) => {
                self.audit.record(&self.db, ctx, sent(Outcome::Error, failure.as_str())).await?;
                tracing::warn!(user_id = %user, failure = failure.as_str(), "enrollment link not emailed");
                Ok(LinkDelivery::OnHost)
            }
        }
    }

    async fn insert_request<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        kind: RequestKind,
        user: UserId,
        role: Role,
        status: &str,
    ) -> Result<Uuid, Error> {
        let id = Uuid::now_v7();
        account_request::ActiveModel {
            id: Set(id),
            kind: Set(kind.as_str().to_owned()),
            user_id: Set(user.0),
            target_role: Set(role.as_str().to_owned()),
            status: Set(status.to_owned()),
            requested_by: Set(ctx.actor.user_id.map(|u| u.0)),
            requested_at: Set(self.clock.now()),
            decided_by: Set(None),
            decided_at: Set(None),
        }
        .insert(conn)
        .await?;
        Ok(id)
    }

    /// One pending change per account: a second request is refused (audited) until the first
    /// is decided.
    async fn refuse_if_pending(&self, ctx: &AuditContext, action: Action, user: &User) -> Result<(), Error> {
        let pending = account_request::Entity::find()
            .filter(account_request::Column::UserId.eq(user.id.0))
            .filter(account_request::Column::Status.eq("pending"))
            .one(&self.db)
            .await?;
        if pending.is_none() {
            return Ok(());
        }
        let refused = entry(action, user.id, user.patient_id, Outcome::Denied, "request-already-pending");
        self.audit.record(&self.db, ctx, refused).await?;
        Err(Error::Conflict("a change to this account already waits for approval".to_owned()))
    }

    /// The email on a patient's record, opened by the system to address their link (never
    /// shown to the admin).
    async fn patient_email<C: ConnectionTrait>(&self, conn: &C, patient: Uuid) -> Result<Option<String>, Error> {
        let Some(row) = patient::Entity::find_by_id(patient).one(conn).await? else { return Ok(None) };
        let Some(sealed) = &row.email else { return Ok(None) };
        let key = self.keys.get(conn, row.data_key_id).await?;
        Ok(Some(key.open_string(FieldRef::new("patient", "email", patient), sealed)?))
    }
}

enum Pending {
    Link(Invitation),
    Nothing,
}

enum Applied {
    Awaiting(Uuid),
    /// The change and whether the account's sessions end once it commits.
    Now(Pending, bool),
}

impl AccountRequest {
    fn facts(&self) -> AccountRequestFacts {
        AccountRequestFacts { requested_by: self.requested_by, target: self.user_id, target_role: self.target_role }
    }
}

fn to_request(row: account_request::Model) -> Result<AccountRequest, Error> {
    Ok(AccountRequest {
        id: row.id,
        kind: RequestKind::parse(&row.kind)?,
        user_id: UserId(row.user_id),
        target_role: Role::parse_user_role(&row.target_role)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("account request {} has an unknown role", row.id)))?,
        status: row.status,
        requested_by: row.requested_by.map(UserId),
        requested_at: row.requested_at,
        decidable: false,
    })
}

fn decision_entry(request: Uuid, user: Option<UserId>, outcome: Outcome, rule: &str) -> AuditEntry {
    AuditEntry {
        action: Action::AccountRequestDecide,
        resource_type: RESOURCE,
        resource_id: Some(match user {
            Some(user) => format!("{request} user {user}"),
            None => request.to_string(),
        }),
        patient_id: None,
        outcome,
        rule: Some(rule.to_owned()),
    }
}

/// An email address as typed: one @, a dot in the domain, no spaces, at most 254 characters.
fn valid_email(email: &str) -> Result<&str, Error> {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid { Ok(email) } else { Err(Error::validation("email", "must be an email address")) }
}

/// What an enrollment email says: where to set up a passkey, and nothing else. No role, no
/// patient, no clinician: an inbox is not a safe place for any of it.
pub fn enrollment_text(clinic: &str, link: &str, hours: i64) -> (String, String) {
    let subject = format!("Set up your sign-in for {clinic}");
    let body = format!(
        "Hello,\r\n\r\n{clinic} has set up an account for you. Open this link within {hours} hours, on \
         the device you will sign in with, to create your passkey:\r\n\r\n{link}\r\n\r\n\
         The link works once. If you did not expect this email, ignore it.\r\n"
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enrollment_email_names_the_clinic_and_the_link_and_nothing_clinical() {
        let (subject, body) = enrollment_text("Maple Street Clinic", "https://clinic.test/enroll#abc", 72);
        assert_eq!(subject, "Set up your sign-in for Maple Street Clinic");
        assert!(body.contains("https://clinic.test/enroll#abc"));
        assert!(body.contains("within 72 hours"));
        for word in ["patient", "clinician", "admin", "chart", "visit", "role"] {
            assert!(!body.to_lowercase().contains(word), "{word}");
        }
    }

    #[test]
    fn email_addresses_are_checked_by_shape_only() {
        assert!(valid_email("dana.reyes@clinic.test").is_ok());
        for bad in ["", "no-at.test", "@clinic.test", "a@b", "a b@clinic.test", "a@clinic.test.", "a@b@c.test"] {
            assert!(valid_email(bad).is_err(), "{bad:?}");
        }
    }
}
