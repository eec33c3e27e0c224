//! Secure messaging: a patient writes, their care team reads and answers, unread counts follow,
//! nobody outside the care relationship (not even with emergency access) reads a word, every
//! open is audited, attachments are limited, and nothing is stored in clear.

#![allow(clippy::unwrap_used, clippy::panic)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::domain::Error;
use app::domain::audit::{AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::entities::{audit_event, message, message_attachment, message_thread};
use app::domain::ids::PatientId;
use app::domain::messaging::{AttachmentType, MAX_ATTACHMENT_BYTES, NewAttachment};
use app::domain::state::Services;
use app::on_both_backends;
use common::{TestDb, TestServices, patient_account, sample_patient, staff, system, user_of};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

/// The smallest valid PNG: a 1x1 transparent pixel.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

fn png(name: &str) -> NewAttachment {
    NewAttachment { file_name: name.to_owned(), declared_type: Some("image/png".to_owned()), data: PNG.to_vec() }
}

async fn audit_rows(test: &TestDb, action: &str, outcome: &str) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq(action))
        .filter(audit_event::Column::Outcome.eq(outcome))
        .order_by_asc(audit_event::Column::Seq)
        .all(&test.db)
        .await
        .unwrap()
}

/// A patient with an account, their assigned clinician and a care-team member.
struct Clinic {
    patient: PatientId,
    own: AuditContext,
    assigned: AuditContext,
    team: AuditContext,
}

async fn clinic(services: &Services, tag: &str) -> Clinic {
    let patient = services.patients.create(&system(), sample_patient(tag)).await.unwrap();
    let own = patient_account(services, patient).await;
    let assigned = staff(services, Role::Clinician, "Dr. Assigned").await;
    let team = staff(services, Role::Clinician, "Dr. Team").await;
    services.care.start(&system(), patient, user_of(&assigned), CareKind::Assignment).await.unwrap();
    services.care.start(&system(), patient, user_of(&team), CareKind::CareTeam).await.unwrap();
    Clinic { patient, own, assigned, team }
}

on_both_backends!(a_patient_writes_the_care_team_reads_and_answers_and_unread_counts_follow, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let Clinic { patient, own, assigned, team } = clinic(&services, "M1").await;
    let messages = &services.messages;

    let (thread, _) = messages
        .start_thread(&own, patient, "Rash after new cream", "It itches since Tuesday.", vec![png("rash.png")])
        .await
        .unwrap();

    // The assigned clinician sees the thread with one unread message; the patient sees none.
    let inbox = messages.inbox(&assigned).await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].thread.id, thread);
    assert_eq!(inbox[0].thread.subject, "Rash after new cream");
    assert_eq!(inbox[0].thread.unread, 1);
    assert_eq!(inbox[0].patient_name, "QuillfeatherM1, ZephyrineM1");
    let inbox_rows = audit_rows(&test, "message.inbox", "allowed").await;
    assert_eq!(inbox_rows.len(), 1, "one inbox row per patient shown");
    assert_eq!(inbox_rows[0].patient_id, Some(patient.0));
    assert_eq!(messages.threads_for_patient(&own, patient).await.unwrap()[0].unread, 0);

    // Opening reads the message and its attachment's name, and writes one audit row.
    let opened = messages.open_thread(&assigned, thread).await.unwrap();
    assert_eq!(opened.rule, "assigned-clinician");
    assert_eq!(opened.subject, "Rash after new cream");
    assert_eq!(opened.messages.len(), 1);
    assert_eq!(opened.messages[0].body, "It itches since Tuesday.");
    assert_eq!(opened.messages[0].sender_id, user_of(&own));
    assert!(opened.messages[0].was_unread);
    let file = &opened.messages[0].attachments[0];
    assert_eq!(
        (file.file_name.as_str(), file.content_type, file.size_bytes),
        ("rash.png", AttachmentType::Png, PNG.len() as u64)
    );
    let reads = audit_rows(&test, "message.read", "allowed").await;
    let opens: Vec<_> = reads.iter().filter(|r| r.resource_type == "message_thread").collect();
    assert_eq!(opens.len(), 1);
    assert_eq!(opens[0].patient_id, Some(patient.0));
    assert_eq!(opens[0].actor_user_id, Some(user_of(&assigned).0));
    assert_eq!(opens[0].resource_id.as_deref(), Some(thread.to_string().as_str()));
    assert_eq!(opens[0].rule.as_deref(), Some("assigned-clinician"));
    assert_eq!(opens[0].purpose.as_deref(), Some("treatment"));
    assert_eq!(messages.inbox(&assigned).await.unwrap()[0].thread.unread, 0);
    // Read marks are per reader: the care-team member still has it unread.
    assert_eq!(messages.inbox(&team).await.unwrap()[0].thread.unread, 1);

    // The clinician downloads the attachment (audited) and answers.
    let download = messages.attachment(&assigned, file.id).await.unwrap();
    assert_eq!(download.data, PNG);
    assert_eq!(audit_rows(&test, "message.attachment.read", "allowed").await.len(), 1);
    messages.reply(&assigned, thread, "Stop the cream; photo looks like contact dermatitis.", vec![]).await.unwrap();

    // The patient sees one unread answer, opens it, and it is read.
    let mine = messages.threads_for_patient(&own, patient).await.unwrap();
    assert_eq!((mine.len(), mine[0].unread, mine[0].messages), (1, 1, 2));
    let opened = messages.open_thread(&own, thread).await.unwrap();
    assert_eq!(opened.rule, "patient-self");
    assert_eq!(opened.messages[1].body, "Stop the cream; photo looks like contact dermatitis.");
    assert_eq!(opened.messages[1].sender_role, Role::Clinician);
    assert!(opened.messages[1].was_unread && !opened.messages[0].was_unread);
    assert_eq!(messages.threads_for_patient(&own, patient).await.unwrap()[0].unread, 0);
    // Opening again changes no count and writes one more row.
    let before = audit_rows(&test, "message.read", "allowed").await.len();
    assert!(!messages.open_thread(&own, thread).await.unwrap().messages[1].was_unread);
    assert_eq!(audit_rows(&test, "message.read", "allowed").await.len(), before + 1);
});

on_both_backends!(
    clinicians_without_a_care_relationship_admins_and_other_patients_are_refused_and_audited,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let (services, _, _) = test.services();
        let Clinic { patient, own, .. } = clinic(&services, "M2").await;
        let messages = &services.messages;
        let (thread, _) =
            messages.start_thread(&own, patient, "Question", "Private words.", vec![png("a.png")]).await.unwrap();
        let file = message_attachment::Entity::find().one(&test.db).await.unwrap().unwrap().id;
        let stranger = staff(&services, Role::Clinician, "Dr. Stranger").await;
        let emergency = staff(&services, Role::Clinician, "Dr. Emergency").await;
        services
            .break_glass
            .declare(&emergency, patient, "Unconscious in the emergency department, no one reachable")
            .await
            .unwrap();
        // Emergency access opens the chart...
        assert_eq!(services.charts.read(&emergency, patient).await.unwrap().rule, "break-glass");
        let admin = staff(&services, Role::Admin, "Ada Admin").await;
        let officer = staff(&services, Role::SecurityOfficer, "Sam Officer").await;
        let other = services.patients.create(&system(), sample_patient("M2b")).await.unwrap();
        let other_patient = patient_account(&services, other).await;

        for (who, ctx) in [
            ("stranger", &stranger),
            ("emergency", &emergency),
            ("admin", &admin),
            ("officer", &officer),
            ("other patient", &other_patient),
        ] {
            let denied_before = audit_event::Entity::find()
                .filter(audit_event::Column::Outcome.eq("denied"))
                .count(&test.db)
                .await
                .unwrap();
            assert!(matches!(messages.open_thread(ctx, thread).await, Err(Error::Forbidden)), "{who} opened");
            assert!(
                matches!(messages.reply(ctx, thread, "Hello", vec![]).await, Err(Error::Forbidden)),
                "{who} replied"
            );
            assert!(matches!(messages.attachment(ctx, file).await, Err(Error::Forbidden)), "{who} downloaded");
            assert!(matches!(messages.threads_for_patient(ctx, patient).await, Err(Error::Forbidden)), "{who} listed");
            assert!(
                matches!(messages.start_thread(ctx, patient, "Hi", "Hello", vec![]).await, Err(Error::Forbidden)),
                "{who} wrote"
            );
            let denied: Vec<_> = audit_event::Entity::find()
                .filter(audit_event::Column::Outcome.eq("denied"))
                .order_by_asc(audit_event::Column::Seq)
                .all(&test.db)
                .await
                .unwrap()
                .into_iter()
                .skip(usize::try_from(denied_before).unwrap())
                .collect();
            let actions: Vec<_> = denied.iter().map(|r| r.action.as_str()).collect();
            assert_eq!(
                actions,
                ["message.read", "message.send", "message.attachment.read", "message.read", "message.send"],
                "{who}"
            );
            assert!(
                denied
                    .iter()
                    .all(|r| r.patient_id == Some(patient.0) && r.actor_user_id == ctx.actor.user_id.map(|u| u.0))
            );
        }
        // ... but never the messages: the rule says why.
        let emergency_denials = audit_event::Entity::find()
            .filter(audit_event::Column::ActorUserId.eq(user_of(&emergency).0))
            .filter(audit_event::Column::Outcome.eq("denied"))
            .all(&test.db)
            .await
            .unwrap();
        assert!(emergency_denials.iter().all(|r| r.rule.as_deref() == Some("messaging-needs-care-relationship")));
        // The inbox is a clinician's, and shows only their patients.
        assert!(messages.inbox(&stranger).await.unwrap().is_empty());
        assert!(messages.inbox(&emergency).await.unwrap().is_empty());
        assert!(matches!(messages.inbox(&admin).await, Err(Error::Forbidden)));
        assert!(matches!(messages.inbox(&own).await, Err(Error::Forbidden)));
        // Nothing was added by the refused attempts.
        assert_eq!(message::Entity::find().count(&test.db).await.unwrap(), 1);
        assert_eq!(message_thread::Entity::find().count(&test.db).await.unwrap(), 1);
    }
);

on_both_backends!(a_consent_opens_messages_and_its_end_closes_them, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let Clinic { patient, own, .. } = clinic(&services, "M3").await;
    let consented = staff(&services, Role::Clinician, "Dr. Consented").await;
    let (thread, _) =
        services.messages.start_thread(&own, patient, "Second opinion", "Please look.", vec![]).await.unwrap();
    let link = services.care.start(&own, patient, user_of(&consented), CareKind::Consent).await.unwrap();

    assert_eq!(services.messages.open_thread(&consented, thread).await.unwrap().rule, "patient-consent");
    services.care.end(&own, patient, link).await.unwrap();

    assert!(matches!(services.messages.open_thread(&consented, thread).await, Err(Error::Forbidden)));
    assert!(services.messages.inbox(&consented).await.unwrap().is_empty());
});

on_both_backends!(attachments_outside_the_limits_are_refused_by_field_and_nothing_is_stored, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let Clinic { patient, own, assigned, .. } = clinic(&services, "M4").await;
    let (thread, _) = services.messages.start_thread(&own, patient, "Files", "See below.", vec![]).await.unwrap();
    let mut too_big = PNG.to_vec();
    too_big.resize(MAX_ATTACHMENT_BYTES + 1, 0);
    let exe = NewAttachment {
        file_name: "holiday-photo.png".to_owned(),
        declared_type: Some("image/png".to_owned()),
        data: b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0This program cannot be run in DOS mode.".to_vec(),
    };
    let pdf_called_png = NewAttachment {
        file_name: "labs.png".to_owned(),
        declared_type: Some("image/png".to_owned()),
        data: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(),
    };
    let cases = [
        (
            vec![NewAttachment { file_name: "big.png".into(), declared_type: Some("image/png".into()), data: too_big }],
            "larger than 5 MiB",
        ),
        (vec![exe], "only PDF, PNG and JPEG"),
        (vec![pdf_called_png], "does not match"),
        (vec![png("1.png"), png("2.png"), png("3.png"), png("4.png")], "at most 3"),
    ];

    for (files, expected) in cases {
        for result in [
            services.messages.reply(&own, thread, "With a file.", files.clone()).await.map(|_| ()),
            services.messages.start_thread(&assigned, patient, "New", "With a file.", files).await.map(|_| ()),
        ] {
            match result {
                Err(Error::Validation(fields)) => {
                    assert!(fields.iter().all(|f| f.field == "attachments"), "{fields:?}");
                    assert!(fields.iter().any(|f| f.message.contains(expected)), "{fields:?}");
                    assert!(fields.iter().all(|f| !f.message.contains("holiday") && !f.message.contains("labs")));
                }
                other => panic!("expected a validation error ({expected}), got {other:?}"),
            }
        }
    }
    // Subject and body are checked too, and named.
    match services.messages.start_thread(&own, patient, "", &"x".repeat(5001), vec![]).await {
        Err(Error::Validation(fields)) => {
            assert_eq!(fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["subject", "body"]);
        }
        other => panic!("expected validation errors, got {other:?}"),
    }
    assert_eq!(message_attachment::Entity::find().count(&test.db).await.unwrap(), 0);
    assert_eq!(message::Entity::find().count(&test.db).await.unwrap(), 1);
    assert_eq!(message_thread::Entity::find().count(&test.db).await.unwrap(), 1);
    // A file at exactly the limit, and a JPEG and a PDF, are accepted.
    let mut at_limit = PNG.to_vec();
    at_limit.resize(MAX_ATTACHMENT_BYTES, 0);
    let jpeg = NewAttachment {
        file_name: "x.jpg".into(),
        declared_type: Some("image/jpeg".into()),
        data: vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10],
    };
    let pdf = NewAttachment { file_name: "x.pdf".into(), declared_type: None, data: b"%PDF-1.4\n".to_vec() };
    let big = NewAttachment { file_name: "limit.png".into(), declared_type: Some("image/png".into()), data: at_limit };
    services.messages.reply(&own, thread, "Three files.", vec![big, jpeg, pdf]).await.unwrap();
    assert_eq!(message_attachment::Entity::find().count(&test.db).await.unwrap(), 3);
});

on_both_backends!(no_subject_body_or_file_name_is_stored_in_clear, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let Clinic { patient, own, assigned, .. } = clinic(&services, "M5").await;
    let subject = "Subject-Xylophonic-Marmoset-7731";
    let body = "Body-Quixotic-Pangolin-4410 feels worse at night";
    let reply = "Reply-Gossamer-Axolotl-9902 take it with food";
    let name = "Filename-Nebulous-Okapi-5521.png";
    let mut data = PNG.to_vec();
    data.extend_from_slice(b"Payload-Verdant-Tapir-8813");

    let (thread, _) = services
        .messages
        .start_thread(
            &own,
            patient,
            subject,
            body,
            vec![NewAttachment { file_name: name.into(), declared_type: None, data }],
        )
        .await
        .unwrap();
    services.messages.reply(&assigned, thread, reply, vec![]).await.unwrap();
    let opened = services.messages.open_thread(&assigned, thread).await.unwrap();
    assert_eq!((opened.subject.as_str(), opened.messages[1].body.as_str()), (subject, reply));

    let dump = common::database_dump(&test).await;
    if test.backend == common::Backend::Postgres {
        assert!(dump.contains("COPY public.message_attachment"), "the dump holds the messaging tables");
    }
    for needle in ["Xylophonic-Marmoset", "Quixotic-Pangolin", "Gossamer-Axolotl", "Nebulous-Okapi", "Verdant-Tapir"] {
        assert!(!dump.contains(needle), "the database holds {needle} in clear");
    }
});

on_both_backends!(
    when_the_audit_row_cannot_be_written_a_thread_is_neither_opened_nor_marked_read,
    |backend| async move {
        use sea_orm::ConnectionTrait;
        let test = TestDb::new(backend).await;
        let (services, _, _) = test.services();
        let Clinic { patient, own, assigned, .. } = clinic(&services, "M6").await;
        let (thread, _) =
            services.messages.start_thread(&own, patient, "Fail closed", "Body-Secretive-Ibis", vec![]).await.unwrap();
        let statements = match backend {
            common::Backend::Sqlite => vec![
                "CREATE TRIGGER refuse_message_read BEFORE INSERT ON audit_event WHEN NEW.action = 'message.read' \
             BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END",
            ],
            common::Backend::Postgres => vec![
                "CREATE FUNCTION refuse_message_read() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.action = 'message.read' THEN RAISE EXCEPTION 'audit store unavailable'; END IF; RETURN NEW; END $$",
                "CREATE TRIGGER refuse_message_read BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION refuse_message_read()",
            ],
        };
        for statement in statements {
            test.owner.execute_unprepared(statement).await.unwrap(); // triggers are the owner's
        }

        let result = services.messages.open_thread(&assigned, thread).await;

        assert!(matches!(result, Err(Error::Internal(_))), "{result:?}");
        assert!(!format!("{result:?}").contains("Secretive-Ibis"), "the error carried the body");
        assert_eq!(
            services.messages.inbox(&assigned).await.unwrap()[0].thread.unread,
            1,
            "marked read without an audit row"
        );
    }
);

on_both_backends!(a_thread_moved_to_another_patient_by_sql_shows_that_patient_nothing_of_it, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let first = clinic(&services, "M8").await;
    let second = clinic(&services, "M9").await;
    let (thread, _) = services
        .messages
        .start_thread(&first.own, first.patient, "Subject-Wandering-Heron", "Hello.", vec![])
        .await
        .unwrap();

    // An insider re-points the thread at the other patient, leaving its sealed subject as it was.
    message_thread::Entity::update_many()
        .col_expr(message_thread::Column::PatientId, sea_orm::sea_query::Expr::value(second.patient.0))
        .filter(message_thread::Column::Id.eq(thread))
        .exec(&test.db)
        .await
        .unwrap();
    let listed = services.messages.threads_for_patient(&second.own, second.patient).await;

    match listed {
        Err(Error::Internal(err)) => assert!(!format!("{err:#}").contains("Wandering")),
        Ok(threads) => {
            panic!("the other patient was shown {:?}", threads.iter().map(|t| &t.subject).collect::<Vec<_>>())
        }
        Err(other) => panic!("expected an integrity error, got {other:?}"),
    }
});
