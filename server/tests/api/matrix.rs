//! Every protected server function, called as every role and as nobody: allowed where the
//! policy says so, refused otherwise with 401/403, and every refusal leaves a denied audit row.

use app::domain::audit::{AuditContext, Role};
use app::domain::entities::audit_event;
use app::domain::users::NewUser;
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::spawn_app_configured;

const ROLES: [Option<Role>; 5] =
    [None, Some(Role::Patient), Some(Role::Clinician), Some(Role::Admin), Some(Role::SecurityOfficer)];

on_both_backends!(every_protected_server_function_allows_exactly_its_roles_and_audits_refusals, |backend| async move {
    // One denied row per refusal: the anonymous calls here are more than one address's default
    // budget of rows per minute (that budget has tests of its own, in anonymous.rs).
    let app = spawn_app_configured(backend, std::sync::Arc::new(app::domain::clock::SystemClock), |settings| {
        settings.audit.anonymous_rows_per_minute = 1000;
    })
    .await;
    let target = app
        .services
        .users
        .invite(
            &AuditContext::system("test"),
            NewUser { role: Role::Clinician, display_name: "Matrix Target".into(), patient_id: None },
            chrono::Duration::hours(1),
        )
        .await
        .unwrap()
        .user_id
        .to_string();
    // A re-enrollment the system asked for, waiting for the security officer's approval.
    let pending_for = app
        .services
        .users
        .invite(
            &AuditContext::system("test"),
            NewUser { role: Role::Clinician, display_name: "Matrix Pending".into(), patient_id: None },
            chrono::Duration::hours(1),
        )
        .await
        .unwrap()
        .user_id;
    let pending = match app.services.accounts.reenroll(&AuditContext::system("test"), pending_for).await.unwrap() {
        app::domain::accounts::ChangeOutcome::AwaitingApproval(request) => request.to_string(),
        other => panic!("expected a pending request, got {other:?}"),
    };
    let mrn = app::domain::seed::synthetic_patient(&mut rand::rng(), "MTX", 1).mrn;
    let mut known = app::domain::seed::synthetic_patient(&mut rand::rng(), "MTX", 1);
    known.mrn = mrn.clone();
    app.services.patients.create(&AuditContext::system("test"), known).await.unwrap();
    let visit = app
        .services
        .schedule
        .create_visit_type(
            &AuditContext::system("test"),
            app::domain::scheduling::NewVisitType {
                name: "Matrix visit".into(),
                video: false,
                duration_minutes: 30,
                self_schedule: true,
                requires_approval: false,
            },
        )
        .await
        .unwrap()
        .to_string();
    // A conversation of a patient none of the callers below is related to.
    let (author, _) = app.signed_in(Role::Patient).await;
    let author_ctx = AuditContext { actor: author.actor(), ..AuditContext::system("test") };
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let file = app::domain::messaging::NewAttachment { file_name: "m.png".into(), declared_type: None, data: png };
    let (thread, _) = app
        .services
        .messages
        .start_thread(&author_ctx, author.patient_id.unwrap(), "Matrix subject", "Matrix body", vec![file])
        .await
        .unwrap();
    let thread = thread.to_string();
    let attachment = app::domain::entities::message_attachment::Entity::find()
        .one(&app.services.db)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    let nobody: [Role; 0] = [];
    let staff = [Role::Clinician, Role::Admin];
    let admin_only = [Role::Admin];
    let clinicians = [Role::Clinician];
    let patients = [Role::Patient];
    let officers = [Role::SecurityOfficer];
    let auditors = [Role::Admin, Role::SecurityOfficer];
    let everyone = [Role::Patient, Role::Clinician, Role::Admin, Role::SecurityOfficer];
    let cases: Vec<(&str, serde_json::Value, &[Role])> = vec![
        ("admin/list_users", serde_json::json!({}), &admin_only),
        (
            "admin/invite_user",
            serde_json::json!({
                "role": "clinician", "display_name": "Matrix Invitee", "email": "matrix@clinic.test", "patient_mrn": null
            }),
            &admin_only,
        ),
        ("accounts/requests", serde_json::json!({}), &auditors),
        // Only the security officer approves an admin's (here the system's) change to a clinician.
        ("accounts/decide_request", serde_json::json!({"request_id": pending, "approve": true}), &officers),
        ("admin/set_user_enabled", serde_json::json!({"user_id": target, "enabled": true}), &admin_only),
        ("admin/end_sessions", serde_json::json!({"user_id": target}), &admin_only),
        ("admin/reenroll_user", serde_json::json!({"user_id": target}), &admin_only),
        ("admin/audit_log", serde_json::json!({"filter": {}, "page": 0}), &auditors),
        ("admin/verify_audit_log", serde_json::json!({}), &auditors),
        ("account/passkeys", serde_json::json!({}), &everyone),
        ("chart/my_patients", serde_json::json!({}), &clinicians),
        (
            "chart/search_patients",
            serde_json::json!({"form": {"given_name": "", "family_name": "", "birth_date": "", "mrn": mrn, "phone": ""}}),
            &clinicians,
        ),
        ("portal/my_chart", serde_json::json!({}), &patients),
        ("portal/care_team", serde_json::json!({}), &patients),
        ("portal/who_looked", serde_json::json!({}), &patients),
        ("portal/clinicians", serde_json::json!({}), &everyone),
        ("care/for_mrn", serde_json::json!({"mrn": mrn}), &admin_only),
        ("security/break_glass_queue", serde_json::json!({}), &officers),
        ("alerts/list", serde_json::json!({"filter": {}, "page": 0}), &officers),
        ("alerts/counts", serde_json::json!({}), &officers),
        ("video/waiting_room", serde_json::json!({}), &clinicians),
        // Only a visit's own clinician names its delegate; there is no such visit here.
        (
            "video/name_delegate",
            serde_json::json!({"appointment_id": uuid::Uuid::now_v7().to_string(), "delegate_id": null}),
            &nobody,
        ),
        ("schedule/visit_types", serde_json::json!({}), &everyone),
        (
            "schedule/open_slots",
            serde_json::json!({"clinician_id": target, "visit_type_id": visit, "from": "2026-11-30", "days": 1}),
            &everyone,
        ),
        ("schedule/my_appointments", serde_json::json!({}), &patients),
        ("schedule/weekly_hours", serde_json::json!({"clinician_id": target}), &staff),
        ("schedule/set_weekly_hours", serde_json::json!({"clinician_id": target, "blocks": []}), &admin_only),
        (
            "schedule/add_time_off",
            serde_json::json!({"clinician_id": null, "starts_at": "2030-12-24T00:00:00Z", "ends_at": "2030-12-26T00:00:00Z"}),
            &admin_only,
        ),
        ("schedule/time_off", serde_json::json!({}), &staff),
        ("schedule/calendar", serde_json::json!({"from": chrono::Utc::now(), "days": 1, "whole_clinic": true}), &staff),
        (
            "schedule/set_self_scheduling",
            serde_json::json!({"visit_type_id": visit, "self_schedule": true, "requires_approval": false}),
            &admin_only,
        ),
        ("messages/my_threads", serde_json::json!({}), &patients),
        ("messages/inbox", serde_json::json!({}), &clinicians),
        (
            "messages/start_thread",
            serde_json::json!({"subject": "Matrix question", "body": "Matrix words", "attachments": []}),
            &patients,
        ),
        ("messages/open_thread", serde_json::json!({"thread_id": thread}), &nobody),
        (
            "messages/reply",
            serde_json::json!({"thread_id": thread, "body": "Matrix reply", "attachments": []}),
            &nobody,
        ),
        ("messages/attachment", serde_json::json!({"attachment_id": attachment}), &nobody),
        ("pages/open", serde_json::json!({"role": "patient"}), &[Role::Patient]),
        ("pages/open", serde_json::json!({"role": "clinician"}), &[Role::Clinician]),
        ("pages/open", serde_json::json!({"role": "admin"}), &[Role::Admin]),
        ("pages/open", serde_json::json!({"role": "security_officer"}), &[Role::SecurityOfficer]),
    ];
    // Public by design: the status widget, the session probe and the sign-in ceremony's start.
    for role in ROLES {
        let cookie = match role {
            Some(role) => app.signed_in(role).await.1,
            None => String::new(),
        };
        for endpoint in ["system_status", "auth/session", "auth/start_sign_in"] {
            let response = if endpoint == "system_status" {
                reqwest::Client::new()
                    .post(format!("{}/api/{endpoint}", app.address))
                    .header("origin", &app.address)
                    .header("cookie", &cookie)
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await
                    .unwrap()
            } else {
                app.call_as(&cookie, endpoint, serde_json::json!({})).await
            };
            assert_eq!(response.status(), 200, "{role:?} {endpoint}");
        }
    }
    for role in ROLES {
        let cookie = match role {
            Some(role) => app.signed_in(role).await.1,
            None => String::new(),
        };
        for (endpoint, body, allowed) in &cases {
            let denied_before = denied(&app).await;
            let response = app.call_as(&cookie, endpoint, body.clone()).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            let expected_allowed = role.is_some_and(|r| allowed.contains(&r));
            if expected_allowed {
                assert_eq!(status, 200, "{role:?} {endpoint} {body}: {text}");
                assert_eq!(denied(&app).await, denied_before, "{role:?} {endpoint}: allowed but a denial was audited");
            } else {
                let expected = if role.is_none() { 401 } else { 403 };
                assert_eq!(status, expected, "{role:?} {endpoint} {body}: {text}");
                assert_eq!(denied(&app).await, denied_before + 1, "{role:?} {endpoint}: refusal not audited");
                assert!(!text.contains("Matrix Target"), "a refusal carried data");
            }
        }
    }
});

async fn denied(app: &crate::helpers::TestApp) -> u64 {
    audit_event::Entity::find().filter(audit_event::Column::Outcome.eq("denied")).count(&app.services.db).await.unwrap()
}
