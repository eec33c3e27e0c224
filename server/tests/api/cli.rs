//! The real binary: key handling at start-up and `audit verify`.

use std::os::unix::fs::PermissionsExt;

use crate::helpers::{run_binary, text};

#[test]
fn production_refuses_to_start_without_key_material_and_says_why_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/prod.db?mode=rwc", dir.path().display());

    let output = run_binary(
        &["migrate"],
        &[
            ("APP_ENVIRONMENT", "production"),
            ("APP_DATABASE__URL", &url),
            ("APP_SERVER__PUBLIC_URL", "https://clinic.example.org"),
            ("APP_SERVER__TLS__TERMINATED_BY_PROXY", "true"),
            ("APP_SERVER__TRUSTED_PROXIES", "10.0.0.0/8"),
        ],
    );

    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    let line = stderr.lines().find(|l| l.starts_with("error:")).expect("an error line");
    assert!(line.contains("refusing to start: no master key material was given"), "{stderr}");
    assert!(line.contains("APP_KEYS__FILE"), "{line}");
}

#[test]
fn development_creates_its_key_file_readable_by_the_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/dev.db?mode=rwc", dir.path().display());
    let keys = dir.path().join("keys/dev-keys.json");

    let output = run_binary(
        &["migrate"],
        &[("APP_ENVIRONMENT", "development"), ("APP_DATABASE__URL", &url), ("APP_KEYS__FILE", keys.to_str().unwrap())],
    );

    assert!(output.status.success(), "{}", text(&output.stderr));
    let mode = std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A key file others can read is refused.
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = run_binary(
        &["migrate"],
        &[("APP_ENVIRONMENT", "development"), ("APP_DATABASE__URL", &url), ("APP_KEYS__FILE", keys.to_str().unwrap())],
    );
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("chmod 600"));
}

#[tokio::test]
async fn audit_verify_passes_an_intact_log_and_names_the_first_changed_row() {
    use sea_orm::ConnectionTrait;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/verify.db?mode=rwc", dir.path().display());
    let keys = dir.path().join("keys.json");
    let env = [
        ("APP_DATABASE__URL", url.as_str()),
        ("APP_KEYS__FILE", keys.to_str().unwrap()),
        ("APP_KEYS__GENERATE_IF_MISSING", "true"),
    ];
    assert!(run_binary(&["seed", "--patients", "6"], &env).status.success());

    let intact = run_binary(&["audit", "verify"], &env);
    assert!(intact.status.success(), "{}", text(&intact.stdout));
    assert!(text(&intact.stdout).contains("audit log intact"));

    let db = app::domain::db::connect(&url).await.unwrap();
    db.execute_unprepared("DROP TRIGGER audit_event_no_update").await.unwrap();
    db.execute_unprepared("UPDATE audit_event SET actor_role = 'clinician' WHERE seq = 4").await.unwrap();
    db.close().await.unwrap();

    let tampered = run_binary(&["audit", "verify"], &env);
    assert_eq!(tampered.status.code(), Some(1));
    assert!(text(&tampered.stdout).contains("AUDIT LOG TAMPERED: audit row seq 4"), "{}", text(&tampered.stdout));
}

#[tokio::test]
async fn audit_verify_from_checkpoint_records_clean_runs_resumes_after_them_and_refuses_a_forged_line() {
    use sea_orm::ConnectionTrait;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/resume.db?mode=rwc", dir.path().display());
    let keys = dir.path().join("keys.json");
    let resume = dir.path().join("verify.log");
    let env = [
        ("APP_DATABASE__URL", url.as_str()),
        ("APP_KEYS__FILE", keys.to_str().unwrap()),
        ("APP_KEYS__GENERATE_IF_MISSING", "true"),
    ];
    assert!(run_binary(&["seed", "--patients", "3", "--demographics-only"], &env).status.success());
    assert!(run_binary(&["audit", "chain"], &env).status.success());
    let verify = || run_binary(&["audit", "verify", "--from-checkpoint", resume.to_str().unwrap()], &env);

    let first = verify();
    let stdout = text(&first.stdout);
    assert!(first.status.success(), "{stdout}");
    assert!(!stdout.contains("resumed after"), "no clean run recorded yet: {stdout}");
    assert!(stdout.contains("recorded this clean run"), "{stdout}");
    assert_eq!(std::fs::metadata(&resume).unwrap().permissions().mode() & 0o777, 0o600);
    let recorded = std::fs::read_to_string(&resume).unwrap();
    let checkpoint = app::domain::audit::Checkpoint::parse(recorded.lines().next().unwrap()).unwrap();

    assert!(
        run_binary(&["seed", "--patients", "1", "--demographics-only", "--mrn-prefix", "LATE"], &env).status.success()
    );
    assert!(run_binary(&["audit", "chain"], &env).status.success());
    let second = verify();
    let stdout = text(&second.stdout);
    assert!(second.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("resumed after chain position {}", checkpoint.position)), "{stdout}");
    assert_eq!(std::fs::read_to_string(&resume).unwrap().lines().count(), 2, "the second clean run is recorded");

    // A row added since, changed behind the triggers, is found by the resumed run.
    assert!(
        run_binary(&["seed", "--patients", "1", "--demographics-only", "--mrn-prefix", "LAST"], &env).status.success()
    );
    assert!(run_binary(&["audit", "chain"], &env).status.success());
    let db = app::domain::db::connect(&url).await.unwrap();
    db.execute_unprepared("DROP TRIGGER audit_event_no_update").await.unwrap();
    db.execute_unprepared("UPDATE audit_event SET actor_role = 'admin' WHERE seq = (SELECT MAX(seq) FROM audit_event)")
        .await
        .unwrap();
    db.close().await.unwrap();
    let mut forged = std::fs::read_to_string(&resume).unwrap();
    forged.push_str(&recorded.replace("\"position\":", "\"position\":9").replace('\n', ""));
    forged.push('\n');
    std::fs::write(&resume, forged).unwrap();
    let third = verify();
    let stdout = text(&third.stdout);
    assert_eq!(third.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("is not a checkpoint signed by an audit key: refused"), "{stdout}");
    assert!(stdout.contains("does not match its MAC"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&resume).unwrap().lines().count(), 3, "a run with problems is not recorded");
}

#[test]
fn keys_rotate_writes_the_new_version_durably_then_rewraps_every_data_key_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/rotate.db?mode=rwc", dir.path().display());
    let keys = dir.path().join("keys").join("master.json");
    let env = [
        ("APP_DATABASE__URL", url.as_str()),
        ("APP_KEYS__FILE", keys.to_str().unwrap()),
        ("APP_KEYS__GENERATE_IF_MISSING", "true"),
    ];
    assert!(run_binary(&["seed", "--patients", "3", "--demographics-only"], &env).status.success());

    let rotated = run_binary(&["keys", "rotate"], &env);

    let stdout = text(&rotated.stdout);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let announced = stdout.find("KEK version 2 is now active").expect("the new version is announced");
    let rewrapped = stdout.find("re-wrapped 3 data keys").expect("every patient's data key is re-wrapped");
    assert!(announced < rewrapped, "the key file is in place before any data key is re-wrapped: {stdout}");
    assert!(stdout.contains("local-master version 2: 3 data keys"), "{stdout}");
    // Only the key file is left in its directory (the temporary file was renamed), owner-only.
    let names: Vec<_> = std::fs::read_dir(keys.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [std::ffi::OsString::from("master.json")]);
    assert_eq!(std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn production_without_tls_or_a_terminating_proxy_refuses_to_start_in_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/prod.db?mode=rwc", dir.path().display());
    let keys = dir.path().join("keys.json");
    std::fs::write(&keys, app::domain::crypto::LocalKeyring::generate("prod").to_json()).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let base = [
        ("APP_ENVIRONMENT", "production"),
        ("APP_DATABASE__URL", url.as_str()),
        ("APP_KEYS__FILE", keys.to_str().unwrap()),
        ("APP_SERVER__PUBLIC_URL", "https://clinic.example.org"),
        ("APP_SERVER__PORT", "0"),
    ];

    let output = run_binary(&["serve"], &base);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_eq!(
        stderr.trim(),
        "error: production refuses to start without TLS: set server.tls.cert_file and server.tls.key_file, or \
         server.tls.terminated_by_proxy = true with server.trusted_proxies"
    );

    // A terminating proxy alone is not enough: its forwarded scheme is believed only from
    // addresses named as trusted.
    let mut proxied = base.to_vec();
    proxied.push(("APP_SERVER__TLS__TERMINATED_BY_PROXY", "true"));
    let output = run_binary(&["serve"], &proxied);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.trim().starts_with("error: server.tls.terminated_by_proxy needs server.trusted_proxies"),
        "{stderr}"
    );
}

#[test]
fn dev_cert_writes_a_certificate_for_localhost_and_a_key_only_its_owner_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls");
    let output = run_binary(&["dev-cert", "--dir", out.to_str().unwrap(), "--days", "90"], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let key_mode = std::fs::metadata(out.join("key.pem")).unwrap().permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o600);
    let pem = std::fs::read_to_string(out.join("cert.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(std::fs::read_to_string(out.join("key.pem")).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
}
