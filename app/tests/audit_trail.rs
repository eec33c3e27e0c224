//! The audit trail against its own database owner: the app's PostgreSQL role cannot rewrite
//! or unprotect the audit tables, signed checkpoints outside the database catch rows deleted
//! from the end, audit keys rotate without breaking old rows, and a failing chainer shows.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::on_both_backends;

use app::domain::audit::checkpoint::{self, CheckpointFinding};
use app::domain::audit::verify::{self, Finding, VerifyReport};
use app::domain::audit::{Action, AuditEntry, Outcome};
use app::domain::entities::{audit_chain, audit_event};
use app::domain::state::Services;
use common::{Backend, TestDb, TestServices, system};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryOrder, RuntimeErr};

fn entry(n: u64) -> AuditEntry {
    AuditEntry {
        action: Action::PatientRead,
        resource_type: "patient",
        resource_id: Some(format!("r{n}")),
        patient_id: Some(uuid::Uuid::new_v4()),
        outcome: Outcome::Allowed,
        rule: Some("system-maintenance".to_owned()),
    }
}

async fn append(services: &Services, count: u64) {
    for n in 0..count {
        services.audit.record(&services.db, &system(), entry(n)).await.unwrap();
    }
}

async fn verify_now(services: &Services) -> VerifyReport {
    verify::verify(
        &services.db,
        services.audit.event_mac(),
        &services.chainer,
        services.clock.now(),
        chrono::Duration::minutes(5),
        |_, _| {},
    )
    .await
    .unwrap()
}

/// A signed checkpoint of the current head, as the chainer writes it: one line.
async fn checkpoint_line(services: &Services) -> String {
    let head = services.chainer.head(&services.db).await.unwrap().expect("a chain head");
    services.chainer.checkpoint_signer().sign(&head, services.clock.now()).unwrap().to_line()
}

fn sqlstate(err: &DbErr) -> Option<String> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            err.as_database_error().and_then(|db| db.code()).map(|code| code.into_owned())
        }
        _ => None,
    }
}

/// As the owner: drop the append-only triggers and delete every row (and link) after `seq`.
async fn owner_deletes_after(test: &TestDb, seq: i64) {
    let unprotect: &[&str] = match test.backend {
        Backend::Sqlite => &["DROP TRIGGER audit_event_no_delete", "DROP TRIGGER audit_chain_no_delete"],
        Backend::Postgres => &[
            "DROP TRIGGER audit_event_append_only ON audit_event",
            "DROP TRIGGER audit_chain_append_only ON audit_chain",
        ],
    };
    for statement in unprotect {
        test.owner.execute_unprepared(statement).await.unwrap();
    }
    test.owner.execute_unprepared(&format!("DELETE FROM audit_chain WHERE event_seq > {seq}")).await.unwrap();
    test.owner.execute_unprepared(&format!("DELETE FROM audit_event WHERE seq > {seq}")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_the_app_role_may_not_update_delete_truncate_or_unprotect_the_audit_tables() {
    let test = TestDb::new(Backend::Postgres).await;
    let (services, _, _) = test.services();
    // The app's role writes and reads audit rows as usual.
    append(&services, 3).await;
    services.chainer.chain_pending(&services.db).await.unwrap();

    for statement in [
        "UPDATE audit_event SET outcome = 'denied' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 2",
        "TRUNCATE audit_event CASCADE",
        "DROP TRIGGER audit_event_append_only ON audit_event",
        "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
        "DROP TABLE audit_event CASCADE",
        "UPDATE audit_chain SET link = link WHERE position = 1",
        "DELETE FROM audit_chain",
        "TRUNCATE audit_chain",
        "DROP TRIGGER audit_chain_append_only ON audit_chain",
        "ALTER TABLE audit_chain DROP COLUMN link",
        "CREATE TRIGGER sneaky BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
    ] {
        let err = test.db.execute_unprepared(statement).await.expect_err(statement);
        assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{statement}: {err}");
        // Refused by the role's privileges, not by the triggers (which the owner could drop).
        assert!(!err.to_string().contains("append-only"), "{statement}: {err}");
    }
    assert_eq!(audit_event::Entity::find().count(&test.db).await.unwrap(), 3);
    assert_eq!(audit_chain::Entity::find().count(&test.db).await.unwrap(), 3);
    assert!(verify_now(&services).await.is_intact());
}

on_both_backends!(deleting_the_newest_ten_rows_and_their_links_is_named_by_the_checkpoint, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append(&services, 30).await;
    services.chainer.chain_pending(&services.db).await.unwrap();
    let checkpoints = checkpoint_line(&services).await;

    owner_deletes_after(&test, 20).await;

    // What is left is a consistent, shorter log: the chain alone cannot tell.
    assert!(verify_now(&services).await.is_intact());
    let signer = services.chainer.checkpoint_signer();
    let report = checkpoint::check(&services.db, &signer, &checkpoints).await.unwrap();
    assert_eq!(
        report.findings,
        vec![CheckpointFinding::LogEndsEarly {
            last_good_seq: 20,
            last_position: 20,
            checkpoint_seq: 30,
            checkpoint_position: 30
        }]
    );
    assert!(report.findings[0].to_string().contains("last good seq 20"), "{}", report.findings[0]);
});

on_both_backends!(a_chain_that_matches_every_checkpoint_passes, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append(&services, 4).await;
    services.chainer.chain_pending(&services.db).await.unwrap();
    let first = checkpoint_line(&services).await;
    append(&services, 3).await;
    services.chainer.chain_pending(&services.db).await.unwrap();
    let second = checkpoint_line(&services).await;

    let signer = services.chainer.checkpoint_signer();
    let report = checkpoint::check(&services.db, &signer, &format!("{first}\n{second}\n")).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.checked, 2);
    assert_eq!(report.newest_seq, Some(7));
});

on_both_backends!(a_forged_checkpoint_is_refused, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append(&services, 5).await;
    services.chainer.chain_pending(&services.db).await.unwrap();
    let genuine = checkpoint_line(&services).await;
    // The same statement with a later seq, signature kept: what a forger would try.
    let edited = genuine.replace("\"seq\":5", "\"seq\":4");
    assert_ne!(edited, genuine);
    // A checkpoint signed with someone else's key.
    let (stranger, _, _) = test.services();
    let head = services.chainer.head(&services.db).await.unwrap().unwrap();
    let foreign = stranger.chainer.checkpoint_signer().sign(&head, services.clock.now()).unwrap().to_line();

    let signer = services.chainer.checkpoint_signer();
    let text = format!("{genuine}\n{edited}\n{foreign}\nnot a checkpoint\n");
    let report = checkpoint::check(&services.db, &signer, &text).await.unwrap();
    assert_eq!(
        report.findings,
        vec![
            CheckpointFinding::Forged { line: 2 },
            CheckpointFinding::Forged { line: 3 },
            CheckpointFinding::Forged { line: 4 }
        ]
    );
    assert_eq!(report.checked, 1);
    assert_eq!(report.findings[0].to_string(), "checkpoint on line 2 is not signed by any audit key: refused");
});

on_both_backends!(after_rotate_audit_rows_made_with_the_old_and_the_new_keys_verify, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, keys, _) = test.services();
    append(&services, 3).await;
    services.chainer.chain_pending(&services.db).await.unwrap();
    let before = checkpoint_line(&services).await;

    assert_eq!(keys.rotate_audit(), 2);
    append(&services, 2).await;
    services.chainer.chain_pending(&services.db).await.unwrap();
    let after = checkpoint_line(&services).await;

    let rows = audit_event::Entity::find().order_by_asc(audit_event::Column::Seq).all(&services.db).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.key_version).collect::<Vec<_>>(), vec![1, 1, 1, 2, 2]);
    let links =
        audit_chain::Entity::find().order_by_asc(audit_chain::Column::Position).all(&services.db).await.unwrap();
    assert_eq!(links.iter().map(|l| l.key_version).collect::<Vec<_>>(), vec![1, 1, 1, 2, 2]);
    assert!(after.contains("\"key_version\":2"), "{after}");

    let report = verify_now(&services).await;
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.links_checked, 5);
    let signer = services.chainer.checkpoint_signer();
    let checked = checkpoint::check(&services.db, &signer, &format!("{before}\n{after}")).await.unwrap();
    assert!(checked.is_intact(), "{:?}", checked.findings);

    // A row claiming the new version but MACed under the old key does not verify.
    run_as_owner(&test, "UPDATE audit_event SET key_version = 2 WHERE seq = 1").await;
    assert_eq!(verify_now(&services).await.first_problem(), Some(&Finding::EventAltered { seq: 1 }));
});

/// As the owner, with the UPDATE trigger dropped.
async fn run_as_owner(test: &TestDb, statement: &str) {
    let drop = match test.backend {
        Backend::Sqlite => "DROP TRIGGER audit_event_no_update",
        Backend::Postgres => "DROP TRIGGER audit_event_append_only ON audit_event",
    };
    test.owner.execute_unprepared(drop).await.unwrap();
    test.owner.execute_unprepared(statement).await.unwrap();
}

on_both_backends!(a_chainer_failing_past_its_grace_period_makes_readiness_fail, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    services.chainer.set_failure_grace(chrono::Duration::minutes(5));
    assert!(app::domain::health::check(&services).await.audit_chainer);
    // The owner moves the chain table away: every round of linking now fails.
    test.owner.execute_unprepared("ALTER TABLE audit_chain RENAME TO audit_chain_moved").await.unwrap();
    append(&services, 2).await;

    assert!(services.chainer.chain_pending(&services.db).await.is_err());
    services.chainer.note_failure();
    clock.advance(chrono::Duration::minutes(4));
    services.chainer.note_failure();
    let within = app::domain::health::check(&services).await;
    assert!(within.audit_chainer && within.ready(), "{within:?}");

    clock.advance(chrono::Duration::minutes(2));
    services.chainer.note_failure();
    let past = app::domain::health::check(&services).await;
    assert!(!past.audit_chainer, "{past:?}");
    assert!(!past.ready());

    // Back in place, the next round succeeds and readiness returns.
    test.owner.execute_unprepared("ALTER TABLE audit_chain_moved RENAME TO audit_chain").await.unwrap();
    assert_eq!(services.chainer.chain_pending(&services.db).await.unwrap(), 2);
    services.chainer.note_success();
    assert!(app::domain::health::check(&services).await.ready());
});

on_both_backends!(rows_not_yet_chained_are_still_checked_by_their_macs, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append(&services, 3).await;
    // Nothing linked: all three are pending, and one of them is changed.
    run_as_owner(&test, "UPDATE audit_event SET outcome = 'denied' WHERE seq = 2").await;

    let report = verify_now(&services).await;
    assert_eq!(report.findings, vec![Finding::EventAltered { seq: 2 }]);
    assert_eq!(report.pending, 2);
});
