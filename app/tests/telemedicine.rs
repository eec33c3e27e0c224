//! Video visits on both backends: the waiting room opens at its time, only the patient and the
//! visit's clinician (or the delegate they name) connect, signals pass sealed through the database (and, on
//! PostgreSQL, wake a second node through LISTEN/NOTIFY), and every step is audited.

#![allow(clippy::unwrap_used, clippy::panic)] // Test code: a failed step should stop the test where it failed.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use app::domain::Error;
use app::domain::audit::{AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::clock::Clock;
use app::domain::entities::{appointment, audit_event};
use app::domain::ids::PatientId;
use app::domain::scheduling::{Booking, NewVisitType};
use app::domain::state::Services;
use app::domain::telemedicine::hub::Wake;
use app::domain::telemedicine::{RoomState, SignalKind};
use app::domain::test_support::Backend;
use app::on_both_backends;
use chrono::Duration;
use common::{TestDb, TestServices, database_dump, patient_account, sample_patient, staff, system, user_of};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

/// A synthetic SDP line that must never be stored in clear.
const SDP: &str = "v=0 o=- 4611731400430051336 2 IN IP4 198.51.100.77 s=synthetic-video-offer";

struct Visit {
    services: Services,
    clock: Arc<app::domain::clock::FixedClock>,
    keys: Arc<common::TestKeys>,
    patient: PatientId,
    patient_ctx: AuditContext,
    clinician: AuditContext,
    stranger: AuditContext,
    admin: AuditContext,
    id: uuid::Uuid,
}

/// A confirmed 30-minute video visit with an assigned clinician, starting an hour after the
/// pinned clock.
async fn video_visit(test: &TestDb) -> Visit {
    let (services, keys, clock) = test.services();
    let clinician = staff(&services, Role::Clinician, "Dr. Video").await;
    let stranger = staff(&services, Role::Clinician, "Dr. Elsewhere").await;
    let admin = staff(&services, Role::Admin, "Front Desk").await;
    let patient = services.patients.create(&system(), sample_patient("V1")).await.unwrap();
    services.care.start(&admin, patient, user_of(&clinician), CareKind::Assignment).await.unwrap();
    let patient_ctx = patient_account(&services, patient).await;
    let kind = NewVisitType {
        name: "Video visit".into(),
        video: true,
        duration_minutes: 30,
        self_schedule: true,
        requires_approval: false,
    };
    let kind = services.schedule.create_visit_type(&admin, kind).await.unwrap();
    let booking = Booking {
        patient,
        clinician: user_of(&clinician),
        visit_type: kind,
        starts_at: clock.now() + Duration::hours(1),
        reason: "Medication review".into(),
    };
    let (id, _) = services.schedule.book(&system(), booking).await.unwrap();
    Visit { services, clock, keys, patient, patient_ctx, clinician, stranger, admin, id }
}

async fn audit_rows(services: &Services, appointment: uuid::Uuid) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::ResourceId.eq(appointment.to_string()))
        .filter(audit_event::Column::ResourceType.eq("video_session"))
        .order_by_asc(audit_event::Column::Seq)
        .all(&services.db)
        .await
        .unwrap()
}

on_both_backends!(
    a_video_visit_goes_from_waiting_room_to_admitted_to_ended_with_each_step_audited,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let v = video_visit(&test).await;
        let video = &v.services.video;

        // Too early: the waiting room opens 15 minutes before the start.
        let early = video.enter_waiting_room(&v.patient_ctx, v.id).await;
        assert!(matches!(early, Err(Error::Validation(_))), "{early:?}");
        assert!(matches!(video.connect(&v.patient_ctx, v.id).await, Err(Error::Conflict(_))), "not waiting yet");
        v.clock.advance(Duration::minutes(46));
        assert_eq!(video.enter_waiting_room(&v.patient_ctx, v.id).await.unwrap(), RoomState::Waiting);

        // The clinician sees who is waiting, by name; the other clinician's list is empty.
        let waiting = video.waiting_room(&v.clinician).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].state, RoomState::Waiting);
        assert_eq!(waiting[0].patient.as_ref().map(|(id, _)| *id), Some(v.patient));
        assert!(video.waiting_room(&v.stranger).await.unwrap().is_empty());
        assert!(matches!(video.waiting_room(&v.patient_ctx).await, Err(Error::Forbidden)));

        // Only the patient and clinicians allowed to see them connect.
        for outsider in [&v.stranger, &v.admin] {
            assert!(matches!(video.connect(outsider, v.id).await, Err(Error::Forbidden)));
            assert!(matches!(video.admit(outsider, v.id).await, Err(Error::Forbidden)));
        }
        assert!(matches!(video.admit(&v.patient_ctx, v.id).await, Err(Error::Forbidden)), "patients do not admit");
        let patient = video.connect(&v.patient_ctx, v.id).await.unwrap();
        let clinician = video.connect(&v.clinician, v.id).await.unwrap();
        video.admit(&v.clinician, v.id).await.unwrap();

        // Signals pass between the two connections, never back to their sender.
        video.send(&patient, SignalKind::Hello, None).await.unwrap();
        video.send(&clinician, SignalKind::Offer, Some(SDP)).await.unwrap();
        let seen_by_patient = video.signals_after(&patient, 0, &BTreeSet::new()).await.unwrap();
        let kinds: Vec<_> = seen_by_patient.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [SignalKind::Waiting, SignalKind::Admitted, SignalKind::Offer]);
        let offer = seen_by_patient.last().unwrap();
        assert_eq!((offer.payload.as_deref(), offer.from_patient), (Some(SDP), false));
        let seen_by_clinician = video.signals_after(&clinician, offer.seq - 1, &BTreeSet::new()).await.unwrap();
        assert!(seen_by_clinician.is_empty(), "the sender does not get its own offer back");
        let hello = video.signals_after(&clinician, 0, &BTreeSet::new()).await.unwrap();
        assert!(hello.iter().any(|s| s.kind == SignalKind::Hello && s.from_patient));
        // A re-read skips what was delivered; browsers may not forge room events; size is capped.
        let delivered: BTreeSet<i64> = seen_by_patient.iter().map(|s| s.seq).collect();
        assert!(video.signals_after(&patient, 0, &delivered).await.unwrap().is_empty());
        assert!(matches!(video.send(&patient, SignalKind::Ended, None).await, Err(Error::Validation(_))));
        let huge = "a".repeat(16 * 1024 + 1);
        assert!(matches!(video.send(&patient, SignalKind::Offer, Some(&huge)).await, Err(Error::Validation(_))));

        // The SDP is sealed at rest.
        assert!(!database_dump(&test).await.contains("synthetic-video-offer"), "an SDP was stored in clear");

        video.leave(&v.patient_ctx, &patient).await.unwrap();
        assert!(matches!(video.end(&v.patient_ctx, v.id).await, Err(Error::Forbidden)), "patients do not end visits");
        video.end(&v.clinician, v.id).await.unwrap();
        assert!(matches!(video.connect(&v.patient_ctx, v.id).await, Err(Error::Conflict(_))), "ended");
        assert!(matches!(video.enter_waiting_room(&v.patient_ctx, v.id).await, Err(Error::Conflict(_))));
        let row = appointment::Entity::find_by_id(v.id).one(&v.services.db).await.unwrap().unwrap();
        assert_eq!(row.status, "completed");

        let rows = audit_rows(&v.services, v.id).await;
        let trail: Vec<(String, String, Option<String>)> =
            rows.iter().map(|r| (r.action.clone(), r.outcome.clone(), r.rule.clone())).collect();
        let expect =
            |action: &str, outcome: &str, rule: &str| (action.to_owned(), outcome.to_owned(), Some(rule.to_owned()));
        for step in [
            expect("video.join", "allowed", "patient-self:waiting"),
            expect("video.join", "allowed", "patient-self:connect"),
            expect("video.join", "allowed", "visit-clinician:connect"),
            expect("video.admit", "allowed", "visit-clinician:admitted"),
            expect("video.leave", "allowed", "patient-self:left"),
            expect("video.end", "allowed", "visit-clinician:ended"),
            expect("video.join", "error", "not-in-waiting-room"),
        ] {
            assert!(trail.contains(&step), "missing {step:?} in {trail:?}");
        }
        let denied: Vec<_> = audit_event::Entity::find()
            .filter(audit_event::Column::PatientId.eq(v.patient.0))
            .filter(audit_event::Column::Outcome.eq("denied"))
            .filter(audit_event::Column::Action.is_in(["video.join", "video.admit", "video.end"]))
            .all(&v.services.db)
            .await
            .unwrap();
        let denied_users: BTreeSet<_> = denied.iter().filter_map(|r| r.actor_user_id).collect();
        assert!(denied_users.contains(&user_of(&v.stranger).0) && denied_users.contains(&user_of(&v.admin).0));
        assert!(rows.iter().all(|r| r.patient_id == Some(v.patient.0)), "every row names the patient");
        let _ = &v.keys;
    }
);

on_both_backends!(an_appointment_that_is_not_a_video_visit_has_no_waiting_room, |backend| async move {
    let test = TestDb::new(backend).await;
    let v = video_visit(&test).await;
    let office = NewVisitType {
        name: "Office visit".into(),
        video: false,
        duration_minutes: 30,
        self_schedule: true,
        requires_approval: false,
    };
    let office = v.services.schedule.create_visit_type(&v.admin, office).await.unwrap();
    let booking = Booking {
        patient: v.patient,
        clinician: user_of(&v.clinician),
        visit_type: office,
        starts_at: v.clock.now() + Duration::hours(3),
        reason: "Knee pain".into(),
    };
    let (id, _) = v.services.schedule.book(&system(), booking).await.unwrap();
    v.clock.advance(Duration::minutes(170));
    let entered = v.services.video.enter_waiting_room(&v.patient_ctx, id).await;
    assert!(matches!(entered, Err(Error::Validation(_))), "{entered:?}");
    let unknown = v.services.video.connect(&v.clinician, uuid::Uuid::now_v7()).await;
    assert!(matches!(unknown, Err(Error::Forbidden)), "an unknown visit is refused like a hidden one: {unknown:?}");
});

on_both_backends!(a_long_visit_keeps_delivering_after_hundreds_of_signals, |backend| async move {
    let test = TestDb::new(backend).await;
    let v = video_visit(&test).await;
    v.clock.advance(Duration::minutes(50));
    v.services.video.enter_waiting_room(&v.patient_ctx, v.id).await.unwrap();
    let patient = v.services.video.connect(&v.patient_ctx, v.id).await.unwrap();
    let clinician = v.services.video.connect(&v.clinician, v.id).await.unwrap();
    let mut delivered = BTreeSet::new();
    for round in 0..3 {
        for _ in 0..300 {
            v.services.video.send(&patient, SignalKind::Ice, Some("{}")).await.unwrap();
        }
        // The connection re-reads behind its newest signal and skips what it delivered.
        let newest = delivered.last().copied().unwrap_or(0);
        let mut got = 0;
        loop {
            let page = v.services.video.signals_after(&clinician, newest - 1_000, &delivered).await.unwrap();
            got += page.iter().filter(|s| s.kind == SignalKind::Ice).count();
            delivered.extend(page.iter().map(|s| s.seq));
            if page.len() < app::domain::telemedicine::SIGNAL_PAGE {
                break;
            }
        }
        assert_eq!(got, 300, "round {round}: every new signal is delivered once");
    }
});

/// Two app nodes on one PostgreSQL: a signal written through one wakes the other's connections
/// through LISTEN/NOTIFY, with no shared memory between them.
#[tokio::test]
async fn a_signal_written_on_one_node_wakes_the_other_through_postgres() {
    let test = TestDb::new(Backend::Postgres).await;
    let v = video_visit(&test).await;
    v.clock.advance(Duration::minutes(50));
    // Node B: its own connection pool and services over the same database and keys.
    let db_b = app::domain::db::connect(&test.url).await.unwrap();
    let node_b = Services::new(db_b.clone(), v.keys.clone(), v.clock.clone() as Arc<dyn Clock>);
    let listener = node_b.video.hub.spawn_listener(&db_b).expect("PostgreSQL listens");
    let mut wakes = node_b.video.hub.subscribe();
    // The listener announces itself with a re-read once it listens.
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), wakes.recv()).await.unwrap().unwrap();
    assert_eq!(first, Wake::Everything);

    v.services.video.enter_waiting_room(&v.patient_ctx, v.id).await.unwrap();
    let patient_on_a = v.services.video.connect(&v.patient_ctx, v.id).await.unwrap();
    let clinician_on_b = node_b.video.connect(&v.clinician, v.id).await.unwrap();
    let after = node_b.video.latest_seq(v.id).await.unwrap();
    v.services.video.send(&patient_on_a, SignalKind::Hello, None).await.unwrap();

    let wake = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match wakes.recv().await.unwrap() {
                Wake::Appointment(id) if id == v.id => return id,
                _ => continue,
            }
        }
    })
    .await
    .expect("node B was woken by node A's NOTIFY");
    assert_eq!(wake, v.id);
    let got = node_b.video.signals_after(&clinician_on_b, after, &BTreeSet::new()).await.unwrap();
    assert_eq!(got.iter().map(|s| s.kind).collect::<Vec<_>>(), [SignalKind::Hello]);
    listener.abort();
}

#[tokio::test]
async fn on_sqlite_there_is_no_listener_and_signals_wake_this_process() {
    let test = TestDb::new(Backend::Sqlite).await;
    let v = video_visit(&test).await;
    assert!(v.services.video.hub.spawn_listener(&v.services.db).is_none());
    v.clock.advance(Duration::minutes(50));
    let mut wakes = v.services.video.hub.subscribe();
    v.services.video.enter_waiting_room(&v.patient_ctx, v.id).await.unwrap();
    assert_eq!(wakes.recv().await.unwrap(), Wake::Appointment(v.id));
}

/// The denied rows of `user` for the visit `id`, as (action, rule).
async fn refusals_of(services: &Services, user: &AuditContext, id: uuid::Uuid) -> Vec<(String, Option<String>)> {
    audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.eq(user_of(user).0))
        .filter(audit_event::Column::ResourceId.eq(id.to_string()))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .order_by_asc(audit_event::Column::Seq)
        .all(&services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.rule))
        .collect()
}

on_both_backends!(
    a_clinician_on_the_care_team_with_consent_or_break_glass_is_refused_a_visit_that_is_not_theirs,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let v = video_visit(&test).await;
        let video = &v.services.video;
        let team = staff(&v.services, Role::Clinician, "Dr. Team").await;
        let consented = staff(&v.services, Role::Clinician, "Dr. Consent").await;
        let emergency = staff(&v.services, Role::Clinician, "Dr. Emergency").await;
        v.services.care.start(&v.admin, v.patient, user_of(&team), CareKind::CareTeam).await.unwrap();
        v.services.care.start(&v.patient_ctx, v.patient, user_of(&consented), CareKind::Consent).await.unwrap();
        v.services.break_glass.declare(&emergency, v.patient, "Unresponsive patient in clinic").await.unwrap();
        // Each of them may read the chart...
        for clinician in [&team, &consented, &emergency] {
            v.services.charts.read(clinician, v.patient).await.unwrap();
        }
        v.clock.advance(Duration::minutes(50));
        video.enter_waiting_room(&v.patient_ctx, v.id).await.unwrap();

        // ...but none of them joins, admits or ends someone else's visit, and each try is a
        // denied row naming the visit.
        for clinician in [&team, &consented, &emergency] {
            assert!(matches!(video.room(clinician, v.id).await, Err(Error::Forbidden)));
            assert!(matches!(video.connect(clinician, v.id).await, Err(Error::Forbidden)));
            assert!(matches!(video.admit(clinician, v.id).await, Err(Error::Forbidden)));
            assert!(matches!(video.end(clinician, v.id).await, Err(Error::Forbidden)));
            let rule = Some("not-the-visits-clinician".to_owned());
            assert_eq!(
                refusals_of(&v.services, clinician, v.id).await,
                vec![
                    ("video.join".to_owned(), rule.clone()),
                    ("video.join".to_owned(), rule.clone()),
                    ("video.admit".to_owned(), rule.clone()),
                    ("video.end".to_owned(), rule.clone()),
                ]
            );
        }
        // Another patient does not join this patient's visit.
        let other = v.services.patients.create(&system(), sample_patient("V2")).await.unwrap();
        let other_ctx = patient_account(&v.services, other).await;
        assert!(matches!(video.connect(&other_ctx, v.id).await, Err(Error::Forbidden)));
        assert_eq!(
            refusals_of(&v.services, &other_ctx, v.id).await,
            vec![("video.join".to_owned(), Some("not-own-record".to_owned()))]
        );

        // The visit's clinician gets in, and names the care-team colleague as delegate.
        video.connect(&v.clinician, v.id).await.unwrap();
        assert!(matches!(video.name_delegate(&team, v.id, Some(user_of(&team))).await, Err(Error::Forbidden)));
        video.name_delegate(&v.clinician, v.id, Some(user_of(&team))).await.unwrap();
        assert_eq!(video.delegate_of(v.id).await.unwrap(), Some(user_of(&team)));
        assert_eq!(video.room(&v.clinician, v.id).await.unwrap().delegate_id, Some(user_of(&team)));

        // The delegate joins and admits; the delegate may not pass the visit on; the others
        // are still refused.
        video.connect(&team, v.id).await.unwrap();
        video.admit(&team, v.id).await.unwrap();
        assert_eq!(video.waiting_room(&team).await.unwrap().len(), 1, "a delegated visit is on the delegate's list");
        let passed_on = video.name_delegate(&team, v.id, Some(user_of(&consented))).await;
        assert!(matches!(passed_on, Err(Error::Forbidden)), "{passed_on:?}");
        assert!(matches!(video.connect(&consented, v.id).await, Err(Error::Forbidden)));
        // Nobody but a clinician can be a delegate.
        let named_admin = video.name_delegate(&v.clinician, v.id, Some(user_of(&v.admin))).await;
        assert!(matches!(named_admin, Err(Error::Validation(_))), "{named_admin:?}");

        // Removed, the delegate is refused again; named again, they end the visit.
        video.name_delegate(&v.clinician, v.id, None).await.unwrap();
        assert!(matches!(video.connect(&team, v.id).await, Err(Error::Forbidden)));
        video.name_delegate(&v.clinician, v.id, Some(user_of(&team))).await.unwrap();
        video.end(&team, v.id).await.unwrap();

        let trail: Vec<(String, String, Option<String>)> = audit_rows(&v.services, v.id)
            .await
            .into_iter()
            .filter(|r| r.outcome == "allowed")
            .map(|r| (r.action, r.actor_user_id.map(|u| u.to_string()).unwrap_or_default(), r.rule))
            .collect();
        let (doctor, colleague) = (user_of(&v.clinician).to_string(), user_of(&team).to_string());
        let row = |action: &str, who: &str, rule: String| (action.to_owned(), who.to_owned(), Some(rule));
        for step in [
            row("video.join", &doctor, "visit-clinician:connect".to_owned()),
            row("video.delegate", &doctor, format!("visit-clinician:delegate-named {colleague}")),
            row("video.join", &colleague, "visit-delegate:connect".to_owned()),
            row("video.admit", &colleague, "visit-delegate:admitted".to_owned()),
            row("video.delegate", &doctor, "visit-clinician:delegate-removed".to_owned()),
            row("video.end", &colleague, "visit-delegate:ended".to_owned()),
        ] {
            assert!(trail.contains(&step), "missing {step:?} in {trail:?}");
        }
    }
);
