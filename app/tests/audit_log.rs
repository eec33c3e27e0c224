//! The audit log on both backends: append-only by the database itself, tamper-evident through
//! MACs and the hash chain, correct under concurrent writers.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::on_both_backends;
use std::sync::Arc;

use app::domain::audit::verify::{self, Finding, VerifyReport};
use app::domain::audit::{Action, AuditEntry, Outcome};
use app::domain::entities::audit_event;
use app::domain::state::Services;
use common::{Backend, TestDb, TestServices, system};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

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
        let txn = sea_orm::TransactionTrait::begin(&services.db).await.unwrap();
        services.audit.append(&txn, &system(), entry(n)).await.unwrap();
        txn.commit().await.unwrap();
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

async fn run(test: &TestDb, sqlite: &[&str], postgres: &[&str]) {
    let statements = match test.backend {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
    };
    // Dropping a trigger and rewriting history is what only the schema owner can do.
    for statement in statements {
        test.owner.execute_unprepared(statement).await.unwrap();
    }
}

on_both_backends!(update_and_delete_of_audit_rows_are_refused_by_the_database, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append(&services, 3).await;
    services.chainer.chain_pending(&services.db).await.unwrap();

    // Even the owner, who holds every privilege, meets the triggers.
    for statement in [
        "UPDATE audit_event SET outcome = 'denied' WHERE seq = 1",
        "DELETE FROM audit_event WHERE seq = 2",
        "UPDATE audit_chain SET link = link WHERE position = 1",
        "DELETE FROM audit_chain",
    ] {
        let err = test.owner.execute_unprepared(statement).await.expect_err(statement);
        assert!(err.to_string().contains("append-only"), "{statement}: {err}");
    }
    if backend == Backend::Postgres {
        let err = test.owner.execute_unprepared("TRUNCATE audit_event CASCADE").await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert_eq!(audit_event::Entity::find().count(&test.db).await.unwrap(), 3);
    assert!(verify_now(&services).await.is_intact());
});

on_both_backends!(a_row_changed_behind_the_triggers_back_is_named_by_verify, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append(&services, 5).await;
    services.chainer.chain_pending(&services.db).await.unwrap();
    assert!(verify_now(&services).await.is_intact());

    run(
        &test,
        &["DROP TRIGGER audit_event_no_update", "UPDATE audit_event SET outcome = 'denied' WHERE seq = 3"],
        &[
            "DROP TRIGGER audit_event_append_only ON audit_event",
            "UPDATE audit_event SET outcome = 'denied' WHERE seq = 3",
        ],
    )
    .await;

    let report = verify_now(&services).await;
    assert_eq!(report.first_problem(), Some(&Finding::EventAltered { seq: 3 }));
    assert!(report.first_problem().unwrap().to_string().contains("seq 3"));
});

on_both_backends!(a_deleted_row_is_named_by_verify, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append(&services, 5).await;
    services.chainer.chain_pending(&services.db).await.unwrap();

    run(
        &test,
        &["DROP TRIGGER audit_event_no_delete", "DELETE FROM audit_event WHERE seq = 2"],
        &["DROP TRIGGER audit_event_append_only ON audit_event", "DELETE FROM audit_event WHERE seq = 2"],
    )
    .await;

    let report = verify_now(&services).await;
    assert_eq!(report.first_problem(), Some(&Finding::EventMissing { seq: 2, position: 2 }));
});

on_both_backends!(a_row_deleted_with_its_link_leaves_a_gap_verify_names, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append(&services, 5).await;
    services.chainer.chain_pending(&services.db).await.unwrap();

    run(
        &test,
        &[
            "DROP TRIGGER audit_event_no_delete",
            "DROP TRIGGER audit_chain_no_delete",
            "DELETE FROM audit_chain WHERE event_seq = 4",
            "DELETE FROM audit_event WHERE seq = 4",
        ],
        &[
            "DROP TRIGGER audit_event_append_only ON audit_event",
            "DROP TRIGGER audit_chain_append_only ON audit_chain",
            "DELETE FROM audit_chain WHERE event_seq = 4",
            "DELETE FROM audit_event WHERE seq = 4",
        ],
    )
    .await;

    let report = verify_now(&services).await;
    assert!(report.findings.contains(&Finding::ChainGap { position: 4 }), "{:?}", report.findings);
    // The link after the gap no longer follows from the one before it either.
    assert!(report.findings.contains(&Finding::ChainAltered { position: 5, seq: 5 }), "{:?}", report.findings);
});

on_both_backends!(an_inserted_row_is_named_by_verify, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append(&services, 3).await;
    services.chainer.chain_pending(&services.db).await.unwrap();

    let new_id = match backend {
        Backend::Sqlite => "randomblob(16)",
        Backend::Postgres => "gen_random_uuid()",
    };
    let forge = format!(
        "INSERT INTO audit_event (id, occurred_at, actor_user_id, actor_role, patient_id, action, resource_type, \
         resource_id, outcome, rule, purpose, justification, ip, user_agent, request_id, mac) \
         SELECT {new_id}, occurred_at, actor_user_id, actor_role, patient_id, 'patient.update', resource_type, \
         resource_id, outcome, rule, purpose, justification, ip, user_agent, request_id, mac \
         FROM audit_event WHERE seq = 2"
    );
    test.db.execute_unprepared(&forge).await.unwrap();

    // Named whether or not the chainer has linked it yet.
    let before = verify_now(&services).await;
    assert_eq!(before.first_problem(), Some(&Finding::EventAltered { seq: 4 }));
    services.chainer.chain_pending(&services.db).await.unwrap();
    let after = verify_now(&services).await;
    assert_eq!(after.first_problem(), Some(&Finding::EventAltered { seq: 4 }));
});

on_both_backends!(an_unlinked_row_past_the_grace_period_is_reported, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, clock) = test.services();
    append(&services, 2).await;
    assert_eq!(verify_now(&services).await.pending, 2);

    clock.advance(chrono::Duration::minutes(10));

    let report = verify_now(&services).await;
    assert_eq!(report.first_problem(), Some(&Finding::Unchained { seq: 1 }));
});

on_both_backends!(eight_concurrent_writers_leave_a_log_that_verifies, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    let services = Arc::new(services);
    // Two chainers race each other and the writers, as two app nodes would.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let chainers: Vec<_> = (0..2)
        .map(|_| {
            let (services, stop) = (services.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    services.chainer.chain_pending(&services.db).await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let services = services.clone();
            tokio::spawn(async move { append(&services, 500).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for chainer in chainers {
        chainer.await.unwrap();
    }
    services.chainer.chain_pending(&services.db).await.unwrap();

    let report = verify_now(&services).await;
    assert_eq!(audit_event::Entity::find().count(&test.db).await.unwrap(), 4000);
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.events_checked, 4000);
    assert_eq!(report.links_checked, 4000);
    assert_eq!(report.pending, 0);
});

/// Only PostgreSQL commits writers out of seq order (SQLite has one writer): a transaction that
/// took its seq before others and commits after they were linked leaves a row behind the head.
/// A running node's rounds look back only `RECENT_LOOKBACK_SEQS`; a straggler further back is
/// linked by the full look-back, which `chain_pending` always does.
#[tokio::test]
async fn a_row_committed_late_is_linked_by_a_recent_round_if_near_and_by_the_full_look_back_if_not() {
    use app::domain::audit::chain::{Lookback, RECENT_LOOKBACK_SEQS};
    assert_eq!(RECENT_LOOKBACK_SEQS, 2_000, "the counts below step just past this window");
    let test = TestDb::new(Backend::Postgres).await;
    let (services, _, _) = test.services();
    async fn recent(services: &Services) -> u64 {
        services.chainer.chain_pending_within(&services.db, Lookback::Recent).await.unwrap()
    }

    let near = sea_orm::TransactionTrait::begin(&services.db).await.unwrap();
    services.audit.append(&near, &system(), entry(0)).await.unwrap();
    append(&services, 2).await;
    assert_eq!(recent(&services).await, 2);
    near.commit().await.unwrap();
    assert_eq!(recent(&services).await, 1, "a straggler a few seqs back is linked by the next round");

    let far = sea_orm::TransactionTrait::begin(&services.db).await.unwrap();
    services.audit.append(&far, &system(), entry(0)).await.unwrap();
    for n in 0..2_010 {
        services.audit.record(&services.db, &system(), entry(n)).await.unwrap();
    }
    assert_eq!(recent(&services).await, 2_010);
    far.commit().await.unwrap();
    assert_eq!(recent(&services).await, 0, "2,011 seqs back is outside a recent round's window");
    assert_eq!(services.chainer.chain_pending(&services.db).await.unwrap(), 1);

    let report = verify_now(&services).await;
    assert_eq!(report.first_problem(), None);
    assert_eq!(report.pending, 0);
}
