use leptos::prelude::*;

use super::webauthn;
use crate::api::auth::{finish_sign_in, home_for, start_sign_in};

#[component]
pub fn SignInPage() -> impl IntoView {
    let sign_in = Action::new_local(|_: &()| async move {
        let challenge = start_sign_in().await.map_err(|e| e.to_string())?;
        let credential = webauthn::get(challenge).await?;
        finish_sign_in(credential)
            .await
            .map_err(|_| "Sign-in failed. Use a passkey registered for this clinic.".to_owned())
    });
    Effect::new(move |_| {
        if let Some(Ok(info)) = sign_in.value().get() {
            webauthn::go_to(home_for(&info.role));
        }
    });
    let pending = sign_in.pending();
    view! {
        <section class="panel narrow" aria-labelledby="sign-in-title">
            <h1 id="sign-in-title">"Sign in"</h1>
            <p>
                "Sign-in uses passkeys only: your device confirms it is you with a fingerprint, "
                "face or PIN, and no password is ever sent."
            </p>
            <button class="button" id="sign-in-passkey" on:click=move |_| { sign_in.dispatch(()); } disabled=move || pending.get()>
                {move || if pending.get() { "Waiting for your passkey…" } else { "Sign in with a passkey" }}
            </button>
            <div aria-live="polite">
                {move || sign_in.value().get().and_then(Result::err).map(|message| view! { <p class="error" role="alert">{message}</p> })}
            </div>
            <p class="muted">"New here? Your clinic sends you an enrollment link to set up your passkey."</p>
        </section>
    }
}
