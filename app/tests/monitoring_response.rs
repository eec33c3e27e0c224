//! The automatic response to a critical alert, on both backends: the account is disabled and
//! signed out everywhere, audited as the system naming the alert, once however often it runs;
//! an address is flagged, nobody disabled; and every way back in (enabling, an approval,
//! re-enrolling) is refused with a 409, audited, until the security officer closes the alert.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::domain::Error;
use app::domain::accounts::ChangeOutcome;
use app::domain::audit::{Actor, AuditContext, Role};
use app::domain::entities::{audit_event, security_alert, session};
use app::domain::ids::UserId;
use app::domain::monitoring::response::{self, Response};
use app::domain::monitoring::{self, NewAlert, Severity};
use app::domain::state::Services;
use app::domain::users::{NewPasskey, NewUser, UserStatus};
use app::on_both_backends;
use chrono::Duration;
use common::{TestDb, TestServices, sample_patient, system};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use uuid::Uuid;

fn anonymous() -> AuditContext {
    let mut ctx = common::ctx(Role::Anonymous, None);
    ctx.actor.user_id = None;
    ctx
}

/// An enrolled (active) account of `role` and its request context.
async fn enrolled(
    services: &Services,
    role: Role,
    patient: Option<app::domain::ids::PatientId>,
    n: u8,
) -> AuditContext {
    let new = NewUser { role, display_name: format!("Synthetic {n}"), patient_id: patient };
    let invitation = services.users.invite(&system(), new, Duration::hours(1)).await.unwrap();
    let passkey = NewPasskey { credential_id: vec![n; 16], passkey: "{}".to_owned(), name: format!("device {n}") };
    services.users.enroll(&anonymous(), invitation.token.expose(), passkey).await.unwrap();
    AuditContext {
        actor: Actor { user_id: Some(invitation.user_id), role, patient_id: patient },
        ..common::ctx(role, patient)
    }
}

fn user(ctx: &AuditContext) -> UserId {
    ctx.actor.user_id.unwrap()
}

/// Raises an alert of `severity` about `actor` and returns its id.
async fn alert_about(services: &Services, actor: Option<UserId>, severity: Severity, tag: &str) -> Uuid {
    let now = services.clock.now();
    let alert = NewAlert {
        rule: "bulk-access".to_owned(),
        severity,
        actor,
        patients: vec![],
        window_start: now - Duration::minutes(10),
        window_end: now,
        observed: Some(90),
        seqs: vec![1],
        dedup: format!("test|{tag}"),
        subject_id: None,
    };
    monitoring::raise(&services.db, alert, now).await.unwrap().unwrap()
}

async fn set_status(db: &DatabaseConnection, alert: Uuid, status: &str) {
    security_alert::Entity::update_many()
        .col_expr(security_alert::Column::Status, Expr::value(status))
        .filter(security_alert::Column::Id.eq(alert))
        .exec(db)
        .await
        .unwrap();
}

async fn sessions_of(db: &DatabaseConnection, user: UserId) -> u64 {
    session::Entity::find().filter(session::Column::UserId.eq(user.0)).count(db).await.unwrap()
}

/// (action, actor role, resource id, outcome, rule, justification) of the rows after `after`.
async fn rows_after(db: &DatabaseConnection, after: i64) -> Vec<(String, String, String, String, String, String)> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Seq.gt(after))
        .order_by_asc(audit_event::Column::Seq)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.action,
                r.actor_role,
                r.resource_id.unwrap_or_default(),
                r.outcome,
                r.rule.unwrap_or_default(),
                r.justification.unwrap_or_default(),
            )
        })
        .collect()
}

fn row(
    action: &str,
    role: &str,
    id: &str,
    outcome: &str,
    rule: &str,
    why: &str,
) -> (String, String, String, String, String, String) {
    (action.into(), role.into(), id.into(), outcome.into(), rule.into(), why.into())
}

async fn last_seq(db: &DatabaseConnection) -> i64 {
    audit_event::Entity::find().order_by_desc(audit_event::Column::Seq).one(db).await.unwrap().map_or(0, |r| r.seq)
}

on_both_backends!(a_critical_alert_disables_the_account_and_ends_its_sessions_once, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let clinician = enrolled(&services, Role::Clinician, None, 1).await;
    app::domain::test_support::signed_in_cookie(&services, user(&clinician)).await;
    app::domain::test_support::signed_in_cookie(&services, user(&clinician)).await;
    assert_eq!(sessions_of(db, user(&clinician)).await, 2);
    let minor = alert_about(&services, Some(user(&clinician)), Severity::High, "high").await;
    let alert = alert_about(&services, Some(user(&clinician)), Severity::Critical, "critical").await;
    let before = last_seq(db).await;

    assert_eq!(
        response::respond(db, &services.audit, minor, services.clock.now()).await.unwrap(),
        Response::NotCritical
    );
    assert_eq!(services.users.get(user(&clinician)).await.unwrap().status, UserStatus::Active);
    let taken = response::respond(db, &services.audit, alert, services.clock.now()).await.unwrap();
    let again = response::respond(db, &services.audit, alert, services.clock.now()).await.unwrap();

    assert_eq!(taken, Response::AccountDisabled { user: user(&clinician), sessions_ended: 2 });
    assert_eq!(again, Response::AlreadyTaken("account-disabled".to_owned()));
    assert_eq!(services.users.get(user(&clinician)).await.unwrap().status, UserStatus::Disabled);
    assert_eq!(sessions_of(db, user(&clinician)).await, 0);
    let stored = security_alert::Entity::find_by_id(alert).one(db).await.unwrap().unwrap();
    assert_eq!(stored.response.as_deref(), Some("account-disabled"));
    assert_eq!(stored.status, "open");
    let minor = security_alert::Entity::find_by_id(minor).one(db).await.unwrap().unwrap();
    assert_eq!(minor.response, None);
    let id = user(&clinician).to_string();
    let why = format!("security alert {alert} (bulk-access): automatic response");
    assert_eq!(
        rows_after(db, before).await,
        [
            row("user.disable", "system", &id, "allowed", "system-maintenance:automatic-response", &why),
            row("user.end_sessions", "system", &id, "allowed", "system-maintenance:automatic-response", &why),
            row("alert.update", "system", &alert.to_string(), "allowed", "automatic-response:account-disabled", &why),
        ]
    );
});

on_both_backends!(a_critical_alert_about_an_address_flags_it_and_disables_nobody, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let clinician = enrolled(&services, Role::Clinician, None, 1).await;
    let alert = alert_about(&services, None, Severity::Critical, "spray").await;
    let before = last_seq(db).await;

    let taken = response::respond(db, &services.audit, alert, services.clock.now()).await.unwrap();

    assert_eq!(taken, Response::AddressFlagged);
    let stored = security_alert::Entity::find_by_id(alert).one(db).await.unwrap().unwrap();
    assert_eq!(stored.response.as_deref(), Some("address-flagged"));
    assert_eq!(services.users.get(user(&clinician)).await.unwrap().status, UserStatus::Active);
    let why = format!("security alert {alert} (bulk-access): automatic response");
    assert_eq!(
        rows_after(db, before).await,
        [row("alert.update", "system", &alert.to_string(), "allowed", "automatic-response:address-flagged", &why)]
    );
});

fn held(result: Result<ChangeOutcome, Error>, alert: Uuid) {
    match result {
        Err(Error::Conflict(message)) => {
            assert!(message.contains(&alert.to_string()), "{message}");
            assert!(message.contains("close"), "{message}");
        }
        other => panic!("expected a 409 naming alert {alert}, got {other:?}"),
    }
}

on_both_backends!(a_clinician_disabled_by_an_alert_comes_back_only_after_it_is_closed, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let admin = enrolled(&services, Role::Admin, None, 1).await;
    let officer = enrolled(&services, Role::SecurityOfficer, None, 2).await;
    let clinician = enrolled(&services, Role::Clinician, None, 3).await;
    let alert = alert_about(&services, Some(user(&clinician)), Severity::Critical, "c").await;
    response::respond(db, &services.audit, alert, services.clock.now()).await.unwrap();
    let before = last_seq(db).await;

    held(services.accounts.enable(&admin, user(&clinician)).await, alert);
    held(services.accounts.enable(&admin, user(&clinician)).await, alert);
    held(services.accounts.reenroll(&admin, user(&clinician)).await, alert);
    let direct = services.users.enable(&system(), user(&clinician)).await;
    assert!(matches!(direct, Err(Error::Conflict(_))), "{direct:?}");
    assert_eq!(services.users.get(user(&clinician)).await.unwrap().status, UserStatus::Disabled);

    set_status(db, alert, "closed").await;
    let asked = services.accounts.enable(&admin, user(&clinician)).await.unwrap();
    let ChangeOutcome::AwaitingApproval(request) = asked else { panic!("{asked:?}") };
    services.accounts.decide(&officer, request, true).await.unwrap();

    assert_eq!(services.users.get(user(&clinician)).await.unwrap().status, UserStatus::Active);
    let id = user(&clinician).to_string();
    let rule = format!("security-alert-not-closed:{alert}");
    let refusals: Vec<_> = rows_after(db, before).await.into_iter().filter(|r| r.3 == "denied").collect();
    assert_eq!(
        refusals,
        [
            row("user.enable", "admin", &id, "denied", &rule, ""),
            row("user.enable", "admin", &id, "denied", &rule, ""),
            row("user.reenroll", "admin", &id, "denied", &rule, ""),
            row("user.enable", "system", &id, "denied", &rule, "cli: test"),
        ]
    );
});

on_both_backends!(an_approval_waiting_when_the_alert_came_is_refused_until_it_is_closed, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let admin = enrolled(&services, Role::Admin, None, 1).await;
    let officer = enrolled(&services, Role::SecurityOfficer, None, 2).await;
    let clinician = enrolled(&services, Role::Clinician, None, 3).await;
    services.users.disable(&admin, user(&clinician)).await.unwrap();
    let ChangeOutcome::AwaitingApproval(request) = services.accounts.enable(&admin, user(&clinician)).await.unwrap()
    else {
        panic!("a clinician's re-enabling waits for approval")
    };
    let alert = alert_about(&services, Some(user(&clinician)), Severity::Critical, "late").await;
    response::respond(db, &services.audit, alert, services.clock.now()).await.unwrap();
    let before = last_seq(db).await;

    let refused = services.accounts.decide(&officer, request, true).await;
    assert!(matches!(&refused, Err(Error::Conflict(m)) if m.contains(&alert.to_string())), "{refused:?}");
    assert_eq!(services.users.get(user(&clinician)).await.unwrap().status, UserStatus::Disabled);
    set_status(db, alert, "closed").await;
    services.accounts.decide(&officer, request, true).await.unwrap();

    assert_eq!(services.users.get(user(&clinician)).await.unwrap().status, UserStatus::Active);
    let rule = format!("security-alert-not-closed:{alert}");
    let id = user(&clinician).to_string();
    let refusals: Vec<_> = rows_after(db, before).await.into_iter().filter(|r| r.3 == "denied").collect();
    assert_eq!(refusals, [row("user.enable", "security_officer", &id, "denied", &rule, "")]);
});

on_both_backends!(a_patient_account_disabled_by_an_alert_is_enabled_at_once_only_after_closing, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let db = &test.db;
    let admin = enrolled(&services, Role::Admin, None, 1).await;
    let patient = services.patients.create(&system(), sample_patient("RSP")).await.unwrap();
    let account = enrolled(&services, Role::Patient, Some(patient), 2).await;
    let alert = alert_about(&services, Some(user(&account)), Severity::Critical, "p").await;
    // Inside the runner's transaction (a savepoint of it): nothing shows until it commits.
    let txn = db.begin().await.unwrap();
    let taken = response::respond(&txn, &services.audit, alert, services.clock.now()).await.unwrap();
    assert_eq!(taken, Response::AccountDisabled { user: user(&account), sessions_ended: 0 });
    txn.commit().await.unwrap();
    assert_eq!(services.users.get(user(&account)).await.unwrap().status, UserStatus::Disabled);

    held(services.accounts.enable(&admin, user(&account)).await, alert);
    set_status(db, alert, "closed").await;
    let enabled = services.accounts.enable(&admin, user(&account)).await.unwrap();

    assert!(matches!(enabled, ChangeOutcome::Done(_)), "{enabled:?}");
    assert_eq!(services.users.get(user(&account)).await.unwrap().status, UserStatus::Active);
});
