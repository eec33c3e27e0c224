//! The incident downloads over HTTP: the HHS report and a notice letter are files for the
//! security officer only (no-store), refused to a clinician (403) and to nobody signed in (401),
//! and the incident pages' server functions refuse a clinician too.

use app::domain::audit::{Action, AuditContext, AuditEntry, Outcome, Role};
use app::domain::incidents::NewIncident;
use app::on_both_backends;

use crate::helpers::{TestApp, spawn_app};

/// An incident whose affected set is one patient a clinician read: (incident, patient).
async fn incident(app: &TestApp, officer: &app::domain::users::User) -> (uuid::Uuid, uuid::Uuid) {
    let system = AuditContext::system("test");
    let new = app::domain::seed::synthetic_patient(&mut rand::rng(), "INC", 3);
    let patient = app.services.patients.create(&system, new).await.unwrap();
    let (reader, _) = app.signed_in(Role::Clinician).await;
    let reader_ctx = AuditContext { actor: reader.actor(), ..AuditContext::system("test") };
    let start = app.services.clock.now() - chrono::Duration::minutes(1);
    let read = AuditEntry {
        action: Action::ChartRead,
        resource_type: "patient",
        resource_id: Some(patient.to_string()),
        patient_id: Some(patient.0),
        outcome: Outcome::Allowed,
        rule: Some("planted".to_owned()),
    };
    app.services.audit.record(&app.services.db, &reader_ctx, read).await.unwrap();
    let officer_ctx = AuditContext { actor: officer.actor(), ..AuditContext::system("test") };
    let new = NewIncident {
        title: "HTTP".into(),
        subject: Some(reader.id),
        window: Some((start, app.services.clock.now() + chrono::Duration::minutes(1))),
        ..Default::default()
    };
    (app.services.incidents.open(&officer_ctx, new).await.unwrap(), patient.0)
}

async fn get(app: &TestApp, cookie: Option<&str>, path: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}{path}", app.address));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

on_both_backends!(
    the_downloads_are_the_security_officers_and_refused_to_a_clinician_and_to_nobody,
    |backend| async move {
        let app = spawn_app(backend).await;
        let (officer, officer_cookie) = app.signed_in(Role::SecurityOfficer).await;
        let (_, clinician_cookie) = app.signed_in(Role::Clinician).await;
        let (id, patient) = incident(&app, &officer).await;
        let paths = [
            format!("/security/incidents/{id}/hhs-report.json"),
            format!("/security/incidents/{id}/letters/{patient}.html"),
        ];

        for path in &paths {
            let nobody = get(&app, None, path).await;
            assert_eq!(nobody.status(), 401, "{path} without a session");
            let clinician = get(&app, Some(&clinician_cookie), path).await;
            assert_eq!(clinician.status(), 403, "{path} as a clinician");
            let officer = get(&app, Some(&officer_cookie), path).await;
            assert_eq!(officer.status(), 200, "{path} as the security officer");
            assert_eq!(officer.headers()["cache-control"], "no-store");
            assert!(officer.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename="));
        }
        let letter = get(&app, Some(&officer_cookie), &paths[1]).await.text().await.unwrap();
        assert!(letter.contains("Notice of a breach of your health information"));
        let report: serde_json::Value = get(&app, Some(&officer_cookie), &paths[0]).await.json().await.unwrap();
        assert_eq!(report["number_of_individuals_affected"], 1);
        // A letter for a patient outside the set, and a malformed name, are refused.
        let outsider = get(
            &app,
            Some(&officer_cookie),
            &format!("/security/incidents/{id}/letters/{}.html", uuid::Uuid::new_v4()),
        )
        .await;
        assert_eq!(outsider.status(), 403);
        let malformed = get(&app, Some(&officer_cookie), &format!("/security/incidents/{id}/letters/nope.pdf")).await;
        assert_eq!(malformed.status(), 400);
    }
);

on_both_backends!(the_incident_server_functions_refuse_a_clinician, |backend| async move {
    let app = spawn_app(backend).await;
    let (officer, _) = app.signed_in(Role::SecurityOfficer).await;
    let (_, clinician_cookie) = app.signed_in(Role::Clinician).await;
    let (id, patient) = incident(&app, &officer).await;
    let id = id.to_string();
    let calls = [
        ("security/incidents", serde_json::json!({})),
        ("security/incident_subjects", serde_json::json!({})),
        ("security/open_incident", serde_json::json!({"input": {"title": "x", "alerts": []}})),
        ("security/incident", serde_json::json!({"id": id})),
        ("security/incident_note", serde_json::json!({"id": id, "body": "x"})),
        ("security/incident_decision", serde_json::json!({"id": id, "decision": "breach"})),
        ("security/incident_patient", serde_json::json!({"id": id, "patient": patient.to_string()})),
        ("security/close_incident", serde_json::json!({"id": id})),
    ];
    for (endpoint, body) in calls {
        let response = app.call_as(&clinician_cookie, endpoint, body).await;
        assert_eq!(response.status(), 403, "{endpoint}");
    }
    let response = app.call_json("security/incidents", serde_json::json!({})).await;
    assert_eq!(response.status(), 401);
});

on_both_backends!(the_incident_pages_render_for_the_security_officer_and_refuse_a_clinician, |backend| async move {
    let app = spawn_app(backend).await;
    let (officer, officer_cookie) = app.signed_in(Role::SecurityOfficer).await;
    let (_, clinician_cookie) = app.signed_in(Role::Clinician).await;
    let (id, patient) = incident(&app, &officer).await;
    let pages = [
        ("/security/incidents".to_owned(), "Security incidents"),
        ("/security/incidents/new".to_owned(), "New incident"),
        (format!("/security/incidents/{id}"), "Risk assessment (45 CFR 164.402(2))"),
    ];

    for (path, heading) in &pages {
        let page = get(&app, Some(&officer_cookie), path).await.text().await.unwrap();
        assert!(page.contains(heading), "{path} as the security officer lacks {heading:?}");
        assert!(!page.contains("id=\"not-allowed\""), "{path} refused the security officer");
        let refused = get(&app, Some(&clinician_cookie), path).await.text().await.unwrap();
        assert!(refused.contains("id=\"not-allowed\""), "{path} did not refuse a clinician");
        assert!(!refused.contains(heading), "{path} showed a clinician {heading:?}");
    }
    // The incident's page names the affected patient by id only.
    let detail = get(&app, Some(&officer_cookie), &pages[2].0).await.text().await.unwrap();
    assert!(detail.contains(&patient.to_string()));
    assert!(detail.contains("1 patient"));
});
