//! The split points of the WASM bundle: every page but the home page is a lazy route, so a
//! browser downloads the code of the page it opens (and of what that page shares with others)
//! rather than the whole application. `cargo leptos build --split` cuts the bundle at these
//! points; the router loads a page's chunk before it renders or hydrates that page.
//!
//! Each route's data stays inside its page component: the pages start their resources when they
//! render, as they did before the split, so what the server renders and what the browser
//! hydrates are created in the same order.

use leptos::prelude::*;
use leptos_router::{LazyRoute, lazy_route};

use super::account::AccountPage;
use super::admin::AdminPage;
use super::alerts::{AlertDetailPage, AlertInboxPage};
use super::chart_page::ChartRoute;
use super::dashboard::DashboardPage;
use super::enroll::EnrollPage;
use super::incidents::{IncidentPage, IncidentsPage, NewIncidentPage};
use super::layout::PageReady;
use super::messages::{ClinicianMessagesPage, ClinicianThreadPage, PortalMessagesPage, PortalThreadPage};
use super::portal::PortalPage;
use super::security::SecurityPage;
use super::sign_in::SignInPage;
use super::video::VideoVisitPage;

/// One lazy route per page: `$route` is the type the router names, `$page` the component.
/// The split function's name comes from the type's name, so each type must be unique.
macro_rules! lazy_pages {
    ($($(#[$doc:meta])* $route:ident => $page:ident;)*) => {
        $(
            $(#[$doc])*
            pub struct $route;

            #[lazy_route]
            impl LazyRoute for $route {
                fn data() -> Self {
                    $route
                }

                fn view(_this: Self) -> AnyView {
                    view! { <$page/> <PageReady/> }.into_any()
                }
            }
        )*
    };
}

lazy_pages! {
    /// The passkey sign-in, with its WebAuthn ceremony.
    SignInLazy => SignInPage;
    /// Enrolling a passkey from an invitation link.
    EnrollLazy => EnrollPage;
    /// The signed-in person's account and passkeys.
    AccountLazy => AccountPage;
    /// The patient portal.
    PortalLazy => PortalPage;
    /// The clinician's dashboard, with the calendar.
    DashboardLazy => DashboardPage;
    /// One patient's chart, with entry forms and the vitals chart.
    ChartLazy => ChartRoute;
    /// The video visit, with its call engine.
    VideoVisitLazy => VideoVisitPage;
    /// The patient's message threads.
    PortalMessagesLazy => PortalMessagesPage;
    /// One of the patient's threads.
    PortalThreadLazy => PortalThreadPage;
    /// The clinician's message threads.
    ClinicianMessagesLazy => ClinicianMessagesPage;
    /// One of the clinician's threads.
    ClinicianThreadLazy => ClinicianThreadPage;
    /// The admin's workforce and care-team pages.
    AdminLazy => AdminPage;
    /// The security officer's overview.
    SecurityLazy => SecurityPage;
    /// The security officer's alert inbox.
    AlertInboxLazy => AlertInboxPage;
    /// One alert.
    AlertDetailLazy => AlertDetailPage;
    /// The incident register.
    IncidentsLazy => IncidentsPage;
    /// Opening an incident.
    NewIncidentLazy => NewIncidentPage;
    /// One incident, with its notification deadlines.
    IncidentLazy => IncidentPage;
}
