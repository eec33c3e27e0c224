//! The clinical record: entries sealed whole, read and written only under a care relationship,
//! stale edits refused, every access audited exactly once.

#![allow(clippy::unwrap_used, clippy::panic)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::clinical::{EntryBody, Note, Problem, ProblemStatus};
use app::domain::Error;
use app::domain::audit::Role;
use app::domain::care::CareKind;
use app::domain::entities::{audit_event, clinical_entry};
use app::on_both_backends;
use common::{TestDb, TestServices, patient_account, sample_patient, staff, system, user_of, vital};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

fn problem(code: &str, description: &str) -> EntryBody {
    EntryBody::Problem(Problem {
        code: code.to_owned(),
        description: description.to_owned(),
        onset: None,
        status: ProblemStatus::Active,
    })
}

on_both_backends!(an_assigned_clinician_adds_entries_that_are_stored_sealed_and_read_back, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("R1")).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Assigned").await;
    services.care.start(&system(), patient, user_of(&clinician), CareKind::Assignment).await.unwrap();

    services.charts.add(&clinician, patient, vital(131, 84)).await.unwrap();
    services.charts.add(&clinician, patient, problem("E11.9", "Quokkaemia of the left ear")).await.unwrap();
    let chart = services.charts.read(&clinician, patient).await.unwrap();

    assert_eq!(chart.rule, "assigned-clinician");
    assert_eq!(chart.patient.details, sample_patient("R1"));
    let bodies: Vec<_> = chart.entries.iter().map(|e| e.body.clone()).collect();
    assert!(bodies.contains(&vital(131, 84)));
    assert!(bodies.contains(&problem("E11.9", "Quokkaemia of the left ear")));
    assert!(chart.entries.iter().all(|e| e.created_by == Some(user_of(&clinician))));
    for row in clinical_entry::Entity::find().all(&test.db).await.unwrap() {
        let stored = String::from_utf8_lossy(&row.body.0);
        for needle in ["Quokkaemia", "E11.9", "131", "systolic"] {
            assert!(!stored.contains(needle), "the entry body holds {needle} in clear");
        }
    }
});

on_both_backends!(a_stale_entry_edit_is_refused_with_a_conflict_and_changes_nothing, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("R2")).await.unwrap();
    let first = staff(&services, Role::Clinician, "Dr. First").await;
    let second = staff(&services, Role::Clinician, "Dr. Second").await;
    for clinician in [&first, &second] {
        services.care.start(&system(), patient, user_of(clinician), CareKind::CareTeam).await.unwrap();
    }
    let (entry, version) = services.charts.add(&first, patient, problem("I10", "Hypertension")).await.unwrap();

    // Both open version 1; the first saves, the second's save is now stale.
    let saved =
        services.charts.update(&first, patient, entry, version, problem("I10", "Hypertension, controlled")).await;
    let stale = services.charts.update(&second, patient, entry, version, problem("I10", "Hypertension, worse")).await;

    assert_eq!(saved.unwrap(), 2);
    match stale {
        Err(Error::Conflict(message)) => assert!(message.contains("changed by someone else"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let chart = services.charts.read(&first, patient).await.unwrap();
    assert_eq!(chart.entries[0].body, problem("I10", "Hypertension, controlled"));
    assert_eq!(chart.entries[0].version, 2);
    let stale_rows = audit_event::Entity::find()
        .filter(audit_event::Column::Rule.eq("stale-version"))
        .filter(audit_event::Column::ActorUserId.eq(user_of(&second).0))
        .count(&test.db)
        .await
        .unwrap();
    assert_eq!(stale_rows, 1);
    // A stale delete is refused the same way.
    assert!(matches!(services.charts.delete(&second, patient, entry, 1).await, Err(Error::Conflict(_))));
    services.charts.delete(&second, patient, entry, 2).await.unwrap();
    assert!(services.charts.read(&first, patient).await.unwrap().entries.is_empty());
});

on_both_backends!(
    opening_n_charts_leaves_exactly_n_chart_read_rows_with_actor_patient_and_purpose,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let (services, _, _) = test.services();
        let clinician = staff(&services, Role::Clinician, "Dr. Reader").await;
        let mut patients = Vec::new();
        for n in 0..7 {
            let patient = services.patients.create(&system(), sample_patient(&format!("N{n}"))).await.unwrap();
            services.care.start(&system(), patient, user_of(&clinician), CareKind::Assignment).await.unwrap();
            patients.push(patient);
        }

        for patient in &patients {
            services.charts.read(&clinician, *patient).await.unwrap();
        }

        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("chart.read"))
            .order_by_asc(audit_event::Column::Seq)
            .all(&test.db)
            .await
            .unwrap();
        assert_eq!(rows.len(), patients.len());
        for (row, patient) in rows.iter().zip(&patients) {
            assert_eq!(row.patient_id, Some(patient.0));
            assert_eq!(row.actor_user_id, Some(user_of(&clinician).0));
            assert_eq!(row.actor_role, "clinician");
            assert_eq!(row.purpose.as_deref(), Some("treatment"));
            assert_eq!(row.rule.as_deref(), Some("assigned-clinician"));
            assert_eq!(row.outcome, "allowed");
        }
    }
);

on_both_backends!(a_patient_sees_released_entries_only_and_cannot_write_their_chart, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("R3")).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Notes").await;
    services.care.start(&system(), patient, user_of(&clinician), CareKind::Assignment).await.unwrap();
    let note = |title: &str, released| EntryBody::Note(Note { title: title.into(), text: "Text.".into(), released });
    services.charts.add(&clinician, patient, note("Released note", true)).await.unwrap();
    services.charts.add(&clinician, patient, note("Draft note", false)).await.unwrap();
    services.charts.add(&clinician, patient, vital(120, 80)).await.unwrap();
    let own = patient_account(&services, patient).await;

    let chart = services.charts.read(&own, patient).await.unwrap();

    assert_eq!(chart.rule, "patient-self");
    assert_eq!(chart.entries.len(), 2);
    assert!(chart.entries.iter().all(|e| e.body != note("Draft note", false)));
    assert!(matches!(services.charts.add(&own, patient, vital(110, 70)).await, Err(Error::Forbidden)));
    let other = services.patients.create(&system(), sample_patient("R4")).await.unwrap();
    assert!(matches!(services.charts.read(&own, other).await, Err(Error::Forbidden)));
});

/// The audit rows about one entry with `rule`, as (actor role, outcome).
async fn entry_rows(test: &TestDb, entry: uuid::Uuid, rule: &str) -> Vec<(String, String)> {
    audit_event::Entity::find()
        .filter(audit_event::Column::ResourceId.eq(entry.to_string()))
        .filter(audit_event::Column::Rule.eq(rule))
        .order_by_asc(audit_event::Column::Seq)
        .all(&test.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.actor_role, row.outcome))
        .collect()
}

on_both_backends!(
    a_draft_note_released_by_sql_does_not_open_for_the_patient_and_still_opens_for_the_clinician,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let (services, _, _) = test.services();
        let patient = services.patients.create(&system(), sample_patient("R7")).await.unwrap();
        let clinician = staff(&services, Role::Clinician, "Dr. Drafts").await;
        services.care.start(&system(), patient, user_of(&clinician), CareKind::Assignment).await.unwrap();
        let draft =
            EntryBody::Note(Note { title: "Draft".into(), text: "Not for the portal yet.".into(), released: false });
        let (entry, _) = services.charts.add(&clinician, patient, draft.clone()).await.unwrap();
        services.charts.add(&clinician, patient, vital(118, 76)).await.unwrap();
        let own = patient_account(&services, patient).await;

        // An insider with database access releases the draft behind the clinician's back.
        clinical_entry::Entity::update_many()
            .col_expr(clinical_entry::Column::Released, sea_orm::sea_query::Expr::value(true))
            .filter(clinical_entry::Column::Id.eq(entry))
            .exec(&test.db)
            .await
            .unwrap();
        let for_patient = services.charts.read(&own, patient).await;
        let for_clinician = services.charts.read(&clinician, patient).await.unwrap();

        match for_patient {
            Err(Error::Internal(err)) => assert!(!format!("{err:#}").contains("Not for the portal")),
            other => panic!("the patient must get an error, got {other:?}"),
        }
        assert_eq!(entry_rows(&test, entry, "integrity-failure").await, [("patient".to_owned(), "error".to_owned())]);
        assert!(for_clinician.entries.iter().any(|e| e.id == entry && e.body == draft), "the clinician still reads it");
        assert_eq!(
            entry_rows(&test, entry, "integrity-failure:released-column-altered").await,
            [("clinician".to_owned(), "error".to_owned())]
        );
    }
);

on_both_backends!(releasing_and_withdrawing_a_note_reseals_it_for_the_patient, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("R8")).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Release").await;
    services.care.start(&system(), patient, user_of(&clinician), CareKind::Assignment).await.unwrap();
    let note = |released| EntryBody::Note(Note { title: "Result".into(), text: "All clear.".into(), released });
    let (entry, v1) = services.charts.add(&clinician, patient, note(false)).await.unwrap();
    let own = patient_account(&services, patient).await;

    let v2 = services.charts.update(&clinician, patient, entry, v1, note(true)).await.unwrap();
    let released = services.charts.read(&own, patient).await.unwrap();
    services.charts.update(&clinician, patient, entry, v2, note(false)).await.unwrap();
    let withdrawn = services.charts.read(&own, patient).await.unwrap();
    let for_clinician = services.charts.read(&clinician, patient).await.unwrap();

    assert_eq!(released.entries.iter().map(|e| e.body.clone()).collect::<Vec<_>>(), [note(true)]);
    assert!(withdrawn.entries.is_empty());
    assert_eq!(for_clinician.entries.iter().map(|e| e.body.clone()).collect::<Vec<_>>(), [note(false)]);
    let findings = audit_event::Entity::find()
        .filter(audit_event::Column::Rule.starts_with("integrity-failure"))
        .count(&test.db)
        .await
        .unwrap();
    assert_eq!(findings, 0);
});

on_both_backends!(an_entry_moved_to_another_kind_by_sql_opens_for_no_one, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("R9")).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Kinds").await;
    services.care.start(&system(), patient, user_of(&clinician), CareKind::Assignment).await.unwrap();
    let (entry, _) = services.charts.add(&clinician, patient, vital(140, 90)).await.unwrap();

    clinical_entry::Entity::update_many()
        .col_expr(clinical_entry::Column::Kind, sea_orm::sea_query::Expr::value("allergy"))
        .filter(clinical_entry::Column::Id.eq(entry))
        .exec(&test.db)
        .await
        .unwrap();
    let result = services.charts.read(&clinician, patient).await;

    assert!(matches!(result, Err(Error::Internal(_))), "{result:?}");
    assert_eq!(entry_rows(&test, entry, "integrity-failure").await, [("clinician".to_owned(), "error".to_owned())]);
});

on_both_backends!(invalid_entries_name_their_fields_and_store_nothing, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("R5")).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Typo").await;
    services.care.start(&system(), patient, user_of(&clinician), CareKind::Assignment).await.unwrap();

    let result = services.charts.add(&clinician, patient, problem("Quokka", "")).await;

    match result {
        Err(Error::Validation(fields)) => {
            let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(names, ["code", "description"]);
            assert!(fields.iter().all(|f| !f.message.contains("Quokka")));
        }
        other => panic!("expected validation errors, got {other:?}"),
    }
    assert_eq!(clinical_entry::Entity::find().count(&test.db).await.unwrap(), 0);
});

on_both_backends!(when_the_audit_row_cannot_be_written_the_chart_is_not_returned, |backend| async move {
    use sea_orm::ConnectionTrait;
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("R6")).await.unwrap();
    let clinician = staff(&services, Role::Clinician, "Dr. Failsafe").await;
    services.care.start(&system(), patient, user_of(&clinician), CareKind::Assignment).await.unwrap();
    let refuse_chart_reads = match backend {
        common::Backend::Sqlite => vec![
            "CREATE TRIGGER refuse_chart_read BEFORE INSERT ON audit_event WHEN NEW.action = 'chart.read' \
             BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END",
        ],
        common::Backend::Postgres => vec![
            "CREATE FUNCTION refuse_chart_read() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.action = 'chart.read' THEN RAISE EXCEPTION 'audit store unavailable'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse_chart_read BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION refuse_chart_read()",
        ],
    };
    for statement in refuse_chart_reads {
        test.owner.execute_unprepared(statement).await.unwrap(); // triggers are the owner's
    }

    let result = services.charts.read(&clinician, patient).await;

    let error = format!("{:?}", result.as_ref().err());
    assert!(result.is_err());
    assert!(!error.contains("ZephyrineR6"), "the error carried PHI");
});
