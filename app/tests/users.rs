//! Accounts by invitation on both backends: single-use expiring enrollment links, admin-only
//! administration (refusals audited), disabling ends sessions, re-enrollment revokes passkeys.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use std::collections::HashMap;

use app::domain::Error;
use app::domain::audit::{AuditContext, Role};
use app::domain::clock::Clock;
use app::domain::entities::{app_user, audit_event, passkey};
use app::domain::sessions::USER_ID_KEY;
use app::domain::users::{NewPasskey, NewUser, UserStatus};
use app::on_both_backends;
use chrono::Duration;
use common::{TestDb, TestServices, ctx, sample_patient, system};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

fn clinician(name: &str) -> NewUser {
    NewUser { role: Role::Clinician, display_name: name.to_owned(), patient_id: None }
}

fn new_passkey(n: u8) -> NewPasskey {
    NewPasskey { credential_id: vec![n; 16], passkey: "{}".to_owned(), name: format!("device {n}") }
}

fn anonymous() -> AuditContext {
    let mut ctx = ctx(Role::Anonymous, None);
    ctx.actor.user_id = None;
    ctx
}

on_both_backends!(an_enrollment_link_works_once_and_then_never_again, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let invitation = services.users.invite(&system(), clinician("Dr Synthetic"), Duration::hours(24)).await.unwrap();
    let token = invitation.token.expose().to_owned();
    assert_eq!(services.users.get(invitation.user_id).await.unwrap().status, UserStatus::Invited);

    assert_eq!(services.users.enrollment_user(&anonymous(), &token).await.unwrap().id, invitation.user_id);
    let enrolled = services.users.enroll(&anonymous(), &token, new_passkey(1)).await.unwrap();

    assert_eq!(enrolled, invitation.user_id);
    assert_eq!(services.users.get(enrolled).await.unwrap().status, UserStatus::Active);
    let stored = passkey::Entity::find().filter(passkey::Column::UserId.eq(enrolled.0)).all(&test.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    let again = services.users.enroll(&anonymous(), &token, new_passkey(2)).await;
    assert!(matches!(again, Err(Error::Validation(_))), "{again:?}");
    assert!(services.users.enrollment_user(&anonymous(), &token).await.is_err());
    let refusals = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.enroll"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .all(&test.db)
        .await
        .unwrap();
    assert_eq!(refusals.len(), 2);
    assert_eq!(refusals[0].actor_role, "anonymous");
});

on_both_backends!(an_enrollment_link_does_not_work_after_it_expires, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let invitation = services.users.invite(&system(), clinician("Dr Later"), Duration::hours(24)).await.unwrap();

    clock.advance(Duration::hours(24) + Duration::seconds(1));

    let result = services.users.enroll(&anonymous(), invitation.token.expose(), new_passkey(3)).await;
    assert!(matches!(result, Err(Error::Validation(_))), "{result:?}");
});

on_both_backends!(only_admins_administer_accounts_and_refusals_are_audited, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let admin = services
        .users
        .invite(&system(), NewUser { role: Role::Admin, ..clinician("Admin One") }, Duration::hours(1))
        .await
        .unwrap();
    let target = services.users.invite(&system(), clinician("Dr Target"), Duration::hours(1)).await.unwrap().user_id;

    let mut as_admin = ctx(Role::Admin, None);
    as_admin.actor.user_id = Some(admin.user_id);
    services.accounts.invite(&as_admin, clinician("Dr Invited"), Some("dr.invited@clinic.test")).await.unwrap();

    for role in [Role::Clinician, Role::Patient, Role::SecurityOfficer, Role::Anonymous] {
        let outsider = ctx(role, None);
        assert!(matches!(
            services.accounts.invite(&outsider, clinician("X"), Some("x@clinic.test")).await,
            Err(Error::Forbidden)
        ));
        assert!(matches!(services.users.disable(&outsider, target).await, Err(Error::Forbidden)));
        let denied = audit_event::Entity::find()
            .filter(audit_event::Column::Outcome.eq("denied"))
            .filter(audit_event::Column::ActorUserId.eq(outsider.actor.user_id.unwrap().0))
            .all(&test.db)
            .await
            .unwrap();
        let actions: Vec<_> = denied.iter().map(|d| d.action.as_str()).collect();
        assert_eq!(actions, ["user.invite", "user.disable"], "{role:?}");
    }
});

on_both_backends!(disabling_an_account_ends_its_open_sessions_at_once, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let user = services.users.invite(&system(), clinician("Dr Leaving"), Duration::hours(1)).await.unwrap().user_id;
    let mut data = HashMap::new();
    data.insert(USER_ID_KEY.to_owned(), serde_json::json!(user.0));
    // The store compares expiry with the system clock, as tower-sessions stamps it.
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mut open = Record { id: Id::default(), data, expiry_date: expiry };
    services.sessions.create(&mut open).await.unwrap();
    assert!(services.sessions.load(&open.id).await.unwrap().is_some());

    services.users.disable(&system(), user).await.unwrap();

    assert!(services.sessions.load(&open.id).await.unwrap().is_none());
    assert_eq!(services.users.get(user).await.unwrap().status, UserStatus::Disabled);
    services.users.enable(&system(), user).await.unwrap();
    assert_eq!(services.users.get(user).await.unwrap().status, UserStatus::Active);
});

on_both_backends!(re_enrollment_revokes_passkeys_and_old_links_and_issues_a_new_link, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let first = services.users.invite(&system(), clinician("Dr Lost Phone"), Duration::hours(24)).await.unwrap();
    passkey::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        user_id: Set(first.user_id.0),
        credential_id: Set(vec![1, 2, 3]),
        passkey: Set("{}".to_owned()),
        name: Set("old phone".to_owned()),
        created_at: Set(clock.now()),
        last_used_at: Set(None),
    }
    .insert(&test.db)
    .await
    .unwrap();

    let second = services.users.reenroll(&system(), first.user_id, Duration::hours(24)).await.unwrap();

    let remaining =
        passkey::Entity::find().filter(passkey::Column::UserId.eq(first.user_id.0)).all(&test.db).await.unwrap();
    assert!(remaining.is_empty());
    assert!(services.users.enrollment_user(&anonymous(), first.token.expose()).await.is_err());
    assert_eq!(services.users.enrollment_user(&anonymous(), second.token.expose()).await.unwrap().id, first.user_id);
});

on_both_backends!(a_patient_account_links_to_its_record_and_its_name_is_sealed, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let patient = services.patients.create(&system(), sample_patient("U")).await.unwrap();
    let unlinked = services
        .users
        .invite(
            &system(),
            NewUser { role: Role::Patient, display_name: "Zephyrine U".into(), patient_id: None },
            Duration::hours(1),
        )
        .await;
    assert!(matches!(unlinked, Err(Error::Validation(_))));

    let invitation = services
        .users
        .invite(
            &system(),
            NewUser { role: Role::Patient, display_name: "Zephyrine U".into(), patient_id: Some(patient) },
            Duration::hours(1),
        )
        .await
        .unwrap();

    let user = services.users.get(invitation.user_id).await.unwrap();
    assert_eq!(user.patient_id, Some(patient));
    assert_eq!(user.display_name, "Zephyrine U");
    let row = app_user::Entity::find_by_id(invitation.user_id.0).one(&test.db).await.unwrap().unwrap();
    assert!(!String::from_utf8_lossy(&row.display_name.0).contains("Zephyrine"));
});

on_both_backends!(the_last_passkey_cannot_be_removed_and_others_can_be_renamed_and_removed, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let invitation = services.users.invite(&system(), clinician("Dr Two Devices"), Duration::hours(1)).await.unwrap();
    let user = services.users.enroll(&anonymous(), invitation.token.expose(), new_passkey(7)).await.unwrap();
    let mut own = ctx(Role::Clinician, None);
    own.actor.user_id = Some(user);
    let first = services.users.passkeys(user).await.unwrap()[0].id;

    let last = services.users.remove_passkey(&own, user, first).await;
    assert!(matches!(last, Err(Error::Conflict(_))), "{last:?}");

    services.users.add_passkey(&own, user, new_passkey(8), Some(services.clock.now())).await.unwrap();
    services.users.rename_passkey(&own, user, first, "  Old laptop ").await.unwrap();
    services.users.remove_passkey(&own, user, first).await.unwrap();

    let left = services.users.passkeys(user).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, "device 8");
    // Someone else's passkey is not yours to remove.
    let stranger = services.users.invite(&system(), clinician("Dr Other"), Duration::hours(1)).await.unwrap().user_id;
    assert!(matches!(services.users.remove_passkey(&own, stranger, left[0].id).await, Err(Error::NotFound)));
    let refusal = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("passkey.remove"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .order_by_asc(audit_event::Column::Seq)
        .all(&test.db)
        .await
        .unwrap();
    let rules: Vec<Option<&str>> = refusal.iter().map(|row| row.rule.as_deref()).collect();
    assert_eq!(rules, [Some("last-passkey"), Some("not-own-passkey")]);
});

on_both_backends!(an_admin_can_end_all_sessions_of_a_user_and_it_is_audited, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let user =
        services.users.invite(&system(), clinician("Dr Many Devices"), Duration::hours(1)).await.unwrap().user_id;
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut data = HashMap::new();
        data.insert(USER_ID_KEY.to_owned(), serde_json::json!(user.0));
        let mut record = Record { id: Id::default(), data, expiry_date: expiry };
        services.sessions.create(&mut record).await.unwrap();
        assert!(services.sessions.load(&record.id).await.unwrap().is_some());
        ids.push(record.id);
    }

    assert_eq!(services.users.end_sessions(&system(), user).await.unwrap(), 2);

    for id in ids {
        assert!(services.sessions.load(&id).await.unwrap().is_none());
    }
    assert!(matches!(services.users.end_sessions(&ctx(Role::Clinician, None), user).await, Err(Error::Forbidden)));
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.end_sessions"))
        .all(&test.db)
        .await
        .unwrap();
    let outcomes: Vec<_> = rows.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["allowed", "denied"]);
});
