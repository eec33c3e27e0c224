//! The sign-in, privilege-change and break-glass detectors on both backends: each planted
//! situation (real domain calls, or the audit rows a real occurrence writes) raises exactly the
//! expected alert, with its actor, patients, window and triggering rows, once; below the
//! threshold nothing is raised, and a scan over the same rows again raises nothing new.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::domain::audit::{Action, Actor, AuditContext, AuditEntry, Outcome, Purpose, Role};
use app::domain::care::CareKind;
use app::domain::entities::{audit_event, security_alert, security_alert_event, security_alert_patient};
use app::domain::ids::{PatientId, UserId};
use app::domain::monitoring;
use app::domain::monitoring::rules::{
    Rule, RuleSettings, Scan, break_glass_frequent, break_glass_unreviewed, privilege_change, sign_in_failures_account,
    sign_in_failures_address, sign_in_spray,
};
use app::domain::test_support::plant_auth::{self, append_at};
use app::domain::users::{NewPasskey, NewUser};
use app::on_both_backends;
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{TestDb, TestServices, sample_patient, system};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

async fn max_seq(db: &DatabaseConnection) -> i64 {
    audit_event::Entity::find()
        .select_only()
        .column_as(audit_event::Column::Seq.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await
        .unwrap()
        .flatten()
        .unwrap_or(0)
}

/// Runs `rule` over the rows `(after, up_to]` at `now` and raises what it finds; how many
/// alerts were new.
async fn run(
    db: &DatabaseConnection,
    rule: &dyn Rule,
    settings: RuleSettings,
    after: i64,
    up_to: i64,
    now: DateTime<Utc>,
) -> usize {
    let scan = Scan { after_seq: after, up_to_seq: up_to, now, settings };
    let found = rule.scan(db, &scan).await.unwrap();
    let txn = db.begin().await.unwrap();
    let mut raised = 0;
    for alert in found {
        assert_eq!(alert.rule, rule.name());
        if monitoring::raise(&txn, alert, now).await.unwrap().is_some() {
            raised += 1;
        }
    }
    txn.commit().await.unwrap();
    raised
}

/// Everything a rule can be asked about: all rows so far, an hour after `t0`.
async fn run_all(db: &DatabaseConnection, rule: &dyn Rule, settings: RuleSettings, now: DateTime<Utc>) -> usize {
    run(db, rule, settings, 0, max_seq(db).await, now).await
}

#[derive(Debug, PartialEq, Eq)]
struct Seen {
    actor: Option<Uuid>,
    severity: String,
    observed: Option<i64>,
    seqs: Vec<i64>,
    patients: Vec<Uuid>,
    subject: Option<Uuid>,
}

/// The alerts of `kind`, oldest first, with the rows and patients behind them.
async fn alerts(db: &DatabaseConnection, kind: &str) -> Vec<Seen> {
    let rows = security_alert::Entity::find()
        .filter(security_alert::Column::Kind.eq(kind))
        .order_by_asc(security_alert::Column::WindowEnd)
        .all(db)
        .await
        .unwrap();
    let mut out = Vec::new();
    for row in rows {
        let seqs = security_alert_event::Entity::find()
            .filter(security_alert_event::Column::AlertId.eq(row.id))
            .order_by_asc(security_alert_event::Column::Seq)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.seq)
            .collect();
        let patients = security_alert_patient::Entity::find()
            .filter(security_alert_patient::Column::AlertId.eq(row.id))
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.patient_id)
            .collect();
        out.push(Seen {
            actor: row.user_id,
            severity: row.severity,
            observed: row.observed,
            seqs,
            patients,
            subject: row.subject_id,
        });
    }
    out
}

fn seen(actor: Option<UserId>, severity: &str, observed: Option<i64>, seqs: &[i64]) -> Seen {
    Seen {
        actor: actor.map(|a| a.0),
        severity: severity.to_owned(),
        observed,
        seqs: seqs.to_vec(),
        patients: Vec::new(),
        subject: None,
    }
}

on_both_backends!(five_failed_sign_ins_for_one_account_raise_one_alert_naming_it, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let account = UserId::new();
    let planted = plant_auth::plant_sign_in_failures_account(db, &services.audit, t0(), account).await.unwrap();
    let now = t0() + Duration::hours(1);
    let rule = sign_in_failures_account::SignInFailuresAccount;
    let settings = sign_in_failures_account::default_settings;

    // Four failures are below the threshold; the fifth, seen by the next run, completes it.
    assert_eq!(run(db, &rule, settings(), 0, planted.seqs[3], now).await, 0);
    assert_eq!(run(db, &rule, settings(), planted.seqs[3], planted.seqs[4], now).await, 1);
    // The same rows again, in one run or split: nothing new.
    assert_eq!(run_all(db, &rule, settings(), now).await, 0);
    assert_eq!(run(db, &rule, settings(), planted.seqs[4], planted.seqs[4], now).await, 0);

    assert_eq!(planted.rule, "sign-in-failures-account");
    assert_eq!(alerts(db, "sign-in-failures-account").await, [seen(Some(account), "medium", Some(5), &planted.seqs)]);
    // Five addresses, one failure each: no address rule fires, and one account is no spray.
    let address = sign_in_failures_address::SignInFailuresAddress;
    assert_eq!(run_all(db, &address, sign_in_failures_address::default_settings(), now).await, 0);
    assert_eq!(run_all(db, &sign_in_spray::SignInSpray, sign_in_spray::default_settings(), now).await, 0);
});

on_both_backends!(five_failed_sign_ins_from_one_address_raise_one_alert_with_no_actor, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let planted = plant_auth::plant_sign_in_failures_address(db, &services.audit, t0(), "203.0.113.7").await.unwrap();
    // Four failures from another address, and the fifth outside the window: nothing.
    let other = AuditContext { ip: Some("203.0.113.8".to_owned()), ..anonymous() };
    for minute in [0, 1, 2, 3, 20] {
        append_at(db, &services.audit, &other, failed(None), t0() + Duration::minutes(minute)).await.unwrap();
    }
    let now = t0() + Duration::hours(1);
    let rule = sign_in_failures_address::SignInFailuresAddress;

    assert_eq!(run_all(db, &rule, sign_in_failures_address::default_settings(), now).await, 1);
    assert_eq!(run_all(db, &rule, sign_in_failures_address::default_settings(), now).await, 0);

    assert_eq!(alerts(db, "sign-in-failures-address").await, [seen(None, "medium", Some(5), &planted.seqs)]);
    let account = sign_in_failures_account::SignInFailuresAccount;
    assert_eq!(run_all(db, &account, sign_in_failures_account::default_settings(), now).await, 0);
});

on_both_backends!(a_summary_of_suppressed_refusals_counts_for_the_calls_it_stands_for, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let ctx = AuditContext { ip: Some("203.0.113.9".to_owned()), ..anonymous() };
    let first = append_at(db, &services.audit, &ctx, failed(None), t0()).await.unwrap();
    let summary = AuditEntry {
        action: Action::AuthSignIn,
        resource_type: "anonymous_calls",
        resource_id: Some("4".to_owned()),
        patient_id: None,
        outcome: Outcome::Denied,
        rule: Some("unknown-credential".to_owned()),
    };
    let second = append_at(db, &services.audit, &ctx, summary, t0() + Duration::minutes(2)).await.unwrap();
    let rule = sign_in_failures_address::SignInFailuresAddress;

    assert_eq!(run_all(db, &rule, sign_in_failures_address::default_settings(), t0() + Duration::hours(1)).await, 1);

    assert_eq!(alerts(db, "sign-in-failures-address").await, [seen(None, "medium", Some(5), &[first, second])]);
});

on_both_backends!(a_spray_over_ten_accounts_from_one_address_is_critical, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let planted = plant_auth::plant_sign_in_spray(db, &services.audit, t0(), "203.0.113.50").await.unwrap();
    let now = t0() + Duration::hours(1);
    let spray = sign_in_spray::SignInSpray;

    // Nine accounts are not a spray.
    assert_eq!(run(db, &spray, sign_in_spray::default_settings(), 0, planted.seqs[8], now).await, 0);
    assert_eq!(run_all(db, &spray, sign_in_spray::default_settings(), now).await, 1);
    assert_eq!(run_all(db, &spray, sign_in_spray::default_settings(), now).await, 0);

    assert_eq!(alerts(db, "sign-in-spray").await, [seen(None, "critical", Some(10), &planted.seqs)]);
    // Ten failures from one address are also that address's burst (the first five complete it);
    // no account failed more than once.
    let address = sign_in_failures_address::SignInFailuresAddress;
    assert_eq!(run_all(db, &address, sign_in_failures_address::default_settings(), now).await, 1);
    assert_eq!(alerts(db, "sign-in-failures-address").await, [seen(None, "medium", Some(5), &planted.seqs[..5])]);
    let account = sign_in_failures_account::SignInFailuresAccount;
    assert_eq!(run_all(db, &account, sign_in_failures_account::default_settings(), now).await, 0);
});

on_both_backends!(a_sustained_attack_raises_one_alert_per_window_and_escalates_once, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let account = UserId::new();
    let mut seqs = Vec::new();
    for minute in 0..25 {
        let ctx = AuditContext { ip: Some(format!("198.51.100.{minute}")), ..anonymous() };
        let at = t0() + Duration::minutes(minute);
        seqs.push(append_at(db, &services.audit, &ctx, failed(Some(account)), at).await.unwrap());
    }
    let rule = sign_in_failures_account::SignInFailuresAccount;
    let escalating = RuleSettings { critical_at: Some(8), ..sign_in_failures_account::default_settings() };
    let now = t0() + Duration::hours(1);

    // One row per run, as a busy monitor would see them.
    let mut raised = 0;
    for i in 0..seqs.len() {
        let after = if i == 0 { 0 } else { seqs[i - 1] };
        raised += run(db, &rule, escalating.clone(), after, seqs[i], now).await;
    }

    // Minute 4: five failures (medium). Minute 7: eight (critical). Every later row is still
    // critical and belongs to that burst until minute 22, the first row a whole window after
    // minute 7: the fifteen rows since then are a burst of their own.
    assert_eq!(raised, 3);
    assert_eq!(
        alerts(db, "sign-in-failures-account").await,
        [
            seen(Some(account), "medium", Some(5), &seqs[..5]),
            seen(Some(account), "critical", Some(8), &seqs[..8]),
            seen(Some(account), "critical", Some(15), &seqs[8..23]),
        ]
    );
});

fn anonymous() -> AuditContext {
    AuditContext {
        actor: Actor { user_id: None, role: Role::Anonymous, patient_id: None },
        purpose: Purpose::Operations,
        justification: None,
        request_id: None,
        ip: Some("192.0.2.99".to_owned()),
        user_agent: None,
    }
}

fn failed(account: Option<UserId>) -> AuditEntry {
    AuditEntry {
        action: Action::AuthSignIn,
        resource_type: "session",
        resource_id: account.map(|a| a.to_string()),
        patient_id: None,
        outcome: Outcome::Denied,
        rule: Some(if account.is_some() { "verification-failed" } else { "unknown-credential" }.to_owned()),
    }
}

/// An enrolled account of `role` and its request context.
async fn enrolled(services: &app::domain::state::Services, role: Role, name: &str, n: u8) -> AuditContext {
    let new = NewUser { role, display_name: name.to_owned(), patient_id: None };
    let invitation = services.users.invite(&system(), new, Duration::hours(1)).await.unwrap();
    let passkey = NewPasskey { credential_id: vec![n; 16], passkey: "{}".to_owned(), name: format!("device {n}") };
    services.users.enroll(&anonymous(), invitation.token.expose(), passkey).await.unwrap();
    AuditContext {
        actor: Actor { user_id: Some(invitation.user_id), role, patient_id: None },
        ..common::ctx(role, None)
    }
}

fn request_of(outcome: app::domain::accounts::ChangeOutcome) -> Uuid {
    match outcome {
        app::domain::accounts::ChangeOutcome::AwaitingApproval(request) => request,
        other => panic!("expected a pending request, got {other:?}"),
    }
}

fn user(ctx: &AuditContext) -> UserId {
    ctx.actor.user_id.unwrap()
}

on_both_backends!(
    granting_the_admin_role_and_assigning_an_account_you_made_are_privilege_changes,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let (services, _, _) = test.services();
        let db = &test.db;
        let admin = enrolled(&services, Role::Admin, "Ada Admin", 1).await;
        let officer = enrolled(&services, Role::SecurityOfficer, "Sam Officer", 2).await;
        let rule = privilege_change::PrivilegeChange;
        let settings = privilege_change::default_settings;
        let now = t0() + Duration::hours(1);
        // The bootstrap rows so far (the system inviting these two) are not this test's subject.
        let start = max_seq(db).await;

        // A clinician and an admin invited: only the admin's grant, once approved, is reported.
        let (clinician, made) =
            services.accounts.invite(&admin, clinician_named("Dr Made"), Some("dr.made@clinic.test")).await.unwrap();
        services.accounts.decide(&officer, request_of(made), true).await.unwrap();
        let new_admin = NewUser { role: Role::Admin, display_name: "Second Admin".to_owned(), patient_id: None };
        let (second_admin, asked) =
            services.accounts.invite(&admin, new_admin, Some("admin2@clinic.test")).await.unwrap();
        assert_eq!(
            run(db, &rule, settings(), start, max_seq(db).await, now).await,
            0,
            "awaiting approval grants nothing"
        );
        let before_approval = max_seq(db).await;
        services.accounts.decide(&officer, request_of(asked), true).await.unwrap();
        let granted_row = granted_seq(db, second_admin, before_approval).await;
        // The admin assigns the clinician they invited (refused by the policy) to a patient.
        let patient = services.patients.create(&system(), sample_patient("PRIV")).await.unwrap();
        let before_assign = max_seq(db).await;
        assert!(services.care.start(&admin, patient, clinician, CareKind::Assignment).await.is_err());
        let refused_row = max_seq(db).await;
        assert!(refused_row > before_assign);

        assert_eq!(run(db, &rule, settings(), before_approval, max_seq(db).await, now).await, 2);
        assert_eq!(run(db, &rule, settings(), start, max_seq(db).await, now).await, 0);

        let expected = [
            Seen {
                actor: Some(user(&officer).0),
                severity: "high".to_owned(),
                observed: None,
                seqs: vec![granted_row],
                patients: vec![],
                subject: Some(second_admin.0),
            },
            Seen {
                actor: Some(user(&admin).0),
                severity: "high".to_owned(),
                observed: None,
                seqs: vec![refused_row],
                patients: vec![patient.0],
                subject: Some(clinician.0),
            },
        ];
        assert_eq!(alerts(db, "privilege-change").await, expected);
    }
);

fn clinician_named(name: &str) -> NewUser {
    NewUser { role: Role::Clinician, display_name: name.to_owned(), patient_id: None }
}

/// The row that granted `account` its role: the approval's `user.invite` row.
async fn granted_seq(db: &DatabaseConnection, account: UserId, after: i64) -> i64 {
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.invite"))
        .filter(audit_event::Column::ResourceId.eq(account.to_string()))
        .filter(audit_event::Column::Seq.gt(after))
        .all(db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].rule.as_deref().unwrap().starts_with("two-person-rule:approved:"));
    rows[0].seq
}

on_both_backends!(a_re_enrollment_and_an_assignment_followed_by_a_read_are_privilege_changes, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let audit = &services.audit;
    let (admin, target, other) = (UserId::new(), UserId::new(), UserId::new());
    let (patient, other_patient) = (PatientId::new(), PatientId::new());
    let reenrolled = plant_auth::plant_privilege_change(db, audit, t0(), admin, target).await.unwrap();
    let as_admin =
        AuditContext { actor: Actor { user_id: Some(admin), role: Role::Admin, patient_id: None }, ..anonymous() };
    let as_other = AuditContext { actor: Actor { user_id: Some(other), ..as_admin.actor.clone() }, ..anonymous() };
    let link = Uuid::now_v7();
    let assign = |patient: PatientId| AuditEntry {
        action: Action::CareAssign,
        resource_type: "care_relationship",
        resource_id: Some(link.to_string()),
        patient_id: Some(patient.0),
        outcome: Outcome::Allowed,
        rule: Some("admin-manages-care-relationships:assignment".to_owned()),
    };
    let read = |patient: PatientId| AuditEntry {
        action: Action::ChartRead,
        resource_type: "chart",
        resource_id: None,
        patient_id: Some(patient.0),
        outcome: Outcome::Denied,
        rule: Some("not-a-clinician".to_owned()),
    };
    let at = |minutes: i64| t0() + Duration::minutes(minutes);
    let assigned = append_at(db, audit, &as_admin, assign(patient), at(10)).await.unwrap();
    // Someone else reading, and the assigner reading another patient: not this.
    append_at(db, audit, &as_other, read(patient), at(20)).await.unwrap();
    append_at(db, audit, &as_admin, read(other_patient), at(30)).await.unwrap();
    let first_read = append_at(db, audit, &as_admin, read(patient), at(40)).await.unwrap();
    append_at(db, audit, &as_admin, read(patient), at(50)).await.unwrap();
    // An assignment whose read comes a day and more later: outside the window.
    let late = append_at(db, audit, &as_admin, assign(other_patient), at(60)).await.unwrap();
    append_at(db, audit, &as_admin, read(other_patient), at(60 + 25 * 60)).await.unwrap();
    let rule = privilege_change::PrivilegeChange;
    let now = t0() + Duration::days(2);

    assert_eq!(run_all(db, &rule, privilege_change::default_settings(), now).await, 2);
    assert_eq!(run_all(db, &rule, privilege_change::default_settings(), now).await, 0);

    assert!(late > first_read);
    let expected = [
        Seen {
            actor: Some(admin.0),
            severity: "high".to_owned(),
            observed: None,
            seqs: reenrolled.seqs.clone(),
            patients: vec![],
            subject: Some(target.0),
        },
        Seen {
            actor: Some(admin.0),
            severity: "high".to_owned(),
            observed: None,
            seqs: vec![assigned, first_read],
            patients: vec![patient.0],
            subject: Some(link),
        },
    ];
    assert_eq!(alerts(db, "privilege-change").await, expected);
});

on_both_backends!(a_declaration_unreviewed_after_a_day_raises_one_alert, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let (clinician, patient) = (UserId::new(), PatientId::new());
    let planted =
        plant_auth::plant_break_glass_unreviewed(db, &services.audit, t0(), clinician, patient).await.unwrap();
    // Another clinician's declarations, each reviewed within the hour: never unreviewed.
    plant_auth::plant_break_glass_frequent(db, &services.audit, t0(), UserId::new(), PatientId::new()).await.unwrap();
    let rule = break_glass_unreviewed::BreakGlassUnreviewed;
    let settings = break_glass_unreviewed::default_settings;

    assert_eq!(run_all(db, &rule, settings(), t0() + Duration::hours(23)).await, 0);
    assert_eq!(run_all(db, &rule, settings(), t0() + Duration::days(5)).await, 1);
    assert_eq!(run_all(db, &rule, settings(), t0() + Duration::days(6)).await, 0);

    let declaration = audit_event::Entity::find_by_id(planted.seqs[0]).one(db).await.unwrap().unwrap().resource_id;
    let expected = Seen {
        actor: Some(clinician.0),
        severity: "medium".to_owned(),
        observed: Some(120),
        seqs: planted.seqs.clone(),
        patients: vec![patient.0],
        subject: declaration.map(|id| id.parse().unwrap()),
    };
    assert_eq!(alerts(db, "break-glass-unreviewed").await, [expected]);
});

on_both_backends!(a_reviewed_declaration_made_through_the_repository_is_never_unreviewed, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let db = &test.db;
    let clinician = enrolled(&services, Role::Clinician, "Dr Urgent", 1).await;
    let officer = enrolled(&services, Role::SecurityOfficer, "Sam Officer", 2).await;
    let patient = services.patients.create(&system(), sample_patient("BG")).await.unwrap();
    let reviewed = services.break_glass.declare(&clinician, patient, "unconscious patient, no records").await.unwrap();
    services.break_glass.declare(&clinician, patient, "second emergency, same patient").await.unwrap();
    let review = app::domain::break_glass::ReviewStatus::Justified;
    services.break_glass.review(&officer, reviewed.id, review, "").await.unwrap();
    clock.advance(Duration::days(2));
    let rule = break_glass_unreviewed::BreakGlassUnreviewed;

    assert_eq!(run_all(db, &rule, break_glass_unreviewed::default_settings(), clock_now(&services)).await, 1);

    let raised = security_alert::Entity::find()
        .filter(security_alert::Column::Kind.eq("break-glass-unreviewed"))
        .all(db)
        .await
        .unwrap();
    assert_eq!(raised.len(), 1);
    assert_ne!(raised[0].subject_id, Some(reviewed.id));
    assert_eq!((raised[0].user_id, raised[0].patient_id), (Some(user(&clinician).0), Some(patient.0)));
});

fn clock_now(services: &app::domain::state::Services) -> DateTime<Utc> {
    services.clock.now()
}

on_both_backends!(a_fourth_declaration_in_a_week_is_break_glass_too_often, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let (clinician, patient) = (UserId::new(), PatientId::new());
    let planted = plant_auth::plant_break_glass_frequent(db, &services.audit, t0(), clinician, patient).await.unwrap();
    // Another clinician's three in a week, and a fourth eight days after their first.
    let other = UserId::new();
    for day in [0, 2, 4, 8] {
        plant_auth::plant_break_glass_unreviewed(db, &services.audit, t0() + Duration::days(day), other, patient)
            .await
            .unwrap();
    }
    let rule = break_glass_frequent::BreakGlassFrequent;
    let now = t0() + Duration::days(10);

    assert_eq!(run(db, &rule, break_glass_frequent::default_settings(), 0, planted.seqs[2], now).await, 0);
    assert_eq!(run_all(db, &rule, break_glass_frequent::default_settings(), now).await, 1);
    assert_eq!(run_all(db, &rule, break_glass_frequent::default_settings(), now).await, 0);

    let expected = Seen {
        actor: Some(clinician.0),
        severity: "high".to_owned(),
        observed: Some(4),
        seqs: planted.seqs.clone(),
        patients: vec![patient.0],
        subject: None,
    };
    assert_eq!(alerts(db, "break-glass-frequent").await, [expected]);
});
