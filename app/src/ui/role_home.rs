//! The landing page of each role. Which pages a role may open is decided on the server; this
//! page shows a clear "not allowed" when the signed-in role is not the page's.

use leptos::prelude::*;

use super::layout::{role_label, use_session};

#[component]
pub fn RoleHome(role: &'static str, title: &'static str) -> impl IntoView {
    let session = use_session();
    view! {
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || session.get().map(|result| match result {
                Ok(Some(info)) if info.role == role => view! {
                    <section class="panel" aria-labelledby="role-title">
                        <h1 id="role-title">{title}</h1>
                        <p>"Signed in as "<strong>{info.display_name}</strong>" ("{role_label(&info.role)}")."</p>
                    </section>
                }.into_any(),
                Ok(Some(_)) => view! { <NotAllowed/> }.into_any(),
                Ok(None) => view! {
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
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    view! {
        <section class="panel narrow" aria-labelledby="not-allowed-title" id="not-allowed">
            <h1 id="not-allowed-title">"Not allowed"</h1>
            <p>"Your account may not open this page. If you think it should, ask your clinic's administrator."</p>
            <a class="button" href="/">"Go to the home page"</a>
        </section>
    }
}
