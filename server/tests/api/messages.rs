//! Secure messaging over HTTP: a patient writes with an attachment, the assigned clinician reads
//! (audited) and answers, a clinician without a relationship is refused (403, no text, a denied
//! row), limits are enforced; and a served run at debug level logs no subject, body or file name.

use std::sync::Arc;
use std::time::Duration;

use app::domain::audit::{AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::entities::audit_event;
use app::on_both_backends;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use server::startup;

use crate::helpers::{settings, spawn_app, text};

/// A 1x1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

fn upload(name: &str, content_type: &str, data: &[u8]) -> serde_json::Value {
    serde_json::json!({"file_name": name, "content_type": content_type, "data_base64": STANDARD.encode(data)})
}

on_both_backends!(
    a_patient_writes_the_assigned_clinician_reads_and_answers_and_a_stranger_is_refused,
    |backend| async move {
        let app = spawn_app(backend).await;
        let (patient, patient_cookie) = app.signed_in(Role::Patient).await;
        let (clinician, clinician_cookie) = app.signed_in(Role::Clinician).await;
        let (_, stranger_cookie) = app.signed_in(Role::Clinician).await;
        let patient_id = patient.patient_id.unwrap();
        let system = AuditContext::system("test");
        app.services.care.start(&system, patient_id, clinician.id, CareKind::Assignment).await.unwrap();

        let started = app
            .call_as(
                &patient_cookie,
                "messages/start_thread",
                serde_json::json!({
                    "subject": "Refill-Heliotrope question",
                    "body": "Can I get a refill of Heliotrope-Xenon?",
                    "attachments": [upload("label.png", "image/png", PNG)],
                }),
            )
            .await;
        assert_eq!(started.status(), 200);
        let thread: String = started.json().await.unwrap();

        let inbox: serde_json::Value =
            app.call_as(&clinician_cookie, "messages/inbox", serde_json::json!({})).await.json().await.unwrap();
        assert_eq!(inbox[0]["id"], thread.as_str());
        assert_eq!(inbox[0]["unread"], 1);
        let opened =
            app.call_as(&clinician_cookie, "messages/open_thread", serde_json::json!({"thread_id": thread})).await;
        assert_eq!(opened.status(), 200);
        let opened: serde_json::Value = opened.json().await.unwrap();
        assert_eq!(opened["messages"][0]["body"], "Can I get a refill of Heliotrope-Xenon?");
        assert_eq!(opened["messages"][0]["new"], true);
        let attachment = opened["messages"][0]["attachments"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(opened["messages"][0]["attachments"][0]["content_type"], "image/png");
        let file: serde_json::Value = app
            .call_as(&clinician_cookie, "messages/attachment", serde_json::json!({"attachment_id": attachment}))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(STANDARD.decode(file["data_base64"].as_str().unwrap()).unwrap(), PNG);
        let reads = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("message.read"))
            .filter(audit_event::Column::ResourceType.eq("message_thread"))
            .filter(audit_event::Column::ActorUserId.eq(clinician.id.0))
            .all(&app.services.db)
            .await
            .unwrap();
        assert_eq!(reads.len(), 1);
        assert_eq!(reads[0].patient_id, Some(patient_id.0));
        let answered = app
            .call_as(
                &clinician_cookie,
                "messages/reply",
                serde_json::json!({"thread_id": thread, "body": "Yes, sent.", "attachments": []}),
            )
            .await;
        assert_eq!(answered.status(), 200);
        let mine: serde_json::Value =
            app.call_as(&patient_cookie, "messages/my_threads", serde_json::json!({})).await.json().await.unwrap();
        assert_eq!(mine[0]["unread"], 1);

        // A clinician with no relationship: refused everything, with nothing of the thread in the answer.
        let denied_before = denied_for(&app, patient_id).await;
        for (endpoint, body) in [
            ("messages/open_thread", serde_json::json!({"thread_id": thread})),
            ("messages/reply", serde_json::json!({"thread_id": thread, "body": "Hello", "attachments": []})),
            ("messages/attachment", serde_json::json!({"attachment_id": attachment})),
        ] {
            let response = app.call_as(&stranger_cookie, endpoint, body).await;
            assert_eq!(response.status(), 403, "{endpoint}");
            let answer = response.text().await.unwrap();
            assert!(!answer.contains("Heliotrope"), "{endpoint} answered with message text");
        }
        assert_eq!(denied_for(&app, patient_id).await, denied_before + 3);
        let stranger_inbox: serde_json::Value =
            app.call_as(&stranger_cookie, "messages/inbox", serde_json::json!({})).await.json().await.unwrap();
        assert_eq!(stranger_inbox, serde_json::json!([]));
    }
);

on_both_backends!(attachments_are_limited_in_type_size_and_request_size, |backend| async move {
    let app = spawn_app(backend).await;
    let (_, cookie) = app.signed_in(Role::Patient).await;
    let send = |attachments: serde_json::Value| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            app.call_as(
                &cookie,
                "messages/start_thread",
                serde_json::json!({"subject": "Files", "body": "See attached.", "attachments": attachments}),
            )
            .await
        }
    };
    let mut too_big = PNG.to_vec();
    too_big.resize(5 * 1024 * 1024 + 1, 0);
    let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0This program cannot be run in DOS mode.";
    for (files, expected) in [
        (serde_json::json!([upload("big.png", "image/png", &too_big)]), "larger than 5 MiB"),
        (serde_json::json!([upload("cat-Zanzibar.png", "image/png", exe)]), "only PDF, PNG and JPEG"),
        (
            serde_json::json!([{"file_name": "x.png", "content_type": "image/png", "data_base64": "%%%"}]),
            "could not be read",
        ),
    ] {
        let response = send(files).await;
        let status = response.status();
        let answer = response.text().await.unwrap();
        assert_eq!(status, 422, "{answer}");
        assert!(answer.contains("attachments") && answer.contains(expected), "{answer}");
        assert!(!answer.contains("Zanzibar"), "the error named the file");
    }
    // A request larger than three full attachments is refused before its body is read.
    let (address, origin) = (app.address.trim_start_matches("http://").to_owned(), app.address.clone());
    let head = format!(
        "POST /api/messages/start_thread HTTP/1.1\r\nHost: {address}\r\nOrigin: {origin}\r\nCookie: {cookie}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        22 * 1024 * 1024
    );
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).unwrap();
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap();
    assert_eq!(answer, "HTTP/1.1 413");
    let stored = app::domain::entities::message::Entity::find().count(&app.services.db).await.unwrap();
    assert_eq!(stored, 0);
});

async fn denied_for(app: &crate::helpers::TestApp, patient: app::domain::ids::PatientId) -> u64 {
    audit_event::Entity::find()
        .filter(audit_event::Column::Outcome.eq("denied"))
        .filter(audit_event::Column::PatientId.eq(patient.0))
        .count(&app.services.db)
        .await
        .unwrap()
}

/// The real binary serving at debug level, messages sent through it, then its logs searched.
#[tokio::test]
async fn a_served_run_that_sends_messages_at_debug_level_logs_no_subject_body_or_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/messages-logs.db?mode=rwc", dir.path().display());
    let keys = dir.path().join("keys.json");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let log_path = dir.path().join("server.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("serve")
        .current_dir(&root)
        .env("APP_CONFIG_DIR", root.join("config"))
        .env("APP_ENVIRONMENT", "test")
        .env_remove("APP_KEYS__MATERIAL")
        .env("APP_DATABASE__URL", &url)
        .env("APP_KEYS__FILE", &keys)
        .env("APP_KEYS__GENERATE_IF_MISSING", "true")
        .env("APP_LOG__FILTER", "debug")
        .env("APP_SERVER__PORT", &port)
        .env("APP_SERVER__PUBLIC_URL", format!("http://localhost:{port}"))
        .env("APP_REMINDERS__ENABLED", "false")
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let address = format!("http://localhost:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if client.get(format!("{address}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the server did not become ready: {}", std::fs::read_to_string(&log_path).unwrap_or_default());

    // The same database and keys in this process: accounts and sessions for the calls.
    let mut test_settings = settings(&url);
    test_settings.keys.material = None;
    test_settings.keys.file = Some(keys.clone());
    let services = startup::services(&test_settings, Arc::new(app::domain::clock::SystemClock)).await.unwrap();
    let system = AuditContext::system("test: message logs");
    let mut new = app::domain::seed::synthetic_patient(&mut rand::rng(), "LOG", 1);
    new.given_name = "Persimmonella".to_owned();
    let patient = services.patients.create(&system, new).await.unwrap();
    let account =
        |role, patient_id, name: &str| app::domain::users::NewUser { role, display_name: name.to_owned(), patient_id };
    let mut cookies = Vec::new();
    for new in [account(Role::Patient, Some(patient), "Patient account"), account(Role::Clinician, None, "Dr. Logs")] {
        let invitation = services.users.invite(&system, new, chrono::Duration::hours(1)).await.unwrap();
        let passkey = app::domain::users::NewPasskey {
            credential_id: uuid::Uuid::new_v4().as_bytes().to_vec(),
            passkey: "{}".to_owned(),
            name: "test device".to_owned(),
        };
        let id = services.users.enroll(&system, invitation.token.expose(), passkey).await.unwrap();
        cookies.push((id, app::domain::test_support::signed_in_cookie(&services, id).await));
    }
    let [(_, patient_cookie), (clinician, clinician_cookie)] = [cookies[0].clone(), cookies[1].clone()];
    services.care.start(&system, patient, clinician, CareKind::CareTeam).await.unwrap();
    let call = |cookie: String, endpoint: &'static str, body: serde_json::Value| {
        let (client, address) = (client.clone(), address.clone());
        async move {
            let response = client
                .post(format!("{address}/api/{endpoint}"))
                .header("origin", &address)
                .header("cookie", cookie)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };

    let subject = "Subject-Carambola-Quasar";
    let body = "Body-Tamarillo-Nebula hurts when I laugh";
    let file = "File-Kumquat-Pulsar.png";
    let reply = "Reply-Rambutan-Comet please come in";
    let (status, thread) = call(
        patient_cookie.clone(),
        "messages/start_thread",
        serde_json::json!({"subject": subject, "body": body, "attachments": [upload(file, "image/png", PNG)]}),
    )
    .await;
    assert_eq!(status, 200);
    let thread = thread.as_str().unwrap().to_owned();
    let (status, _) = call(clinician_cookie.clone(), "messages/inbox", serde_json::json!({})).await;
    assert_eq!(status, 200);
    let (status, opened) =
        call(clinician_cookie.clone(), "messages/open_thread", serde_json::json!({"thread_id": thread})).await;
    assert_eq!(status, 200);
    let attachment = opened["messages"][0]["attachments"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) =
        call(clinician_cookie.clone(), "messages/attachment", serde_json::json!({"attachment_id": attachment})).await;
    assert_eq!(status, 200);
    let (status, _) = call(
        clinician_cookie.clone(),
        "messages/reply",
        serde_json::json!({"thread_id": thread, "body": reply, "attachments": []}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) =
        call(patient_cookie.clone(), "messages/open_thread", serde_json::json!({"thread_id": thread})).await;
    assert_eq!(status, 200);
    // Refusals and validation failures are logged too; they must not carry the text either.
    let (status, _) = call(
        patient_cookie.clone(),
        "messages/reply",
        serde_json::json!({"thread_id": thread, "body": reply, "attachments": [upload(file, "image/png", b"MZ\x90\0")]}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = call(
        patient_cookie.clone(),
        "messages/start_thread",
        serde_json::json!({"subject": subject, "body": "x".repeat(5001) + body, "attachments": []}),
    )
    .await;
    assert_eq!(status, 422);

    child.kill().unwrap();
    child.wait().unwrap();
    let logs = text(&std::fs::read(&log_path).unwrap());
    assert!(logs.contains("\"level\":\"DEBUG\""), "debug logs were captured");
    assert!(logs.contains("/api/messages/open_thread"), "the message requests were logged");
    for needle in
        ["Carambola", "Quasar", "Tamarillo", "Nebula", "Kumquat", "Pulsar", "Rambutan", "Comet", "Persimmonella"]
    {
        let found = logs.match_indices(needle).map(|(at, _)| at).next();
        assert!(found.is_none(), "the logs contain {needle} at byte {found:?}");
    }
}
