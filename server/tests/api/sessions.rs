//! Automatic logoff and account state, checked on every request with a pinned clock.

use std::sync::Arc;

use app::domain::audit::{AuditContext, Role};
use app::domain::clock::FixedClock;
use app::on_both_backends;
use chrono::{Duration, Utc};

use crate::helpers::{spawn_app, spawn_app_with_clock};

async fn who(app: &crate::helpers::TestApp, cookie: &str) -> serde_json::Value {
    let response = app.call_as(cookie, "auth/session", serde_json::json!({})).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

on_both_backends!(an_idle_session_ends_after_the_idle_limit, |backend| async move {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let app = spawn_app_with_clock(backend, clock.clone()).await;
    let (user, cookie) = app.signed_in(Role::Clinician).await;
    assert_eq!(who(&app, &cookie).await["display_name"], user.display_name);

    clock.advance(Duration::minutes(14));
    assert_eq!(who(&app, &cookie).await["role"], "clinician", "activity within the limit keeps it alive");
    clock.advance(Duration::minutes(15) + Duration::seconds(1));

    assert!(who(&app, &cookie).await.is_null());
    clock.advance(Duration::seconds(-60));
    assert!(who(&app, &cookie).await.is_null(), "an ended session stays ended");
});

on_both_backends!(an_active_session_still_ends_at_the_absolute_limit, |backend| async move {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let app = spawn_app_with_clock(backend, clock.clone()).await;
    let (_, cookie) = app.signed_in(Role::Admin).await;
    for _ in 0..(12 * 6) {
        assert!(!who(&app, &cookie).await.is_null());
        clock.advance(Duration::minutes(10));
    }
    // Exactly 12 hours after sign-in, still within the limit; a minute later, past it.
    assert!(!who(&app, &cookie).await.is_null());
    clock.advance(Duration::minutes(1));
    assert!(who(&app, &cookie).await.is_null());
});

on_both_backends!(a_disabled_users_open_session_is_refused_on_its_next_request, |backend| async move {
    let app = spawn_app(backend).await;
    let (user, cookie) = app.signed_in(Role::Patient).await;
    assert_eq!(who(&app, &cookie).await["role"], "patient");

    app.services.users.disable(&AuditContext::system("test"), user.id).await.unwrap();

    assert!(who(&app, &cookie).await.is_null());
});

on_both_backends!(sign_out_ends_the_session_on_the_server, |backend| async move {
    let app = spawn_app(backend).await;
    let (_, cookie) = app.signed_in(Role::SecurityOfficer).await;

    let response = app.call_as(&cookie, "auth/sign_out", serde_json::json!({})).await;

    assert_eq!(response.status(), 200);
    assert!(who(&app, &cookie).await.is_null(), "the old cookie is worthless");
});
