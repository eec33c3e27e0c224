//! Scheduling on both backends: the database refuses double-booking under concurrency,
//! self-scheduling follows the clinic's switches, calendars hide patients from those who may
//! not see them, and reminders reach a real SMTP server, survive restarts and failures, and
//! carry no PHI.

#![allow(clippy::unwrap_used, clippy::panic)] // Test code: a failed step should stop the test where it failed.

mod common;

use std::sync::Arc;

use app::domain::Error;
use app::domain::audit::{AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::clock::Clock;
use app::domain::entities::{audit_event, job};
use app::domain::ids::PatientId;
use app::domain::scheduling::reminders::{Mailer, ReminderRunner, SmtpMailer, SmtpSettings};
use app::domain::scheduling::slots::WeeklyHours;
use app::domain::scheduling::{Booking, NewVisitType, SLOT_TAKEN, Status};
use app::domain::state::Services;
use app::domain::test_support::smtp_sink::SmtpSink;
use app::on_both_backends;
use chrono::{NaiveTime, TimeZone, Utc, Weekday};
use common::{TestDb, TestServices, patient_account, sample_patient, staff, system, user_of};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

struct Clinic {
    services: Services,
    clock: Arc<app::domain::clock::FixedClock>,
    keys: Arc<common::TestKeys>,
    clinician: AuditContext,
    admin: AuditContext,
    visit: uuid::Uuid,
}

/// A clinic in New York: one clinician working weekdays 09:00-12:00, 30-minute visits that
/// patients may book online without approval. The clock stands at Tuesday 2026-11-24 04:00
/// local time.
async fn clinic(test: &TestDb) -> Clinic {
    let (mut services, keys, clock) = test.services();
    services.schedule.zone = chrono_tz::America::New_York;
    let clinician = staff(&services, Role::Clinician, "Dr. Calendar").await;
    let admin = staff(&services, Role::Admin, "Front Desk").await;
    let hours: Vec<_> = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
        .into_iter()
        .map(|weekday| WeeklyHours {
            weekday,
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
        })
        .collect();
    services.schedule.set_weekly_hours(&admin, user_of(&clinician), &hours).await.unwrap();
    let new = NewVisitType {
        name: "Follow-up".into(),
        video: false,
        duration_minutes: 30,
        self_schedule: true,
        requires_approval: false,
    };
    let visit = services.schedule.create_visit_type(&admin, new).await.unwrap();
    Clinic { services, clock, keys, clinician, admin, visit }
}

/// Wednesday 2026-11-25 at `hour`:`minute` New York time, in UTC.
fn wednesday(hour: u32, minute: u32) -> chrono::DateTime<Utc> {
    chrono_tz::America::New_York.with_ymd_and_hms(2026, 11, 25, hour, minute, 0).unwrap().with_timezone(&Utc)
}

fn booking(clinic: &Clinic, patient: PatientId, at: chrono::DateTime<Utc>) -> Booking {
    Booking {
        patient,
        clinician: user_of(&clinic.clinician),
        visit_type: clinic.visit,
        starts_at: at,
        reason: "Persistent cough after a cold".into(),
    }
}

on_both_backends!(twenty_concurrent_bookings_of_one_slot_leave_exactly_one, |backend| async move {
    let test = TestDb::new(backend).await;
    let clinic = clinic(&test).await;
    let mut patients = Vec::new();
    for n in 0..20 {
        patients.push(clinic.services.patients.create(&system(), sample_patient(&format!("S{n}"))).await.unwrap());
    }

    let attempts = patients.iter().map(|patient| {
        let services = clinic.services.clone();
        let request = booking(&clinic, *patient, wednesday(10, 0));
        let admin = clinic.admin.clone();
        tokio::spawn(async move { services.schedule.book(&admin, request).await })
    });
    let results: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();

    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for result in results.iter().filter(|r| r.is_err()) {
        match result {
            Err(Error::Conflict(message)) => assert_eq!(message, SLOT_TAKEN),
            other => panic!("expected slot taken, got {other:?}"),
        }
    }
    let slots = clinic
        .services
        .schedule
        .open_slots(
            user_of(&clinic.clinician),
            clinic.visit,
            wednesday(0, 0).date_naive(),
            wednesday(0, 0).date_naive(),
        )
        .await
        .unwrap();
    assert!(slots.iter().all(|s| s.start != wednesday(10, 0)), "the taken slot is no longer offered");
    // An overlapping longer visit is refused by the same cells.
    let long = NewVisitType {
        name: "Long visit".into(),
        video: false,
        duration_minutes: 60,
        self_schedule: false,
        requires_approval: false,
    };
    let long = clinic.services.schedule.create_visit_type(&clinic.admin, long).await.unwrap();
    let overlapping = Booking { visit_type: long, ..booking(&clinic, patients[0], wednesday(10, 0)) };
    assert!(matches!(clinic.services.schedule.book(&clinic.admin, overlapping).await, Err(Error::Conflict(_))));
});

on_both_backends!(
    a_patient_books_online_only_when_the_clinic_allows_it_and_waits_for_approval_if_asked,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let clinic = clinic(&test).await;
        let patient = clinic.services.patients.create(&system(), sample_patient("P1")).await.unwrap();
        let own = patient_account(&clinic.services, patient).await;

        let (first, status) =
            clinic.services.schedule.book(&own, booking(&clinic, patient, wednesday(9, 0))).await.unwrap();
        assert_eq!(status, Status::Confirmed);

        clinic.services.schedule.set_self_scheduling(&clinic.admin, clinic.visit, true, true).await.unwrap();
        let (second, status) =
            clinic.services.schedule.book(&own, booking(&clinic, patient, wednesday(9, 30))).await.unwrap();
        assert_eq!(status, Status::Requested);
        assert!(matches!(clinic.services.schedule.approve(&own, second).await, Err(Error::Forbidden)));
        clinic.services.schedule.approve(&clinic.admin, second).await.unwrap();

        clinic.services.schedule.set_self_scheduling(&clinic.admin, clinic.visit, false, false).await.unwrap();
        let refused = clinic.services.schedule.book(&own, booking(&clinic, patient, wednesday(11, 0))).await;
        assert!(matches!(refused, Err(Error::Validation(_))), "{refused:?}");
        // Staff still book it for the patient.
        clinic.services.schedule.book(&clinic.admin, booking(&clinic, patient, wednesday(11, 0))).await.unwrap();
        // Outside the clinician's hours is not a slot.
        let evening = clinic.services.schedule.book(&clinic.admin, booking(&clinic, patient, wednesday(18, 0))).await;
        assert!(matches!(evening, Err(Error::Validation(_))), "{evening:?}");
        // Another patient cannot book for this one.
        let other = patient_account(
            &clinic.services,
            clinic.services.patients.create(&system(), sample_patient("P2")).await.unwrap(),
        )
        .await;
        assert!(matches!(
            clinic.services.schedule.book(&other, booking(&clinic, patient, wednesday(10, 30))).await,
            Err(Error::Forbidden)
        ));

        // Cancelling with a reason frees the time and drops the reminder.
        clinic.services.schedule.cancel(&own, first, "Feeling better").await.unwrap();
        let mine = clinic.services.schedule.for_patient(&own, patient).await.unwrap();
        let cancelled = mine.iter().find(|a| a.id == first).unwrap();
        assert_eq!(cancelled.status, Status::Cancelled);
        assert_eq!(cancelled.cancel_reason.as_deref(), Some("Feeling better"));
        assert_eq!(cancelled.reason, "Persistent cough after a cold");
        let day = wednesday(0, 0).date_naive();
        let open =
            clinic.services.schedule.open_slots(user_of(&clinic.clinician), clinic.visit, day, day).await.unwrap();
        assert!(open.iter().any(|s| s.start == wednesday(9, 0)));
        let pending_for_first = job::Entity::find()
            .filter(job::Column::SubjectId.eq(first))
            .filter(job::Column::Status.eq("pending"))
            .count(&test.db)
            .await
            .unwrap();
        assert_eq!(pending_for_first, 0);
    }
);

on_both_backends!(a_calendar_names_a_patient_only_to_a_clinician_allowed_to_see_them, |backend| async move {
    let test = TestDb::new(backend).await;
    let clinic = clinic(&test).await;
    let patient = clinic.services.patients.create(&system(), sample_patient("K1")).await.unwrap();
    clinic.services.care.start(&system(), patient, user_of(&clinic.clinician), CareKind::Assignment).await.unwrap();
    clinic.services.schedule.book(&clinic.admin, booking(&clinic, patient, wednesday(9, 0))).await.unwrap();
    let outsider = staff(&clinic.services, Role::Clinician, "Dr. Elsewhere").await;
    let whole_day = (wednesday(0, 0), wednesday(23, 59));
    let clinicians = [user_of(&clinic.clinician)];

    let own_view =
        clinic.services.schedule.calendar(&clinic.clinician, &clinicians, whole_day.0, whole_day.1).await.unwrap();
    let outsider_view =
        clinic.services.schedule.calendar(&outsider, &clinicians, whole_day.0, whole_day.1).await.unwrap();
    let admin_view =
        clinic.services.schedule.calendar(&clinic.admin, &clinicians, whole_day.0, whole_day.1).await.unwrap();

    assert_eq!(own_view[0].patient, Some((patient, "ZephyrineK1 QuillfeatherK1".to_owned())));
    for view in [&outsider_view, &admin_view] {
        assert_eq!(view.len(), 1);
        assert_eq!(view[0].patient, None, "busy, without the name");
        assert_eq!(view[0].span, own_view[0].span);
    }
    let patient_view = patient_account(&clinic.services, patient).await;
    assert!(matches!(
        clinic.services.schedule.calendar(&patient_view, &clinicians, whole_day.0, whole_day.1).await,
        Err(Error::Forbidden)
    ));
});

async fn runner(services: &Services, keys: &Arc<common::TestKeys>, sink: &SmtpSink) -> ReminderRunner {
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port,
        security: "none".into(),
        username: None,
        password: None,
        from: "Clinic <reminders@example.org>".into(),
    };
    let mailer: Arc<dyn Mailer> = Arc::new(SmtpMailer::new(&settings).unwrap());
    let _ = keys;
    ReminderRunner::new(
        services.db.clone(),
        services.keys.clone(),
        services.audit.clone(),
        services.clock.clone(),
        mailer,
        "Maple Street Clinic".into(),
        "https://clinic.example.org/sign-in".into(),
    )
}

on_both_backends!(a_reminder_reaches_a_real_smtp_server_saying_only_that_a_visit_exists, |backend| async move {
    let test = TestDb::new(backend).await;
    let clinic = clinic(&test).await;
    let sink = SmtpSink::start().await.unwrap();
    let patient = clinic.services.patients.create(&system(), sample_patient("M1")).await.unwrap();
    clinic.services.schedule.book(&clinic.admin, booking(&clinic, patient, wednesday(9, 0))).await.unwrap();
    let runner = runner(&clinic.services, &clinic.keys, &sink).await;

    assert_eq!(runner.run_due().await.unwrap(), 0, "not due yet: 24 hours before the visit");
    clinic.clock.advance(chrono::Duration::hours(10));
    assert_eq!(runner.run_due().await.unwrap(), 1);
    assert_eq!(runner.run_due().await.unwrap(), 0, "sent once");

    let messages = sink.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, ["zephyrine.m1@example.org"]);
    // What a reader of the inbox sees: the subject and the body (the Date header is the send
    // time, not the visit's).
    let (headers, body) = messages[0].data.split_once("\n\n").unwrap();
    let subject = headers.lines().find(|l| l.starts_with("Subject:")).unwrap();
    let text = format!("{subject}\n{body}");
    assert!(text.contains("upcoming visit"), "{text}");
    assert!(text.contains("https://clinic.example.org/sign-in"));
    for phi in
        ["Zephyrine", "Quillfeather", "cough", "Calendar", "1971", "555", "MRN-M1", "09:00", "9:00", "Wednesday", "Nov"]
    {
        assert!(!text.contains(phi), "the reminder mentions {phi}");
    }
    let sends = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("reminder.send"))
        .all(&test.db)
        .await
        .unwrap();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].patient_id, Some(patient.0));
});

on_both_backends!(a_reminder_due_while_the_server_was_stopped_is_sent_after_restart, |backend| async move {
    let test = TestDb::new(backend).await;
    let clinic = clinic(&test).await;
    let sink = SmtpSink::start().await.unwrap();
    let patient = clinic.services.patients.create(&system(), sample_patient("M2")).await.unwrap();
    clinic.services.schedule.book(&clinic.admin, booking(&clinic, patient, wednesday(9, 0))).await.unwrap();

    // The process is gone for a day; the visit is now six hours away. A new process with its
    // own services finds the job in the database.
    clinic.clock.advance(chrono::Duration::hours(18));
    let restarted = Services::new(test.db.clone(), clinic.keys.clone(), clinic.clock.clone() as Arc<dyn Clock>);
    let runner = runner(&restarted, &clinic.keys, &sink).await;

    assert_eq!(runner.run_due().await.unwrap(), 1);
    assert_eq!(sink.messages().await.len(), 1);
});

on_both_backends!(a_failed_send_is_retried_with_backoff_and_never_lost, |backend| async move {
    let test = TestDb::new(backend).await;
    let clinic = clinic(&test).await;
    let sink = SmtpSink::start().await.unwrap();
    let patient = clinic.services.patients.create(&system(), sample_patient("M3")).await.unwrap();
    clinic.services.schedule.book(&clinic.admin, booking(&clinic, patient, wednesday(9, 0))).await.unwrap();
    let runner = runner(&clinic.services, &clinic.keys, &sink).await;
    clinic.clock.advance(chrono::Duration::hours(10));

    sink.refuse(true);
    assert_eq!(runner.run_due().await.unwrap(), 0);
    let pending = job::Entity::find().filter(job::Column::Status.eq("pending")).one(&test.db).await.unwrap().unwrap();
    assert_eq!(pending.last_error.as_deref(), Some("smtp-transient"));
    assert!(pending.run_at > clinic.clock.now(), "retried later, not at once");
    assert_eq!(runner.run_due().await.unwrap(), 0, "not before the backoff");

    sink.refuse(false);
    clinic.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(runner.run_due().await.unwrap(), 1);
    assert_eq!(sink.messages().await.len(), 1);
    let outcomes: Vec<_> = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("reminder.send"))
        .all(&test.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.outcome, row.rule.unwrap_or_default()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("allowed".to_owned(), "appointment-reminder".to_owned()),
            ("error".to_owned(), "smtp-transient".to_owned()),
            ("allowed".to_owned(), "appointment-reminder".to_owned())
        ]
    );
});

on_both_backends!(two_nodes_running_reminders_at_once_send_each_one_once, |backend| async move {
    let test = TestDb::new(backend).await;
    let clinic = clinic(&test).await;
    let sink = SmtpSink::start().await.unwrap();
    for (n, hour) in [(0, 9), (1, 10), (2, 11)] {
        let patient = clinic.services.patients.create(&system(), sample_patient(&format!("T{n}"))).await.unwrap();
        clinic.services.schedule.book(&clinic.admin, booking(&clinic, patient, wednesday(hour, 0))).await.unwrap();
        clinic.services.schedule.book(&clinic.admin, booking(&clinic, patient, wednesday(hour, 30))).await.unwrap();
    }
    clinic.clock.advance(chrono::Duration::hours(10));
    let first = runner(&clinic.services, &clinic.keys, &sink).await;
    let second_node = Services::new(test.db.clone(), clinic.keys.clone(), clinic.clock.clone() as Arc<dyn Clock>);
    let second = runner(&second_node, &clinic.keys, &sink).await;

    let (a, b) = tokio::join!(first.run_due(), second.run_due());

    assert_eq!(a.unwrap() + b.unwrap(), 6);
    assert_eq!(sink.messages().await.len(), 6);
});

on_both_backends!(rescheduling_moves_the_visit_frees_the_old_time_and_refuses_a_taken_one, |backend| async move {
    let test = TestDb::new(backend).await;
    let clinic = clinic(&test).await;
    let first = clinic.services.patients.create(&system(), sample_patient("V1")).await.unwrap();
    let second = clinic.services.patients.create(&system(), sample_patient("V2")).await.unwrap();
    let own = patient_account(&clinic.services, first).await;
    let (visit, _) = clinic.services.schedule.book(&own, booking(&clinic, first, wednesday(9, 0))).await.unwrap();
    clinic.services.schedule.book(&clinic.admin, booking(&clinic, second, wednesday(10, 0))).await.unwrap();

    let onto_taken = clinic.services.schedule.reschedule(&own, visit, wednesday(10, 0)).await;
    assert!(matches!(onto_taken, Err(Error::Conflict(_))), "{onto_taken:?}");
    clinic.services.schedule.reschedule(&own, visit, wednesday(11, 0)).await.unwrap();

    let mine = clinic.services.schedule.for_patient(&own, first).await.unwrap();
    assert_eq!(mine[0].span.start, wednesday(11, 0));
    let day = wednesday(0, 0).date_naive();
    let open = clinic.services.schedule.open_slots(user_of(&clinic.clinician), clinic.visit, day, day).await.unwrap();
    assert!(open.iter().any(|s| s.start == wednesday(9, 0)), "the old time is free again");
    assert!(open.iter().all(|s| s.start != wednesday(11, 0)));
    // The reminder follows the visit: one pending job, due 24 hours before the new time.
    let jobs = job::Entity::find()
        .filter(job::Column::SubjectId.eq(visit))
        .filter(job::Column::Status.eq("pending"))
        .all(&test.db)
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].run_at, wednesday(11, 0) - chrono::Duration::hours(24));
});
