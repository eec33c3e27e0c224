//! Sessions that stay ended, with a signaling socket open in another tab: sign-out, an admin's
//! "end sessions" and automatic logoff each close the socket within one check period, leave the
//! old cookie worthless (401) and leave no session row behind, on both backends.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use app::domain::audit::Role;
use app::domain::clock::FixedClock;
use app::domain::entities::{audit_event, session};
use app::on_both_backends;
use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::helpers::{SESSION_CHECK_MS, TestApp, spawn_app, spawn_app_with_clock};
use crate::video::{Visit, close_code, next, open, video_visit};

/// Signed out: the code a socket is closed with when its session has ended.
const SIGNED_OUT: u16 = 4401;

/// Long enough for one check period and the close to arrive, on a busy machine.
fn one_check_period() -> StdDuration {
    StdDuration::from_millis(SESSION_CHECK_MS * 10)
}

async fn session_rows(app: &TestApp, user: app::domain::ids::UserId) -> u64 {
    session::Entity::find().filter(session::Column::UserId.eq(user.0)).count(&app.services.db).await.unwrap()
}

/// The visit's clinician, signed in, with the visit's signaling socket open ("the other tab").
async fn clinician_in_call(app: &TestApp) -> (Visit, crate::video::Socket) {
    let visit = video_visit(app).await;
    let mut socket = open(&app.address, visit.id, Some(&visit.clinician_cookie), None).await.unwrap();
    assert_eq!(next(&mut socket).await["kind"], "welcome");
    assert_eq!(session_rows(app, visit.clinician.id).await, 1);
    (visit, socket)
}

/// After the session ended: the old cookie is refused and the row stays gone, even after the
/// socket's checks and the other tab's own requests have had time to save it again.
async fn assert_stays_ended(app: &TestApp, visit: &Visit) {
    assert_eq!(open(&app.address, visit.id, Some(&visit.clinician_cookie), None).await.err(), Some(401));
    let body = json!({ "appointment_id": visit.id.to_string() });
    assert_eq!(app.call_as(&visit.clinician_cookie, "video/room", body).await.status(), 401);
    tokio::time::sleep(StdDuration::from_millis(SESSION_CHECK_MS * 3)).await;
    assert_eq!(session_rows(app, visit.clinician.id).await, 0, "an ended session was stored again");
    assert_eq!(app.call_as(&visit.clinician_cookie, "account/passkeys", json!({})).await.status(), 401);
}

on_both_backends!(signing_out_in_one_tab_closes_the_call_open_in_another, |backend| async move {
    let app = spawn_app(backend).await;
    let (visit, mut socket) = clinician_in_call(&app).await;

    let signed_out = app.call_as(&visit.clinician_cookie, "auth/sign_out", json!({})).await;

    assert_eq!(signed_out.status(), 200);
    assert_eq!(close_code(&mut socket, one_check_period()).await, Some(SIGNED_OUT));
    assert_stays_ended(&app, &visit).await;
});

on_both_backends!(an_admin_ending_a_users_sessions_closes_their_open_call, |backend| async move {
    let app = spawn_app(backend).await;
    let (visit, mut socket) = clinician_in_call(&app).await;
    let (_, admin_cookie) = app.signed_in(Role::Admin).await;

    let ended =
        app.call_as(&admin_cookie, "admin/end_sessions", json!({ "user_id": visit.clinician.id.to_string() })).await;

    assert_eq!(ended.status(), 200, "{}", ended.text().await.unwrap());
    assert_eq!(close_code(&mut socket, one_check_period()).await, Some(SIGNED_OUT));
    assert_stays_ended(&app, &visit).await;
});

on_both_backends!(an_idle_session_with_an_open_call_is_logged_off_at_the_idle_limit, |backend| async move {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let app = spawn_app_with_clock(backend, clock.clone()).await;
    let (visit, mut socket) = clinician_in_call(&app).await;

    // Within the limit, the call carries on through several checks.
    clock.advance(Duration::minutes(14));
    tokio::time::sleep(StdDuration::from_millis(SESSION_CHECK_MS * 3)).await;
    assert_eq!(session_rows(&app, visit.clinician.id).await, 1, "a call within the idle limit stays up");
    // The open socket is not activity: past the limit, the session ends.
    clock.advance(Duration::minutes(1) + Duration::seconds(1));

    assert_eq!(close_code(&mut socket, one_check_period()).await, Some(SIGNED_OUT));
    let logoffs: Vec<(String, Option<String>)> = audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.eq(visit.clinician.id.0))
        .filter(audit_event::Column::Action.eq("auth.sign_out"))
        .all(&app.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.outcome, r.rule))
        .collect();
    assert_eq!(logoffs, vec![("allowed".to_owned(), Some("automatic-logoff:idle".to_owned()))]);
    assert_stays_ended(&app, &visit).await;
});

on_both_backends!(adding_a_passkey_needs_a_passkey_verification_within_five_minutes, |backend| async move {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let app = spawn_app_with_clock(backend, clock.clone()).await;
    let (user, cookie) = app.signed_in(Role::Patient).await;

    // Just signed in with a passkey: the registration ceremony may start.
    assert_eq!(app.call_as(&cookie, "account/start_add_passkey", json!({})).await.status(), 200);

    // Six minutes later (still signed in), it needs a fresh passkey check first.
    clock.advance(Duration::minutes(6));
    let refused = app.call_as(&cookie, "account/start_add_passkey", json!({})).await;
    let status = refused.status().as_u16();
    let text = refused.text().await.unwrap();
    assert!((400..500).contains(&status), "{status} {text}");
    assert!(text.contains("confirm it is you with one of your passkeys first"), "{text}");
    let denied = audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.eq(user.id.0))
        .filter(audit_event::Column::Action.eq("passkey.add"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .all(&app.services.db)
        .await
        .unwrap();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].rule.as_deref(), Some("needs-fresh-passkey-verification"));
    // Confirming with a passkey is for a signed-in person only.
    assert_eq!(app.call_as("", "account/start_step_up", json!({})).await.status(), 401);
});
