//! A small interactive check of the platform's readiness, through a server function.

use leptos::prelude::*;

use crate::api::status::{SystemStatus, get_system_status};

#[component]
pub fn SystemStatusPanel() -> impl IntoView {
    let check = Action::new(|_: &()| get_system_status());
    let pending = check.pending();
    let result = check.value();
    view! {
        <section class="panel" aria-labelledby="status-title">
            <h2 id="status-title">"System status"</h2>
            <p>"Check that the database, its schema and the encryption keys are ready."</p>
            <button
                class="button"
                id="check-status"
                on:click=move |_| {
                    check.dispatch(());
                }
                disabled=move || pending.get()
            >
                {move || if pending.get() { "Checking…" } else { "Check system status" }}
            </button>
            <div id="status-result" aria-live="polite">
                {move || result.get().map(|outcome| match outcome {
                    Ok(status) => view! { <StatusList status/> }.into_any(),
                    Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
                })}
            </div>
        </section>
    }
}

#[component]
fn StatusList(status: SystemStatus) -> impl IntoView {
    let item = |label: &'static str, ok: bool| {
        view! {
            <li class=if ok { "ok" } else { "bad" }>
                <span aria-hidden="true">{if ok { "✓ " } else { "✗ " }}</span>
                {label}": "<strong>{if ok { "ready" } else { "not ready" }}</strong>
            </li>
        }
    };
    let summary = if status.ready() { "All systems ready" } else { "Not ready" };
    view! {
        <p class="status-summary" data-ready=status.ready().to_string()>{summary}</p>
        <ul class="status-list">
            {item("Database", status.database)}
            {item("Schema", status.migrations_current)}
            {item("Encryption keys", status.keys_loaded)}
        </ul>
        <p class="muted">"Backend " {status.backend} ", version " {status.version}</p>
    }
}
