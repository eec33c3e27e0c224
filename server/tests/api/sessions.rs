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

/// The session row as stored: its data (with `last_seen`) and its expiry.
async fn session_row(app: &crate::helpers::TestApp) -> (serde_json::Value, chrono::DateTime<Utc>) {
    use sea_orm::EntityTrait;
    let rows = app::domain::entities::session::Entity::find().all(&app.services.db).await.unwrap();
    assert_eq!(rows.len(), 1, "one signed-in session");
    (serde_json::from_str(&rows[0].data).unwrap(), rows[0].expires_at)
}

on_both_backends!(
    requests_within_thirty_seconds_leave_the_session_row_alone_and_idle_logoff_is_never_late,
    |backend| async move {
        let start = Utc::now();
        let clock = Arc::new(FixedClock::new(start));
        let app = spawn_app_with_clock(backend, clock.clone()).await;
        let (_, cookie) = app.signed_in(Role::Clinician).await;
        let signed_in = session_row(&app).await;
        assert_eq!(signed_in.0["last_seen"], start.timestamp_micros());

        clock.advance(Duration::seconds(29));
        assert_eq!(who(&app, &cookie).await["idle_timeout_secs"], 871, "counted from the stored last request");
        who(&app, &cookie).await;
        assert_eq!(session_row(&app).await, signed_in, "no write within 30 seconds of the last one");

        clock.advance(Duration::seconds(2));
        assert_eq!(who(&app, &cookie).await["idle_timeout_secs"], 900);
        let (data, expires_at) = session_row(&app).await;
        let written = start + Duration::seconds(31);
        assert_eq!(data["last_seen"], written.timestamp_micros(), "31 seconds on, the request is recorded");
        assert_ne!(expires_at, signed_in.1, "and the row's expiry moves with it");

        // A request 29 seconds after that write is not recorded: the idle limit counts from the
        // write, so the session ends 15 minutes after it, before 15 minutes after the last request.
        clock.advance(Duration::seconds(29));
        assert_eq!(who(&app, &cookie).await["idle_timeout_secs"], 871);
        clock.advance(Duration::minutes(15) - Duration::seconds(29) + Duration::seconds(1));
        assert!(who(&app, &cookie).await.is_null(), "15 minutes and 1 second after the recorded request");
    }
);
