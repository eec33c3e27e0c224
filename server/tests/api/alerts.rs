//! The alert inbox over HTTP: its server functions answer 401 without a session and 403 to
//! every role but the security officer (each refusal audited), bad input is a 4xx naming the
//! field, and the pages tell a clinician they are not allowed.

use app::domain::audit::Role;
use app::domain::entities::audit_event;
use app::domain::monitoring::{NewAlert, Severity, raise};
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::helpers::spawn_app;

async fn plant(app: &crate::helpers::TestApp) -> String {
    let now = chrono::Utc::now();
    let alert = NewAlert {
        rule: "bulk-access".to_owned(),
        severity: Severity::High,
        actor: None,
        patients: vec![],
        window_start: now - chrono::Duration::minutes(10),
        window_end: now,
        observed: Some(31),
        seqs: vec![],
        dedup: uuid::Uuid::now_v7().to_string(),
        subject_id: None,
    };
    raise(&app.services.db, alert, now).await.unwrap().unwrap().to_string()
}

async fn denied(app: &crate::helpers::TestApp) -> u64 {
    audit_event::Entity::find().filter(audit_event::Column::Outcome.eq("denied")).count(&app.services.db).await.unwrap()
}

on_both_backends!(the_inbox_functions_are_the_security_officers_alone, |backend| async move {
    let app = spawn_app(backend).await;
    let id = plant(&app).await;
    let calls = [
        ("alerts/list", json!({"filter": {}, "page": 0})),
        ("alerts/counts", json!({})),
        ("alerts/detail", json!({"id": id})),
        ("alerts/add_note", json!({"id": id, "note": "Looked at it"})),
        ("alerts/acknowledge", json!({"id": id})),
        ("alerts/close", json!({"id": id, "note": "Explained"})),
    ];
    for role in [None, Some(Role::Patient), Some(Role::Clinician), Some(Role::Admin)] {
        let cookie = match role {
            Some(role) => app.signed_in(role).await.1,
            None => String::new(),
        };
        for (endpoint, body) in &calls {
            let before = denied(&app).await;
            let response = app.call_as(&cookie, endpoint, body.clone()).await;
            let expected = if role.is_none() { 401 } else { 403 };
            assert_eq!(response.status(), expected, "{role:?} {endpoint}");
            assert!(
                !response.text().await.unwrap().contains("bulk-access"),
                "{role:?} {endpoint}: a refusal carried data"
            );
            assert_eq!(denied(&app).await, before + 1, "{role:?} {endpoint}: refusal not audited");
        }
    }
    let (_, officer) = app.signed_in(Role::SecurityOfficer).await;
    for (endpoint, body) in &calls {
        let response = app.call_as(&officer, endpoint, body.clone()).await;
        assert_eq!(response.status(), 200, "officer {endpoint}");
    }
    let listed: serde_json::Value = app
        .call_as(&officer, "alerts/list", json!({"filter": {"status": "closed"}, "page": 0}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["alerts"][0]["id"], id);
    assert_eq!(listed["alerts"][0]["status"], "closed");
    let detail: serde_json::Value =
        app.call_as(&officer, "alerts/detail", json!({"id": id})).await.json().await.unwrap();
    let notes: Vec<&str> = detail["notes"].as_array().unwrap().iter().map(|n| n["body"].as_str().unwrap()).collect();
    assert_eq!(notes, vec!["Looked at it", "Explained"]);
    let counts: serde_json::Value = app.call_as(&officer, "alerts/counts", json!({})).await.json().await.unwrap();
    assert_eq!((counts["open"].clone(), counts["closed"].clone()), (json!(0), json!(1)));
});

on_both_backends!(bad_input_to_the_inbox_is_a_4xx_naming_the_field, |backend| async move {
    let app = spawn_app(backend).await;
    let id = plant(&app).await;
    let (_, officer) = app.signed_in(Role::SecurityOfficer).await;
    let cases = [
        ("alerts/list", json!({"filter": {"status": "pending"}, "page": 0}), 422, "status"),
        ("alerts/list", json!({"filter": {"severity": "urgent"}, "page": 0}), 422, "severity"),
        ("alerts/list", json!({"filter": {"actor": "someone"}, "page": 0}), 422, "actor"),
        ("alerts/list", json!({"filter": {"rule": "DROP TABLE"}, "page": 0}), 422, "rule"),
        ("alerts/list", json!({"filter": {}, "page": u64::MAX}), 422, "page"),
        ("alerts/detail", json!({"id": "not-an-id"}), 422, "id"),
        ("alerts/detail", json!({"id": uuid::Uuid::now_v7().to_string()}), 404, ""),
        ("alerts/close", json!({"id": id, "note": "  "}), 422, "note"),
        ("alerts/add_note", json!({"id": id, "note": ""}), 422, "note"),
        ("alerts/add_note", json!({"id": id, "note": "x".repeat(2001)}), 422, "note"),
    ];
    for (endpoint, body, status, field) in cases {
        let response = app.call_as(&officer, endpoint, body.clone()).await;
        assert_eq!(response.status(), status, "{endpoint} {body}");
        let text = response.text().await.unwrap();
        assert!(text.contains(field), "{endpoint}: {text}");
    }
    // Closing twice: the second is a conflict.
    assert_eq!(app.call_as(&officer, "alerts/close", json!({"id": id, "note": "Done"})).await.status(), 200);
    assert_eq!(app.call_as(&officer, "alerts/close", json!({"id": id, "note": "Again"})).await.status(), 409);
    assert_eq!(app.call_as(&officer, "alerts/acknowledge", json!({"id": id})).await.status(), 409);
});

on_both_backends!(a_clinician_is_told_the_alert_pages_are_not_allowed, |backend| async move {
    let app = spawn_app(backend).await;
    let id = plant(&app).await;
    let (_, clinician) = app.signed_in(Role::Clinician).await;
    let (_, officer) = app.signed_in(Role::SecurityOfficer).await;
    let page = |cookie: String, path: String| {
        let address = app.address.clone();
        async move {
            let client = reqwest::Client::builder().timeout(crate::helpers::REQUEST_TIMEOUT).build().unwrap();
            let response = client.get(format!("{address}{path}")).header("cookie", cookie).send().await.unwrap();
            response.text().await.unwrap()
        }
    };
    for path in ["/security/alerts".to_owned(), format!("/security/alerts/{id}")] {
        let refused = page(clinician.clone(), path.clone()).await;
        assert!(refused.contains("id=\"not-allowed\""), "{path}");
        assert!(!refused.contains("bulk-access"), "{path}: the refusal showed an alert");
        let shown = page(officer.clone(), path.clone()).await;
        assert!(!shown.contains("id=\"not-allowed\""), "{path}");
        assert!(shown.contains("bulk-access"), "{path}: the officer does not see the alert");
    }
    let home = page(officer.clone(), "/security".to_owned()).await;
    assert!(home.contains("id=\"alert-counts\""));
    assert!(home.contains("href=\"/security/alerts?status=open&amp;severity=high\""), "the counts link to the inbox");
    assert!(home.contains("High: 1 open"));
});
