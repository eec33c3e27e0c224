//! User accounts, created by invitation only (45 CFR 164.312(a)(2)(i), unique user
//! identification). An admin invites; the invitee redeems a single-use, expiring enrollment
//! token to register a passkey. Disabling an account ends its sessions at once; re-enrolling
//! revokes its passkeys and open links and issues a new link. Every step is audited.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Error;
use super::access::{self, Decision};
use super::audit::{Action, Actor, AuditContext, AuditEntry, AuditLog, Outcome, Role};
use super::clock::Clock;
use super::crypto::{DataKeys, FieldRef};
use super::entities::{app_user, enrollment, passkey};
use super::ids::{PatientId, UserId};
use super::sessions::DbSessionStore;

mod identity;
pub use identity::WorkforceIdentity;

const RESOURCE: &str = "user";

/// How recent a user-verified passkey assertion must be to add another passkey.
pub const FRESH_VERIFICATION: Duration = Duration::minutes(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// Invited, no passkey yet.
    Invited,
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }

    fn parse(value: &str) -> Result<Self, Error> {
        match value {
            "invited" => Ok(UserStatus::Invited),
            "active" => Ok(UserStatus::Active),
            "disabled" => Ok(UserStatus::Disabled),
            _ => Err(Error::Internal(anyhow::anyhow!("unknown user status"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    pub role: Role,
    pub display_name: String,
    /// Required for a patient user: the record that is theirs. Absent for everyone else.
    pub patient_id: Option<PatientId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub role: Role,
    pub display_name: String,
    pub patient_id: Option<PatientId>,
    pub status: UserStatus,
}

impl User {
    pub fn actor(&self) -> Actor {
        Actor { user_id: Some(self.id), role: self.role, patient_id: self.patient_id }
    }
}

/// One row of the admin's account list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountListing {
    pub id: UserId,
    pub role: Role,
    /// A workforce member's name; None for a patient account, shown by MRN instead.
    pub name: Option<String>,
    /// The MRN of a patient account's record.
    pub mrn: Option<String>,
    pub status: UserStatus,
    pub passkeys: u64,
}

/// A single-use enrollment token, shown once in a link and stored only as a hash.
pub struct EnrollmentToken(String);

impl EnrollmentToken {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrollmentToken(<redacted>)")
    }
}

/// A passkey as registered by the ceremony, ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPasskey {
    pub credential_id: Vec<u8>,
    /// The credential as webauthn-rs serializes it: public key and counters, no secret.
    pub passkey: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeySummary {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A passkey's name as the person typed it, trimmed: 1 to 60 characters.
pub fn validate_device_name(name: &str) -> Result<&str, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(Error::validation("device_name", "must be 1 to 60 characters"));
    }
    crate::api::input::DisplayText::parse(name, 60).map_err(|problem| Error::validation("device_name", problem))?;
    Ok(name)
}

#[derive(Debug)]
pub struct Invitation {
    pub user_id: UserId,
    pub token: EnrollmentToken,
    pub expires_at: DateTime<Utc>,
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[derive(Clone)]
pub struct UserRepo {
    db: DatabaseConnection,
    keys: Arc<DataKeys>,
    audit: Arc<AuditLog>,
    clock: Arc<dyn Clock>,
    sessions: DbSessionStore,
}

impl std::fmt::Debug for UserRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserRepo")
    }
}

impl UserRepo {
    pub fn new(
        db: DatabaseConnection,
        keys: Arc<DataKeys>,
        audit: Arc<AuditLog>,
        clock: Arc<dyn Clock>,
        sessions: DbSessionStore,
    ) -> Self {
        Self { db, keys, audit, clock, sessions }
    }

    /// Creates an invited account and its first enrollment link, valid for `ttl`, and hands
    /// the link to the caller: a step on the host (bootstrap, seeding), never a browser's. An
    /// admin invites through [`super::accounts::AccountRequests`], which sends the link to the
    /// invitee.
    #[tracing::instrument(skip_all, fields(actor_role = ctx.actor.role.as_str()))]
    pub async fn invite(&self, ctx: &AuditContext, new: NewUser, ttl: Duration) -> Result<Invitation, Error> {
        self.authorize(ctx, Action::EnrollmentLinkIssue, None).await?;
        let decision = self.authorize(ctx, Action::UserInvite, None).await?;
        validate(&new)?;
        let txn = self.db.begin().await?;
        let id = self.insert_account(&txn, ctx, &new, None).await?;
        let invitation = self.issue_enrollment(&txn, ctx, id, ttl).await?;
        self.audit
            .append(&txn, ctx, entry(Action::UserInvite, id, new.patient_id, Outcome::Allowed, decision.rule))
            .await?;
        txn.commit().await?;
        tracing::info!(user_id = %id, role = new.role.as_str(), "user invited");
        Ok(invitation)
    }

    /// Writes a new invited account (display name and email sealed under its own data key) in
    /// `conn`'s transaction; no link yet.
    pub(crate) async fn insert_account<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        new: &NewUser,
        email: Option<&str>,
    ) -> Result<UserId, Error> {
        let id = UserId::new();
        let now = self.clock.now();
        let key = self.keys.create(conn, id.0, now).await?;
        let display_name = key.seal_str(FieldRef::new("app_user", "display_name", id.0), new.display_name.trim())?;
        let email = email.map(|e| key.seal_str(FieldRef::new("app_user", "email", id.0), e.trim())).transpose()?;
        app_user::ActiveModel {
            id: Set(id.0),
            role: Set(new.role.as_str().to_owned()),
            data_key_id: Set(key.id()),
            display_name: Set(display_name),
            patient_id: Set(new.patient_id.map(|p| p.0)),
            status: Set(UserStatus::Invited.as_str().to_owned()),
            created_at: Set(now),
            created_by: Set(ctx.actor.user_id.map(|u| u.0)),
            updated_at: Set(now),
            updated_by: Set(ctx.actor.user_id.map(|u| u.0)),
            email: Set(email),
            family_name_bidx: Set(None),
            address_bidx: Set(None),
            own_patient_id: Set(None),
        }
        .insert(conn)
        .await?;
        Ok(id)
    }

    /// The email address enrollment links for `id` go to, opened only to send one.
    pub(crate) async fn email_of<C: ConnectionTrait>(&self, conn: &C, id: UserId) -> Result<Option<String>, Error> {
        let row = app_user::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound)?;
        let Some(sealed) = &row.email else { return Ok(None) };
        let key = self.keys.get(conn, row.data_key_id).await?;
        Ok(Some(key.open_string(FieldRef::new("app_user", "email", id.0), sealed)?))
    }

    /// When the account's current passkeys began: the last enrollment link it used. Rows of
    /// the audit log older than this were made by whoever held the account before.
    pub async fn enrolled_at(&self, id: UserId) -> Result<Option<DateTime<Utc>>, Error> {
        use sea_orm::QueryOrder;
        Ok(enrollment::Entity::find()
            .filter(enrollment::Column::UserId.eq(id.0))
            .filter(enrollment::Column::UsedAt.is_not_null())
            .order_by_desc(enrollment::Column::UsedAt)
            .one(&self.db)
            .await?
            .and_then(|row| row.used_at))
    }

    /// A fresh enrollment link for an account that is waiting to enroll, for the operator on
    /// the host to pass on where no mail relay is configured. Earlier unused links are
    /// revoked. Refused for an account whose change still waits for a second person's
    /// approval, and for an account that is not waiting to enroll (re-enroll it instead).
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn operator_link(&self, ctx: &AuditContext, id: UserId, ttl: Duration) -> Result<Invitation, Error> {
        let decision = self.authorize(ctx, Action::EnrollmentLinkIssue, Some(id)).await?;
        let txn = self.db.begin().await?;
        let user = self.load(&txn, id).await?;
        let waiting = super::entities::account_request::Entity::find()
            .filter(super::entities::account_request::Column::UserId.eq(id.0))
            .filter(super::entities::account_request::Column::Status.eq("pending"))
            .one(&txn)
            .await?
            .is_some();
        let refusal = if waiting {
            Some(("awaiting-approval", "this account's change waits for a second person's approval"))
        } else if user.status != UserStatus::Invited {
            Some(("not-waiting-to-enroll", "this account is not waiting to enroll; re-enroll it first"))
        } else {
            None
        };
        if let Some((rule, message)) = refusal {
            self.audit
                .append(&txn, ctx, entry(Action::EnrollmentLinkIssue, id, user.patient_id, Outcome::Denied, rule))
                .await?;
            txn.commit().await?;
            return Err(Error::Conflict(message.to_owned()));
        }
        self.revoke_links(&txn, id).await?;
        let invitation = self.issue_enrollment(&txn, ctx, id, ttl).await?;
        let rule = format!("{}:printed-on-host", decision.rule);
        self.audit
            .append(&txn, ctx, entry(Action::EnrollmentLinkIssue, id, user.patient_id, Outcome::Allowed, &rule))
            .await?;
        txn.commit().await?;
        Ok(invitation)
    }

    /// Revokes every open enrollment link of the account.
    pub(crate) async fn revoke_links<C: ConnectionTrait>(&self, conn: &C, id: UserId) -> Result<(), Error> {
        enrollment::Entity::update_many()
            .col_expr(enrollment::Column::RevokedAt, Expr::value(self.clock.now()))
            .filter(enrollment::Column::UserId.eq(id.0))
            .filter(enrollment::Column::UsedAt.is_null())
            .filter(enrollment::Column::RevokedAt.is_null())
            .exec(conn)
            .await?;
        Ok(())
    }

    /// The user a live enrollment token belongs to, without using it up (the ceremony's first step).
    pub async fn enrollment_user(&self, ctx: &AuditContext, token: &str) -> Result<User, Error> {
        let now = self.clock.now();
        let row = enrollment::Entity::find()
            .filter(enrollment::Column::TokenHash.eq(token_hash(token)))
            .filter(enrollment::Column::UsedAt.is_null())
            .filter(enrollment::Column::RevokedAt.is_null())
            .filter(enrollment::Column::ExpiresAt.gt(now))
            .one(&self.db)
            .await?;
        match row {
            Some(row) => self.load(&self.db, UserId(row.user_id)).await,
            None => Err(self.refuse_enrollment(ctx).await),
        }
    }

    /// Uses the token up and stores the passkey it registered, in one transaction. Exactly one
    /// caller can succeed: the update only matches an unused, unrevoked, unexpired token.
    #[tracing::instrument(skip_all)]
    pub async fn enroll(&self, ctx: &AuditContext, token: &str, new_passkey: NewPasskey) -> Result<UserId, Error> {
        let now = self.clock.now();
        let hash = token_hash(token);
        let txn = self.db.begin().await?;
        let result = enrollment::Entity::update_many()
            .col_expr(enrollment::Column::UsedAt, Expr::value(now))
            .filter(enrollment::Column::TokenHash.eq(hash.clone()))
            .filter(enrollment::Column::UsedAt.is_null())
            .filter(enrollment::Column::RevokedAt.is_null())
            .filter(enrollment::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?;
        if result.rows_affected != 1 {
            self.audit.append(&txn, ctx, refused_enrollment()).await?;
            txn.commit().await?;
            return Err(invalid_enrollment());
        }
        let row = enrollment::Entity::find()
            .filter(enrollment::Column::TokenHash.eq(hash))
            .one(&txn)
            .await?
            .ok_or(Error::NotFound)?;
        let user = UserId(row.user_id);
        app_user::Entity::update_many()
            .col_expr(app_user::Column::Status, Expr::value(UserStatus::Active.as_str()))
            .col_expr(app_user::Column::UpdatedAt, Expr::value(now))
            .filter(app_user::Column::Id.eq(user.0))
            .filter(app_user::Column::Status.eq(UserStatus::Invited.as_str()))
            .exec(&txn)
            .await?;
        insert_passkey(&txn, user, new_passkey, now).await?;
        let mut enrolled = ctx.clone();
        enrolled.actor.user_id = Some(user);
        self.audit
            .append(&txn, &enrolled, entry(Action::UserEnroll, user, None, Outcome::Allowed, "enrollment-token"))
            .await?;
        txn.commit().await?;
        tracing::info!(user_id = %user, "passkey enrolled");
        Ok(user)
    }

    /// Every account for the admin's account list, in three queries whatever the number of
    /// accounts (accounts, passkey counts, linked patients' MRNs). A patient account is shown
    /// by its MRN and id, never by the patient's name: the admin manages accounts, not people's
    /// records (minimum necessary, 45 CFR 164.502(b)). Audited as one read.
    pub async fn list(&self, ctx: &AuditContext) -> Result<Vec<AccountListing>, Error> {
        use sea_orm::{QueryOrder, QuerySelect};
        let decision = self.authorize(ctx, Action::UserList, None).await?;
        let txn = self.db.begin().await?;
        let rows = app_user::Entity::find().order_by_asc(app_user::Column::CreatedAt).all(&txn).await?;
        let counts: Vec<(Uuid, i64)> = passkey::Entity::find()
            .select_only()
            .column(passkey::Column::UserId)
            .column_as(passkey::Column::Id.count(), "passkeys")
            .group_by(passkey::Column::UserId)
            .into_tuple()
            .all(&txn)
            .await?;
        let counts: std::collections::HashMap<Uuid, i64> = counts.into_iter().collect();
        let patient_ids: Vec<Uuid> = rows.iter().filter_map(|row| row.patient_id).collect();
        let patients = super::entities::patient::Entity::find()
            .filter(super::entities::patient::Column::Id.is_in(patient_ids))
            .all(&txn)
            .await?;
        let mut listed = entry(Action::UserList, UserId(Uuid::nil()), None, Outcome::Allowed, decision.rule);
        listed.resource_id = None;
        self.audit.append(&txn, ctx, listed).await?;
        txn.commit().await?;
        let mut mrns = std::collections::HashMap::with_capacity(patients.len());
        for patient in patients {
            let key = self.keys.get(&self.db, patient.data_key_id).await?;
            let mrn = key.open_string(FieldRef::new("patient", "mrn", patient.id), &patient.mrn)?;
            mrns.insert(patient.id, mrn);
        }
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id = UserId(row.id);
            let role = Role::parse_user_role(&row.role)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("user {id} has an unknown role")))?;
            let name = match role {
                Role::Patient => None,
                _ => {
                    let key = self.keys.get(&self.db, row.data_key_id).await?;
                    Some(key.open_string(FieldRef::new("app_user", "display_name", id.0), &row.display_name)?)
                }
            };
            out.push(AccountListing {
                id,
                role,
                name,
                mrn: row.patient_id.and_then(|p| mrns.get(&p).cloned()),
                status: UserStatus::parse(&row.status)?,
                passkeys: counts.get(&row.id).copied().unwrap_or(0).max(0) as u64,
            });
        }
        Ok(out)
    }

    /// The user's own passkeys, oldest first.
    pub async fn passkeys(&self, user: UserId) -> Result<Vec<PasskeySummary>, Error> {
        use sea_orm::QueryOrder;
        Ok(passkey::Entity::find()
            .filter(passkey::Column::UserId.eq(user.0))
            .order_by_asc(passkey::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| PasskeySummary {
                id: row.id,
                name: row.name,
                created_at: row.created_at,
                last_used_at: row.last_used_at,
            })
            .collect())
    }

    /// Adds a passkey to a signed-in user's own account.
    /// Adds a passkey to the signed-in person's own account. Only with proof that the person
    /// at the device is the owner: a user-verified assertion by one of their passkeys within
    /// [`FRESH_VERIFICATION`] (`verified_at`, kept in the session), so a session left open on a
    /// shared screen cannot be turned into a permanent way in. A refusal is audited.
    pub async fn add_passkey(
        &self,
        ctx: &AuditContext,
        user: UserId,
        new_passkey: NewPasskey,
        verified_at: Option<DateTime<Utc>>,
    ) -> Result<(), Error> {
        self.require_fresh_verification(ctx, user, verified_at).await?;
        let txn = self.db.begin().await?;
        insert_passkey(&txn, user, new_passkey, self.clock.now()).await?;
        self.audit.append(&txn, ctx, entry(Action::PasskeyAdd, user, None, Outcome::Allowed, "own-account")).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Refuses (and audits) an action on `user`'s passkeys unless the person verified with a
    /// passkey within [`FRESH_VERIFICATION`].
    pub async fn require_fresh_verification(
        &self,
        ctx: &AuditContext,
        user: UserId,
        verified_at: Option<DateTime<Utc>>,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let fresh = verified_at.is_some_and(|at| at <= now && now - at <= FRESH_VERIFICATION);
        if fresh {
            return Ok(());
        }
        let refusal = entry(Action::PasskeyAdd, user, None, Outcome::Denied, "needs-fresh-passkey-verification");
        self.audit.record(&self.db, ctx, refusal).await?;
        Err(Error::validation(
            "passkey",
            "confirm it is you with one of your passkeys first; then add the new one within 5 minutes",
        ))
    }

    pub async fn rename_passkey(
        &self,
        ctx: &AuditContext,
        user: UserId,
        passkey_id: Uuid,
        name: &str,
    ) -> Result<(), Error> {
        let name = validate_device_name(name)?;
        let txn = self.db.begin().await?;
        let result = passkey::Entity::update_many()
            .col_expr(passkey::Column::Name, Expr::value(name))
            .filter(passkey::Column::Id.eq(passkey_id))
            .filter(passkey::Column::UserId.eq(user.0))
            .exec(&txn)
            .await?;
        if result.rows_affected == 0 {
            // Another account's passkey, or none: the same 404 either way, and a denied row.
            let refused = entry(Action::PasskeyRename, user, None, Outcome::Denied, "not-own-passkey");
            self.audit.append(&txn, ctx, refused).await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        }
        self.audit.append(&txn, ctx, entry(Action::PasskeyRename, user, None, Outcome::Allowed, "own-account")).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Removes one of the user's own passkeys; the last one stays, or they could never sign in.
    pub async fn remove_passkey(&self, ctx: &AuditContext, user: UserId, passkey_id: Uuid) -> Result<(), Error> {
        use sea_orm::PaginatorTrait;
        let txn = self.db.begin().await?;
        let owned = passkey::Entity::find().filter(passkey::Column::UserId.eq(user.0)).count(&txn).await?;
        let exists = passkey::Entity::find()
            .filter(passkey::Column::Id.eq(passkey_id))
            .filter(passkey::Column::UserId.eq(user.0))
            .one(&txn)
            .await?
            .is_some();
        if !exists {
            // Another account's passkey, or none: the same 404 either way, and a denied row.
            let refused = entry(Action::PasskeyRemove, user, None, Outcome::Denied, "not-own-passkey");
            self.audit.append(&txn, ctx, refused).await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        }
        if owned <= 1 {
            self.audit
                .append(&txn, ctx, entry(Action::PasskeyRemove, user, None, Outcome::Denied, "last-passkey"))
                .await?;
            txn.commit().await?;
            return Err(Error::Conflict("this is your only passkey; add another before removing it".to_owned()));
        }
        passkey::Entity::delete_by_id(passkey_id).exec(&txn).await?;
        self.audit.append(&txn, ctx, entry(Action::PasskeyRemove, user, None, Outcome::Allowed, "own-account")).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Ids and statuses of the accounts holding `role`, oldest first; opens no sealed field.
    pub async fn ids_by_role(&self, role: Role) -> Result<Vec<(UserId, UserStatus)>, Error> {
        use sea_orm::QueryOrder;
        app_user::Entity::find()
            .filter(app_user::Column::Role.eq(role.as_str()))
            .order_by_asc(app_user::Column::CreatedAt)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| Ok((UserId(row.id), UserStatus::parse(&row.status)?)))
            .collect()
    }

    /// Names and roles of workforce members (never a patient's name), for pages that show who
    /// did something: a chart's authors, "who looked at my record", the review queue.
    pub async fn workforce_names(
        &self,
        ids: impl IntoIterator<Item = UserId>,
    ) -> Result<std::collections::HashMap<UserId, (Role, String)>, Error> {
        let ids: std::collections::BTreeSet<Uuid> = ids.into_iter().map(|id| id.0).collect();
        let rows = app_user::Entity::find()
            .filter(app_user::Column::Id.is_in(ids))
            .filter(app_user::Column::Role.ne(Role::Patient.as_str()))
            .all(&self.db)
            .await?;
        let mut names = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            let user = self.open_row(&self.db, row).await?;
            names.insert(user.id, (user.role, user.display_name));
        }
        Ok(names)
    }

    /// Active and invited clinicians, by name: the directory a patient picks from to grant
    /// consent and an admin picks from to assign.
    pub async fn clinicians(&self) -> Result<Vec<(UserId, String)>, Error> {
        let rows = app_user::Entity::find()
            .filter(app_user::Column::Role.eq(Role::Clinician.as_str()))
            .filter(app_user::Column::Status.ne(UserStatus::Disabled.as_str()))
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let user = self.load(&self.db, UserId(row.id)).await?;
            out.push((user.id, user.display_name));
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    pub async fn get(&self, id: UserId) -> Result<User, Error> {
        self.load(&self.db, id).await
    }

    /// Disables the account and ends all its sessions at once.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn disable(&self, ctx: &AuditContext, id: UserId) -> Result<(), Error> {
        self.set_status(ctx, id, Action::UserDisable, UserStatus::Disabled).await?;
        self.sessions.end_all_for_user(id.0).await?;
        Ok(())
    }

    /// Signs the user out everywhere, now. Returns how many sessions ended.
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn end_sessions(&self, ctx: &AuditContext, id: UserId) -> Result<u64, Error> {
        let decision = self.authorize(ctx, Action::UserEndSessions, Some(id)).await?;
        let txn = self.db.begin().await?;
        let ended = crate::domain::entities::session::Entity::delete_many()
            .filter(crate::domain::entities::session::Column::UserId.eq(id.0))
            .exec(&txn)
            .await?
            .rows_affected;
        self.audit.append(&txn, ctx, entry(Action::UserEndSessions, id, None, Outcome::Allowed, decision.rule)).await?;
        txn.commit().await?;
        Ok(ended)
    }

    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn enable(&self, ctx: &AuditContext, id: UserId) -> Result<(), Error> {
        self.set_status(ctx, id, Action::UserEnable, UserStatus::Active).await
    }

    /// Revokes every passkey and open link of the account, ends its sessions, and issues a new
    /// link: the way back for someone who lost their devices.
    /// The link comes back to the caller, so this is a step on the host (the first admin's
    /// bootstrap); an admin re-enrolls through [`super::accounts::AccountRequests`].
    #[tracing::instrument(skip_all, fields(user_id = %id))]
    pub async fn reenroll(&self, ctx: &AuditContext, id: UserId, ttl: Duration) -> Result<Invitation, Error> {
        self.authorize(ctx, Action::EnrollmentLinkIssue, Some(id)).await?;
        let decision = self.authorize(ctx, Action::UserReenroll, Some(id)).await?;
        self.refuse_if_held(ctx, Action::UserReenroll, id).await?;
        let txn = self.db.begin().await?;
        let user = self.load(&txn, id).await?;
        let invitation = self.reset_enrollment(&txn, ctx, id, ttl).await?;
        self.audit
            .append(&txn, ctx, entry(Action::UserReenroll, id, user.patient_id, Outcome::Allowed, decision.rule))
            .await?;
        txn.commit().await?;
        self.sessions.end_all_for_user(id.0).await?;
        Ok(invitation)
    }

    /// Revokes the account's passkeys and open links and issues a new link, in `conn`'s
    /// transaction. The caller ends its sessions after commit.
    pub(crate) async fn reset_enrollment<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        id: UserId,
        ttl: Duration,
    ) -> Result<Invitation, Error> {
        passkey::Entity::delete_many().filter(passkey::Column::UserId.eq(id.0)).exec(conn).await?;
        self.revoke_links(conn, id).await?;
        self.write_status(conn, ctx, id, UserStatus::Invited).await?;
        self.issue_enrollment(conn, ctx, id, ttl).await
    }

    /// Sets the account's status in `conn`'s transaction; false when there is no such account.
    pub(crate) async fn write_status<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        id: UserId,
        status: UserStatus,
    ) -> Result<bool, Error> {
        // The last line of the re-enable gate: whatever path lets the account back in (enable,
        // re-enroll, an approval), not while an automatic response holds it. Callers check
        // first with `refuse_if_held`, which audits the refusal.
        if status != UserStatus::Disabled
            && let Some(alert) = crate::domain::monitoring::response::holding_alert(conn, id).await?
        {
            return Err(crate::domain::monitoring::response::held_error(alert));
        }
        let result = app_user::Entity::update_many()
            .col_expr(app_user::Column::Status, Expr::value(status.as_str()))
            .col_expr(app_user::Column::UpdatedAt, Expr::value(self.clock.now()))
            .col_expr(app_user::Column::UpdatedBy, Expr::value(ctx.actor.user_id.map(|u| u.0)))
            .filter(app_user::Column::Id.eq(id.0))
            .exec(conn)
            .await?;
        Ok(result.rows_affected > 0)
    }

    /// Refuses (audited, 409) a change that would let `id` back in while an alert whose
    /// automatic response disabled it is not closed (`monitoring::response`).
    pub(crate) async fn refuse_if_held(&self, ctx: &AuditContext, action: Action, id: UserId) -> Result<(), Error> {
        use crate::domain::monitoring::response;
        let Some(alert) = response::holding_alert(&self.db, id).await? else { return Ok(()) };
        self.audit.record(&self.db, ctx, entry(action, id, None, Outcome::Denied, &response::held_rule(alert))).await?;
        tracing::warn!(user_id = %id, alert_id = %alert, action = action.as_str(), "account held by a security alert");
        Err(response::held_error(alert))
    }

    /// Ends every session of the account (after a disable or re-enrollment commits).
    pub(crate) async fn end_all_sessions(&self, id: UserId) -> Result<(), Error> {
        self.sessions.end_all_for_user(id.0).await.map(|_| ())
    }

    async fn set_status(
        &self,
        ctx: &AuditContext,
        id: UserId,
        action: Action,
        status: UserStatus,
    ) -> Result<(), Error> {
        let decision = self.authorize(ctx, action, Some(id)).await?;
        if action == Action::UserEnable {
            self.refuse_if_held(ctx, action, id).await?;
        }
        let txn = self.db.begin().await?;
        if !self.write_status(&txn, ctx, id, status).await? {
            self.audit.append(&txn, ctx, entry(action, id, None, Outcome::Error, "not-found")).await?;
            txn.commit().await?;
            return Err(Error::NotFound);
        }
        self.audit.append(&txn, ctx, entry(action, id, None, Outcome::Allowed, decision.rule)).await?;
        txn.commit().await?;
        Ok(())
    }

    pub(crate) async fn issue_enrollment<C: ConnectionTrait>(
        &self,
        conn: &C,
        ctx: &AuditContext,
        id: UserId,
        ttl: Duration,
    ) -> Result<Invitation, Error> {
        let now = self.clock.now();
        let token = EnrollmentToken::generate();
        let expires_at = now + ttl;
        enrollment::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(id.0),
            token_hash: Set(token_hash(token.expose())),
            expires_at: Set(expires_at),
            used_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(now),
            created_by: Set(ctx.actor.user_id.map(|u| u.0)),
        }
        .insert(conn)
        .await?;
        Ok(Invitation { user_id: id, token, expires_at })
    }

    pub(crate) async fn load<C: ConnectionTrait>(&self, conn: &C, id: UserId) -> Result<User, Error> {
        let row = app_user::Entity::find_by_id(id.0).one(conn).await?.ok_or(Error::NotFound)?;
        self.open_row(conn, row).await
    }

    /// The account of a row already read (its sealed name opened with its data key).
    async fn open_row<C: ConnectionTrait>(&self, conn: &C, row: app_user::Model) -> Result<User, Error> {
        let id = UserId(row.id);
        let key = self.keys.get(conn, row.data_key_id).await?;
        Ok(User {
            id,
            role: Role::parse_user_role(&row.role)
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("user {id} has an unknown role")))?,
            display_name: key.open_string(FieldRef::new("app_user", "display_name", id.0), &row.display_name)?,
            patient_id: row.patient_id.map(PatientId),
            status: UserStatus::parse(&row.status)?,
        })
    }

    pub(crate) async fn authorize(
        &self,
        ctx: &AuditContext,
        action: Action,
        target: Option<UserId>,
    ) -> Result<Decision, Error> {
        let decision = access::decide_operation(&ctx.actor, action);
        if decision.allowed {
            return Ok(decision);
        }
        let txn = self.db.begin().await?;
        let mut denied = entry(action, target.unwrap_or(UserId(Uuid::nil())), None, Outcome::Denied, decision.rule);
        denied.resource_id = target.map(|t| t.to_string());
        self.audit.append(&txn, ctx, denied).await?;
        txn.commit().await?;
        Err(Error::Forbidden)
    }

    /// An unknown, used, revoked or expired token: audited, and one answer for all four so a
    /// probe learns nothing about which.
    async fn refuse_enrollment(&self, ctx: &AuditContext) -> Error {
        match self.audit.record(&self.db, ctx, refused_enrollment()).await {
            Ok(()) => invalid_enrollment(),
            Err(err) => err,
        }
    }
}

async fn insert_passkey<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
    new_passkey: NewPasskey,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    passkey::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.0),
        credential_id: Set(new_passkey.credential_id),
        passkey: Set(new_passkey.passkey),
        name: Set(new_passkey.name),
        created_at: Set(now),
        last_used_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(())
}

fn refused_enrollment() -> AuditEntry {
    AuditEntry {
        action: Action::UserEnroll,
        resource_type: RESOURCE,
        resource_id: None,
        patient_id: None,
        outcome: Outcome::Denied,
        rule: Some("enrollment-invalid".to_owned()),
    }
}

fn invalid_enrollment() -> Error {
    Error::validation("token", "this enrollment link is not valid any more; ask for a new one")
}

pub(crate) fn entry(
    action: Action,
    user: UserId,
    patient: Option<PatientId>,
    outcome: Outcome,
    rule: &str,
) -> AuditEntry {
    AuditEntry {
        action,
        resource_type: RESOURCE,
        resource_id: Some(user.to_string()),
        patient_id: patient.map(|p| p.0),
        outcome,
        rule: Some(rule.to_owned()),
    }
}

pub(crate) fn validate(new: &NewUser) -> Result<(), Error> {
    let mut errors = Vec::new();
    let len = new.display_name.trim().chars().count();
    if len == 0 || len > 100 {
        errors.push(crate::error::FieldError {
            field: "display_name".into(),
            message: "must be 1 to 100 characters".into(),
        });
    } else if let Err(problem) = crate::api::input::DisplayText::parse(&new.display_name, 100) {
        errors.push(crate::error::FieldError { field: "display_name".into(), message: problem.into() });
    }
    match (new.role, new.patient_id) {
        (Role::Patient, None) => errors.push(crate::error::FieldError {
            field: "patient_id".into(),
            message: "a patient account must be linked to its patient record".into(),
        }),
        (Role::Patient, Some(_)) => {}
        (Role::Clinician | Role::Admin | Role::SecurityOfficer, Some(_)) => errors.push(crate::error::FieldError {
            field: "patient_id".into(),
            message: "only patient accounts link to a patient record".into(),
        }),
        (Role::Clinician | Role::Admin | Role::SecurityOfficer, None) => {}
        (Role::System | Role::Anonymous, _) => errors
            .push(crate::error::FieldError { field: "role".into(), message: "is not a role a user can hold".into() }),
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
}
