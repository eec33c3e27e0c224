//! Care relationships, consent and break-glass decide chart access; search goes through blind
//! indexes; a patient sees who looked at their record.

#![allow(clippy::unwrap_used, clippy::panic)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::domain::Error;
use app::domain::audit::Role;
use app::domain::break_glass::ReviewStatus;
use app::domain::care::CareKind;
use app::domain::clock::Clock;
use app::domain::entities::{audit_event, security_alert};
use app::domain::monitoring::inbox::AlertStatus;
use app::domain::patients::SearchCriteria;
use app::on_both_backends;
use common::{TestDb, TestServices, by_mrn, patient_account, sample_patient, staff, system, user_of, vital};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

async fn denied_rows(test: &TestDb, rule: &str) -> u64 {
    audit_event::Entity::find()
        .filter(audit_event::Column::Outcome.eq("denied"))
        .filter(audit_event::Column::Rule.eq(rule))
        .count(&test.db)
        .await
        .unwrap()
}

on_both_backends!(a_clinician_gets_in_only_while_assigned_or_on_the_care_team, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("C1")).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Maybe").await;
    let admin = staff(&services, Role::Admin, "Ada Admin").await;

    assert!(matches!(services.charts.read(&clinician, patient).await, Err(Error::Forbidden)));
    assert_eq!(denied_rows(&test, "no-care-relationship").await, 1);

    let link = services.care.start(&admin, patient, user_of(&clinician), CareKind::Assignment).await.unwrap();
    assert_eq!(services.charts.read(&clinician, patient).await.unwrap().rule, "assigned-clinician");
    // The admin who made the assignment still may not read the chart.
    assert!(matches!(services.charts.read(&admin, patient).await, Err(Error::Forbidden)));
    assert_eq!(denied_rows(&test, "admin-minimum-necessary").await, 1);

    services.care.end(&admin, patient, link).await.unwrap();
    assert!(matches!(services.charts.read(&clinician, patient).await, Err(Error::Forbidden)));

    services.care.start(&admin, patient, user_of(&clinician), CareKind::CareTeam).await.unwrap();
    assert_eq!(services.charts.read(&clinician, patient).await.unwrap().rule, "care-team");
    let again = services.care.start(&admin, patient, user_of(&clinician), CareKind::CareTeam).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    // Only an admin manages care relationships; each change is audited.
    let other = staff(&services, Role::Clinician, "Dr. Eager").await;
    let self_assigned = services.care.start(&other, patient, user_of(&other), CareKind::Assignment).await;
    assert!(matches!(self_assigned, Err(Error::Forbidden)));
    let changes = audit_event::Entity::find()
        .filter(audit_event::Column::Action.is_in(["care.assign", "care.end"]))
        .filter(audit_event::Column::Outcome.eq("allowed"))
        .count(&test.db)
        .await
        .unwrap();
    assert_eq!(changes, 3);
});

on_both_backends!(a_patients_consent_opens_their_chart_to_a_named_clinician_until_revoked, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("C2")).await.unwrap();
    let own = patient_account(&services, patient).await;
    let clinician = staff(&services, Role::Clinician, "Dr. Second Opinion").await;
    let admin = staff(&services, Role::Admin, "Ada Admin").await;

    let consent = services.care.start(&own, patient, user_of(&clinician), CareKind::Consent).await.unwrap();
    assert_eq!(services.charts.read(&clinician, patient).await.unwrap().rule, "patient-consent");
    let links = services.care.links(&own, patient).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].kind, CareKind::Consent);

    // Consent is the patient's alone: not another patient's, not the admin's.
    let stranger =
        patient_account(&services, services.patients.create(&system(), sample_patient("C3")).await.unwrap()).await;
    assert!(matches!(services.care.end(&stranger, patient, consent).await, Err(Error::Forbidden)));
    assert!(matches!(
        services.care.start(&admin, patient, user_of(&clinician), CareKind::Consent).await,
        Err(Error::Forbidden)
    ));
    // Nor can a consent name someone who is not a clinician.
    let not_clinician = services.care.start(&own, patient, user_of(&admin), CareKind::Consent).await;
    assert!(matches!(not_clinician, Err(Error::Validation(_))), "{not_clinician:?}");

    services.care.end(&own, patient, consent).await.unwrap();
    assert!(matches!(services.charts.read(&clinician, patient).await, Err(Error::Forbidden)));
});

on_both_backends!(break_glass_needs_a_reason_lasts_sixty_minutes_alerts_and_is_reviewed_once, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let patient = services.patients.create(&system(), sample_patient("C4")).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Emergency").await;
    let officer = staff(&services, Role::SecurityOfficer, "Sam Security").await;

    let too_short = services.break_glass.declare(&clinician, patient, "urgent").await;
    assert!(matches!(too_short, Err(Error::Validation(_))), "{too_short:?}");
    let declared = services
        .break_glass
        .declare(&clinician, patient, "Unconscious in the ED, need allergy list now")
        .await
        .unwrap();
    assert_eq!(declared.expires_at, clock.now() + chrono::Duration::minutes(60));

    clock.advance(chrono::Duration::minutes(59));
    let chart = services.charts.read(&clinician, patient).await.unwrap();
    assert_eq!(chart.rule, "break-glass");
    let read = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("chart.read"))
        .one(&test.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.purpose.as_deref(), Some("emergency"));
    assert_eq!(read.justification, Some(format!("break-glass {}", declared.id)));
    assert!(services.charts.add(&clinician, patient, vital(90, 60)).await.is_ok());

    clock.advance(chrono::Duration::minutes(2));
    assert!(matches!(services.charts.read(&clinician, patient).await, Err(Error::Forbidden)));

    // The security officer is alerted and reviews it; the reason is kept sealed.
    // It is in the inbox like any other alert, acknowledged there, and closed by the review.
    let inbox = services.alerts.list(&officer, &Default::default(), 0).await.unwrap();
    assert_eq!(inbox.total, 1);
    assert_eq!(inbox.alerts[0].rule, "break_glass");
    assert_eq!(inbox.alerts[0].status, AlertStatus::Open);
    let alert = services.alerts.detail(&officer, inbox.alerts[0].id).await.unwrap();
    assert_eq!(alert.subject_id, Some(declared.id));
    assert_eq!(alert.patients, vec![patient]);
    services.alerts.acknowledge(&officer, alert.summary.id).await.unwrap();
    let queue = services.break_glass.queue(&officer).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].reason, "Unconscious in the ED, need allergy list now");
    assert_eq!(queue[0].status, ReviewStatus::Pending);
    assert!(matches!(services.break_glass.queue(&clinician).await, Err(Error::Forbidden)));
    services
        .break_glass
        .review(&officer, declared.id, ReviewStatus::Justified, "Confirmed with ED charge nurse")
        .await
        .unwrap();
    let again = services.break_glass.review(&officer, declared.id, ReviewStatus::Unjustified, "").await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    let queue = services.break_glass.queue(&officer).await.unwrap();
    assert_eq!(queue[0].status, ReviewStatus::Justified);
    assert_eq!(queue[0].note.as_deref(), Some("Confirmed with ED charge nurse"));
    let open =
        security_alert::Entity::find().filter(security_alert::Column::Status.eq("open")).count(&test.db).await.unwrap();
    assert_eq!(open, 0);
    let stored = audit_event::Entity::find().all(&test.db).await.unwrap();
    assert!(stored.iter().all(|row| !format!("{row:?}").contains("Unconscious")), "the reason reached the audit log");
});

on_both_backends!(a_patient_sees_who_looked_at_their_record_with_break_glass_marked, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("C5")).await.unwrap();
    let assigned = staff(&services, Role::Clinician, "Dr. Assigned").await;
    let emergency = staff(&services, Role::Clinician, "Dr. Emergency").await;
    let outsider = staff(&services, Role::Clinician, "Dr. Curious").await;
    services.care.start(&system(), patient, user_of(&assigned), CareKind::Assignment).await.unwrap();
    services.charts.read(&assigned, patient).await.unwrap();
    services.break_glass.declare(&emergency, patient, "Collapsed in clinic, no chart access").await.unwrap();
    services.charts.read(&emergency, patient).await.unwrap();
    let _ = services.charts.read(&outsider, patient).await;
    let own = patient_account(&services, patient).await;

    let history = services.access_history.for_patient(&own, patient).await.unwrap();

    let reads: Vec<_> = history.iter().filter(|r| r.action == "chart.read").collect();
    let by = |ctx: &app::domain::audit::AuditContext| reads.iter().find(|r| r.actor == ctx.actor.user_id).copied();
    let assigned_read = by(&assigned).unwrap();
    assert_eq!((assigned_read.outcome.as_str(), assigned_read.break_glass), ("allowed", false));
    assert_eq!(assigned_read.purpose.as_deref(), Some("treatment"));
    let emergency_read = by(&emergency).unwrap();
    assert!(emergency_read.break_glass);
    assert_eq!(emergency_read.purpose.as_deref(), Some("emergency"));
    assert_eq!(by(&outsider).unwrap().outcome, "denied");
    assert!(history.iter().any(|r| r.action == "break_glass.declare" && r.break_glass));
    // Only the patient reads their history.
    assert!(matches!(services.access_history.for_patient(&assigned, patient).await, Err(Error::Forbidden)));
});

on_both_backends!(a_name_typed_with_decomposed_accents_finds_the_patient_stored_composed, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    // Stored as typed on a keyboard that composes: "Zoë Ångström" in NFC.
    let stored = app::domain::patients::NewPatient {
        given_name: "Zo\u{00EB}".to_owned(),
        family_name: "\u{00C5}ngstr\u{00F6}m".to_owned(),
        ..sample_patient("N1")
    };
    let patient = services.patients.create(&system(), stored.clone()).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Finder").await;
    let text = |v: &str| Some(v.to_owned());

    // Typed with combining marks (NFD), in capitals, with the birth date.
    let decomposed = SearchCriteria {
        given_name: text("ZOE\u{0308}"),
        family_name: text("A\u{030A}NGSTRO\u{0308}M"),
        birth_date: Some(stored.birth_date),
        ..Default::default()
    };
    let found = services.patients.search(&clinician, &decomposed).await.unwrap();

    assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), vec![patient]);
    assert_eq!(found[0].given_name, "Zo\u{00EB}", "the stored spelling is shown, not the typed one");
    let other_accent = SearchCriteria { given_name: text("Zo\u{00E8}"), ..decomposed.clone() };
    assert!(services.patients.search(&clinician, &other_accent).await.unwrap().is_empty(), "è is not ë");
});

on_both_backends!(
    a_phone_number_typed_with_its_country_code_finds_the_patient_stored_without_it,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let (services, _, _) = test.services();
        // sample_patient's phone is stored as "(555) 555-0142".
        let patient = services.patients.create(&system(), sample_patient("N2")).await.unwrap();
        let clinician = staff(&services, Role::Clinician, "Dr. Finder").await;
        let text = |v: &str| Some(v.to_owned());
        let by = |phone: &str| SearchCriteria {
            given_name: text("ZephyrineN2"),
            family_name: text("QuillfeatherN2"),
            phone: text(phone),
            ..Default::default()
        };

        for typed in ["+1 555 555 0142", "1-555-555-0142", "555.555.0142"] {
            let found = services.patients.search(&clinician, &by(typed)).await.unwrap();
            assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), vec![patient], "{typed}");
        }
        assert!(services.patients.search(&clinician, &by("+44 555 555 0142")).await.unwrap().is_empty());
    }
);

on_both_backends!(search_finds_exact_matches_and_no_seeded_phi_is_stored_in_clear, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let created = app::domain::seed::seed_patients(&services.patients, &system(), 30, 4, |_| {}).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Finder").await;
    let (target_id, target) = &created[7];

    let text = |v: &str| Some(v.to_owned());
    let by_name = SearchCriteria {
        given_name: text(&target.given_name.to_uppercase()),
        family_name: text(&format!("  {} ", target.family_name)),
        ..Default::default()
    };
    let by_birth = SearchCriteria { birth_date: Some(target.birth_date), ..by_name.clone() };
    let by_phone =
        SearchCriteria { phone: target.phone.as_deref().map(|p| p.replace(['(', ')', ' '], "")), ..by_name.clone() };
    for criteria in [by_birth, by_phone, by_mrn(&target.mrn.to_lowercase())] {
        let found = services.patients.search(&clinician, &criteria).await.unwrap();
        assert!(found.iter().any(|m| m.id == *target_id), "{criteria:?}");
        assert!(found.iter().all(|m| m.given_name == target.given_name || criteria.given_name.is_none()));
    }
    let partial = SearchCriteria {
        given_name: text(&target.given_name[..2]),
        family_name: text(&target.family_name),
        birth_date: Some(target.birth_date),
        ..Default::default()
    };
    assert!(services.patients.search(&clinician, &partial).await.unwrap().is_empty(), "search is exact, not prefix");
    let half = SearchCriteria { given_name: text(&target.given_name), ..Default::default() };
    assert!(matches!(services.patients.search(&clinician, &half).await, Err(Error::Validation(_))));
    // Search is a clinician's tool; it never opens the chart.
    let admin = staff(&services, Role::Admin, "Ada Admin").await;
    assert!(matches!(services.patients.search(&admin, &by_mrn(&target.mrn)).await, Err(Error::Forbidden)));

    let dump = common::database_dump(&test).await;
    for (_, patient) in &created {
        let mut needles = vec![patient.given_name.clone(), patient.family_name.clone(), patient.mrn.clone()];
        needles.extend(patient.ssn.clone());
        needles.extend(patient.phone.clone());
        needles.extend(patient.email.clone());
        for needle in needles.iter().filter(|n| n.len() >= 4) {
            assert!(!dump.contains(needle.as_str()), "the database holds a seeded value in clear");
        }
    }
});
