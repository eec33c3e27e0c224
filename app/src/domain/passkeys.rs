//! Passkeys (WebAuthn Level 3) with webauthn-rs: discoverable credentials with user
//! verification, so a person signs in with no user name and no password. The browser ceremony
//! runs in the WASM frontend; challenge state stays on the server in the session, single-use.

use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use url::Url;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Webauthn, WebauthnBuilder,
    WebauthnError,
};
use webauthn_rs_proto::{AuthenticatorSelectionCriteria, ResidentKeyRequirement, UserVerificationPolicy};

use super::Error;
use super::clock::Clock;
use super::entities::passkey;
use super::ids::UserId;
use super::users::{NewPasskey, User};

pub struct Passkeys {
    webauthn: Webauthn,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passkeys")
    }
}

/// Why a sign-in failed, for the audit row; the person is told only that it failed.
#[derive(Debug)]
pub enum SignInFailure {
    UnknownCredential,
    /// The assertion names a known credential but does not verify. A credential id is not a
    /// secret (anyone who once saw it can put it in a forged assertion), so this says nothing
    /// about who sent it and does not count toward the account's lockout.
    Verification(UserId),
    /// The signature verifies but the signature counter went backwards: the account's key was
    /// used by someone holding it (a cloned authenticator). This counts against the account.
    CounterRegressed(UserId),
}

impl SignInFailure {
    pub fn rule(&self) -> &'static str {
        match self {
            SignInFailure::UnknownCredential => "unknown-credential",
            SignInFailure::Verification(_) => "verification-failed",
            SignInFailure::CounterRegressed(_) => crate::domain::throttle::SIGNED_BUT_REFUSED,
        }
    }

    /// The account the credential belongs to, for the audit row.
    pub fn account(&self) -> Option<UserId> {
        match self {
            SignInFailure::UnknownCredential => None,
            SignInFailure::Verification(user) | SignInFailure::CounterRegressed(user) => Some(*user),
        }
    }
}

impl Passkeys {
    /// `public_url` is where people reach the app: its host is the relying party id. On
    /// localhost any port is accepted, so tests and development can run anywhere.
    pub fn new(public_url: &Url, clock: Arc<dyn Clock>) -> Result<Self, Error> {
        let rp_id = public_url.host_str().ok_or_else(|| Error::validation("public_url", "needs a host"))?;
        let webauthn = WebauthnBuilder::new(rp_id, public_url)
            .map_err(|e| Error::Internal(anyhow::anyhow!("WebAuthn configuration: {e}")))?
            .rp_name("Clinic")
            .allow_any_port(rp_id == "localhost")
            .build()
            .map_err(|e| Error::Internal(anyhow::anyhow!("WebAuthn configuration: {e}")))?;
        Ok(Self { webauthn, clock })
    }

    /// Options for `navigator.credentials.create`: a discoverable credential (stored on the
    /// device, found without a user name) that verifies the person (PIN, fingerprint, face).
    pub fn start_registration(
        &self,
        user: &User,
        existing: Vec<Vec<u8>>,
    ) -> Result<(CreationChallengeResponse, PasskeyRegistration), Error> {
        let exclude = if existing.is_empty() { None } else { Some(existing) };
        let (mut ccr, state) = self
            .webauthn
            .start_passkey_registration(user.id.0, &user.id.to_string(), &user.display_name, exclude)
            .map_err(|e| Error::Internal(anyhow::anyhow!("WebAuthn registration start: {e}")))?;
        let selection = ccr.public_key.authenticator_selection.get_or_insert(AuthenticatorSelectionCriteria {
            authenticator_attachment: None,
            require_resident_key: true,
            resident_key: None,
            user_verification: UserVerificationPolicy::Required,
        });
        selection.require_resident_key = true;
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.user_verification = UserVerificationPolicy::Required;
        Ok((ccr, state))
    }

    pub fn finish_registration(
        &self,
        credential: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
        name: &str,
    ) -> Result<NewPasskey, Error> {
        let passkey = self
            .webauthn
            .finish_passkey_registration(credential, state)
            .map_err(|_| Error::validation("passkey", "the passkey could not be verified; please try again"))?;
        Ok(NewPasskey {
            credential_id: AsRef::<[u8]>::as_ref(passkey.cred_id()).to_vec(),
            passkey: serde_json::to_string(&passkey).map_err(|e| Error::Internal(anyhow::Error::new(e)))?,
            name: name.to_owned(),
        })
    }

    /// Options for `navigator.credentials.get` with no allow-list: the device offers its passkeys.
    pub fn start_sign_in(&self) -> Result<(RequestChallengeResponse, DiscoverableAuthentication), Error> {
        let (mut rcr, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| Error::Internal(anyhow::anyhow!("WebAuthn authentication start: {e}")))?;
        // A button starts this ceremony; conditional (autofill) mediation is not used.
        rcr.mediation = None;
        Ok((rcr, state))
    }

    /// Verifies an assertion against the stored passkey it names; returns its user. Updates the
    /// stored counter so a cloned authenticator is noticed.
    pub async fn finish_sign_in(
        &self,
        db: &DatabaseConnection,
        credential: &PublicKeyCredential,
        state: DiscoverableAuthentication,
    ) -> Result<Result<UserId, SignInFailure>, Error> {
        let Ok((user_uuid, credential_id)) = self.webauthn.identify_discoverable_authentication(credential) else {
            return Ok(Err(SignInFailure::UnknownCredential));
        };
        let row = passkey::Entity::find()
            .filter(passkey::Column::CredentialId.eq(credential_id.to_vec()))
            .filter(passkey::Column::UserId.eq(user_uuid))
            .one(db)
            .await?;
        let Some(row) = row else { return Ok(Err(SignInFailure::UnknownCredential)) };
        let mut stored: Passkey =
            serde_json::from_str(&row.passkey).map_err(|e| Error::Internal(anyhow::Error::new(e)))?;
        let result = match self.webauthn.finish_discoverable_authentication_v2(credential, state, &stored) {
            Ok(result) => result,
            // The counter is checked only after the signature has verified.
            Err(WebauthnError::CredentialPossibleCompromise) => {
                return Ok(Err(SignInFailure::CounterRegressed(UserId(user_uuid))));
            }
            Err(_) => return Ok(Err(SignInFailure::Verification(UserId(user_uuid)))),
        };
        stored.update_credential(&result);
        passkey::Entity::update_many()
            .col_expr(
                passkey::Column::Passkey,
                Expr::value(serde_json::to_string(&stored).map_err(|e| Error::Internal(anyhow::Error::new(e)))?),
            )
            .col_expr(passkey::Column::LastUsedAt, Expr::value(self.clock.now()))
            .filter(passkey::Column::Id.eq(row.id))
            .exec(db)
            .await?;
        Ok(Ok(UserId(user_uuid)))
    }

    /// Options for confirming, while signed in, that the person is still the one at the device
    /// (before adding a passkey): an assertion with user verification by one of `user`'s own
    /// passkeys.
    pub async fn start_step_up(
        &self,
        db: &DatabaseConnection,
        user: UserId,
    ) -> Result<(RequestChallengeResponse, PasskeyAuthentication), Error> {
        let stored = self.stored(db, user).await?;
        let keys: Vec<Passkey> = stored.iter().map(|(_, key)| key.clone()).collect();
        if keys.is_empty() {
            return Err(Error::validation("passkey", "this account has no passkey to confirm with"));
        }
        let (mut rcr, state) = self
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| Error::Internal(anyhow::anyhow!("WebAuthn authentication start: {e}")))?;
        rcr.mediation = None;
        Ok((rcr, state))
    }

    /// Verifies a step-up assertion: true when one of `user`'s passkeys signed it with user
    /// verification. The stored counter is updated as at sign-in.
    pub async fn finish_step_up(
        &self,
        db: &DatabaseConnection,
        user: UserId,
        credential: &PublicKeyCredential,
        state: &PasskeyAuthentication,
    ) -> Result<bool, Error> {
        let Ok(result) = self.webauthn.finish_passkey_authentication(credential, state) else { return Ok(false) };
        if !result.user_verified() {
            return Ok(false);
        }
        let stored = self.stored(db, user).await?;
        let Some((id, mut key)) = stored.into_iter().find(|(_, key)| key.cred_id() == result.cred_id()) else {
            return Ok(false);
        };
        key.update_credential(&result);
        passkey::Entity::update_many()
            .col_expr(
                passkey::Column::Passkey,
                Expr::value(serde_json::to_string(&key).map_err(|e| Error::Internal(anyhow::Error::new(e)))?),
            )
            .col_expr(passkey::Column::LastUsedAt, Expr::value(self.clock.now()))
            .filter(passkey::Column::Id.eq(id))
            .exec(db)
            .await?;
        Ok(true)
    }

    async fn stored(&self, db: &DatabaseConnection, user: UserId) -> Result<Vec<(uuid::Uuid, Passkey)>, Error> {
        let rows = passkey::Entity::find().filter(passkey::Column::UserId.eq(user.0)).all(db).await?;
        rows.into_iter()
            .map(|row| {
                let key: Passkey =
                    serde_json::from_str(&row.passkey).map_err(|e| Error::Internal(anyhow::Error::new(e)))?;
                Ok((row.id, key))
            })
            .collect()
    }

    /// The credential ids a user already holds, so the same device is not registered twice.
    pub async fn credential_ids(&self, db: &DatabaseConnection, user: UserId) -> Result<Vec<Vec<u8>>, Error> {
        Ok(passkey::Entity::find()
            .filter(passkey::Column::UserId.eq(user.0))
            .all(db)
            .await?
            .into_iter()
            .map(|row| row.credential_id)
            .collect())
    }
}
