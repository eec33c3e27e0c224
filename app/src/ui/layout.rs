//! The application shell: header with the session menu, navigation for the role, the main landmark.

use leptos::prelude::*;

use super::webauthn;
use crate::api::auth::{SessionInfo, home_for, sign_out};
use crate::error::AppError;

/// The session, loaded once per page and shared by the header and the pages.
pub type SessionResource = Resource<Result<Option<SessionInfo>, AppError>>;

pub fn use_session() -> SessionResource {
    expect_context::<SessionResource>()
}

/// Whether the page under the shell is hydrated and interactive. The shell hydrates first; a
/// page is a lazy route whose module may still be on its way (see `routes`), so each route
/// view ends with [`PageReady`], whose effect runs once that page is hydrated.
#[derive(Clone, Copy)]
pub struct PageHydrated(RwSignal<bool>);

impl PageHydrated {
    pub fn provide() {
        provide_context(Self(RwSignal::new(false)));
    }
}

/// Marks the page hydrated: effects run only in the browser, after the view that created them
/// has been hydrated. Browser tests wait for the flag instead of guessing.
#[component]
pub fn PageReady() -> impl IntoView {
    let PageHydrated(hydrated) = expect_context::<PageHydrated>();
    Effect::new(move |_| hydrated.set(true));
}

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let PageHydrated(hydrated) = expect_context::<PageHydrated>();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="app-header">
            <a class="brand" href="/" aria-label="Clinic home">
                <span class="brand-mark" aria-hidden="true">"+"</span>
                <span>"Clinic"</span>
            </a>
            <nav aria-label="Main">
                <ul class="nav-list">
                    <li><a href="/">"Home"</a></li>
                    <Transition fallback=|| ()>
                        {move || use_session().get().and_then(Result::ok).flatten().map(|info| {
                            let label = match info.role.as_str() {
                                "patient" => "My record",
                                "clinician" => "Dashboard",
                                "admin" => "Administration",
                                "security_officer" => "Security",
                                _ => "Home",
                            };
                            view! { <li><a href=home_for(&info.role)>{label}</a></li> }
                        })}
                    </Transition>
                </ul>
            </nav>
            <SessionMenu/>
        </header>
        <main id="main" tabindex="-1" data-hydrated=move || hydrated.get().to_string()>{children()}</main>
        <footer class="app-footer">
            <p>"Every access to patient information is recorded."</p>
        </footer>
    }
}

#[component]
fn SessionMenu() -> impl IntoView {
    let session = use_session();
    let sign_out = Action::new(|_: &()| sign_out());
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            webauthn::go_to("/");
        }
    });
    view! {
        <Transition fallback=|| ()>
            {move || match session.get().and_then(Result::ok).flatten() {
                Some(info) => view! {
                    <super::idle::IdleWatch idle_timeout_secs=info.idle_timeout_secs/>
                    <div class="session-menu">
                        <span class="who" id="signed-in-as">{info.display_name}" · "{role_label(&info.role)}</span>
                        <a href="/account">"My passkeys"</a>
                        <button class="button button-secondary" id="sign-out" on:click=move |_| { sign_out.dispatch(()); }>"Sign out"</button>
                    </div>
                }.into_any(),
                None => view! { <a class="button button-secondary" href="/sign-in">"Sign in"</a> }.into_any(),
            }}
        </Transition>
    }
}

pub fn role_label(role: &str) -> &'static str {
    match role {
        "patient" => "Patient",
        "clinician" => "Clinician",
        "admin" => "Admin",
        "security_officer" => "Security officer",
        _ => "Guest",
    }
}
