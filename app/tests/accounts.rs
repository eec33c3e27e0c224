//! Separation of duties for accounts, on both backends, tried as an insider admin would: no
//! enrollment link ever comes back to the admin; privileged invitations and every re-enrollment
//! wait for a second person; nobody approves their own request; an admin cannot point an
//! account they made at a patient; every request, approval and refusal is audited.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use std::sync::Arc;

use app::domain::Error;
use app::domain::accounts::{ChangeOutcome, LinkDelivery};
use app::domain::audit::{AuditContext, Role};
use app::domain::care::CareKind;
use app::domain::entities::{audit_event, enrollment, passkey};
use app::domain::ids::UserId;
use app::domain::scheduling::reminders::{Mailer, SmtpMailer, SmtpSettings};
use app::domain::state::Services;
use app::domain::test_support::smtp_sink::SmtpSink;
use app::domain::users::{NewPasskey, NewUser, UserStatus};
use app::on_both_backends;
use chrono::Duration;
use common::{TestDb, TestServices, sample_patient, staff, system};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

fn clinician(name: &str) -> NewUser {
    NewUser { role: Role::Clinician, display_name: name.to_owned(), patient_id: None }
}

fn passkey_for(n: u8) -> NewPasskey {
    NewPasskey { credential_id: vec![n; 16], passkey: "{}".to_owned(), name: format!("device {n}") }
}

fn anonymous() -> AuditContext {
    let mut ctx = common::ctx(Role::Anonymous, None);
    ctx.actor.user_id = None;
    ctx
}

/// An account of `role` that has enrolled a passkey, and its request context.
async fn enrolled(services: &Services, role: Role, name: &str, n: u8) -> AuditContext {
    let new = NewUser { role, display_name: name.to_owned(), patient_id: None };
    let invitation = services.users.invite(&system(), new, Duration::hours(1)).await.unwrap();
    services.users.enroll(&anonymous(), invitation.token.expose(), passkey_for(n)).await.unwrap();
    AuditContext {
        actor: app::domain::audit::Actor { user_id: Some(invitation.user_id), role, patient_id: None },
        ..common::ctx(role, None)
    }
}

fn id(ctx: &AuditContext) -> UserId {
    ctx.actor.user_id.unwrap()
}

async fn links(db: &DatabaseConnection, user: UserId) -> u64 {
    enrollment::Entity::find().filter(enrollment::Column::UserId.eq(user.0)).count(db).await.unwrap()
}

async fn passkeys(db: &DatabaseConnection, user: UserId) -> u64 {
    passkey::Entity::find().filter(passkey::Column::UserId.eq(user.0)).count(db).await.unwrap()
}

/// (action, outcome, rule) of every audit row `actor` wrote after enrolling, oldest first.
async fn rows_by(db: &DatabaseConnection, actor: UserId) -> Vec<(String, String, String)> {
    audit_event::Entity::find()
        .filter(audit_event::Column::ActorUserId.eq(actor.0))
        .filter(audit_event::Column::Action.ne("user.enroll"))
        .order_by_asc(audit_event::Column::Seq)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.action, row.outcome, row.rule.unwrap_or_default()))
        .collect()
}

fn request_of(outcome: ChangeOutcome) -> uuid::Uuid {
    match outcome {
        ChangeOutcome::AwaitingApproval(request) => request,
        other => panic!("expected a pending request, got {other:?}"),
    }
}

on_both_backends!(an_invited_clinician_gets_no_link_until_the_security_officer_approves, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let admin = enrolled(&services, Role::Admin, "Ada Admin", 1).await;
    let other_admin = enrolled(&services, Role::Admin, "Otto Admin", 2).await;
    let officer = enrolled(&services, Role::SecurityOfficer, "Sam Officer", 3).await;

    let (invitee, outcome) =
        services.accounts.invite(&admin, clinician("Dr Pending"), Some("dr.pending@clinic.test")).await.unwrap();
    let request = request_of(outcome);

    // No link exists at all yet: nothing for the admin or anyone to use.
    assert_eq!(links(&test.db, invitee).await, 0);
    let early = services.users.operator_link(&system(), invitee, Duration::hours(1)).await;
    assert!(matches!(early, Err(Error::Conflict(_))), "{early:?}");
    // The requester cannot approve their own request, nor can another admin.
    assert!(matches!(services.accounts.decide(&admin, request, true).await, Err(Error::Forbidden)));
    assert!(matches!(services.accounts.decide(&other_admin, request, true).await, Err(Error::Forbidden)));
    assert_eq!(links(&test.db, invitee).await, 0);
    // Nor can it be assigned to a patient in the meantime.
    let patient = services.patients.create(&system(), sample_patient("PEND")).await.unwrap();
    let early_assign = services.care.start(&other_admin, patient, invitee, CareKind::Assignment).await;
    assert!(matches!(early_assign, Err(Error::Validation(_))), "{early_assign:?}");

    services.accounts.decide(&officer, request, true).await.unwrap();

    // Approved: a link exists, which only the operator on the host (no mail relay here) prints.
    assert_eq!(links(&test.db, invitee).await, 1);
    let printed = services.users.operator_link(&system(), invitee, Duration::hours(1)).await.unwrap();
    let user = services.users.enroll(&anonymous(), printed.token.expose(), passkey_for(4)).await.unwrap();
    assert_eq!(user, invitee);
    assert_eq!(services.users.get(invitee).await.unwrap().status, UserStatus::Active);

    let by_admin = rows_by(&test.db, id(&admin)).await;
    assert_eq!(by_admin[0].0, "user.invite");
    assert_eq!(by_admin[0].1, "allowed");
    assert!(by_admin[0].2.starts_with("admin-manages-accounts:awaiting-approval:"), "{by_admin:?}");
    assert_eq!(by_admin[1], ("account_request.decide".into(), "denied".into(), "own-request".into()));
    assert_eq!(
        rows_by(&test.db, id(&other_admin)).await,
        [("account_request.decide".to_owned(), "denied".to_owned(), "the-security-officer-approves".to_owned())]
    );
    let by_officer = rows_by(&test.db, id(&officer)).await;
    assert_eq!(
        by_officer,
        [
            (
                "account_request.decide".to_owned(),
                "allowed".to_owned(),
                "security-officer-approves:approved".to_owned()
            ),
            ("user.invite".to_owned(), "allowed".to_owned(), format!("two-person-rule:approved:{request}")),
        ]
    );
    let operator: Vec<_> = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.enrollment_link"))
        .order_by_asc(audit_event::Column::Seq)
        .all(&test.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.actor_role, row.outcome, row.rule.unwrap_or_default()))
        .collect();
    let expected: Vec<(String, String, String)> =
        [("system", "denied", "awaiting-approval"), ("system", "allowed", "system-maintenance:printed-on-host")]
            .into_iter()
            .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
            .collect();
    assert_eq!(operator, expected);
});

on_both_backends!(
    re_enrolling_a_clinician_a_patient_or_the_security_officer_waits_for_approval,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let (services, _, _) = test.services();
        let admin = enrolled(&services, Role::Admin, "Ada Admin", 1).await;
        let other_admin = enrolled(&services, Role::Admin, "Otto Admin", 2).await;
        let officer = enrolled(&services, Role::SecurityOfficer, "Sam Officer", 3).await;
        let doctor = enrolled(&services, Role::Clinician, "Dr Kept", 4).await;
        let record = services.patients.create(&system(), sample_patient("RE")).await.unwrap();
        let new = NewUser { role: Role::Patient, display_name: "Zephyrine RE".into(), patient_id: Some(record) };
        let invitation = services.users.invite(&system(), new, Duration::hours(1)).await.unwrap();
        let patient = services.users.enroll(&anonymous(), invitation.token.expose(), passkey_for(5)).await.unwrap();

        let for_doctor = request_of(services.accounts.reenroll(&admin, id(&doctor)).await.unwrap());
        let for_patient = request_of(services.accounts.reenroll(&admin, patient).await.unwrap());
        let for_officer = request_of(services.accounts.reenroll(&admin, id(&officer)).await.unwrap());

        // Nothing happened yet: every passkey still works, no new link exists.
        for (user, before) in [(id(&doctor), 1), (patient, 1), (id(&officer), 1)] {
            assert_eq!(passkeys(&test.db, user).await, 1);
            assert_eq!(services.users.get(user).await.unwrap().status, UserStatus::Active);
            assert_eq!(links(&test.db, user).await, before, "only the first, used link");
        }
        // A second request for the same account waits behind the first.
        assert!(matches!(services.accounts.reenroll(&other_admin, id(&doctor)).await, Err(Error::Conflict(_))));
        // The security officer may not approve a change to their own account; another admin may.
        assert!(matches!(services.accounts.decide(&officer, for_officer, true).await, Err(Error::Forbidden)));
        assert!(matches!(services.accounts.decide(&admin, for_officer, true).await, Err(Error::Forbidden)));
        services.accounts.decide(&other_admin, for_officer, true).await.unwrap();
        assert_eq!(passkeys(&test.db, id(&officer)).await, 0);
        assert_eq!(services.users.get(id(&officer)).await.unwrap().status, UserStatus::Invited);
        // The patient's re-enrollment is the security officer's to approve; the clinician's is refused.
        let officer_again = enrolled(&services, Role::SecurityOfficer, "Sol Officer", 6).await;
        assert!(matches!(services.accounts.decide(&other_admin, for_patient, true).await, Err(Error::Forbidden)));
        services.accounts.decide(&officer_again, for_patient, true).await.unwrap();
        assert_eq!(passkeys(&test.db, patient).await, 0);
        services.accounts.decide(&officer_again, for_doctor, false).await.unwrap();
        assert_eq!(passkeys(&test.db, id(&doctor)).await, 1);
        assert_eq!(services.users.get(id(&doctor)).await.unwrap().status, UserStatus::Active);
        // A decided request cannot be decided again.
        assert!(matches!(services.accounts.decide(&officer_again, for_doctor, true).await, Err(Error::NotFound)));

        let decisions: Vec<(String, String)> = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("account_request.decide"))
            .order_by_asc(audit_event::Column::Seq)
            .all(&test.db)
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.outcome, row.rule.unwrap_or_default()))
            .collect();
        let expected: Vec<(String, String)> = [
            ("denied", "own-account"),
            ("denied", "own-request"),
            ("allowed", "admin-approves-security-officer-change:approved"),
            ("denied", "the-security-officer-approves"),
            ("allowed", "security-officer-approves:approved"),
            ("allowed", "security-officer-approves:refused"),
            ("error", "not-found"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        assert_eq!(decisions, expected);
        let requests = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("user.reenroll"))
            .filter(audit_event::Column::ActorUserId.eq(id(&admin).0))
            .count(&test.db)
            .await
            .unwrap();
        assert_eq!(requests, 3);
        let patient_row = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("user.reenroll"))
            .filter(audit_event::Column::ResourceId.eq(patient.to_string()))
            .one(&test.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(patient_row.patient_id, Some(record.0), "the patient's own history shows the request");
    }
);

on_both_backends!(an_admin_cannot_assign_a_clinician_account_they_created, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let admin = enrolled(&services, Role::Admin, "Ada Admin", 1).await;
    let other_admin = enrolled(&services, Role::Admin, "Otto Admin", 2).await;
    let officer = enrolled(&services, Role::SecurityOfficer, "Sam Officer", 3).await;
    let (made, outcome) =
        services.accounts.invite(&admin, clinician("Dr Made"), Some("dr.made@clinic.test")).await.unwrap();
    services.accounts.decide(&officer, request_of(outcome), true).await.unwrap();
    let patient = services.patients.create(&system(), sample_patient("ASG")).await.unwrap();

    for kind in [CareKind::Assignment, CareKind::CareTeam] {
        let refused = services.care.start(&admin, patient, made, kind).await;
        assert!(matches!(refused, Err(Error::Forbidden)), "{kind:?}: {refused:?}");
    }
    let denied: Vec<_> = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("care.assign"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .all(&test.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.rule.unwrap_or_default(), row.patient_id, row.resource_id))
        .collect();
    let expected = (Some(patient.0), Some(made.to_string()));
    assert_eq!(
        denied,
        vec![
            ("assigner-created-the-account".to_owned(), expected.0, expected.1.clone()),
            ("assigner-created-the-account".to_owned(), expected.0, expected.1)
        ]
    );
    // Another admin may.
    services.care.start(&other_admin, patient, made, CareKind::Assignment).await.unwrap();
});

on_both_backends!(with_the_two_person_rule_off_changes_take_effect_and_wait_for_review, |backend| async move {
    let test = TestDb::new(backend).await;
    let (mut services, _, _) = test.services();
    services.accounts.two_person_rule = false;
    let admin = enrolled(&services, Role::Admin, "Solo Admin", 1).await;
    let officer = enrolled(&services, Role::SecurityOfficer, "Sam Officer", 2).await;

    let (made, outcome) =
        services.accounts.invite(&admin, clinician("Dr Quick"), Some("dr.quick@clinic.test")).await.unwrap();
    assert_eq!(outcome, ChangeOutcome::Done(LinkDelivery::OnHost));
    assert_eq!(links(&test.db, made).await, 1);

    let queue = services.accounts.queue(&officer).await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!((queue[0].user_id, queue[0].status.as_str(), queue[0].decidable), (made, "applied", true));
    assert!(!services.accounts.queue(&admin).await.unwrap()[0].decidable, "not the admin's own request");
    // The officer objects: the account is disabled after the fact.
    services.accounts.decide(&officer, queue[0].id, false).await.unwrap();
    assert_eq!(services.users.get(made).await.unwrap().status, UserStatus::Disabled);
    assert!(services.accounts.queue(&officer).await.unwrap().is_empty());
});

fn mailer(sink: &SmtpSink) -> Arc<dyn Mailer> {
    let settings = SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port,
        security: "none".into(),
        username: None,
        password: None,
        from: "Clinic <no-reply@clinic.test>".into(),
    };
    Arc::new(SmtpMailer::new(&settings).unwrap())
}

on_both_backends!(enrollment_links_are_emailed_to_the_invitee_and_say_nothing_clinical, |backend| async move {
    let test = TestDb::new(backend).await;
    let (mut services, _, _) = test.services();
    let sink = SmtpSink::start().await.unwrap();
    services.accounts.mailer = Some(mailer(&sink));
    let admin = enrolled(&services, Role::Admin, "Ada Admin", 1).await;
    let officer = enrolled(&services, Role::SecurityOfficer, "Sam Officer", 2).await;

    // A patient's link goes to the address on their record, whatever the admin would like.
    let record = services.patients.create(&system(), sample_patient("MAIL")).await.unwrap();
    let patient = NewUser { role: Role::Patient, display_name: "Zephyrine MAIL".into(), patient_id: Some(record) };
    let elsewhere = services.accounts.invite(&admin, patient.clone(), Some("admin@clinic.test")).await;
    assert!(matches!(elsewhere, Err(Error::Validation(_))), "{elsewhere:?}");
    let (_, outcome) = services.accounts.invite(&admin, patient, None).await.unwrap();
    assert_eq!(outcome, ChangeOutcome::Done(LinkDelivery::Emailed));
    // A clinician's goes to the address entered, once approved.
    let (doctor, outcome) =
        services.accounts.invite(&admin, clinician("Dr Mailed"), Some("dr.mailed@clinic.test")).await.unwrap();
    assert_eq!(sink.messages().await.len(), 1, "nothing is sent before approval");
    services.accounts.decide(&officer, request_of(outcome), true).await.unwrap();

    let messages = sink.messages().await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].to, ["zephyrine.mail@example.org"]);
    assert_eq!(messages[1].to, ["dr.mailed@clinic.test"]);
    for message in &messages {
        let link = message.data.lines().find(|l| l.starts_with("http://localhost:3000/enroll#")).unwrap();
        let token = link.trim_start_matches("http://localhost:3000/enroll#");
        assert!(services.users.enrollment_user(&anonymous(), token).await.is_ok());
        for word in ["Zephyrine", "Quillfeather", "MRN-MAIL", "Dr Mailed", "clinician", "patient"] {
            assert!(!message.data.contains(word), "the email carries {word}");
        }
    }
    let doctor_token = messages[1].data.lines().find_map(|l| l.strip_prefix("http://localhost:3000/enroll#")).unwrap();
    assert_eq!(services.users.enrollment_user(&anonymous(), doctor_token).await.unwrap().id, doctor);
    // The address is sealed at rest.
    let dump = common::database_dump(&test).await;
    assert!(!dump.contains("dr.mailed@clinic.test"));
    let sent = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.enrollment_link"))
        .filter(audit_event::Column::Rule.eq("emailed-to-invitee"))
        .count(&test.db)
        .await
        .unwrap();
    assert_eq!(sent, 2);
});

on_both_backends!(the_account_list_shows_a_patient_account_by_mrn_and_never_by_name, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let admin = staff(&services, Role::Admin, "Ada Admin").await;
    let record = services.patients.create(&system(), sample_patient("LIST")).await.unwrap();
    let new = NewUser { role: Role::Patient, display_name: "Zephyrine LIST".into(), patient_id: Some(record) };
    let patient = services.users.invite(&system(), new, Duration::hours(1)).await.unwrap().user_id;

    let listed = services.users.list(&admin).await.unwrap();

    let row = listed.iter().find(|a| a.id == patient).unwrap();
    assert_eq!((row.name.as_deref(), row.mrn.as_deref(), row.role), (None, Some("MRN-LIST"), Role::Patient));
    let staff_row = listed.iter().find(|a| a.id == id(&admin)).unwrap();
    assert_eq!((staff_row.name.as_deref(), staff_row.mrn.as_deref()), (Some("Ada Admin"), None));
    assert!(!format!("{listed:?}").contains("Zephyrine"));
});

on_both_backends!(a_search_needs_an_mrn_or_a_name_with_a_second_identifier, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let doctor = staff(&services, Role::Clinician, "Dr Finder").await;
    let target = sample_patient("SRCH");
    services.patients.create(&system(), target.clone()).await.unwrap();
    use app::domain::patients::SearchCriteria;
    let name = SearchCriteria {
        given_name: Some(target.given_name.clone()),
        family_name: Some(target.family_name.clone()),
        ..Default::default()
    };
    let refused = [
        SearchCriteria { birth_date: Some(target.birth_date), ..Default::default() },
        SearchCriteria { phone: target.phone.clone(), ..Default::default() },
        SearchCriteria { birth_date: Some(target.birth_date), phone: target.phone.clone(), ..Default::default() },
        name.clone(),
    ];
    for criteria in refused {
        match services.patients.search(&doctor, &criteria).await {
            Err(Error::Validation(fields)) => assert_eq!(fields[0].field, "search", "{criteria:?}"),
            other => panic!("{criteria:?}: {other:?}"),
        }
    }
    let allowed = [
        SearchCriteria { birth_date: Some(target.birth_date), ..name.clone() },
        SearchCriteria { phone: target.phone.clone(), ..name.clone() },
        SearchCriteria { mrn: Some(target.mrn.clone()), ..Default::default() },
    ];
    for criteria in allowed {
        assert_eq!(services.patients.search(&doctor, &criteria).await.unwrap().len(), 1, "{criteria:?}");
    }
});

on_both_backends!(a_clinicians_searches_are_limited_per_window_and_the_refusal_is_audited, |backend| async move {
    let test = TestDb::new(backend).await;
    let (mut services, _, clock) = test.services();
    services.patients.search_budget.max = 3;
    let doctor = staff(&services, Role::Clinician, "Dr Busy").await;
    let colleague = staff(&services, Role::Clinician, "Dr Idle").await;
    let by_mrn = common::by_mrn("MRN-NOBODY");
    for _ in 0..3 {
        services.patients.search(&doctor, &by_mrn).await.unwrap();
    }

    let fourth = services.patients.search(&doctor, &by_mrn).await;

    assert!(matches!(fourth, Err(Error::TooManyRequests)), "{fourth:?}");
    services.patients.search(&colleague, &by_mrn).await.unwrap();
    let refusals = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("patient.search"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .all(&test.db)
        .await
        .unwrap();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].rule.as_deref(), Some("rate-limited-search"));
    assert_eq!(refusals[0].actor_user_id, Some(id(&doctor).0));
    // The window passes; the budget is back.
    clock.advance(Duration::minutes(16));
    services.patients.search(&doctor, &by_mrn).await.unwrap();
});
