//! Pages and components, rendered on the server and hydrated in the browser.

mod account;
mod account_requests;
mod admin;
mod alerts;
mod appointments;
mod calendar;
mod care_admin;
mod chart_page;
mod clock;
mod dashboard;
mod enroll;
mod entry_form;
mod home;
mod idle;
mod incident_forms;
mod incidents;
mod layout;
mod messages;
mod portal;
mod record;
mod role_home;
mod security;
mod sign_in;
mod status;
mod video;
mod vitals_chart;
mod webauthn;
mod workforce_identity;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

use account::AccountPage;
use admin::AdminPage;
use chart_page::ChartRoute;
use dashboard::DashboardPage;
use enroll::EnrollPage;
use home::HomePage;
use incidents::{IncidentPage, IncidentsPage, NewIncidentPage};
use layout::{SessionResource, Shell};
use messages::{ClinicianMessagesPage, ClinicianThreadPage, PortalMessagesPage, PortalThreadPage};
use portal::PortalPage;
use security::SecurityPage;
use sign_in::SignInPage;
use video::VideoVisitPage;

use crate::api::auth::get_session;

/// The HTML document. On the server the CSP nonce minted for this response is provided to
/// Leptos here, so the hydration script carries it and nothing inline runs without it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    provide_csp_nonce();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The nonce the security-headers middleware put in the request's extensions.
#[cfg(feature = "ssr")]
fn provide_csp_nonce() {
    if let Some(parts) = use_context::<http::request::Parts>()
        && let Some(nonce) = parts.extensions.get::<crate::domain::CspNonce>()
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0.as_str()));
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let session: SessionResource = Resource::new(|| (), |_| get_session());
    provide_context(session);
    view! {
        <Stylesheet id="leptos" href="/pkg/clinic.css"/>
        <Title text="Clinic"/>
        <Router>
            <Shell>
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=HomePage/>
                    <Route path=path!("/sign-in") view=SignInPage/>
                    <Route path=path!("/enroll") view=EnrollPage/>
                    <Route path=path!("/account") view=AccountPage/>
                    <Route path=path!("/portal") ssr=SsrMode::Async view=PortalPage/>
                    <Route path=path!("/dashboard") ssr=SsrMode::Async view=DashboardPage/>
                    <Route path=path!("/dashboard/patients/:id") ssr=SsrMode::Async view=ChartRoute/>
                    <Route path=path!("/visit/:id") ssr=SsrMode::Async view=VideoVisitPage/>
                    <Route path=path!("/portal/messages") ssr=SsrMode::Async view=PortalMessagesPage/>
                    <Route path=path!("/portal/messages/:id") ssr=SsrMode::Async view=PortalThreadPage/>
                    <Route path=path!("/dashboard/messages") ssr=SsrMode::Async view=ClinicianMessagesPage/>
                    <Route path=path!("/dashboard/messages/:id") ssr=SsrMode::Async view=ClinicianThreadPage/>
                    <Route path=path!("/admin") ssr=SsrMode::Async view=AdminPage/>
                    <Route path=path!("/security") ssr=SsrMode::Async view=SecurityPage/>
                    <Route path=path!("/security/alerts") ssr=SsrMode::Async view=alerts::AlertInboxPage/>
                    <Route path=path!("/security/alerts/:id") ssr=SsrMode::Async view=alerts::AlertDetailPage/>
                    <Route path=path!("/security/incidents") ssr=SsrMode::Async view=IncidentsPage/>
                    <Route path=path!("/security/incidents/new") ssr=SsrMode::Async view=NewIncidentPage/>
                    <Route path=path!("/security/incidents/:id") ssr=SsrMode::Async view=IncidentPage/>
                </Routes>
            </Shell>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="panel" aria-labelledby="not-found-title">
            <h1 id="not-found-title">"Page not found"</h1>
            <p>"There is no page at this address. " <a href="/">"Go to the home page"</a> "."</p>
        </section>
    }
}
