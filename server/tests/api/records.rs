//! The chart over HTTP: every server function that takes a patient id refuses a user with no
//! relationship (403, no PHI, one denied audit row each), and opening charts is audited once
//! per chart.

use app::clinical::{EntryBody, Note};
use app::domain::audit::{AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::entities::audit_event;
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use crate::helpers::{TestApp, spawn_app};

fn note(text: &str) -> EntryBody {
    EntryBody::Note(Note { title: "Visit".into(), text: text.into(), released: true })
}

async fn patient_with_entry(
    app: &TestApp,
) -> (app::domain::ids::PatientId, app::domain::patients::NewPatient, uuid::Uuid) {
    let system = AuditContext::system("test");
    let new = app::domain::seed::synthetic_patient(&mut rand::rng(), "HTTP", 7);
    let patient = app.services.patients.create(&system, new.clone()).await.unwrap();
    let (entry, _) =
        app.services.charts.add(&system, patient, note("Xylophone-shaped rash on the left knee")).await.unwrap();
    (patient, new, entry)
}

async fn denied_for(app: &TestApp, patient: app::domain::ids::PatientId) -> u64 {
    audit_event::Entity::find()
        .filter(audit_event::Column::Outcome.eq("denied"))
        .filter(audit_event::Column::PatientId.eq(patient.0))
        .count(&app.services.db)
        .await
        .unwrap()
}

on_both_backends!(every_function_taking_a_patient_id_refuses_a_user_without_a_relationship, |backend| async move {
    let app = spawn_app(backend).await;
    let (patient, demographics, entry) = patient_with_entry(&app).await;
    let (clinician, clinician_cookie) = app.signed_in(Role::Clinician).await;
    let (_, other_patient_cookie) = app.signed_in(Role::Patient).await;
    let (_, admin_cookie) = app.signed_in(Role::Admin).await;
    let (_, officer_cookie) = app.signed_in(Role::SecurityOfficer).await;
    let body = serde_json::to_value(note("An edit")).unwrap();
    let pid = patient.to_string();
    let calls = [
        ("chart/open", serde_json::json!({"patient_id": pid})),
        ("chart/add_entry", serde_json::json!({"patient_id": pid, "body": body})),
        (
            "chart/update_entry",
            serde_json::json!({"patient_id": pid, "entry_id": entry.to_string(), "version": 1, "body": body}),
        ),
        ("chart/delete_entry", serde_json::json!({"patient_id": pid, "entry_id": entry.to_string(), "version": 1})),
        (
            "care/assign",
            serde_json::json!({"patient_id": pid, "clinician_id": clinician.id.to_string(), "kind": "assignment"}),
        ),
        ("care/end", serde_json::json!({"patient_id": pid, "link_id": uuid::Uuid::now_v7().to_string()})),
        ("chart/break_glass", serde_json::json!({"patient_id": pid, "reason": "Not a clinician, should be refused"})),
    ];
    // Break-glass is open to any clinician by design (it is reviewed afterwards), so its
    // refusal is checked for everyone else; care changes are the admin's.
    for (cookie, who) in [
        (&clinician_cookie, "clinician"),
        (&other_patient_cookie, "another patient"),
        (&admin_cookie, "admin"),
        (&officer_cookie, "security officer"),
    ] {
        for (endpoint, body) in &calls {
            let allowed =
                matches!((who, *endpoint), ("clinician", "chart/break_glass") | ("admin", "care/assign" | "care/end"));
            if allowed {
                continue;
            }
            let before = denied_for(&app, patient).await;
            let response = app.call_as(cookie, endpoint, body.clone()).await;
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert_eq!(status, 403, "{who} {endpoint}: {text}");
            assert_eq!(denied_for(&app, patient).await, before + 1, "{who} {endpoint}: the refusal was not audited");
            for phi in [&demographics.given_name, &demographics.family_name, &demographics.mrn, &"Xylophone".to_owned()]
            {
                assert!(!text.contains(phi.as_str()), "{who} {endpoint}: the refusal carried PHI");
            }
        }
    }
    // Nothing changed.
    let chart = app.services.charts.read(&AuditContext::system("test"), patient).await.unwrap();
    assert_eq!(chart.entries.len(), 1);
    assert_eq!(chart.entries[0].version, 1);
});

on_both_backends!(opening_charts_over_http_leaves_one_chart_read_row_each, |backend| async move {
    let app = spawn_app(backend).await;
    let (clinician, cookie) = app.signed_in(Role::Clinician).await;
    let system = AuditContext::system("test");
    let mut patients = Vec::new();
    for serial in 0..5 {
        let new = app::domain::seed::synthetic_patient(&mut rand::rng(), "OPEN", serial);
        let patient = app.services.patients.create(&system, new.clone()).await.unwrap();
        app.services.care.start(&system, patient, clinician.id, CareKind::CareTeam).await.unwrap();
        patients.push((patient, new));
    }

    for (patient, new) in &patients {
        let response = app.call_as(&cookie, "chart/open", serde_json::json!({"patient_id": patient.to_string()})).await;
        assert_eq!(response.status(), 200);
        let chart: serde_json::Value = response.json().await.unwrap();
        assert_eq!(chart["patient"]["mrn"], new.mrn.as_str());
        assert_eq!(chart["access_rule"], "care-team");
    }

    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("chart.read"))
        .order_by_asc(audit_event::Column::Seq)
        .all(&app.services.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), patients.len());
    for (row, (patient, _)) in rows.iter().zip(&patients) {
        assert_eq!(row.patient_id, Some(patient.0));
        assert_eq!(row.actor_user_id, Some(clinician.id.0));
        assert_eq!(row.purpose.as_deref(), Some("treatment"));
        assert_eq!(row.ip.as_deref(), Some("127.0.0.1"));
    }
});

on_both_backends!(a_stale_edit_over_http_is_a_409_with_a_clear_message, |backend| async move {
    let app = spawn_app(backend).await;
    let (patient, _, entry) = patient_with_entry(&app).await;
    let (clinician, cookie) = app.signed_in(Role::Clinician).await;
    app.services.care.start(&AuditContext::system("test"), patient, clinician.id, CareKind::Assignment).await.unwrap();
    let edit = |text: &str| serde_json::json!({"patient_id": patient.to_string(), "entry_id": entry.to_string(), "version": 1, "body": note(text)});

    let first = app.call_as(&cookie, "chart/update_entry", edit("First edit")).await;
    let second = app.call_as(&cookie, "chart/update_entry", edit("Second edit from a stale page")).await;

    assert_eq!(first.status(), 200);
    assert_eq!(second.status(), 409);
    assert!(second.text().await.unwrap().contains("changed by someone else"));
});
