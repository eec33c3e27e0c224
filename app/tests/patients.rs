//! PatientRepo on both backends: sealed storage, audit in the same transaction, denial audited,
//! fail closed, soft delete, optimistic concurrency.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::domain::Error;
use app::domain::audit::Role;
use app::domain::entities::{audit_event, patient};
use app::on_both_backends;
use common::{TestDb, TestServices, by_mrn, ctx, sample_patient, system};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

on_both_backends!(a_created_patient_reads_back_and_each_access_writes_one_audit_row, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let id = services.patients.create(&system(), sample_patient("A")).await.unwrap();

    let reader = ctx(Role::Patient, Some(id));
    let patient = services.patients.get(&reader, id).await.unwrap();

    assert_eq!(patient.details, sample_patient("A"));
    let rows = audit_event::Entity::find().order_by_asc(audit_event::Column::Seq).all(&test.db).await.unwrap();
    assert_eq!(rows.len(), 2);
    let read = &rows[1];
    assert_eq!(read.action, "patient.read");
    assert_eq!(read.outcome, "allowed");
    assert_eq!(read.rule.as_deref(), Some("patient-self"));
    assert_eq!(read.patient_id, Some(id.0));
    assert_eq!(read.actor_user_id, reader.actor.user_id.map(|u| u.0));
    assert_eq!(read.actor_role, "patient");
    assert_eq!(read.purpose.as_deref(), Some("patient_request"));
    assert_eq!(read.ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(read.user_agent.as_deref(), Some("test-agent/1.0"));
    assert_eq!(read.request_id.as_deref(), Some("req-test-1"));
});

on_both_backends!(phi_columns_hold_no_plaintext, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let id = services.patients.create(&system(), sample_patient("B")).await.unwrap();
    let row = patient::Entity::find_by_id(id.0).one(&test.db).await.unwrap().unwrap();
    let stored = [
        &row.given_name.0,
        &row.family_name.0,
        &row.birth_date.0,
        &row.mrn.0,
        &row.ssn.as_ref().unwrap().0,
        &row.phone.as_ref().unwrap().0,
        &row.email.as_ref().unwrap().0,
        &row.address.as_ref().unwrap().0,
    ];
    for bytes in stored {
        let text = String::from_utf8_lossy(bytes);
        for needle in ["Zephyrine", "Quillfeather", "1971-03-14", "900-12-3456", "555-0142", "example.org", "Imaginary"]
        {
            assert!(!text.contains(needle), "a PHI column holds {needle} in clear");
        }
    }
});

on_both_backends!(a_denied_read_is_refused_and_audited_as_denied, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let id = services.patients.create(&system(), sample_patient("C")).await.unwrap();
    for role in [Role::Clinician, Role::Admin, Role::SecurityOfficer, Role::Patient] {
        let outsider = ctx(role, None);
        let result = services.patients.get(&outsider, id).await;
        assert!(matches!(result, Err(Error::Forbidden)), "{role:?} was not refused");
        let denied = audit_event::Entity::find()
            .filter(audit_event::Column::Outcome.eq("denied"))
            .filter(audit_event::Column::ActorUserId.eq(outsider.actor.user_id.unwrap().0))
            .all(&test.db)
            .await
            .unwrap();
        assert_eq!(denied.len(), 1, "{role:?}");
        assert_eq!(denied[0].patient_id, Some(id.0));
        assert_eq!(denied[0].action, "patient.read");
    }
});

on_both_backends!(when_the_audit_row_cannot_be_written_no_phi_is_returned, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let id = services.patients.create(&system(), sample_patient("D")).await.unwrap();
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
        test.owner.execute_unprepared(statement).await.unwrap(); // triggers are the owner's
    }

    let result = services.patients.get(&ctx(Role::Patient, Some(id)), id).await;

    match result {
        Err(Error::Internal(err)) => {
            let text = format!("{err:#}");
            assert!(text.contains("audit append failed"), "{text}");
            assert!(!text.contains("Zephyrine") && !text.contains("Quillfeather"));
        }
        other => panic!("expected an internal error and no PHI, got {other:?}"),
    }
    // Nor can a patient be created or found without its audit row.
    assert!(services.patients.create(&system(), sample_patient("E")).await.is_err());
    assert_eq!(patient::Entity::find().count(&test.db).await.unwrap(), 1);
    assert!(services.patients.search(&system(), &by_mrn("MRN-D")).await.is_err());
});

on_both_backends!(a_deleted_patient_is_invisible_to_normal_reads, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let id = services.patients.create(&system(), sample_patient("F")).await.unwrap();
    services.patients.delete(&system(), id).await.unwrap();

    assert!(matches!(services.patients.get(&system(), id).await, Err(Error::NotFound)));
    assert!(services.patients.search(&system(), &by_mrn("MRN-F")).await.unwrap().is_empty());
    let row = patient::Entity::find_by_id(id.0).one(&test.db).await.unwrap().unwrap();
    assert!(row.deleted_at.is_some(), "the row is kept for retention");
    // The MRN is free again for a new record.
    services.patients.create(&system(), sample_patient("F")).await.unwrap();
});

on_both_backends!(a_stale_edit_is_refused_with_a_conflict, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let id = services.patients.create(&system(), sample_patient("G")).await.unwrap();
    let mut first = sample_patient("G");
    first.phone = Some("(555) 555-0199".to_owned());
    let version = services.patients.update(&system(), id, 1, first.clone()).await.unwrap();
    assert_eq!(version, 2);

    let mut stale = sample_patient("G");
    stale.email = Some("stale@example.org".to_owned());
    let result = services.patients.update(&system(), id, 1, stale).await;

    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
    assert_eq!(services.patients.get(&system(), id).await.unwrap().details, first);
});

on_both_backends!(a_patient_is_found_by_mrn_through_its_blind_index, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let id = services.patients.create(&system(), sample_patient("H")).await.unwrap();
    services.patients.create(&system(), sample_patient("I")).await.unwrap();

    let found = services.patients.search(&system(), &by_mrn("  mrn-h ")).await.unwrap();

    assert_eq!(found.iter().map(|m| m.id).collect::<Vec<_>>(), [id]);
    assert!(services.patients.search(&system(), &by_mrn("MRN-nobody")).await.unwrap().is_empty());
});

on_both_backends!(a_duplicate_mrn_is_a_conflict, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    services.patients.create(&system(), sample_patient("J")).await.unwrap();
    let result = services.patients.create(&system(), sample_patient("J")).await;
    assert!(matches!(result, Err(Error::Conflict(_))), "{result:?}");
});

on_both_backends!(invalid_demographics_name_the_fields_and_store_nothing, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let mut bad = sample_patient("K");
    bad.email = Some("Zephyrine at nowhere".to_owned());
    bad.ssn = Some("12".to_owned());
    match services.patients.create(&system(), bad).await {
        Err(Error::Validation(fields)) => {
            let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
            assert_eq!(names, ["ssn", "email"]);
            assert!(fields.iter().all(|f| !f.message.contains("Zephyrine")));
        }
        other => panic!("expected validation errors, got {other:?}"),
    }
    assert_eq!(patient::Entity::find().count(&test.db).await.unwrap(), 0);
});
