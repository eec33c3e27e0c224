use leptos::prelude::*;

#[component]
pub fn SignInPage() -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="sign-in-title">
            <h1 id="sign-in-title">"Sign in"</h1>
            <p>
                "Sign-in uses passkeys only: your device confirms it is you with a fingerprint, "
                "face or PIN, and no password is ever sent."
            </p>
            <p class="notice" role="status">"Passkey sign-in is not open yet."</p>
        </section>
    }
}
