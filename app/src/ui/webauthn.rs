//! The browser half of the passkey ceremonies: `navigator.credentials.create` and `.get`, with
//! the options from the server and the answers converted by webauthn-rs-proto.

use webauthn_rs_proto::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse,
};

#[cfg(feature = "hydrate")]
fn describe(err: wasm_bindgen::JsValue) -> String {
    use wasm_bindgen::JsCast;
    match err.dyn_ref::<web_sys::DomException>().map(|e| e.name()) {
        Some(name) if name == "NotAllowedError" => "The passkey prompt was cancelled or timed out.".to_owned(),
        Some(name) if name == "InvalidStateError" => "This device already holds a passkey for this account.".to_owned(),
        Some(name) => format!("Your browser refused the passkey request ({name})."),
        None => "Your browser refused the passkey request.".to_owned(),
    }
}

#[cfg(feature = "hydrate")]
fn credentials() -> Result<web_sys::CredentialsContainer, String> {
    web_sys::window().map(|w| w.navigator().credentials()).ok_or_else(|| "No browser window.".to_owned())
}

/// Creates a passkey on this device.
#[cfg(feature = "hydrate")]
pub async fn create(challenge: CreationChallengeResponse) -> Result<RegisterPublicKeyCredential, String> {
    use wasm_bindgen::JsCast;
    let options = web_sys::CredentialCreationOptions::from(challenge);
    let promise = credentials()?.create_with_options(&options).map_err(describe)?;
    let credential = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(describe)?;
    Ok(RegisterPublicKeyCredential::from(credential.unchecked_into::<web_sys::PublicKeyCredential>()))
}

/// Asks this device for one of its passkeys.
#[cfg(feature = "hydrate")]
pub async fn get(challenge: RequestChallengeResponse) -> Result<PublicKeyCredential, String> {
    use wasm_bindgen::JsCast;
    let options = web_sys::CredentialRequestOptions::from(challenge);
    let promise = credentials()?.get_with_options(&options).map_err(describe)?;
    let credential = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(describe)?;
    Ok(PublicKeyCredential::from(credential.unchecked_into::<web_sys::PublicKeyCredential>()))
}

#[cfg(not(feature = "hydrate"))]
pub async fn create(_: CreationChallengeResponse) -> Result<RegisterPublicKeyCredential, String> {
    Err("Passkeys are created in the browser.".to_owned())
}

#[cfg(not(feature = "hydrate"))]
pub async fn get(_: RequestChallengeResponse) -> Result<PublicKeyCredential, String> {
    Err("Passkeys are used in the browser.".to_owned())
}

/// A full navigation, so every part of the page re-reads the session.
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
