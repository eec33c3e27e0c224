//! The signaling WebSocket over real HTTP: who is refused before the upgrade (and audited: a
//! care-team colleague who is not the visit's clinician or delegate too), signals passing
//! between the patient and the clinician, a reconnect that re-reads what was
//! missed, and two app nodes on one PostgreSQL carrying one visit.

use app::domain::audit::{AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::entities::audit_event;
use app::domain::scheduling::{Booking, NewVisitType};
use app::domain::test_support::Backend;
use app::on_both_backends;
use chrono::Duration;
use futures::{SinkExt, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message, client::IntoClientRequest};

use crate::helpers::{TestApp, spawn_app};

pub(crate) type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) struct Visit {
    pub id: uuid::Uuid,
    pub patient: app::domain::ids::PatientId,
    pub patient_cookie: String,
    pub clinician: app::domain::users::User,
    pub clinician_cookie: String,
    pub stranger: app::domain::users::User,
    pub stranger_cookie: String,
}

/// A video visit starting in five minutes between a patient and their assigned clinician, the
/// patient already in the waiting room.
pub(crate) async fn video_visit(app: &TestApp) -> Visit {
    let system = AuditContext::system("test");
    let (clinician, clinician_cookie) = app.signed_in(Role::Clinician).await;
    let (stranger, stranger_cookie) = app.signed_in(Role::Clinician).await;
    let (patient_user, patient_cookie) = app.signed_in(Role::Patient).await;
    let patient = patient_user.patient_id.unwrap();
    app.services.care.start(&system, patient, clinician.id, CareKind::Assignment).await.unwrap();
    let kind = NewVisitType {
        name: "Video visit".into(),
        video: true,
        duration_minutes: 30,
        self_schedule: true,
        requires_approval: false,
    };
    let kind = app.services.schedule.create_visit_type(&system, kind).await.unwrap();
    let booking = Booking {
        patient,
        clinician: clinician.id,
        visit_type: kind,
        starts_at: chrono::Utc::now() + Duration::minutes(5),
        reason: "Medication review".into(),
    };
    let (id, _) = app.services.schedule.book(&system, booking).await.unwrap();
    let entered =
        app.call_as(&patient_cookie, "video/enter_waiting_room", json!({ "appointment_id": id.to_string() })).await;
    assert_eq!(entered.status(), 200, "{}", entered.text().await.unwrap());
    Visit { id, patient, patient_cookie, clinician, clinician_cookie, stranger, stranger_cookie }
}

pub(crate) async fn open(
    address: &str,
    id: uuid::Uuid,
    cookie: Option<&str>,
    after: Option<i64>,
) -> Result<Socket, u16> {
    let ws_url = address.replacen("http://", "ws://", 1);
    let query = after.map(|a| format!("?after={a}")).unwrap_or_default();
    let mut request = format!("{ws_url}/api/video/{id}/signal{query}").into_client_request().unwrap();
    request.headers_mut().insert("origin", address.parse().unwrap());
    if let Some(cookie) = cookie {
        request.headers_mut().insert("cookie", cookie.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(other) => panic!("unexpected WebSocket failure: {other}"),
    }
}

/// The next signaling frame, within five seconds.
pub(crate) async fn next(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = frame {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// Skips frames until one of `kind` arrives.
async fn next_of(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let frame = next(socket).await;
        if frame["kind"] == kind {
            return frame;
        }
    }
}

async fn send(socket: &mut Socket, frame: Value) {
    socket.send(Message::Text(frame.to_string().into())).await.unwrap();
}

on_both_backends!(
    the_signaling_socket_admits_only_the_patient_and_allowed_clinicians_and_audits_refusals,
    |backend| async move {
        let app = spawn_app(backend).await;
        let visit = video_visit(&app).await;

        // Nobody signed in, a clinician without a relationship, another site: refused before
        // the upgrade.
        assert_eq!(open(&app.address, visit.id, None, None).await.err(), Some(401));
        assert_eq!(open(&app.address, visit.id, Some(&visit.stranger_cookie), None).await.err(), Some(403));
        let mut cross_site = format!("{}/api/video/{}/signal", app.address.replacen("http://", "ws://", 1), visit.id)
            .into_client_request()
            .unwrap();
        cross_site.headers_mut().insert("origin", "http://evil.example".parse().unwrap());
        cross_site.headers_mut().insert("cookie", visit.patient_cookie.parse().unwrap());
        match tokio_tungstenite::connect_async(cross_site).await {
            Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
            other => panic!("a cross-site socket must be refused, got {:?}", other.map(|_| ())),
        }
        let denied = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("video.join"))
            .filter(audit_event::Column::Outcome.eq("denied"))
            .all(&app.services.db)
            .await
            .unwrap();
        assert!(
            denied.iter().any(|r| r.actor_user_id == Some(visit.stranger.id.0)
                && r.patient_id == Some(visit.patient.0)
                && r.rule.as_deref() == Some("not-the-visits-clinician")
                && r.ip.as_deref() == Some("127.0.0.1")),
            "the stranger's refusal names them, the patient and where from: {denied:?}"
        );
        assert!(denied.iter().any(|r| r.actor_role == "anonymous" && r.rule.as_deref() == Some("not-signed-in")));

        // The patient and the assigned clinician connect and exchange signals.
        let mut patient = open(&app.address, visit.id, Some(&visit.patient_cookie), None).await.unwrap();
        let welcome = next(&mut patient).await;
        assert_eq!((welcome["kind"].as_str(), welcome["state"].as_str()), (Some("welcome"), Some("waiting")));
        let mut clinician = open(&app.address, visit.id, Some(&visit.clinician_cookie), None).await.unwrap();
        assert_eq!(next(&mut clinician).await["kind"], "welcome");
        send(&mut patient, json!({ "kind": "hello" })).await;
        let hello = next_of(&mut clinician, "hello").await;
        assert_eq!(hello["from"], "patient");
        send(&mut clinician, json!({ "kind": "offer", "payload": "{\"type\":\"offer\",\"sdp\":\"v=0\"}" })).await;
        let offer = next_of(&mut patient, "offer").await;
        assert_eq!(
            (offer["from"].as_str(), offer["payload"].as_str()),
            (Some("clinician"), Some("{\"type\":\"offer\",\"sdp\":\"v=0\"}"))
        );
        let last_seen = offer["seq"].as_i64().unwrap();

        // Room events come from the server only.
        send(&mut patient, json!({ "kind": "ended" })).await;
        assert_eq!(next(&mut patient).await["kind"], "error");

        // The patient's network drops; what the clinician sends meanwhile is re-read on reconnect.
        drop(patient);
        send(
            &mut clinician,
            json!({ "kind": "ice", "payload": "{\"candidate\":\"candidate:1 1 udp 1 192.0.2.9 50000 typ host\"}" }),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let mut patient = open(&app.address, visit.id, Some(&visit.patient_cookie), Some(last_seen)).await.unwrap();
        assert_eq!(next(&mut patient).await["kind"], "welcome");
        let missed = next_of(&mut patient, "ice").await;
        assert!(missed["seq"].as_i64().unwrap() > last_seen);
        assert_eq!(missed["from"], "clinician");

        // Each connection is an audited join, each close an audited leave.
        let joins = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("video.join"))
            .filter(audit_event::Column::Outcome.eq("allowed"))
            .filter(audit_event::Column::Rule.ends_with(":connect"))
            .all(&app.services.db)
            .await
            .unwrap();
        assert_eq!(joins.len(), 3, "two patient sockets and one clinician socket");
        assert!(joins.iter().all(|r| r.patient_id == Some(visit.patient.0)));
        let left = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("video.leave"))
            .all(&app.services.db)
            .await
            .unwrap();
        assert_eq!(left.len(), 1, "the dropped socket left");
    }
);

/// Patient on node A, clinician on node B, one PostgreSQL: the signals cross through the
/// database and its LISTEN/NOTIFY, never through shared memory.
#[tokio::test]
async fn a_patient_on_one_node_and_a_clinician_on_another_exchange_signals() {
    let app = spawn_app(Backend::Postgres).await;
    let visit = video_visit(&app).await;
    let node_b = app.spawn_node().await;
    let mut patient = open(&app.address, visit.id, Some(&visit.patient_cookie), None).await.unwrap();
    let mut clinician = open(&node_b, visit.id, Some(&visit.clinician_cookie), None).await.unwrap();
    assert_eq!(next(&mut patient).await["kind"], "welcome");
    assert_eq!(next(&mut clinician).await["kind"], "welcome");
    // The admission is made on node B and reaches the patient on node A.
    let admitted = app
        .client
        .post(format!("{node_b}/api/video/admit"))
        .header("origin", &node_b)
        .header("cookie", &visit.clinician_cookie)
        .json(&json!({ "appointment_id": visit.id.to_string() }))
        .send()
        .await
        .unwrap();
    assert_eq!(admitted.status(), 200);
    assert_eq!(next_of(&mut patient, "admitted").await["from"], "clinician");
    send(&mut patient, json!({ "kind": "hello" })).await;
    assert_eq!(next_of(&mut clinician, "hello").await["from"], "patient");
    send(&mut clinician, json!({ "kind": "offer", "payload": "{\"type\":\"offer\"}" })).await;
    assert_eq!(next_of(&mut patient, "offer").await["payload"], "{\"type\":\"offer\"}");
}

/// The close code of the socket's closing frame, waiting at most `within`.
pub(crate) async fn close_code(socket: &mut Socket, within: std::time::Duration) -> Option<u16> {
    tokio::time::timeout(within, async {
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Close(Some(frame))) => return Some(u16::from(frame.code)),
                Ok(Message::Close(None)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
        None
    })
    .await
    .expect("the socket closed in time")
}

on_both_backends!(
    a_care_team_clinician_who_is_not_the_visits_clinician_is_refused_until_named_delegate,
    |backend| async move {
        let app = spawn_app(backend).await;
        let visit = video_visit(&app).await;
        let system = AuditContext::system("test");
        let (colleague, colleague_cookie) = app.signed_in(Role::Clinician).await;
        app.services.care.start(&system, visit.patient, colleague.id, CareKind::CareTeam).await.unwrap();
        let body = json!({ "appointment_id": visit.id.to_string() });

        // On the care team, so the chart opens; the visit does not, before the upgrade or by
        // the server functions, and each refusal is a denied row naming the visit.
        assert_eq!(open(&app.address, visit.id, Some(&colleague_cookie), None).await.err(), Some(403));
        for endpoint in ["video/room", "video/admit", "video/end"] {
            let response = app.call_as(&colleague_cookie, endpoint, body.clone()).await;
            assert_eq!(response.status(), 403, "{endpoint}");
        }
        let refusals: Vec<(String, Option<String>)> = audit_event::Entity::find()
            .filter(audit_event::Column::ActorUserId.eq(colleague.id.0))
            .filter(audit_event::Column::Outcome.eq("denied"))
            .filter(audit_event::Column::ResourceId.eq(visit.id.to_string()))
            .all(&app.services.db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.action, r.rule))
            .collect();
        let rule = Some("not-the-visits-clinician".to_owned());
        assert_eq!(
            refusals,
            vec![
                ("video.join".to_owned(), rule.clone()),
                ("video.join".to_owned(), rule.clone()),
                ("video.admit".to_owned(), rule.clone()),
                ("video.end".to_owned(), rule.clone()),
            ]
        );
        // Nor may they name themselves.
        let grab = json!({ "appointment_id": visit.id.to_string(), "delegate_id": colleague.id.to_string() });
        assert_eq!(app.call_as(&colleague_cookie, "video/name_delegate", grab.clone()).await.status(), 403);

        // The visit's clinician gets in and names the colleague; the colleague gets in too.
        let mut clinician = open(&app.address, visit.id, Some(&visit.clinician_cookie), None).await.unwrap();
        assert_eq!(next(&mut clinician).await["kind"], "welcome");
        let named = app.call_as(&visit.clinician_cookie, "video/name_delegate", grab).await;
        assert_eq!(named.status(), 200, "{}", named.text().await.unwrap());
        let mut delegate = open(&app.address, visit.id, Some(&colleague_cookie), None).await.unwrap();
        assert_eq!(next(&mut delegate).await["kind"], "welcome");
        let admitted = app.call_as(&colleague_cookie, "video/admit", body.clone()).await;
        assert_eq!(admitted.status(), 200, "{}", admitted.text().await.unwrap());

        // The delegation withdrawn, the delegate's open socket is closed at its next check.
        let removed = json!({ "appointment_id": visit.id.to_string(), "delegate_id": null });
        assert_eq!(app.call_as(&visit.clinician_cookie, "video/name_delegate", removed).await.status(), 200);
        assert_eq!(close_code(&mut delegate, std::time::Duration::from_secs(5)).await, Some(4403));
        assert_eq!(open(&app.address, visit.id, Some(&colleague_cookie), None).await.err(), Some(403));
    }
);
