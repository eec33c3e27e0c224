//! The security officer's alert inbox: filters, paging, the open -> acknowledged -> closed
//! transitions, sealed notes, the audit rows behind an alert, and that every call is the
//! security officer's alone and audited (fail closed).

#![allow(clippy::unwrap_used, clippy::panic)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::domain::Error;
use app::domain::audit::{AuditContext, Role};
use app::domain::clock::Clock;
use app::domain::entities::{app_user, audit_event, security_alert, security_note};
use app::domain::ids::{PatientId, UserId};
use app::domain::monitoring::inbox::{AlertFilter, AlertStatus};
use app::domain::monitoring::{NewAlert, Severity, raise};
use app::domain::state::Services;
use app::on_both_backends;
use chrono::{DateTime, Duration, Utc};
use common::{TestDb, TestServices, patient_account, sample_patient, staff, system, user_of};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use uuid::Uuid;

/// Plants one alert the way a detector does, `minutes` after the pinned clock's now.
async fn plant(
    services: &Services,
    rule: &str,
    severity: Severity,
    actor: Option<UserId>,
    patients: Vec<PatientId>,
    seqs: Vec<i64>,
    at: DateTime<Utc>,
) -> Uuid {
    let alert = NewAlert {
        rule: rule.to_owned(),
        severity,
        actor,
        patients,
        window_start: at - Duration::minutes(10),
        window_end: at,
        observed: Some(31),
        seqs,
        dedup: Uuid::now_v7().to_string(),
        subject_id: None,
    };
    raise(&services.db, alert, at).await.unwrap().unwrap()
}

async fn rows(test: &TestDb, action: &str, outcome: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .filter(audit_event::Column::Outcome.eq(outcome))
        .order_by_asc(audit_event::Column::Seq)
        .all(&test.db)
        .await
        .unwrap()
}

on_both_backends!(filters_return_the_planted_alerts_newest_first, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let officer = staff(&services, Role::SecurityOfficer, "Sam Security").await;
    let (ana, ben) = (UserId::new(), UserId::new());
    let now = clock.now();
    let a = plant(&services, "bulk-access", Severity::High, Some(ana), vec![], vec![], now).await;
    let b = plant(&services, "bulk-access", Severity::Critical, Some(ben), vec![], vec![], now + Duration::minutes(1))
        .await;
    let c =
        plant(&services, "after-hours", Severity::Medium, Some(ana), vec![], vec![], now + Duration::minutes(2)).await;
    let d = plant(&services, "probing", Severity::Low, None, vec![], vec![], now + Duration::minutes(3)).await;
    services.alerts.acknowledge(&officer, c).await.unwrap();

    let ids = |filter: AlertFilter| {
        let (services, officer) = (services.clone(), officer.clone());
        async move {
            let page = services.alerts.list(&officer, &filter, 0).await.unwrap();
            assert_eq!(page.total, page.alerts.len() as u64);
            page.alerts.into_iter().map(|a| a.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(AlertFilter::default()).await, vec![d, c, b, a]);
    assert_eq!(ids(AlertFilter { rule: Some("bulk-access".into()), ..Default::default() }).await, vec![b, a]);
    assert_eq!(ids(AlertFilter { actor: Some(ana), ..Default::default() }).await, vec![c, a]);
    assert_eq!(ids(AlertFilter { severity: Some(Severity::Critical), ..Default::default() }).await, vec![b]);
    assert_eq!(ids(AlertFilter { status: Some(AlertStatus::Acknowledged), ..Default::default() }).await, vec![c]);
    assert_eq!(ids(AlertFilter { status: Some(AlertStatus::Open), ..Default::default() }).await, vec![d, b, a]);
    let both = AlertFilter { rule: Some("bulk-access".into()), actor: Some(ana), ..Default::default() };
    assert_eq!(ids(both).await, vec![a]);
    assert_eq!(ids(AlertFilter { rule: Some("self-access".into()), ..Default::default() }).await, Vec::<Uuid>::new());

    let page = services.alerts.list(&officer, &AlertFilter::default(), 0).await.unwrap();
    assert_eq!(page.rules, vec!["after-hours", "bulk-access", "probing"]);
    let first = page.alerts.iter().find(|x| x.id == b).unwrap();
    assert_eq!(
        (first.rule.as_str(), first.severity, first.status),
        ("bulk-access", Severity::Critical, AlertStatus::Open)
    );
    assert_eq!((first.actor, first.observed), (Some(ben), Some(31)));

    // The counts on the officer's home.
    let counts = services.alerts.counts(&officer).await.unwrap();
    assert_eq!(counts.get(AlertStatus::Open, Severity::Critical), 1);
    assert_eq!(counts.get(AlertStatus::Open, Severity::High), 1);
    assert_eq!(counts.get(AlertStatus::Open, Severity::Medium), 0);
    assert_eq!(counts.get(AlertStatus::Open, Severity::Low), 1);
    assert_eq!(counts.get(AlertStatus::Acknowledged, Severity::Medium), 1);
    assert_eq!(counts.status_total(AlertStatus::Open), 3);
    assert_eq!(counts.status_total(AlertStatus::Closed), 0);
});

on_both_backends!(the_inbox_pages_by_fifty_with_the_total, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let officer = staff(&services, Role::SecurityOfficer, "Sam Security").await;
    let mut planted = Vec::new();
    for i in 0..52 {
        let at = clock.now() + Duration::seconds(i);
        planted.push(plant(&services, "probing", Severity::Low, None, vec![], vec![], at).await);
    }
    let first = services.alerts.list(&officer, &AlertFilter::default(), 0).await.unwrap();
    let second = services.alerts.list(&officer, &AlertFilter::default(), 1).await.unwrap();
    assert_eq!((first.total, first.alerts.len(), second.total, second.alerts.len()), (52, 50, 52, 2));
    assert_eq!(first.alerts[0].id, planted[51]);
    assert_eq!(second.alerts.iter().map(|a| a.id).collect::<Vec<_>>(), vec![planted[1], planted[0]]);
});

on_both_backends!(acknowledge_and_close_move_an_alert_forward_only, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let officer = staff(&services, Role::SecurityOfficer, "Sam Security").await;
    let id = plant(&services, "bulk-access", Severity::High, None, vec![], vec![], clock.now()).await;

    services.alerts.acknowledge(&officer, id).await.unwrap();
    let row = security_alert::Entity::find_by_id(id).one(&test.db).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.acknowledged_by), ("acknowledged", Some(user_of(&officer).0)));
    assert_eq!(row.acknowledged_at, Some(clock.now()));
    let again = services.alerts.acknowledge(&officer, id).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");

    // Closing needs a note saying why.
    for empty in ["", "   "] {
        let refused = services.alerts.close(&officer, id, empty).await;
        assert!(matches!(&refused, Err(Error::Validation(f)) if f[0].field == "note"), "{refused:?}");
    }
    clock.advance(Duration::minutes(5));
    services
        .alerts
        .close(&officer, id, "Night shift covering two wards; confirmed with the charge nurse")
        .await
        .unwrap();
    let row = security_alert::Entity::find_by_id(id).one(&test.db).await.unwrap().unwrap();
    assert_eq!(
        (row.status.as_str(), row.closed_by, row.closed_at),
        ("closed", Some(user_of(&officer).0), Some(clock.now()))
    );
    let closed_again = services.alerts.close(&officer, id, "again").await;
    assert!(matches!(closed_again, Err(Error::Conflict(_))), "{closed_again:?}");
    let ack_closed = services.alerts.acknowledge(&officer, id).await;
    assert!(matches!(ack_closed, Err(Error::Conflict(_))), "{ack_closed:?}");
    let detail = services.alerts.detail(&officer, id).await.unwrap();
    assert_eq!(detail.notes.len(), 1);
    assert_eq!(detail.notes[0].body, "Night shift covering two wards; confirmed with the charge nurse");

    // An open alert can be closed straight away; an unknown one is not found.
    let other = plant(&services, "probing", Severity::Low, None, vec![], vec![], clock.now()).await;
    services.alerts.close(&officer, other, "False positive: test account").await.unwrap();
    let unknown = Uuid::now_v7();
    assert!(matches!(services.alerts.acknowledge(&officer, unknown).await, Err(Error::NotFound)));
    assert!(matches!(services.alerts.close(&officer, unknown, "x").await, Err(Error::NotFound)));
    assert!(matches!(services.alerts.detail(&officer, unknown).await, Err(Error::NotFound)));
    assert!(matches!(services.alerts.add_note(&officer, unknown, "x").await, Err(Error::NotFound)));
    // The refused changes are audited as failures: three conflicts above, then three not-found.
    let failed: Vec<_> = rows(&test, "alert.update", "error").await.into_iter().map(|r| r.rule.unwrap()).collect();
    assert_eq!(failed, vec!["conflict", "conflict", "conflict", "not-found", "not-found", "not-found"]);
});

on_both_backends!(notes_are_sealed_under_the_authors_key_and_bound_to_their_alert, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let officer = staff(&services, Role::SecurityOfficer, "Sam Security").await;
    let id = plant(&services, "self-access", Severity::High, None, vec![], vec![], clock.now()).await;
    let other = plant(&services, "probing", Severity::Low, None, vec![], vec![], clock.now()).await;
    let text = "Clinician Quillfeather opened her sister's record; spoke with HR";

    let note = services.alerts.add_note(&officer, id, text).await.unwrap();

    let stored = security_note::Entity::find_by_id(note).one(&test.db).await.unwrap().unwrap();
    let author = app_user::Entity::find_by_id(user_of(&officer).0).one(&test.db).await.unwrap().unwrap();
    assert_eq!(stored.data_key_id, author.data_key_id);
    assert_eq!((stored.alert_id, stored.author_id), (Some(id), user_of(&officer).0));
    let raw = &stored.body.0;
    assert!(!String::from_utf8_lossy(raw).contains("Quillfeather"), "the note is stored in clear");
    assert!(!common::database_dump(&test).await.contains("Quillfeather"), "the note reached the database in clear");
    let detail = services.alerts.detail(&officer, id).await.unwrap();
    assert_eq!(detail.notes.len(), 1);
    assert_eq!((detail.notes[0].body.as_str(), detail.notes[0].author), (text, user_of(&officer)));
    // Moved to another alert, the note no longer opens.
    security_note::ActiveModel { id: Set(note), alert_id: Set(Some(other)), ..Default::default() }
        .update(&test.db)
        .await
        .unwrap();
    assert!(services.alerts.detail(&officer, other).await.is_err());
});

on_both_backends!(an_alerts_audit_rows_are_exactly_its_linked_seqs, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let officer = staff(&services, Role::SecurityOfficer, "Sam Security").await;
    let clinician = staff(&services, Role::Clinician, "Dr. Curious").await;
    let (p1, p2, p3) = (
        services.patients.create(&system(), sample_patient("A1")).await.unwrap(),
        services.patients.create(&system(), sample_patient("A2")).await.unwrap(),
        services.patients.create(&system(), sample_patient("A3")).await.unwrap(),
    );
    // Three refused chart reads by a clinician with no relationship: real audit rows.
    for patient in [p1, p2, p3] {
        assert!(matches!(services.charts.read(&clinician, patient).await, Err(Error::Forbidden)));
    }
    let reads = rows(&test, "chart.read", "denied").await;
    assert_eq!(reads.len(), 3);
    let (first, third) = (reads[0].seq, reads[2].seq);
    let id = plant(
        &services,
        "probing",
        Severity::Medium,
        Some(user_of(&clinician)),
        vec![p3, p1],
        vec![third, first],
        clock.now(),
    )
    .await;

    let detail = services.alerts.detail(&officer, id).await.unwrap();

    assert_eq!(detail.events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![first, third]);
    assert_eq!(detail.events_total, 2);
    let mut expected_patients = vec![p1, p3];
    expected_patients.sort();
    assert_eq!(detail.patients, expected_patients);
    assert_eq!(detail.summary.patients, 2);
    for (event, patient) in detail.events.iter().zip([p1, p3]) {
        assert_eq!(event.action, "chart.read");
        assert_eq!(event.outcome, "denied");
        assert_eq!(event.actor_user_id, Some(user_of(&clinician)));
        assert_eq!(event.patient_id, Some(patient));
        assert_eq!(event.rule.as_deref(), Some("no-care-relationship"));
        assert_eq!(event.ip.as_deref(), Some("192.0.2.10"));
    }
    let listed = services.alerts.list(&officer, &AlertFilter::default(), 0).await.unwrap();
    assert_eq!(listed.alerts[0].patients, 2);
});

on_both_backends!(every_inbox_call_writes_its_audit_row, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let officer = staff(&services, Role::SecurityOfficer, "Sam Security").await;
    let id = plant(&services, "bulk-access", Severity::High, None, vec![], vec![], clock.now()).await;

    services.alerts.list(&officer, &AlertFilter::default(), 0).await.unwrap();
    services.alerts.counts(&officer).await.unwrap();
    services.alerts.detail(&officer, id).await.unwrap();
    services.alerts.add_note(&officer, id, "Looking into it").await.unwrap();
    services.alerts.acknowledge(&officer, id).await.unwrap();
    services.alerts.close(&officer, id, "Explained: covering clinic").await.unwrap();

    let by_officer: Vec<(String, Option<String>, Option<String>)> = audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.eq(user_of(&officer).0))
        .order_by_asc(audit_event::Column::Seq)
        .all(&test.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!((r.outcome.as_str(), r.actor_role.as_str()), ("allowed", "security_officer"));
            assert_eq!(r.resource_type, "security_alert");
            (r.action, r.resource_id, r.rule)
        })
        .collect();
    let alert = Some(id.to_string());
    let rule = |what: &str| Some(format!("security-officer-reviews{what}"));
    assert_eq!(
        by_officer,
        vec![
            ("alert.list".to_owned(), Some("page 0".to_owned()), rule("")),
            ("alert.list".to_owned(), Some("counts".to_owned()), rule("")),
            ("alert.read".to_owned(), alert.clone(), rule("")),
            ("alert.update".to_owned(), alert.clone(), rule(":note")),
            ("alert.update".to_owned(), alert.clone(), rule(":acknowledge")),
            ("alert.update".to_owned(), alert.clone(), rule(":close")),
        ]
    );
});

on_both_backends!(clinicians_admins_and_patients_are_refused_the_inbox, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let id = plant(&services, "bulk-access", Severity::High, None, vec![], vec![], clock.now()).await;
    let patient = services.patients.create(&system(), sample_patient("R1")).await.unwrap();
    let refused: Vec<AuditContext> = vec![
        staff(&services, Role::Clinician, "Dr. Nosy").await,
        staff(&services, Role::Admin, "Ada Admin").await,
        patient_account(&services, patient).await,
    ];
    for ctx in &refused {
        let forbidden =
            |r: Result<(), Error>| assert!(matches!(r, Err(Error::Forbidden)), "{:?} {r:?}", ctx.actor.role);
        forbidden(services.alerts.list(ctx, &AlertFilter::default(), 0).await.map(|_| ()));
        forbidden(services.alerts.counts(ctx).await.map(|_| ()));
        forbidden(services.alerts.detail(ctx, id).await.map(|_| ()));
        forbidden(services.alerts.acknowledge(ctx, id).await);
        forbidden(services.alerts.close(ctx, id, "closing it myself").await);
        forbidden(services.alerts.add_note(ctx, id, "a note").await.map(|_| ()));
    }
    let denied = audit_event::Entity::find()
        .filter(audit_event::Column::Outcome.eq("denied"))
        .filter(audit_event::Column::Rule.eq("not-the-security-officer"))
        .filter(audit_event::Column::Action.is_in(["alert.list", "alert.read", "alert.update"]))
        .count(&test.db)
        .await
        .unwrap();
    assert_eq!(denied, 18);
    let row = security_alert::Entity::find_by_id(id).one(&test.db).await.unwrap().unwrap();
    assert_eq!(row.status, "open");
    assert_eq!(security_note::Entity::find().count(&test.db).await.unwrap(), 0);
});

on_both_backends!(
    when_the_audit_row_cannot_be_written_the_inbox_answers_nothing_and_changes_nothing,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let (services, _, clock) = test.services();
        let officer = staff(&services, Role::SecurityOfficer, "Sam Security").await;
        let id = plant(&services, "bulk-access", Severity::High, None, vec![], vec![], clock.now()).await;
        let sabotage: &[&str] = match backend {
            Backend::Sqlite => &["CREATE TRIGGER audit_sabotage BEFORE INSERT ON audit_event \
                             BEGIN SELECT RAISE(ABORT, 'audit storage unavailable'); END"],
            Backend::Postgres => &[
                "CREATE FUNCTION audit_sabotage() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'audit storage unavailable'; END $$",
                "CREATE TRIGGER audit_sabotage BEFORE INSERT ON audit_event \
             FOR EACH ROW EXECUTE FUNCTION audit_sabotage()",
            ],
        };
        for statement in sabotage {
            test.owner.execute_unprepared(statement).await.unwrap();
        }

        assert!(matches!(services.alerts.list(&officer, &AlertFilter::default(), 0).await, Err(Error::Internal(_))));
        assert!(matches!(services.alerts.detail(&officer, id).await, Err(Error::Internal(_))));
        assert!(matches!(services.alerts.acknowledge(&officer, id).await, Err(Error::Internal(_))));
        assert!(matches!(services.alerts.close(&officer, id, "closing").await, Err(Error::Internal(_))));
        assert!(matches!(services.alerts.add_note(&officer, id, "noting").await, Err(Error::Internal(_))));

        let row = security_alert::Entity::find_by_id(id).one(&test.db).await.unwrap().unwrap();
        assert_eq!((row.status.as_str(), row.acknowledged_by, row.closed_by), ("open", None, None));
        assert_eq!(security_note::Entity::find().count(&test.db).await.unwrap(), 0);
    }
);
