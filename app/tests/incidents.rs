//! Incident response: an incident opened from an alert lists the patients the audit log shows
//! for its actor and window; the decision waits for all four factors; deadlines for a pinned
//! discovery date; the HHS report's fields; notice letters; every opening and download audited;
//! nobody but the security officer gets anything.

#![allow(clippy::unwrap_used, clippy::panic)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::domain::Error;
use app::domain::audit::{Action, AuditContext, AuditEntry, Outcome, Role};
use app::domain::clock::Clock;
use app::domain::entities::{audit_event, incident, security_alert, security_note};
use app::domain::ids::PatientId;
use app::domain::incidents::NewIncident;
use app::domain::incidents::assessment::{Assessment, Decision};
use app::domain::incidents::hhs::HhsAnswers;
use app::domain::monitoring::{NewAlert, Severity, raise};
use app::domain::state::Services;
use app::on_both_backends;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::{TestDb, TestServices, sample_patient, staff, system, user_of};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// One audit row as the chart repository writes it for an allowed (or refused) read.
async fn plant_read(services: &Services, who: &AuditContext, patient: PatientId, outcome: Outcome) {
    let entry = AuditEntry {
        action: Action::ChartRead,
        resource_type: "patient",
        resource_id: Some(patient.to_string()),
        patient_id: Some(patient.0),
        outcome,
        rule: Some("planted".to_owned()),
    };
    services.audit.record(&services.db, who, entry).await.unwrap();
}

fn complete_assessment() -> Assessment {
    Assessment {
        phi_kinds: vec!["demographic".into(), "clinical".into()],
        nature_extent: "Three charts opened in full".into(),
        unauthorized_person: "A clinician of the clinic without a care relationship".into(),
        acquired_or_viewed: Some("viewed".into()),
        acquired_detail: "chart.read rows in the audit log".into(),
        mitigation: "Access removed; sanction applied".into(),
        encrypted_at_rest: Some(false),
        keys_compromised: Some(false),
    }
}

struct Planted {
    services: Services,
    clock: std::sync::Arc<app::domain::clock::FixedClock>,
    officer: AuditContext,
    clinician: AuditContext,
    inside: Vec<PatientId>,
    outside: PatientId,
    alert: uuid::Uuid,
}

/// A clinician reads three patients between 09:30 and 10:30 (and a fourth at 13:00, and is
/// refused a fourth inside the window); another clinician reads the fourth inside it. A
/// bulk-access alert covers 09:15-10:45 for the first clinician.
async fn planted(test: &TestDb) -> Planted {
    let (services, _, clock) = test.services();
    let officer = staff(&services, Role::SecurityOfficer, "Officer Vale").await;
    let clinician = staff(&services, Role::Clinician, "Dr. Nosy").await;
    let colleague = staff(&services, Role::Clinician, "Dr. Other").await;
    let mut patients = Vec::new();
    for tag in ["A", "B", "C", "D"] {
        patients.push(services.patients.create(&system(), sample_patient(tag)).await.unwrap());
    }
    clock.advance(Duration::minutes(30));
    for p in &patients[..3] {
        plant_read(&services, &clinician, *p, Outcome::Allowed).await;
        clock.advance(Duration::minutes(20));
    }
    plant_read(&services, &clinician, patients[3], Outcome::Denied).await;
    plant_read(&services, &colleague, patients[3], Outcome::Allowed).await;
    clock.advance(Duration::hours(3));
    plant_read(&services, &clinician, patients[3], Outcome::Allowed).await;
    let alert = NewAlert {
        rule: "bulk-access".to_owned(),
        severity: Severity::High,
        actor: Some(user_of(&clinician)),
        patients: patients[..3].to_vec(),
        window_start: t0() + Duration::minutes(15),
        window_end: t0() + Duration::minutes(105),
        observed: Some(3),
        seqs: vec![1, 2, 3],
        dedup: "planted".to_owned(),
        subject_id: None,
    };
    let alert = raise(&services.db, alert, clock.now()).await.unwrap().unwrap();
    let mut inside = patients[..3].to_vec();
    inside.sort();
    Planted { services, clock, officer, clinician, inside, outside: patients[3], alert }
}

async fn audit_rows(test: &TestDb, action: Action) -> Vec<audit_event::Model> {
    audit_event::Entity::find().filter(audit_event::Column::Action.eq(action.as_str())).all(&test.db).await.unwrap()
}

on_both_backends!(
    an_incident_opened_from_an_alert_lists_the_patients_its_actor_opened_in_the_window,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let p = planted(&test).await;
        let new = NewIncident { title: "Dr. Nosy bulk reads".into(), alerts: vec![p.alert], ..Default::default() };

        let id = p.services.incidents.open(&p.officer, new).await.unwrap();
        let incident = p.services.incidents.get(&p.officer, id).await.unwrap();

        let ids: Vec<PatientId> = incident.affected.iter().map(|a| a.id).collect();
        assert_eq!(ids, p.inside);
        assert!(!ids.contains(&p.outside));
        assert_eq!(incident.summary.affected, 3);
        assert_eq!(incident.summary.subject, Some(user_of(&p.clinician)));
        assert_eq!(incident.window, Some((t0() + Duration::minutes(15), t0() + Duration::minutes(105))));
        assert_eq!(incident.per_state, vec![("ZZ".to_owned(), 3)]);
        assert_eq!(incident.alerts.iter().map(|a| a.id).collect::<Vec<_>>(), vec![p.alert]);
        let alert = security_alert::Entity::find_by_id(p.alert).one(&test.db).await.unwrap().unwrap();
        assert_eq!(alert.incident_id, Some(id));
        let opened = audit_rows(&test, Action::IncidentOpen).await;
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].resource_id.as_deref(), Some(id.to_string().as_str()));
        assert_eq!(opened[0].rule.as_deref(), Some("security-officer-reviews:affected=3"));
        assert_eq!(audit_rows(&test, Action::IncidentRead).await.len(), 1);
        // The title is sealed.
        let row = incident::Entity::find_by_id(id).one(&test.db).await.unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&row.title.0).contains("Nosy"));
    }
);

on_both_backends!(the_investigation_log_is_kept_sealed_with_its_author_and_time, |backend| async move {
    let test = TestDb::new(backend).await;
    let p = planted(&test).await;
    let id =
        p.services.incidents.open(&p.officer, NewIncident { title: "Log".into(), ..Default::default() }).await.unwrap();
    p.clock.advance(Duration::minutes(5));

    p.services.incidents.add_note(&p.officer, id, "Interviewed the clinician; no treatment reason").await.unwrap();
    let refused = p.services.incidents.add_note(&p.officer, id, "   ").await;

    assert!(matches!(refused, Err(Error::Validation(ref f)) if f[0].field == "note"));
    let incident = p.services.incidents.get(&p.officer, id).await.unwrap();
    assert_eq!(incident.notes.len(), 1);
    assert_eq!(incident.notes[0].body, "Interviewed the clinician; no treatment reason");
    assert_eq!(incident.notes[0].author, user_of(&p.officer));
    assert_eq!(incident.notes[0].at, p.clock.now());
    let stored = security_note::Entity::find().all(&test.db).await.unwrap();
    assert!(!String::from_utf8_lossy(&stored[0].body.0).contains("Interviewed"));
});

on_both_backends!(
    the_decision_is_refused_while_a_factor_is_missing_and_recorded_once_all_are_answered,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let p = planted(&test).await;
        let new = NewIncident { title: "Assess".into(), alerts: vec![p.alert], ..Default::default() };
        let id = p.services.incidents.open(&p.officer, new).await.unwrap();
        let mut answers = complete_assessment();
        answers.acquired_or_viewed = None;
        p.services.incidents.save_assessment(&p.officer, id, &answers).await.unwrap();

        let refused = p.services.incidents.decide(&p.officer, id, Decision::Breach).await;

        let Err(Error::Validation(fields)) = refused else { panic!("expected a validation error, got {refused:?}") };
        assert_eq!(fields[0].field, "acquired_or_viewed");
        assert!(fields[0].message.contains("factor 3"), "{}", fields[0].message);
        let row = incident::Entity::find_by_id(id).one(&test.db).await.unwrap().unwrap();
        assert_eq!(row.decision, None);

        p.services.incidents.save_assessment(&p.officer, id, &complete_assessment()).await.unwrap();
        p.services.incidents.decide(&p.officer, id, Decision::Breach).await.unwrap();
        let incident = p.services.incidents.get(&p.officer, id).await.unwrap();
        assert_eq!(incident.summary.decision, Some(Decision::Breach));
        assert_eq!(incident.decided_by, Some(user_of(&p.officer)));
        assert_eq!(incident.assessment, complete_assessment());
        assert!(!incident.safe_harbor);

        // Encrypted PHI whose keys were not compromised is not unsecured: no breach.
        let mut secured = complete_assessment();
        secured.encrypted_at_rest = Some(true);
        p.services.incidents.save_assessment(&p.officer, id, &secured).await.unwrap();
        let refused = p.services.incidents.decide(&p.officer, id, Decision::Breach).await;
        assert!(matches!(refused, Err(Error::Validation(ref f)) if f[0].field == "decision"));
        p.services.incidents.decide(&p.officer, id, Decision::NotABreach).await.unwrap();
    }
);

on_both_backends!(
    deadlines_for_a_breach_discovered_on_march_10_2026_match_the_dates_worked_by_hand,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let p = planted(&test).await;
        let new = NewIncident {
            title: "Pinned".into(),
            alerts: vec![p.alert],
            discovered: Some(day(2026, 3, 10)),
            ..Default::default()
        };
        let id = p.services.incidents.open(&p.officer, new).await.unwrap();
        p.services.incidents.save_assessment(&p.officer, id, &complete_assessment()).await.unwrap();
        p.services.incidents.decide(&p.officer, id, Decision::Breach).await.unwrap();

        let due = p.services.incidents.get(&p.officer, id).await.unwrap().deadlines.unwrap();

        assert_eq!(due.individuals, day(2026, 5, 9));
        // Under 500: 60 days after December 31, 2026.
        assert_eq!(due.hhs, day(2027, 3, 1));
        assert!(!due.hhs_immediate);
        assert!(due.media.is_empty());
    }
);

on_both_backends!(
    with_501_residents_of_one_state_hhs_and_the_media_are_due_with_the_individual_notices,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let (services, _, clock) = test.services();
        let officer = staff(&services, Role::SecurityOfficer, "Officer Vale").await;
        let clinician = staff(&services, Role::Clinician, "Dr. Bulk").await;
        let start = clock.now();
        for n in 0..501 {
            let mut new = sample_patient(&format!("S{n}"));
            new.address.as_mut().unwrap().state = "NY".into();
            let patient = services.patients.create(&system(), new).await.unwrap();
            plant_read(&services, &clinician, patient, Outcome::Allowed).await;
        }
        for n in 0..3 {
            let mut new = sample_patient(&format!("J{n}"));
            new.address.as_mut().unwrap().state = "nj".into();
            let patient = services.patients.create(&system(), new).await.unwrap();
            plant_read(&services, &clinician, patient, Outcome::Allowed).await;
        }
        let new = NewIncident {
            title: "Bulk".into(),
            subject: Some(user_of(&clinician)),
            window: Some((start, clock.now())),
            discovered: Some(day(2026, 3, 10)),
            ..Default::default()
        };
        let id = services.incidents.open(&officer, new).await.unwrap();
        services.incidents.save_assessment(&officer, id, &complete_assessment()).await.unwrap();
        services.incidents.decide(&officer, id, Decision::Breach).await.unwrap();

        let incident = services.incidents.get(&officer, id).await.unwrap();

        assert_eq!(incident.summary.affected, 504);
        assert_eq!(incident.per_state, vec![("NJ".to_owned(), 3), ("NY".to_owned(), 501)]);
        let due = incident.deadlines.unwrap();
        assert_eq!(due.individuals, day(2026, 5, 9));
        assert_eq!(due.hhs, day(2026, 5, 9));
        assert!(due.hhs_immediate);
        assert_eq!(due.media, vec![("NY".to_owned(), 501, day(2026, 5, 9))]);
    }
);

on_both_backends!(the_hhs_report_has_every_field_of_the_portal_and_its_download_is_audited, |backend| async move {
    let test = TestDb::new(backend).await;
    let p = planted(&test).await;
    let new = NewIncident {
        title: "HHS".into(),
        alerts: vec![p.alert],
        discovered: Some(day(2026, 3, 10)),
        ..Default::default()
    };
    let id = p.services.incidents.open(&p.officer, new).await.unwrap();
    p.services.incidents.save_assessment(&p.officer, id, &complete_assessment()).await.unwrap();
    p.services.incidents.decide(&p.officer, id, Decision::Breach).await.unwrap();
    let answers = HhsAnswers {
        type_of_breach: vec!["Unauthorized Access/Disclosure".into()],
        location_of_breached_information: vec!["Electronic Medical Record".into()],
        safeguards_in_place_prior_to_breach: vec![
            "Security Rule Technical Safeguards (Access Controls, Transmission Security, etc.)".into(),
        ],
        actions_taken_in_response: vec!["Sanctioned workforce members involved (including termination)".into()],
        description: "A clinician opened charts without a care relationship.".into(),
        business_associate_involved: false,
        business_associate_name: None,
        individual_notice_date: Some(day(2026, 4, 1)),
        substitute_notice_required: false,
    };
    p.services.incidents.save_hhs_answers(&p.officer, id, &answers).await.unwrap();
    let mut bad = answers.clone();
    bad.type_of_breach = vec!["Aliens".into()];
    let refused = p.services.incidents.save_hhs_answers(&p.officer, id, &bad).await;
    assert!(matches!(refused, Err(Error::Validation(ref f)) if f[0].field == "type_of_breach"));

    let json: serde_json::Value =
        serde_json::from_str(&p.services.incidents.hhs_report(&p.officer, id).await.unwrap()).unwrap();

    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "actions_taken_in_response",
            "breach_end_date",
            "breach_start_date",
            "business_associate_involved",
            "business_associate_name",
            "covered_entity",
            "description",
            "discovery_date",
            "hhs_deadline",
            "incident_id",
            "individual_notice_date",
            "individual_notice_deadline",
            "location_of_breached_information",
            "media_notice_required",
            "media_notice_states",
            "number_of_individuals_affected",
            "report_type",
            "risk_assessment_decision",
            "safeguards_in_place_prior_to_breach",
            "substitute_notice_required",
            "type_of_breach",
            "type_of_phi_involved",
        ]
    );
    let mut entity: Vec<&str> = json["covered_entity"].as_object().unwrap().keys().map(String::as_str).collect();
    entity.sort_unstable();
    assert_eq!(
        entity,
        vec![
            "city",
            "contact_email",
            "contact_name",
            "contact_phone",
            "name",
            "state",
            "street_address",
            "type",
            "zip"
        ]
    );
    assert_eq!(json["discovery_date"], "2026-03-10");
    assert_eq!(json["breach_start_date"], "2026-11-24");
    assert_eq!(json["breach_end_date"], "2026-11-24");
    assert_eq!(json["number_of_individuals_affected"], 3);
    assert_eq!(json["type_of_phi_involved"], serde_json::json!(["Clinical", "Demographic"]));
    assert_eq!(json["type_of_breach"], serde_json::json!(["Unauthorized Access/Disclosure"]));
    assert_eq!(json["location_of_breached_information"], serde_json::json!(["Electronic Medical Record"]));
    assert_eq!(json["individual_notice_date"], "2026-04-01");
    assert_eq!(json["individual_notice_deadline"], "2026-05-09");
    assert_eq!(json["hhs_deadline"], "2027-03-01");
    assert_eq!(json["media_notice_required"], false);
    assert_eq!(json["risk_assessment_decision"], "breach");
    assert_eq!(json["covered_entity"]["type"], "Healthcare Provider");
    let text = json.to_string();
    assert!(!text.contains("Zephyrine") && !text.contains("Quillfeather"), "the report names no patient");
    let exports = audit_rows(&test, Action::IncidentExport).await;
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].rule.as_deref(), Some("security-officer-reviews:hhs-report"));
});

on_both_backends!(a_letter_carries_the_elements_of_164_404_c_and_its_patient_s_name_only_there, |backend| async move {
    let test = TestDb::new(backend).await;
    let p = planted(&test).await;
    let new = NewIncident {
        title: "Letters".into(),
        alerts: vec![p.alert],
        discovered: Some(day(2026, 11, 24)),
        ..Default::default()
    };
    let id = p.services.incidents.open(&p.officer, new).await.unwrap();
    p.services.incidents.save_assessment(&p.officer, id, &complete_assessment()).await.unwrap();
    p.services.incidents.decide(&p.officer, id, Decision::Breach).await.unwrap();
    let first = p.inside[0];

    let html = p.services.incidents.letter(&p.officer, id, first).await.unwrap();
    let recipient = p.services.incidents.open_affected_patient(&p.officer, id, first).await.unwrap();

    assert!(html.contains(&format!("{} {}", recipient.given_name, recipient.family_name)));
    assert!(html.contains("12 Imaginary Lane"));
    for element in [
        // (A) what happened, with the dates of the breach and of discovery
        "What happened",
        "on November 24, 2026",
        "We discovered this on November 24, 2026",
        // (B) the kinds of PHI
        "What information was involved",
        "your name, date of birth and sex",
        "clinical information such as diagnoses",
        // (C) steps to take
        "What you can do",
        "Review the statements you receive",
        // (D) what the clinic is doing
        "What we are doing",
        "investigating what happened, working to lessen any harm",
        // (E) contact procedures: toll-free number, email, postal address
        "Toll-free telephone: 1-800-555-0100",
        "Email: privacy@clinic.example",
        "Postal address: Privacy Officer, Clinic, 1 Example Street, Springfield, ZZ 00000",
    ] {
        assert!(html.contains(element), "the letter lacks {element:?}");
    }
    // The name is in the letter and nowhere the officer's pages or the audit log carry.
    let detail = format!("{:?}", p.services.incidents.get(&p.officer, id).await.unwrap());
    let list = format!("{:?}", p.services.incidents.list(&p.officer).await.unwrap());
    let audit = format!("{:?}", audit_event::Entity::find().all(&test.db).await.unwrap());
    for text in [&detail, &list, &audit] {
        assert!(!text.contains(&recipient.given_name), "the name leaked");
        assert!(!text.contains("Imaginary"), "the address leaked");
    }
    // Each download and each opening is audited against its patient.
    let exports = audit_rows(&test, Action::IncidentExport).await;
    assert_eq!(exports.len(), 1);
    assert_eq!((exports[0].patient_id, exports[0].outcome.as_str()), (Some(first.0), "allowed"));
    assert_eq!(exports[0].resource_type, "incident_letter");
    let opens = audit_rows(&test, Action::IncidentPatientOpen).await;
    assert_eq!(opens.len(), 1);
    assert_eq!(
        (opens[0].patient_id, opens[0].rule.as_deref()),
        (Some(first.0), Some("security-officer-breach-notice"))
    );
    assert_eq!(opens[0].justification.as_deref(), Some(format!("incident {id}").as_str()));
    p.services.incidents.letter(&p.officer, id, first).await.unwrap();
    assert_eq!(audit_rows(&test, Action::IncidentExport).await.len(), 2);
    let incident = p.services.incidents.get(&p.officer, id).await.unwrap();
    let notified: Vec<bool> = incident.affected.iter().map(|a| a.notified_at.is_some()).collect();
    assert_eq!(notified, vec![true, false, false]);
});

on_both_backends!(a_patient_outside_the_affected_set_is_refused_and_the_refusal_audited, |backend| async move {
    let test = TestDb::new(backend).await;
    let p = planted(&test).await;
    let new = NewIncident { title: "Set".into(), alerts: vec![p.alert], ..Default::default() };
    let id = p.services.incidents.open(&p.officer, new).await.unwrap();

    let open = p.services.incidents.open_affected_patient(&p.officer, id, p.outside).await;
    let letter = p.services.incidents.letter(&p.officer, id, p.outside).await;

    assert!(matches!(open, Err(Error::Forbidden)));
    assert!(matches!(letter, Err(Error::Forbidden)));
    let denied = audit_rows(&test, Action::IncidentPatientOpen).await;
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].outcome, "denied");
    assert_eq!(denied[0].rule.as_deref(), Some("not-in-incident-affected-set"));
    assert_eq!(denied[0].patient_id, Some(p.outside.0));
});

on_both_backends!(a_clinician_is_refused_every_incident_action, |backend| async move {
    let test = TestDb::new(backend).await;
    let p = planted(&test).await;
    let new = NewIncident { title: "Refusals".into(), alerts: vec![p.alert], ..Default::default() };
    let id = p.services.incidents.open(&p.officer, new).await.unwrap();
    let (repo, who, first) = (&p.services.incidents, &p.clinician, p.inside[0]);
    let admin = staff(&p.services, Role::Admin, "Admin Ames").await;

    for ctx in [who, &admin] {
        let results = [
            repo.open(ctx, NewIncident { title: "mine".into(), ..Default::default() }).await.map(|_| ()),
            repo.list(ctx).await.map(|_| ()),
            repo.get(ctx, id).await.map(|_| ()),
            repo.add_note(ctx, id, "note").await.map(|_| ()),
            repo.add_alerts(ctx, id, &[p.alert]).await.map(|_| ()),
            repo.save_assessment(ctx, id, &complete_assessment()).await,
            repo.decide(ctx, id, Decision::NotABreach).await,
            repo.save_hhs_answers(ctx, id, &HhsAnswers::default()).await,
            repo.hhs_report(ctx, id).await.map(|_| ()),
            repo.letter(ctx, id, first).await.map(|_| ()),
            repo.open_affected_patient(ctx, id, first).await.map(|_| ()),
            repo.close(ctx, id).await,
        ];
        for (n, result) in results.into_iter().enumerate() {
            assert!(matches!(result, Err(Error::Forbidden)), "call {n} by {:?}: {result:?}", ctx.actor.role);
        }
    }
    let refusals = audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.eq(user_of(who).0))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .filter(audit_event::Column::Action.starts_with("incident."))
        .all(&test.db)
        .await
        .unwrap();
    assert_eq!(refusals.len(), 12);
});

on_both_backends!(a_near_deadline_raises_one_alert_at_14_days_and_one_at_3_days, |backend| async move {
    let test = TestDb::new(backend).await;
    let p = planted(&test).await;
    // Discovered October 5: individual notices due December 4, ten days after "now" (Nov 24).
    let new = NewIncident {
        title: "Due soon".into(),
        alerts: vec![p.alert],
        discovered: Some(day(2026, 10, 5)),
        ..Default::default()
    };
    let id = p.services.incidents.open(&p.officer, new).await.unwrap();
    p.services.incidents.save_assessment(&p.officer, id, &complete_assessment()).await.unwrap();
    assert_eq!(p.services.incidents.raise_deadline_alerts().await.unwrap(), 0, "no breach decided yet");
    p.services.incidents.decide(&p.officer, id, Decision::Breach).await.unwrap();

    assert_eq!(p.services.incidents.raise_deadline_alerts().await.unwrap(), 1);
    assert_eq!(p.services.incidents.raise_deadline_alerts().await.unwrap(), 0, "raised once");
    p.clock.advance(Duration::days(7));
    assert_eq!(p.services.incidents.raise_deadline_alerts().await.unwrap(), 1);

    let alerts = security_alert::Entity::find()
        .filter(security_alert::Column::Kind.eq("breach-deadline"))
        .all(&test.db)
        .await
        .unwrap();
    let mut keys: Vec<_> = alerts.iter().map(|a| (a.dedup_key.clone().unwrap(), a.observed, a.incident_id)).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            (format!("breach-deadline:{id}:individuals:14d"), Some(10), Some(id)),
            (format!("breach-deadline:{id}:individuals:3d"), Some(3), Some(id)),
        ]
    );
    assert!(alerts.iter().all(|a| a.user_id.is_none() && a.patient_id.is_none()));
});
