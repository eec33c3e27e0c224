//! Role-gated pages. Whether the signed-in user may open a role's page is decided on the
//! server (`open_page`, audited when refused); this only renders the answer.
//!
//! A page creates its [`PageAccess`] and its resources first, outside the gate, and each of its
//! resources waits for the decision, so nothing of the page is loaded for someone it refuses.
//! Creating them outside the gate also matters for the audit trail: while rendering on the
//! server, Leptos builds the children of a `Transition` more than once, and resources created in
//! there would call their server functions (and write their audit rows) once per build.

use leptos::prelude::*;

use super::layout::{role_label, use_session};
use crate::api::admin::open_page;
use crate::error::AppError;

/// The server's answer to "may the signed-in user open this role's page?", loaded once per page.
#[derive(Clone, Copy)]
pub struct PageAccess(Resource<Result<(), AppError>>);

impl PageAccess {
    pub fn new(role: &'static str) -> Self {
        Self(Resource::new(|| (), move |_| open_page(role.to_owned())))
    }

    /// Ready once the decision is known: the page's resources await this before loading.
    pub async fn granted(self) -> Result<(), AppError> {
        self.0.await
    }
}

#[component]
pub fn RoleGate(access: PageAccess, title: &'static str, children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let children = StoredValue::new(children);
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || access.0.get().map(|result| match result {
                Ok(()) => view! {
                    <h1 class="page-title">{title}</h1>
                    <p class="muted">
                        {move || session.get().and_then(Result::ok).flatten().map(|info| format!("Signed in as {} ({})", info.display_name, role_label(&info.role)))}
                    </p>
                    {children.read_value()()}
                }.into_any(),
                Err(AppError::Forbidden) => view! { <NotAllowed/> }.into_any(),
                Err(AppError::Unauthenticated) => view! {
                    <section class="panel narrow" aria-labelledby="please-sign-in">
                        <h1 id="please-sign-in">"Please sign in"</h1>
                        <p>"This page needs you to sign in first."</p>
                        <a class="button" href="/sign-in">"Sign in"</a>
                    </section>
                }.into_any(),
                Err(err) => view! { <p class="error" role="alert">{err.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
pub fn NotAllowed() -> impl IntoView {
    view! {
        <section class="panel narrow" aria-labelledby="not-allowed-title" id="not-allowed">
            <h1 id="not-allowed-title">"Not allowed"</h1>
            <p>"Your account may not open this page. If you think it should, ask your clinic's administrator."</p>
            <a class="button" href="/">"Go to the home page"</a>
        </section>
    }
}
