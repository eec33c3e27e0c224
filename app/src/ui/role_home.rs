//! Role-gated pages. Whether the signed-in user may open a role's page is decided on the
//! server (`open_page`, audited when refused); this only renders the answer.

use leptos::prelude::*;

use super::layout::{role_label, use_session};
use crate::api::admin::open_page;
use crate::error::AppError;

#[component]
pub fn RoleGate(role: &'static str, title: &'static str, children: ChildrenFn) -> impl IntoView {
    let access = Resource::new(|| (), move |_| open_page(role.to_owned()));
    let session = use_session();
    let children = StoredValue::new(children);
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || access.get().map(|result| match result {
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

#[component]
pub fn Placeholder(text: &'static str) -> impl IntoView {
    view! { <section class="panel"><p>{text}</p></section> }
}
