//! The automatic response over HTTP, on both backends: a signed-in clinician's session is
//! refused (401) on its very next request once a critical alert's response has run, and the
//! admin's "enable" is a 409 naming the alert until the security officer closes it.

use app::domain::audit::Role;
use app::domain::entities::{audit_event, security_alert};
use app::domain::monitoring::response::{self, Response};
use app::domain::monitoring::{self, NewAlert, Severity};
use app::on_both_backends;
use chrono::Duration;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use crate::helpers::spawn_app;

on_both_backends!(a_clinicians_open_session_is_refused_on_its_next_request_after_the_response, |backend| async move {
    let app = spawn_app(backend).await;
    let (clinician, cookie) = app.signed_in(Role::Clinician).await;
    let (_, admin_cookie) = app.signed_in(Role::Admin).await;
    assert_eq!(app.call_as(&cookie, "account/passkeys", json!({})).await.status(), 200);
    let now = app.services.clock.now();
    let finding = NewAlert {
        rule: "bulk-access".to_owned(),
        severity: Severity::Critical,
        actor: Some(clinician.id),
        patients: vec![],
        window_start: now - Duration::minutes(10),
        window_end: now,
        observed: Some(90),
        seqs: vec![1],
        dedup: "http-test".to_owned(),
        subject_id: None,
    };
    let alert = monitoring::raise(&app.services.db, finding, now).await.unwrap().unwrap();

    let taken = response::respond(&app.services.db, &app.services.audit, alert, now).await.unwrap();

    assert_eq!(taken, Response::AccountDisabled { user: clinician.id, sessions_ended: 1 });
    let refused = app.call_as(&cookie, "account/passkeys", json!({})).await;
    assert_eq!(refused.status(), 401);
    let body = json!({ "user_id": clinician.id.to_string(), "enabled": true });
    let held = app.call_as(&admin_cookie, "admin/set_user_enabled", body.clone()).await;
    assert_eq!(held.status(), 409);
    let message = held.text().await.unwrap();
    assert!(message.contains(&alert.to_string()) && message.contains("security officer"), "{message}");
    // Closed by the security officer: the admin's request goes through (to the second person,
    // as for any clinician), and the old cookie stays worthless.
    security_alert::Entity::update_many()
        .col_expr(security_alert::Column::Status, Expr::value("closed"))
        .filter(security_alert::Column::Id.eq(alert))
        .exec(&app.services.db)
        .await
        .unwrap();
    let asked = app.call_as(&admin_cookie, "admin/set_user_enabled", body).await;
    assert_eq!(asked.status(), 200, "{}", asked.text().await.unwrap());
    assert_eq!(app.call_as(&cookie, "account/passkeys", json!({})).await.status(), 401);

    let about_clinician: Vec<(String, String, String)> = audit_event::Entity::find()
        .filter(audit_event::Column::ResourceId.eq(clinician.id.to_string()))
        .filter(audit_event::Column::Action.is_in(["user.disable", "user.end_sessions", "user.enable"]))
        .order_by_asc(audit_event::Column::Seq)
        .all(&app.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.action, row.actor_role, row.rule.unwrap_or_default()))
        .collect();
    let request = |rule: &str| rule.starts_with("admin-manages-accounts:awaiting-approval:");
    assert_eq!(about_clinician.len(), 4, "{about_clinician:?}");
    assert_eq!(
        about_clinician[..3],
        [
            ("user.disable".to_owned(), "system".to_owned(), "system-maintenance:automatic-response".to_owned()),
            ("user.end_sessions".to_owned(), "system".to_owned(), "system-maintenance:automatic-response".to_owned()),
            ("user.enable".to_owned(), "admin".to_owned(), format!("security-alert-not-closed:{alert}")),
        ]
    );
    assert!(request(&about_clinician[3].2), "{about_clinician:?}");
});
