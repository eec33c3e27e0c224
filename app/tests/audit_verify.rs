//! `audit verify` at scale, on both backends: the chain checked in parallel stretches names the
//! same rows a single pass does, a run resumes from a clean run's signed checkpoint and checks
//! only what is new, a checkpoint the chain no longer holds is a finding, and an unlinked row
//! hiding behind the tail is still found by the count; on SQLite, a row holding what the app
//! never writes is named without stopping the run.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use app::domain::audit::verify::{self, Finding, VerifyOptions, VerifyReport};
use app::domain::audit::{Action, AuditEntry, Checkpoint, Outcome};
use app::domain::state::Services;
use app::on_both_backends;
use common::{Backend, TestDb, TestServices, system};
use sea_orm::ConnectionTrait;

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

async fn append_and_chain(services: &Services, count: u64) {
    for n in 0..count {
        services.audit.record(&services.db, &system(), entry(n)).await.unwrap();
    }
    services.chainer.chain_pending(&services.db).await.unwrap();
}

fn options(services: &Services) -> VerifyOptions {
    VerifyOptions::full(services.clock.now(), chrono::Duration::minutes(5))
}

async fn run(services: &Services, options: &VerifyOptions) -> VerifyReport {
    verify::verify_with(&services.db, services.audit.event_mac(), &services.chainer, options, |_, _| {}).await.unwrap()
}

/// Statements only the schema owner can run: drop a trigger, rewrite history.
async fn as_owner(test: &TestDb, sqlite: &[&str], postgres: &[&str]) {
    let statements = match test.backend {
        Backend::Sqlite => sqlite,
        Backend::Postgres => postgres,
    };
    for statement in statements {
        test.owner.execute_unprepared(statement).await.unwrap();
    }
}

async fn checkpoint_of(services: &Services, report: &VerifyReport) -> Checkpoint {
    let head = report.head.clone().unwrap();
    services.chainer.checkpoint_signer().sign(&head, services.clock.now()).unwrap()
}

on_both_backends!(stretches_checked_in_parallel_name_the_rows_a_single_pass_names, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append_and_chain(&services, 40).await;
    // Row 9 is changed; rows 17 and 18 go with their links, just after a stretch boundary.
    as_owner(
        &test,
        &[
            "DROP TRIGGER audit_event_no_update",
            "DROP TRIGGER audit_event_no_delete",
            "DROP TRIGGER audit_chain_no_delete",
            "UPDATE audit_event SET outcome = 'denied' WHERE seq = 9",
            "DELETE FROM audit_chain WHERE position IN (17, 18)",
            "DELETE FROM audit_event WHERE seq IN (17, 18)",
        ],
        &[
            "DROP TRIGGER audit_event_append_only ON audit_event",
            "DROP TRIGGER audit_chain_append_only ON audit_chain",
            "UPDATE audit_event SET outcome = 'denied' WHERE seq = 9",
            "DELETE FROM audit_chain WHERE position IN (17, 18)",
            "DELETE FROM audit_event WHERE seq IN (17, 18)",
        ],
    )
    .await;
    let expected = vec![
        Finding::EventAltered { seq: 9 },
        Finding::ChainAltered { position: 19, seq: 19 },
        Finding::ChainGap { position: 17 },
    ];

    let mut parallel = options(&services);
    parallel.workers = 3;
    parallel.stretch_positions = 8;
    let split = run(&services, &parallel).await;
    let mut single = options(&services);
    single.workers = 1;
    let whole = run(&services, &single).await;

    assert_eq!(split.findings, expected);
    assert_eq!(whole.findings, expected);
    assert_eq!((split.links_checked, split.events_checked), (38, 38));
    assert_eq!((whole.links_checked, whole.events_checked), (38, 38));
    assert_eq!(split.head.as_ref().map(|h| (h.position, h.event_seq)), Some((40, 40)));
});

on_both_backends!(a_resumed_run_checks_only_what_came_after_the_clean_runs_checkpoint, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append_and_chain(&services, 30).await;
    let first = run(&services, &options(&services)).await;
    assert!(first.is_intact(), "{:?}", first.findings);
    assert_eq!(first.events_checked, 30);
    let checkpoint = checkpoint_of(&services, &first).await;
    append_and_chain(&services, 10).await;

    let mut resumed = options(&services);
    resumed.resume = Some(checkpoint.clone());
    let report = run(&services, &resumed).await;
    assert!(report.is_intact(), "{:?}", report.findings);
    assert_eq!(report.resumed_from, Some(30));
    assert_eq!((report.links_checked, report.events_checked), (10, 10));
    assert_eq!(report.head.as_ref().map(|h| (h.position, h.event_seq)), Some((40, 40)));

    // A new row changed is found by the resumed run. An old one is the full run's to find:
    // the resumed run does not read it again.
    as_owner(
        &test,
        &["DROP TRIGGER audit_event_no_update", "UPDATE audit_event SET outcome = 'denied' WHERE seq IN (5, 35)"],
        &[
            "DROP TRIGGER audit_event_append_only ON audit_event",
            "UPDATE audit_event SET outcome = 'denied' WHERE seq IN (5, 35)",
        ],
    )
    .await;
    assert_eq!(run(&services, &resumed).await.findings, vec![Finding::EventAltered { seq: 35 }]);
    assert_eq!(
        run(&services, &options(&services)).await.findings,
        vec![Finding::EventAltered { seq: 5 }, Finding::EventAltered { seq: 35 }]
    );
});

on_both_backends!(a_checkpoint_the_chain_no_longer_holds_is_named_and_everything_is_checked, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append_and_chain(&services, 20).await;
    let clean = run(&services, &options(&services)).await;
    let checkpoint = checkpoint_of(&services, &clean).await;
    // The owner removes the newest rows with their links (or restores last week's copy).
    as_owner(
        &test,
        &[
            "DROP TRIGGER audit_event_no_delete",
            "DROP TRIGGER audit_chain_no_delete",
            "DELETE FROM audit_chain WHERE position > 14",
            "DELETE FROM audit_event WHERE seq > 14",
        ],
        &[
            "DROP TRIGGER audit_event_append_only ON audit_event",
            "DROP TRIGGER audit_chain_append_only ON audit_chain",
            "DELETE FROM audit_chain WHERE position > 14",
            "DELETE FROM audit_event WHERE seq > 14",
        ],
    )
    .await;

    let mut resumed = options(&services);
    resumed.resume = Some(checkpoint);
    let report = run(&services, &resumed).await;
    assert_eq!(report.findings, vec![Finding::CheckpointNotHeld { position: 20, seq: 20 }]);
    assert_eq!(report.resumed_from, None, "the whole log was checked instead");
    assert_eq!(report.events_checked, 14);
    assert!(report.findings[0].to_string().contains("the whole log was checked"), "{}", report.findings[0]);
});

on_both_backends!(an_unlinked_row_behind_the_tail_is_found_by_the_count, |backend| async move {
    let test = TestDb::new(backend).await;
    let (services, _, _) = test.services();
    append_and_chain(&services, 20).await;
    // Row 3's link is removed: row 3 is unlinked, far behind the newest link.
    as_owner(
        &test,
        &["DROP TRIGGER audit_chain_no_delete", "DELETE FROM audit_chain WHERE position = 3"],
        &["DROP TRIGGER audit_chain_append_only ON audit_chain", "DELETE FROM audit_chain WHERE position = 3"],
    )
    .await;
    let mut short_tail = options(&services);
    short_tail.lookback_seqs = 5;
    let report = run(&services, &short_tail).await;

    assert_eq!(report.findings, vec![Finding::ChainAltered { position: 4, seq: 4 }, Finding::ChainGap { position: 3 }]);
    assert_eq!(report.events_checked, 20, "the 19 linked rows and row 3, found outside the tail");
    assert_eq!(report.pending, 1, "row 3 is younger than the grace period");
    // Past the grace period it is named as hidden from the chain.
    let mut later = short_tail.clone();
    later.now = services.clock.now() + chrono::Duration::minutes(6);
    let report = run(&services, &later).await;
    assert_eq!(
        report.findings,
        vec![
            Finding::Unchained { seq: 3 },
            Finding::ChainAltered { position: 4, seq: 4 },
            Finding::ChainGap { position: 3 }
        ]
    );
});

/// Only PostgreSQL lets the owner drop the unique id constraint in place (SQLite would need the
/// table rebuilt): a copied row then carries a valid MAC, and only its repeated id gives it away.
#[tokio::test]
async fn a_copied_row_is_named_by_its_repeated_id_on_postgres() {
    let test = TestDb::new(Backend::Postgres).await;
    let (services, _, _) = test.services();
    append_and_chain(&services, 3).await;
    let clean = run(&services, &options(&services)).await;
    let checkpoint = checkpoint_of(&services, &clean).await;
    let original: uuid::Uuid = test
        .owner
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT id FROM audit_event WHERE seq = 2",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    as_owner(
        &test,
        &[],
        &[
            "ALTER TABLE audit_event DROP CONSTRAINT audit_event_id_unique",
            "INSERT INTO audit_event (id, occurred_at, actor_user_id, actor_role, patient_id, action, resource_type, \
             resource_id, outcome, rule, purpose, justification, ip, user_agent, request_id, mac, key_version) \
             SELECT id, occurred_at, actor_user_id, actor_role, patient_id, action, resource_type, resource_id, \
             outcome, rule, purpose, justification, ip, user_agent, request_id, mac, key_version \
             FROM audit_event WHERE seq = 2",
        ],
    )
    .await;
    let expected = vec![Finding::DuplicateEvent { seq: 4, id: original }];
    assert_eq!(run(&services, &options(&services)).await.findings, expected);
    // Linked by the chainer, it is still named, by a run resumed from before it too.
    services.chainer.chain_pending(&services.db).await.unwrap();
    assert_eq!(run(&services, &options(&services)).await.findings, expected);
    let mut resumed = options(&services);
    resumed.resume = Some(checkpoint);
    assert_eq!(run(&services, &resumed).await.findings, expected);
}

/// A SQLite file's chain is read with rusqlite on blocking threads, not through sqlx. SQLite
/// keeps whatever an owner writes into a column, so a row holding what the app never writes
/// (its timestamp in SQLite's own format, an id cut short) is named, and the run goes on past
/// it rather than failing on the first such row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_row_holding_what_the_app_never_writes_is_named_and_the_run_goes_on() {
    let test = TestDb::new(Backend::Sqlite).await;
    let (services, _, _) = test.services();
    append_and_chain(&services, 12).await;
    as_owner(
        &test,
        &[
            "DROP TRIGGER audit_event_no_update",
            "UPDATE audit_event SET occurred_at = strftime('%Y-%m-%d %H:%M:%f', occurred_at) WHERE seq = 3",
            "UPDATE audit_event SET id = substr(id, 1, 8) WHERE seq = 6",
        ],
        &[],
    )
    .await;
    let mut parallel = options(&services);
    parallel.workers = 2;
    parallel.stretch_positions = 4;
    let report = run(&services, &parallel).await;
    assert_eq!(report.findings, vec![Finding::EventAltered { seq: 3 }, Finding::EventAltered { seq: 6 }]);
    assert_eq!((report.links_checked, report.events_checked), (12, 12));
    assert_eq!(report.head.as_ref().map(|h| (h.position, h.event_seq)), Some((12, 12)));
}
