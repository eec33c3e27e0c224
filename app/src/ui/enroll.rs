//! Setting up a passkey from an invitation link. The token travels in the URL fragment, which
//! browsers never send to a server, so it stays out of every access log.

use leptos::prelude::*;

use super::webauthn;
use crate::api::auth::{finish_enrollment, start_enrollment};

#[component]
pub fn EnrollPage() -> impl IntoView {
    let (token, set_token) = signal(None::<String>);
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(hash) = web_sys::window().and_then(|w| w.location().hash().ok()) {
            let value = hash.trim_start_matches('#').to_owned();
            set_token.set((!value.is_empty()).then_some(value));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = set_token;
    });
    let device_name = RwSignal::new("My device".to_owned());
    let enroll = Action::new_local(move |_: &()| {
        let token = token.get_untracked();
        let name = device_name.get_untracked();
        async move {
            let token = token.ok_or_else(|| "This page needs the link from your invitation.".to_owned())?;
            let challenge = start_enrollment(token.clone()).await.map_err(|e| e.to_string())?;
            let credential = webauthn::create(challenge).await?;
            finish_enrollment(token, name, credential).await.map_err(|e| e.to_string())
        }
    });
    let pending = enroll.pending();
    let done = move || matches!(enroll.value().get(), Some(Ok(())));
    view! {
        <section class="panel narrow" aria-labelledby="enroll-title">
            <h1 id="enroll-title">"Set up your passkey"</h1>
            <Show
                when=done
                fallback=move || view! {
                    <p>"A passkey lets you sign in with this device's fingerprint, face or PIN. Name the device so you can recognise it later."</p>
                    <form method="post" on:submit=move |ev| { ev.prevent_default(); enroll.dispatch(()); }>
                        <label for="device-name">"Device name"</label>
                        <input id="device-name" name="device_name" type="text" maxlength="60" required
                            prop:value=move || device_name.get()
                            on:input=move |ev| device_name.set(event_target_value(&ev))/>
                        <button class="button" id="create-passkey" type="submit" disabled=move || pending.get() || token.get().is_none()>
                            {move || if pending.get() { "Waiting for your device…" } else { "Create my passkey" }}
                        </button>
                    </form>
                    <div aria-live="polite">
                        {move || enroll.value().get().and_then(Result::err).map(|message| view! { <p class="error" role="alert">{message}</p> })}
                    </div>
                }
            >
                <p class="notice" role="status" id="enroll-done">"Your passkey is ready."</p>
                <a class="button" href="/sign-in">"Sign in now"</a>
            </Show>
        </section>
    }
}
