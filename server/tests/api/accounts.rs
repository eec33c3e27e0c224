//! Separation of duties over HTTP, as an insider admin would try it: no enrollment link in any
//! response, the link reaches the invitee's mailbox only after the security officer approves, the
//! account list names no patient, and a patient's "who looked" never calls someone else "You".

use app::domain::audit::{AuditContext, Role};
use app::domain::entities::audit_event;
use app::domain::test_support::smtp_sink::SmtpSink;
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{run_binary, spawn_app, spawn_app_with_settings, text};

on_both_backends!(
    an_invitation_carries_no_link_and_the_link_reaches_the_invitees_mailbox_after_approval,
    |backend| async move {
        let sink = SmtpSink::start().await.unwrap();
        let port = sink.port;
        let app = spawn_app_with_settings(backend, move |settings| {
            settings.accounts.email_links = true;
            settings.reminders.smtp.host = "127.0.0.1".into();
            settings.reminders.smtp.port = port;
            settings.reminders.smtp.security = "none".into();
        })
        .await;
        let (_, admin) = app.signed_in(Role::Admin).await;
        let (_, officer) = app.signed_in(Role::SecurityOfficer).await;

        let invite = serde_json::json!({
            "role": "clinician", "display_name": "Dr Invited", "email": "dr.invited@clinic.test", "patient_mrn": null
        });
        let response = app.call_as(&admin, "admin/invite_user", invite).await;

        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        assert!(!body.contains("enroll"), "{body}");
        let change: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(change["outcome"], "awaiting-approval");
        let request = change["request_id"].as_str().unwrap().to_owned();
        assert!(sink.messages().await.is_empty(), "nothing is sent before approval");
        // The admin cannot approve their own request.
        let own = serde_json::json!({"request_id": request, "approve": true});
        assert_eq!(app.call_as(&admin, "accounts/decide_request", own.clone()).await.status(), 403);
        // The security officer sees it in the queue and approves it.
        let queue: serde_json::Value =
            app.call_as(&officer, "accounts/requests", serde_json::json!({})).await.json().await.unwrap();
        assert_eq!(queue[0]["id"], request.as_str());
        assert_eq!(queue[0]["decidable"], true);
        assert_eq!(queue[0]["account"], "Dr Invited");
        let approved = app.call_as(&officer, "accounts/decide_request", own).await;
        assert_eq!(approved.status(), 200);
        assert!(!approved.text().await.unwrap().contains("enroll"));

        let messages = sink.messages().await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].to, ["dr.invited@clinic.test"]);
        let prefix = format!("{}/enroll#", app.address);
        let token = messages[0].data.lines().find_map(|l| l.strip_prefix(prefix.as_str())).unwrap();
        let invitee = app.services.users.enrollment_user(&AuditContext::system("test"), token).await.unwrap();
        assert_eq!(invitee.display_name, "Dr Invited");
        let decisions = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("account_request.decide"))
            .all(&app.services.db)
            .await
            .unwrap();
        let got: Vec<_> = decisions.iter().map(|r| (r.outcome.as_str(), r.rule.as_deref())).collect();
        assert_eq!(got, [("denied", Some("own-request")), ("allowed", Some("security-officer-approves:approved"))]);
    }
);

on_both_backends!(re_enrolling_over_http_returns_no_link_and_changes_nothing_before_approval, |backend| async move {
    let app = spawn_app(backend).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (doctor, doctor_cookie) = app.signed_in(Role::Clinician).await;

    let response =
        app.call_as(&admin, "admin/reenroll_user", serde_json::json!({"user_id": doctor.id.to_string()})).await;

    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(!body.contains("enroll#") && body.contains("awaiting-approval"), "{body}");
    assert_eq!(app.services.users.passkeys(doctor.id).await.unwrap().len(), 1);
    let still_in = app.call_as(&doctor_cookie, "chart/my_patients", serde_json::json!({})).await;
    assert_eq!(still_in.status(), 200, "the clinician's session lives on until approval");
});

on_both_backends!(the_account_list_json_names_no_patient, |backend| async move {
    let app = spawn_app(backend).await;
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (patient_user, _) = app.signed_in(Role::Patient).await;
    let record =
        app.services.patients.get(&AuditContext::system("test"), patient_user.patient_id.unwrap()).await.unwrap();

    let response = app.call_as(&admin, "admin/list_users", serde_json::json!({})).await;

    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(!body.contains(&record.details.given_name), "the list carries the patient's given name");
    assert!(!body.contains(&record.details.family_name), "the list carries the patient's family name");
    assert!(!body.contains("Test patient"), "the account's display name is the patient's name");
    assert!(body.contains(&record.details.mrn));
    assert!(body.contains(&patient_user.id.to_string()));
});

on_both_backends!(a_search_by_date_of_birth_or_phone_alone_is_refused_with_a_clear_message, |backend| async move {
    let app = spawn_app(backend).await;
    let (_, doctor) = app.signed_in(Role::Clinician).await;
    let form = |birth_date: &str, phone: &str| serde_json::json!({"form": {"given_name": "", "family_name": "", "birth_date": birth_date, "mrn": "", "phone": phone}});
    for body in [form("1971-03-14", ""), form("", "555-555-0142")] {
        let response = app.call_as(&doctor, "chart/search_patients", body).await;
        assert_eq!(response.status(), 422);
        let text = response.text().await.unwrap();
        assert!(text.contains("search by MRN, or by full name together with date of birth or phone number"), "{text}");
        assert!(!text.contains("1971-03-14") && !text.contains("0142"), "the message echoes the input");
    }
});

on_both_backends!(who_looked_never_calls_an_earlier_holder_of_the_account_you, |backend| async move {
    let app = spawn_app(backend).await;
    let (patient, cookie) = app.signed_in(Role::Patient).await;
    // Whoever holds the account now reads the chart...
    assert_eq!(app.call_as(&cookie, "portal/my_chart", serde_json::json!({})).await.status(), 200);
    // ...then the account is re-enrolled and someone else enrolls it.
    let system = AuditContext::system("test");
    let link = app.services.users.reenroll(&system, patient.id, chrono::Duration::hours(1)).await.unwrap();
    let passkey = app::domain::users::NewPasskey {
        credential_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
        passkey: "{}".to_owned(),
        name: "new holder".to_owned(),
    };
    app.services.users.enroll(&system, link.token.expose(), passkey).await.unwrap();
    let new_cookie = app::domain::test_support::signed_in_cookie(&app.services, patient.id).await;
    assert_eq!(app.call_as(&new_cookie, "portal/my_chart", serde_json::json!({})).await.status(), 200);

    let looked: Vec<serde_json::Value> =
        app.call_as(&new_cookie, "portal/who_looked", serde_json::json!({})).await.json().await.unwrap();

    let reads: Vec<&str> =
        looked.iter().filter(|r| r["action"] == "chart.read").map(|r| r["who"].as_str().unwrap()).collect();
    assert_eq!(reads, ["You", "Your account, before it was last enrolled"], "{looked:?}");
});

#[tokio::test]
async fn the_operator_prints_a_fresh_enrollment_link_on_the_host_and_it_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/links.db?mode=rwc", dir.path().display());
    let keys = dir.path().join("keys.json");
    let first = dir.path().join("first.link");
    let fresh = dir.path().join("fresh.link");
    let env = [
        ("APP_DATABASE__URL", url.as_str()),
        ("APP_KEYS__FILE", keys.to_str().unwrap()),
        ("APP_KEYS__GENERATE_IF_MISSING", "true"),
    ];
    let boot = run_binary(&["admin", "bootstrap", "--link-file", first.to_str().unwrap()], &env);
    assert!(boot.status.success(), "{}", text(&boot.stderr));
    let db = app::domain::db::connect(&url).await.unwrap();
    let admin = app::domain::entities::app_user::Entity::find().one(&db).await.unwrap().unwrap().id.to_string();

    let printed =
        run_binary(&["admin", "enrollment-link", "--user", &admin, "--link-file", fresh.to_str().unwrap()], &env);

    assert!(printed.status.success(), "{}", text(&printed.stderr));
    let link = std::fs::read_to_string(&fresh).unwrap();
    assert!(link.starts_with("http://localhost:3000/enroll#"), "{link}");
    assert!(text(&printed.stdout).contains(&link));
    assert_ne!(link, std::fs::read_to_string(&first).unwrap(), "a fresh link, the old one revoked");
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.enrollment_link"))
        .filter(audit_event::Column::ActorRole.eq("system"))
        .filter(audit_event::Column::Justification.eq("cli: admin enrollment-link"))
        .count(&db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let unknown = run_binary(&["admin", "enrollment-link", "--user", &uuid::Uuid::new_v4().to_string()], &env);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no account has this id"), "{}", text(&unknown.stderr));
}
