//! Bad input, tried as an attacker would: every malformed, mistyped, out-of-range or oversized
//! request gets a short 4xx that names the field and quotes nothing from the request; no handler
//! panics (a panic hook records every panic outside the test code, the "thread panicked" line of
//! the server's log); and the server keeps serving. Refusals that used to leave no trace
//! (another user's passkey, another patient's consent link) are audited as denied, and the
//! SQLite database and its WAL are readable by their owner only.

use std::sync::{Mutex, Once};

use app::domain::audit::{AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::entities::{audit_event, care_relationship, passkey};
use app::domain::scheduling::NewVisitType;
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use crate::helpers::spawn_app;

/// Every panic of the process outside this test crate's own files, as the panic line reads.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn watch_for_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info.location().map(|l| l.to_string()).unwrap_or_default();
            // A failing assertion in some test is not the server panicking.
            if !location.contains("tests/api/") {
                let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
                PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("thread '{thread}' panicked at {location}"));
            }
            previous(info);
        }));
    });
}

fn panics() -> Vec<String> {
    PANICS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// One bad request: who sends it, where, as what, and what may come back.
struct Case {
    what: &'static str,
    cookie: String,
    endpoint: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: &'static [u16],
    /// A piece of the request the answer must not quote.
    needle: String,
}

fn case(
    what: &'static str,
    cookie: &str,
    endpoint: &'static str,
    body: impl Into<Vec<u8>>,
    status: &'static [u16],
    needle: &str,
) -> Case {
    Case {
        what,
        cookie: cookie.to_owned(),
        endpoint,
        content_type: Some("application/json"),
        body: body.into(),
        status,
        needle: needle.to_owned(),
    }
}

on_both_backends!(every_bad_input_gets_a_short_4xx_that_quotes_nothing_and_no_handler_panics, |backend| async move {
    watch_for_panics();
    let app = spawn_app(backend).await;
    let system = AuditContext::system("test");
    let (_, admin) = app.signed_in(Role::Admin).await;
    let (clinician_user, clinician) = app.signed_in(Role::Clinician).await;
    let (patient_user, patient) = app.signed_in(Role::Patient).await;
    let patient_id = patient_user.patient_id.unwrap();
    let mrn = app.services.patients.get(&system, patient_id).await.unwrap().details.mrn;
    app.services.care.start(&system, patient_id, clinician_user.id, CareKind::Assignment).await.unwrap();
    let new = NewVisitType {
        name: "Check-up".into(),
        video: false,
        duration_minutes: 30,
        self_schedule: true,
        requires_approval: false,
    };
    let visit = app.services.schedule.create_visit_type(&system, new).await.unwrap().to_string();
    let clinician_id = clinician_user.id.to_string();
    let pid = patient_id.to_string();
    let added = app
            .call_as(
                &clinician,
                "chart/add_entry",
                json!({"patient_id": pid, "body": {"kind": "allergy", "substance": "Penicillin", "reaction": "Hives", "severity": "mild"}}),
            )
            .await;
    assert_eq!(added.status(), 200);
    let entry: serde_json::Value = added.json().await.unwrap();
    let entry_id = entry["id"].as_str().unwrap().to_owned();
    let allergy = json!({"kind": "allergy", "substance": "Penicillin", "reaction": "Hives", "severity": "mild"});
    let vital = |systolic: serde_json::Value| {
        json!({"patient_id": pid, "body": {"kind": "vital", "taken_at": "2026-11-01T09:00:00Z", "systolic": systolic,
                "diastolic": null, "heart_rate": null, "temperature_c": null, "weight_kg": null, "height_cm": null, "spo2": null}})
    };
    let j = |value: serde_json::Value| serde_json::to_vec(&value).unwrap();
    let three_mb = "A".repeat(3 * 1024 * 1024);

    let mut cases = vec![
        case("malformed JSON", &clinician, "chart/open", r#"{"patient_id": oops-token}"#, &[400], "oops-token"),
        case("truncated JSON", &clinician, "chart/open", r#"{"patient_id":"trunc-token"#, &[400], "trunc-token"),
        case(
            "trailing garbage",
            &clinician,
            "chart/open",
            format!(r#"{{"patient_id":"{pid}"}} tail-token"#),
            &[400],
            "tail-token",
        ),
        case("an empty body", &clinician, "chart/open", "", &[400], "EOF"),
        case("a number for a string", &clinician, "chart/open", r#"{"patient_id": 918273}"#, &[422], "918273"),
        case("a list for the arguments", &clinician, "chart/open", r#"[918273]"#, &[422], "918273"),
        case("a missing argument", &clinician, "chart/open", "{}", &[422], "missing field"),
        case("70000 for a u16", &clinician, "chart/add_entry", j(vital(json!(70000))), &[422], "70000"),
        case("a string for a u16", &clinician, "chart/add_entry", j(vital(json!("high-token"))), &[422], "high-token"),
        case(
            "2^31 for an i32",
            &clinician,
            "chart/update_entry",
            j(json!({"patient_id": pid, "entry_id": entry_id, "version": 2147483648_i64, "body": allergy})),
            &[422],
            "2147483648",
        ),
        case(
            "version = i32::MAX on an edit",
            &clinician,
            "chart/update_entry",
            j(json!({"patient_id": pid, "entry_id": entry_id, "version": i32::MAX, "body": allergy})),
            &[409, 422],
            "2147483647",
        ),
        case(
            "version = i32::MAX on a delete",
            &clinician,
            "chart/delete_entry",
            j(json!({"patient_id": pid, "entry_id": entry_id, "version": i32::MAX})),
            &[409, 422],
            "2147483647",
        ),
        case(
            "a negative number for a u32",
            &patient,
            "schedule/open_slots",
            j(json!({"clinician_id": clinician_id, "visit_type_id": visit, "from": "2026-12-01", "days": -7})),
            &[422],
            "-7",
        ),
        case(
            "the date 0000-00-00",
            &patient,
            "schedule/open_slots",
            j(json!({"clinician_id": clinician_id, "visit_type_id": visit, "from": "0000-00-00", "days": 7})),
            &[422],
            "0000-00-00",
        ),
        case(
            "the date 2026-13-01",
            &patient,
            "schedule/open_slots",
            j(json!({"clinician_id": clinician_id, "visit_type_id": visit, "from": "2026-13-01", "days": 7})),
            &[422],
            "2026-13-01",
        ),
        case(
            "a date at chrono's end to open slots",
            &patient,
            "schedule/open_slots",
            j(json!({"clinician_id": clinician_id, "visit_type_id": visit, "from": "+262142-12-20", "days": 31})),
            &[422],
            "262142",
        ),
        case(
            "a birth date 2026-13-01 in a search",
            &clinician,
            "chart/search_patients",
            j(
                json!({"form": {"given_name": "", "family_name": "Reyes", "birth_date": "2026-13-01", "mrn": "", "phone": ""}}),
            ),
            &[422],
            "2026-13-01",
        ),
        case(
            "a search term of 5000 characters",
            &clinician,
            "chart/search_patients",
            j(
                json!({"form": {"given_name": "", "family_name": "Q".repeat(5000), "birth_date": "", "mrn": "", "phone": ""}}),
            ),
            &[422],
            "QQQQ",
        ),
        case(
            "year -262143 to book_my_visit",
            &patient,
            "schedule/book_my_visit",
            j(
                json!({"clinician_id": clinician_id, "visit_type_id": visit, "starts_at": "-262143-01-01T00:00:00Z", "reason": "Check"}),
            ),
            &[422],
            "262143",
        ),
        case(
            "year -262143 to book_visit",
            &clinician,
            "schedule/book_visit",
            j(
                json!({"patient_id": pid, "clinician_id": clinician_id, "visit_type_id": visit, "starts_at": "-262143-01-01T00:00:00Z", "reason": "Check"}),
            ),
            &[422],
            "262143",
        ),
        case(
            "year -262143 to reschedule",
            &clinician,
            "schedule/reschedule",
            j(json!({"appointment_id": entry_id, "starts_at": "-262143-01-01T00:00:00Z"})),
            &[422],
            "262143",
        ),
        case(
            "+262142-12-20 to the calendar",
            &clinician,
            "schedule/calendar",
            j(json!({"from": "+262142-12-20T00:00:00Z", "days": 31, "whole_clinic": false})),
            &[422],
            "262142",
        ),
        case(
            "+262142-12-20 as a bare date to the calendar",
            &clinician,
            "schedule/calendar",
            j(json!({"from": "+262142-12-20", "days": 31, "whole_clinic": false})),
            &[422],
            "262142",
        ),
        case(
            "a weekday of 300 for a u8",
            &admin,
            "schedule/set_weekly_hours",
            j(json!({"clinician_id": clinician_id, "blocks": [{"weekday": 300, "start": "09:00", "end": "17:00"}]})),
            &[422],
            "300",
        ),
        case(
            "a date at chrono's end in the audit filter",
            &admin,
            "admin/audit_log",
            j(
                json!({"filter": {"actor_user_id": null, "patient_id": null, "action": null, "outcome": null, "from": null, "to": "+262142-12-31"}, "page": 0}),
            ),
            &[422],
            "262142",
        ),
        case(
            "invalid UTF-8",
            &clinician,
            "chart/open",
            b"{\"patient_id\":\"\xff\xfe\xfd\"}".to_vec(),
            &[400, 422],
            "\u{FFFD}",
        ),
        case(
            "3 MB to a 2 MB route",
            &clinician,
            "chart/open",
            format!(r#"{{"patient_id":"{three_mb}"}}"#),
            &[413],
            "AAAAAAAA",
        ),
        case(
            "3 MB to messaging, whose limit is 21 MiB, still reaches its validation",
            &patient,
            "messages/start_thread",
            j(json!({"subject": three_mb, "body": "Hello", "attachments": []})),
            &[422],
            "AAAAAAAA",
        ),
        case(
            "a bidi override in a display name",
            &admin,
            "admin/invite_user",
            j(json!({"role": "clinician", "display_name": "Dr. \u{202E}lanimirc", "patient_mrn": null})),
            &[422],
            "lanimirc",
        ),
        case(
            "a zero-width space in a message subject",
            &patient,
            "messages/start_thread",
            j(json!({"subject": "Re\u{200B}fill", "body": "Hello", "attachments": []})),
            &[422],
            "fill",
        ),
        case(
            "a second patient account for one MRN",
            &admin,
            "admin/invite_user",
            j(json!({"role": "patient", "display_name": "Second account", "patient_mrn": mrn})),
            &[409],
            &mrn,
        ),
    ];
    for (what, content_type, body) in [
        ("form encoding", Some("application/x-www-form-urlencoded"), format!("patient_id={pid}&x=form-token")),
        ("text/plain", Some("text/plain"), format!(r#"{{"patient_id":"{pid}","x":"plain-token"}}"#)),
        ("no content type", None, format!(r#"{{"patient_id":"{pid}","x":"bare-token"}}"#)),
    ] {
        let mut bad = case(what, &clinician, "chart/open", body, &[415], "-token");
        bad.content_type = content_type;
        cases.push(bad);
    }

    let mut failures = Vec::new();
    for bad in &cases {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/{}", app.address, bad.endpoint))
            .header("origin", &app.address)
            .header("cookie", &bad.cookie)
            .body(bad.body.clone());
        if let Some(content_type) = bad.content_type {
            request = request.header("content-type", content_type);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                failures.push(format!("{}: no answer ({err})", bad.what));
                continue;
            }
        };
        let status = response.status().as_u16();
        let text = match response.text().await {
            Ok(text) => text,
            Err(err) => {
                failures.push(format!("{}: the answer broke off ({err})", bad.what));
                continue;
            }
        };
        if !bad.status.contains(&status) {
            failures.push(format!("{}: {status}, expected {:?}: {text}", bad.what, bad.status));
        }
        let quoted = text.contains(&bad.needle)
            || ["invalid type", "invalid value", "expected", "line 1", "serde"].iter().any(|s| text.contains(s));
        if quoted || text.len() > 400 {
            failures.push(format!("{}: the answer quotes the request or serde: {text}", bad.what));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs were mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(panics(), Vec::<String>::new(), "a handler panicked");

    // The answers name the field.
    let named = app.call_as(&clinician, "chart/add_entry", vital(json!(70000))).await;
    let error: serde_json::Value = named.json().await.unwrap();
    assert_eq!(error["Validation"][0]["field"], "body");
    let named = app
        .call_as(
            &patient,
            "schedule/book_my_visit",
            json!({"clinician_id": clinician_id, "visit_type_id": visit,
                "starts_at": "-262143-01-01T00:00:00Z", "reason": "Check"}),
        )
        .await;
    let error: serde_json::Value = named.json().await.unwrap();
    assert_eq!(
        error,
        json!({"Validation": [{"field": "starts_at", "message": "starts_at must be between the years 1900 and 2200"}]})
    );

    // The server keeps serving.
    let chart = app.call_as(&clinician, "chart/open", json!({"patient_id": pid})).await;
    assert_eq!(chart.status(), 200);
    assert_eq!(app.call("system_status").await.status(), 200);
});

on_both_backends!(renaming_or_removing_another_users_passkey_is_a_404_and_a_denied_row, |backend| async move {
    let app = spawn_app(backend).await;
    let (attacker, cookie) = app.signed_in(Role::Clinician).await;
    let (victim, _) = app.signed_in(Role::Patient).await;
    let victims =
        passkey::Entity::find().filter(passkey::Column::UserId.eq(victim.id.0)).all(&app.services.db).await.unwrap();
    let target = victims[0].id.to_string();

    let renamed = app.call_as(&cookie, "account/rename_passkey", json!({"id": target, "name": "mine now"})).await;
    let removed = app.call_as(&cookie, "account/remove_passkey", json!({"id": target})).await;

    assert_eq!(renamed.status(), 404);
    assert_eq!(removed.status(), 404);
    let still = passkey::Entity::find_by_id(victims[0].id).one(&app.services.db).await.unwrap().unwrap();
    assert_eq!(still.name, victims[0].name);
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.eq(attacker.id.0))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .order_by_asc(audit_event::Column::Seq)
        .all(&app.services.db)
        .await
        .unwrap();
    let got: Vec<(String, Option<String>)> = rows.into_iter().map(|r| (r.action, r.rule)).collect();
    assert_eq!(
        got,
        [
            ("passkey.rename".to_owned(), Some("not-own-passkey".to_owned())),
            ("passkey.remove".to_owned(), Some("not-own-passkey".to_owned())),
        ]
    );
});

on_both_backends!(revoking_another_patients_consent_link_is_a_404_and_a_denied_row, |backend| async move {
    let app = spawn_app(backend).await;
    let system = AuditContext::system("test");
    let (attacker, cookie) = app.signed_in(Role::Patient).await;
    let (victim, _) = app.signed_in(Role::Patient).await;
    let (clinician, _) = app.signed_in(Role::Clinician).await;
    let victim_patient = victim.patient_id.unwrap();
    app.services.care.start(&system, victim_patient, clinician.id, CareKind::Consent).await.unwrap();
    let link = care_relationship::Entity::find()
        .filter(care_relationship::Column::PatientId.eq(victim_patient.0))
        .one(&app.services.db)
        .await
        .unwrap()
        .unwrap();

    let revoked = app.call_as(&cookie, "portal/revoke_consent", json!({"link_id": link.id.to_string()})).await;

    assert_eq!(revoked.status(), 404);
    let still = care_relationship::Entity::find_by_id(link.id).one(&app.services.db).await.unwrap().unwrap();
    assert_eq!(still.ended_at, None);
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.eq(attacker.id.0))
        .filter(audit_event::Column::Action.eq("consent.revoke"))
        .all(&app.services.db)
        .await
        .unwrap();
    let got: Vec<(String, Option<String>, Option<String>)> =
        rows.into_iter().map(|r| (r.outcome, r.rule, r.resource_id)).collect();
    assert_eq!(got, [("denied".to_owned(), Some("not-own-consent".to_owned()), Some(link.id.to_string()))]);
});

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_database_and_its_wal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("clinic.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    // An older install left a database readable by everyone.
    let old = dir.path().join("old.db");
    std::fs::write(&old, b"").unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();

    let services = server::startup::services(
        &crate::helpers::settings(&url),
        std::sync::Arc::new(app::domain::clock::SystemClock),
    )
    .await
    .unwrap();
    services
        .audit
        .record(
            &services.db,
            &AuditContext::system("test"),
            app::domain::audit::AuditEntry {
                action: app::domain::audit::Action::PageOpen,
                resource_type: "test",
                resource_id: None,
                patient_id: None,
                outcome: app::domain::audit::Outcome::Allowed,
                rule: None,
            },
        )
        .await
        .unwrap();
    server::startup::prepare_sqlite_file(&format!("sqlite://{}", old.display())).unwrap();

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let wal = dir.path().join("data").join("clinic.db-wal");
    assert_eq!(mode(&path), 0o600, "database");
    assert!(wal.exists(), "the WAL is in use");
    assert_eq!(mode(&wal), 0o600, "WAL");
    assert_eq!(mode(&old), 0o600, "an existing database is tightened");
}
