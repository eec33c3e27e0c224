//! Adding a passkey to one's own account, on both backends: only within five minutes of a
//! user-verified passkey assertion (refusals audited), and the owner is told by email when mail
//! is configured (audited before the address is opened).

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use std::sync::Arc;

use app::domain::Error;
use app::domain::audit::{Actor, AuditContext, Role};
use app::domain::entities::audit_event;
use app::domain::scheduling::reminders::{Mailer, SmtpMailer, SmtpSettings};
use app::domain::test_support::smtp_sink::SmtpSink;
use app::domain::users::{NewPasskey, NewUser};
use app::on_both_backends;
use chrono::Duration;
use common::{TestDb, TestServices, ctx, sample_patient, system};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

fn passkey(n: u8) -> NewPasskey {
    NewPasskey { credential_id: vec![n; 16], passkey: "{}".into(), name: format!("device {n}") }
}

async fn passkey_rows(test: &TestDb, user: uuid::Uuid) -> Vec<(String, Option<String>)> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("passkey.add"))
        .filter(audit_event::Column::ResourceId.eq(user.to_string()))
        .order_by_asc(audit_event::Column::Seq)
        .all(&test.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.outcome, r.rule))
        .collect()
}

on_both_backends!(a_passkey_is_added_only_within_five_minutes_of_a_passkey_verification, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    let new = NewUser { role: Role::Clinician, display_name: "Dr Step Up".into(), patient_id: None };
    let invitation = services.users.invite(&system(), new, Duration::hours(1)).await.unwrap();
    let user = services.users.enroll(&system(), invitation.token.expose(), passkey(1)).await.unwrap();
    let own = AuditContext {
        actor: Actor { user_id: Some(user), role: Role::Clinician, patient_id: None },
        ..ctx(Role::Clinician, None)
    };
    let verified = services.clock.now();

    // Never verified in this session, or verified six minutes ago: refused.
    let never = services.users.add_passkey(&own, user, passkey(2), None).await;
    assert!(matches!(never, Err(Error::Validation(_))), "{never:?}");
    clock.advance(Duration::minutes(6));
    let stale = services.users.add_passkey(&own, user, passkey(2), Some(verified)).await;
    assert!(matches!(stale, Err(Error::Validation(_))), "{stale:?}");
    assert_eq!(services.users.passkeys(user).await.unwrap().len(), 1);

    // Verified four minutes ago: added.
    let fresh = services.clock.now() - Duration::minutes(4);
    services.users.add_passkey(&own, user, passkey(2), Some(fresh)).await.unwrap();
    assert_eq!(services.users.passkeys(user).await.unwrap().len(), 2);

    let denied = ("denied".to_owned(), Some("needs-fresh-passkey-verification".to_owned()));
    assert_eq!(
        passkey_rows(&test, user.0).await,
        vec![denied.clone(), denied, ("allowed".to_owned(), Some("own-account".to_owned()))]
    );
});

on_both_backends!(
    the_owner_of_an_account_is_told_by_email_at_the_address_on_file_that_a_passkey_was_added,
    |backend| async move {
        let test = TestDb::new(backend).await;
        let (services, _, _) = test.services();
        let sink = SmtpSink::start().await.unwrap();
        let settings = SmtpSettings {
            host: "127.0.0.1".into(),
            port: sink.port,
            security: "none".into(),
            username: None,
            password: None,
            from: "Clinic <security@example.org>".into(),
        };
        let mailer: Arc<dyn Mailer> = Arc::new(SmtpMailer::new(&settings).unwrap());
        let notices = services.notices.clone().with_mailer(mailer, "Maple Street Clinic");
        let patient = services.patients.create(&system(), sample_patient("PK")).await.unwrap();
        let new = NewUser { role: Role::Patient, display_name: "Patient Account".into(), patient_id: Some(patient) };
        let invitation = services.users.invite(&system(), new, Duration::hours(1)).await.unwrap();
        let user_id = services.users.enroll(&system(), invitation.token.expose(), passkey(3)).await.unwrap();
        let user = services.users.get(user_id).await.unwrap();
        let own = AuditContext { actor: user.actor(), ..ctx(Role::Patient, Some(patient)) };

        services.users.add_passkey(&own, user_id, passkey(4), Some(services.clock.now())).await.unwrap();
        notices.passkey_added(&own, &user).await.unwrap();

        let sent = sink.messages().await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, vec!["zephyrine.pk@example.org".to_owned()]);
        assert!(
            sent[0].data.contains("Subject: A passkey was added to your Maple Street Clinic account"),
            "{}",
            sent[0].data
        );
        assert!(!sent[0].data.contains("device 4"), "the device name stays out of the email");
        assert!(!sent[0].data.contains("Quillfeather"), "no name from the chart");
        assert_eq!(
            passkey_rows(&test, user_id.0).await,
            vec![
                ("allowed".to_owned(), Some("own-account".to_owned())),
                ("allowed".to_owned(), Some("owner-notice-sent".to_owned())),
            ]
        );

        // A staff account has no address on file: nothing is sent, and the row says why.
        let staff = NewUser { role: Role::Clinician, display_name: "Dr No Mail".into(), patient_id: None };
        let invitation = services.users.invite(&system(), staff, Duration::hours(1)).await.unwrap();
        let staff_id = services.users.enroll(&system(), invitation.token.expose(), passkey(5)).await.unwrap();
        let staff_user = services.users.get(staff_id).await.unwrap();
        notices
            .passkey_added(&AuditContext { actor: staff_user.actor(), ..ctx(Role::Clinician, None) }, &staff_user)
            .await
            .unwrap();
        assert_eq!(sink.messages().await.len(), 1);
        assert_eq!(
            passkey_rows(&test, staff_id.0).await,
            vec![("allowed".to_owned(), Some("owner-notice:no-address-on-file".to_owned()))]
        );

        // A workforce account invited with an address is told at that address.
        let mut accounts = services.accounts.clone();
        accounts.two_person_rule = false;
        let invited = NewUser { role: Role::Clinician, display_name: "Dr Has Mail".into(), patient_id: None };
        let (invited_id, _) = accounts.invite(&system(), invited, Some("dr.hasmail@clinic.test")).await.unwrap();
        let link = services.users.operator_link(&system(), invited_id, Duration::hours(1)).await.unwrap();
        services.users.enroll(&system(), link.token.expose(), passkey(6)).await.unwrap();
        let invited_user = services.users.get(invited_id).await.unwrap();
        notices
            .passkey_added(&AuditContext { actor: invited_user.actor(), ..ctx(Role::Clinician, None) }, &invited_user)
            .await
            .unwrap();
        let sent = sink.messages().await;
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[1].to, vec!["dr.hasmail@clinic.test".to_owned()]);
        assert_eq!(
            passkey_rows(&test, invited_id.0).await,
            vec![("allowed".to_owned(), Some("owner-notice-sent".to_owned()))]
        );
    }
);
