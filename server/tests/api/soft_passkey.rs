//! A software passkey for HTTP tests: a P-256 key whose public half is stored as a webauthn-rs
//! `Passkey`, and assertions signed with it as an authenticator signs them (WebAuthn Level 3,
//! section 6.3.3: the signature covers authenticatorData || SHA-256(clientDataJSON)). With it a
//! test can sign in for real, and forge assertions that name the real credential.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use crypto_glue::ecdsa_p256::{EcdsaP256PrivateKey, EcdsaP256Signature, EcdsaP256SigningKey, new_key};
use crypto_glue::s256::Sha256;
use crypto_glue::traits::{Digest, Signer, ToSec1Point};

use crate::helpers::TestApp;

pub struct SoftPasskey {
    key: EcdsaP256PrivateKey,
    pub credential_id: Vec<u8>,
    user: uuid::Uuid,
    /// The signature counter the next assertion carries.
    pub counter: u32,
}

impl SoftPasskey {
    /// The passkey of a fresh patient account, enrolled through the real repository.
    pub async fn enrolled_patient(app: &TestApp) -> (app::domain::users::User, SoftPasskey) {
        use app::domain::audit::{AuditContext, Role};
        use app::domain::users::NewUser;
        let system = AuditContext::system("test");
        let new = app::domain::seed::synthetic_patient(&mut rand::rng(), "LOCK", 1);
        let patient = app.services.patients.create(&system, new).await.unwrap();
        let new =
            NewUser { role: Role::Patient, display_name: "Lockout Patient".to_owned(), patient_id: Some(patient) };
        let invitation = app.services.users.invite(&system, new, chrono::Duration::hours(1)).await.unwrap();
        let user = app.services.users.enrollment_user(&system, invitation.token.expose()).await.unwrap();
        let key = SoftPasskey {
            key: new_key(),
            credential_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
            user: user.id.0,
            counter: 1,
        };
        let stored = key.stored();
        app.services.users.enroll(&system, invitation.token.expose(), stored).await.unwrap();
        (app.services.users.get(user.id).await.unwrap(), key)
    }

    /// The stored form webauthn-rs reads back (`Passkey` as JSON).
    fn stored(&self) -> app::domain::users::NewPasskey {
        let point = self.key.public_key().to_sec1_point(false);
        let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
        let passkey = serde_json::json!({"cred": {
            "cred_id": URL_SAFE_NO_PAD.encode(&self.credential_id),
            "cred": {"type_": "ES256", "key": {"EC_EC2": {
                "curve": "SECP256R1", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)
            }}},
            "counter": 0,
            "transports": null,
            "user_verified": true,
            "backup_eligible": false,
            "backup_state": false,
            "registration_policy": "required",
            "extensions": {},
            "attestation": {"data": "None", "metadata": "None"},
            "attestation_format": "none"
        }});
        app::domain::users::NewPasskey {
            credential_id: self.credential_id.clone(),
            passkey: passkey.to_string(),
            name: "software passkey".to_owned(),
        }
    }

    /// A genuine assertion for `challenge` (base64url, as the server sent it) at `origin`.
    pub fn assertion(&mut self, challenge: &str, origin: &str) -> serde_json::Value {
        let client_data =
            serde_json::json!({"type": "webauthn.get", "challenge": challenge, "origin": origin, "crossOrigin": false})
                .to_string();
        let mut authenticator_data = Sha256::digest(b"localhost").to_vec();
        authenticator_data.push(0x05); // user present and verified
        authenticator_data.extend_from_slice(&self.counter.to_be_bytes());
        self.counter += 1;
        let mut signed = authenticator_data.clone();
        signed.extend_from_slice(&Sha256::digest(client_data.as_bytes()));
        let signature: EcdsaP256Signature = EcdsaP256SigningKey::from(&self.key).try_sign(&signed).unwrap();
        self.credential(&authenticator_data, client_data.as_bytes(), signature.to_der().as_ref())
    }

    /// What anyone who once saw the credential id can send: the real id and user handle, and
    /// no valid signature.
    pub fn forged(&self) -> serde_json::Value {
        self.credential(b"forged authenticator data", b"{}", b"forged signature")
    }

    fn credential(&self, authenticator_data: &[u8], client_data: &[u8], signature: &[u8]) -> serde_json::Value {
        let id = URL_SAFE_NO_PAD.encode(&self.credential_id);
        serde_json::json!({"credential": {
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(authenticator_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature),
                "userHandle": URL_SAFE_NO_PAD.encode(self.user.as_bytes()),
            }
        }})
    }
}

/// A sign-in challenge for `app`'s cookie-keeping client: the base64url challenge.
pub async fn challenge(app: &TestApp) -> String {
    let response = app.call_json("auth/start_sign_in", serde_json::json!({})).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["publicKey"]["challenge"].as_str().unwrap().to_owned()
}
