//! The audit trail against its database owner, through the real server and the real binary:
//! checkpoints written outside the database (file and syslog), `audit verify --checkpoints`
//! catching rows deleted from the end and a restored older copy, audit key rotation, the app's
//! PostgreSQL role, and a failing chainer in `/readyz`.

use std::time::Duration;

use app::domain::audit::Checkpoint;
use app::on_both_backends;
use sea_orm::ConnectionTrait;

use crate::helpers::{Backend, TestDb, run_binary, spawn_app_with_settings, text};

/// Polls `probe` every 100 ms for up to `seconds`.
async fn eventually<F: std::future::Future<Output = bool>>(seconds: u64, mut probe: impl FnMut() -> F) -> bool {
    for _ in 0..seconds * 10 {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

on_both_backends!(a_chainer_failing_longer_than_its_grace_period_makes_readyz_report_it, |backend| async move {
    let app = spawn_app_with_settings(backend, |settings| settings.audit.chainer_failure_grace_seconds = 1).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    // The owner moves the chain table away: every round of the background chainer fails.
    app.db.owner.execute_unprepared("ALTER TABLE audit_chain RENAME TO audit_chain_moved").await.unwrap();

    let reported = eventually(10, || async {
        let response = app.get("/readyz").await;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        status == 503 && body["audit_chainer"] == false && body["database"] == true
    })
    .await;
    assert!(reported, "readyz never reported the failing chainer");

    app.db.owner.execute_unprepared("ALTER TABLE audit_chain_moved RENAME TO audit_chain").await.unwrap();
    assert!(eventually(10, || async { app.get("/readyz").await.status() == 200 }).await);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chainer_appends_signed_checkpoints_to_its_file_and_to_syslog() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checkpoints.log");
    let syslog = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    syslog.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let syslog_address = format!("udp://{}", syslog.local_addr().unwrap());
    let app = spawn_app_with_settings(Backend::Sqlite, |settings| {
        settings.audit.checkpoint_interval_seconds = 1;
        settings.audit.checkpoint_file = Some(file.clone());
        settings.audit.checkpoint_syslog = Some(syslog_address);
    })
    .await;
    // Something to link.
    let entry = app::domain::audit::AuditEntry {
        action: app::domain::audit::Action::PatientRead,
        resource_type: "patient",
        resource_id: None,
        patient_id: None,
        outcome: app::domain::audit::Outcome::Allowed,
        rule: Some("test".to_owned()),
    };
    let system = app::domain::audit::AuditContext::system("test");
    app.services.audit.record(&app.services.db, &system, entry).await.unwrap();

    let mut buffer = [0u8; 2048];
    let (length, _) = syslog.recv_from(&mut buffer).expect("a syslog message within 10 s");
    let message = String::from_utf8(buffer[..length].to_vec()).unwrap();
    // RFC 5424: <PRI>VERSION, facility 13 (log audit) and severity 6 (informational).
    assert!(message.starts_with("<110>1 "), "{message}");
    assert!(message.contains(" clinic ") && message.contains(" audit-checkpoint - {"), "{message}");
    let sent = Checkpoint::parse(&message).expect("the checkpoint in the message");
    assert!(app.services.chainer.checkpoint_signer().is_genuine(&sent));

    let lines = std::fs::read_to_string(&file).unwrap();
    let first = lines.lines().next().expect("a line in the checkpoint file");
    assert_eq!(Checkpoint::parse(first), Some(sent));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[cfg(unix)]
#[test]
fn checkpoints_go_to_a_unix_datagram_syslog_socket_and_append_to_the_file() {
    use server::checkpoints::{Sinks, SyslogTarget};
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("log.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    let file = dir.path().join("checkpoints.log");
    let sinks = Sinks { file: Some(file.clone()), syslog: Some(SyslogTarget::Unix(socket_path)) };
    let ring = std::sync::Arc::new(app::domain::crypto::LocalKeyring::generate("test"));
    let signer = app::domain::audit::CheckpointSigner::new(ring);
    let head = app::domain::audit::ChainHead { position: 3, event_seq: 4, link: vec![7; 32] };
    let checkpoint = signer.sign(&head, chrono::Utc::now()).unwrap();

    sinks.write(&checkpoint).unwrap();
    sinks.write(&checkpoint).unwrap();

    let mut buffer = [0u8; 2048];
    let length = socket.recv(&mut buffer).unwrap();
    let message = String::from_utf8(buffer[..length].to_vec()).unwrap();
    assert!(message.starts_with("<110>1 "), "{message}");
    assert_eq!(Checkpoint::parse(&message), Some(checkpoint.clone()));
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written.lines().count(), 2, "appended, never truncated");
}

/// `KEY=value` pairs for a SQLite database, a key file and a checkpoint file in `dir`.
fn sqlite_env(dir: &std::path::Path, db: &str) -> Vec<(String, String)> {
    vec![
        ("APP_DATABASE__URL".into(), format!("sqlite://{}/{db}?mode=rwc", dir.display())),
        ("APP_KEYS__FILE".into(), dir.join("keys.json").display().to_string()),
        ("APP_KEYS__GENERATE_IF_MISSING".into(), "true".into()),
        ("APP_AUDIT__CHECKPOINT_FILE".into(), dir.join("checkpoints.log").display().to_string()),
    ]
}

fn run(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    run_binary(args, &pairs)
}

/// The seq `audit chain` says it wrote a checkpoint of.
fn chain_and_checkpoint(env: &[(String, String)]) -> i64 {
    let output = run(&["audit", "chain"], env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let line = stdout.lines().find(|l| l.starts_with("wrote a signed checkpoint")).expect("a checkpoint line");
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn audit_verify_with_checkpoints_names_rows_deleted_from_the_end_a_restored_copy_and_a_forgery() {
    let dir = tempfile::tempdir().unwrap();
    let env = sqlite_env(dir.path(), "clinic.db");
    let checkpoints = dir.path().join("checkpoints.log");
    let checkpoints_arg = checkpoints.to_str().unwrap();
    assert!(run(&["seed", "--patients", "3"], &env).status.success());
    let first_seq = chain_and_checkpoint(&env);
    // The backup an attacker will restore later.
    std::fs::copy(dir.path().join("clinic.db"), dir.path().join("old.db")).unwrap();
    if dir.path().join("clinic.db-wal").exists() {
        std::fs::copy(dir.path().join("clinic.db-wal"), dir.path().join("old.db-wal")).unwrap();
    }
    assert!(run(&["seed", "--patients", "12", "--demographics-only"], &env).status.success());
    let newest_seq = chain_and_checkpoint(&env);
    assert!(newest_seq > first_seq + 10, "{first_seq} then {newest_seq}");

    let intact = run(&["audit", "verify", "--checkpoints", checkpoints_arg], &env);
    assert!(intact.status.success(), "{}", text(&intact.stdout));
    assert!(
        text(&intact.stdout)
            .contains(&format!("checked 2 signed checkpoints; the newest vouches for seq {newest_seq}"))
    );

    // A forged line: the newest checkpoint with its seq moved on, signature kept.
    let forged_file = dir.path().join("forged.log");
    let genuine = std::fs::read_to_string(&checkpoints).unwrap();
    let last = genuine.lines().last().unwrap();
    let forged = last.replace(&format!("\"seq\":{newest_seq}"), &format!("\"seq\":{}", newest_seq + 5));
    std::fs::write(&forged_file, format!("{genuine}{forged}\n")).unwrap();
    let refused = run(&["audit", "verify", "--checkpoints", forged_file.to_str().unwrap()], &env);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stdout)
            .contains("AUDIT LOG TAMPERED: checkpoint on line 3 is not signed by any audit key: refused"),
        "{}",
        text(&refused.stdout)
    );

    // The older copy, verified against the newer checkpoints.
    let old_env = sqlite_env(dir.path(), "old.db");
    let restored = run(&["audit", "verify", "--checkpoints", checkpoints_arg], &old_env);
    assert_eq!(restored.status.code(), Some(1), "{}", text(&restored.stdout));
    let stdout = text(&restored.stdout);
    assert!(stdout.contains("an older copy of the database was restored"), "{stdout}");
    assert!(stdout.contains(&format!("last good seq {first_seq}")), "{stdout}");

    // The owner deletes the newest 10 rows and their links.
    let db = app::domain::db::connect(&env[0].1).await.unwrap();
    for statement in [
        "DROP TRIGGER audit_event_no_delete".to_owned(),
        "DROP TRIGGER audit_chain_no_delete".to_owned(),
        format!("DELETE FROM audit_chain WHERE event_seq > {}", newest_seq - 10),
        format!("DELETE FROM audit_event WHERE seq > {}", newest_seq - 10),
    ] {
        db.execute_unprepared(&statement).await.unwrap();
    }
    db.close().await.unwrap();
    let truncated = run(&["audit", "verify", "--checkpoints", checkpoints_arg], &env);
    assert_eq!(truncated.status.code(), Some(1));
    let stdout = text(&truncated.stdout);
    assert!(
        stdout.contains(&format!("AUDIT LOG TAMPERED: the log ends at audit row seq {}", newest_seq - 10)),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("vouches for seq {newest_seq}")), "{stdout}");
    assert!(stdout.contains(&format!("last good seq {}", newest_seq - 10)), "{stdout}");
    // Without the checkpoints, the shortened log looks whole: that is what they are for.
    assert!(run(&["audit", "verify"], &env).status.success());
}

#[tokio::test]
async fn after_keys_rotate_audit_old_and_new_rows_and_checkpoints_verify() {
    let dir = tempfile::tempdir().unwrap();
    let env = sqlite_env(dir.path(), "clinic.db");
    let checkpoints = dir.path().join("checkpoints.log");
    assert!(run(&["seed", "--patients", "2"], &env).status.success());
    chain_and_checkpoint(&env);

    let rotated = run(&["keys", "rotate-audit"], &env);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert!(text(&rotated.stdout).contains("audit key version 2 is now active"), "{}", text(&rotated.stdout));
    assert!(run(&["seed", "--patients", "2", "--demographics-only"], &env).status.success());
    chain_and_checkpoint(&env);

    let verified = run(&["audit", "verify", "--checkpoints", checkpoints.to_str().unwrap()], &env);
    assert!(verified.status.success(), "{}", text(&verified.stdout));
    assert!(text(&verified.stdout).contains("audit log intact"));

    let db = app::domain::db::connect(&env[0].1).await.unwrap();
    let versions: Vec<i32> = {
        use sea_orm::{EntityTrait, QuerySelect};
        app::domain::entities::audit_event::Entity::find()
            .select_only()
            .column(app::domain::entities::audit_event::Column::KeyVersion)
            .distinct()
            .into_tuple()
            .all(&db)
            .await
            .unwrap()
    };
    db.close().await.unwrap();
    let mut versions = versions;
    versions.sort();
    assert_eq!(versions, vec![1, 2]);

    let status = text(&run(&["keys", "status"], &env).stdout);
    assert!(status.contains("audit keys version 1 (verify only): checkpoint public key "), "{status}");
    assert!(status.contains("audit keys version 2 (active): checkpoint public key "), "{status}");
}

#[tokio::test]
async fn migrate_as_the_owner_leaves_the_app_role_unable_to_delete_audit_rows_on_postgres() {
    let test = TestDb::new_postgres_unmigrated().await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let env = [
        ("APP_DATABASE__URL", test.url.as_str()),
        ("APP_DATABASE__MIGRATION_URL", test.owner_url.as_str()),
        ("APP_KEYS__FILE", keys.to_str().unwrap()),
        ("APP_KEYS__GENERATE_IF_MISSING", "true"),
    ];
    let migrated = run_binary(&["migrate"], &env);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    // The app role runs the app: it writes audit rows, and needs no DDL right for that.
    let seeded =
        run_binary(&["seed", "--patients", "2"], &env[..1].iter().chain(&env[2..]).copied().collect::<Vec<_>>());
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));

    let err = test.db.execute_unprepared("DELETE FROM audit_event").await.unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    let err = test.db.execute_unprepared("DROP TRIGGER audit_event_append_only ON audit_event").await.unwrap_err();
    assert!(err.to_string().contains("must be owner"), "{err}");
    // The owner still can (and is what checkpoints guard against).
    test.owner.execute_unprepared("DROP TRIGGER audit_event_append_only ON audit_event").await.unwrap();
}
