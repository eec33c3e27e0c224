use leptos::prelude::*;

use super::status::SystemStatusPanel;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section class="hero" aria-labelledby="welcome-title">
            <h1 id="welcome-title">"Welcome to the clinic"</h1>
            <p class="lead">
                "Patients see their records, book visits and message their care team. "
                "Clinicians keep charts and meet patients by video."
            </p>
            <a class="button" href="/sign-in">"Sign in with a passkey"</a>
        </section>
        <SystemStatusPanel/>
    }
}
