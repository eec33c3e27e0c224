//! TLS in the server: HSTS on every response, a renewed certificate served without a restart,
//! the plain-HTTP listener that only redirects, and scheme trust behind a terminating proxy.

use app::domain::test_support::Backend;
use app::on_both_backends;

use crate::helpers::{spawn_app_configured, spawn_tls_app, tls_client};

on_both_backends!(every_https_response_carries_hsts_and_the_session_cookie_is_secure, |backend| async move {
    let app = spawn_tls_app(backend, |_| {}).await;
    for path in ["/", "/sign-in", "/healthz", "/readyz", "/no-such-page", "/pkg/no-such-file.wasm"] {
        let response = app.get(path).await;
        assert_eq!(response.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains", "{path}");
    }
    let response = app.call("auth/start_sign_in").await;
    assert_eq!(response.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("clinic_session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_replaced_on_disk_is_served_on_the_next_connection() {
    let app = spawn_tls_app(Backend::Sqlite, |_| {}).await;
    let dir = app.tls.as_ref().unwrap().path().to_owned();
    let first = std::fs::read(dir.join("cert.pem")).unwrap();
    let trusts_first = tls_client(&first);
    assert_eq!(trusts_first.get(format!("{}/healthz", app.address)).send().await.unwrap().status(), 200);

    // A renewal writes a new pair over the old files, as certbot's deploy hook would.
    server::tls::dev_cert::write(&dir, &["localhost".to_owned()], 90).unwrap();
    let second = std::fs::read(dir.join("cert.pem")).unwrap();
    assert_ne!(first, second);
    let trusts_second = tls_client(&second);

    let renewed = trusts_second.get(format!("{}/healthz", app.address)).send().await;
    assert_eq!(renewed.unwrap().status(), 200, "the new certificate is served without a restart");
    // A fresh client (one with a TLS session from before could resume it without any
    // certificate being presented, as TLS allows) that trusts only the old certificate.
    let stale = tls_client(&first).get(format!("{}/healthz", app.address)).send().await;
    assert!(stale.is_err(), "the old certificate is no longer presented");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_that_does_not_load_keeps_the_certificate_in_service() {
    let app = spawn_tls_app(Backend::Sqlite, |_| {}).await;
    let dir = app.tls.as_ref().unwrap().path().to_owned();
    let pem = std::fs::read(dir.join("cert.pem")).unwrap();
    std::fs::write(dir.join("key.pem"), "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n").unwrap();
    let response = tls_client(&pem).get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_the_redirect_port_is_sent_to_the_public_https_url_whatever_the_host_header() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let app = spawn_tls_app(Backend::Sqlite, |settings| settings.server.tls.redirect_http_port = Some(port)).await;
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    let response = plain
        .get(format!("http://127.0.0.1:{port}/patients/search?q=1"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], format!("{}/patients/search?q=1", app.address).as_str());
    assert!(!response.headers().contains_key("set-cookie"), "no session is started over plain HTTP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_terminating_proxy_its_forwarded_scheme_is_believed_and_nobody_elses() {
    let app = spawn_app_configured(Backend::Sqlite, std::sync::Arc::new(app::domain::clock::SystemClock), |s| {
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
        s.server.tls.terminated_by_proxy = true;
    })
    .await;
    // The proxy says the client came over plain HTTP: sent to https, same path.
    let response = app.client.get(format!("{}/sign-in", app.address)).header("x-forwarded-proto", "http").send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], format!("{}/sign-in", app.address).as_str());
    // It says https: served, with HSTS.
    let response = app.client.get(format!("{}/sign-in", app.address)).header("x-forwarded-proto", "https").send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_scheme_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app_configured(Backend::Sqlite, std::sync::Arc::new(app::domain::clock::SystemClock), |s| {
        s.server.trusted_proxies = vec!["10.0.0.0/8".into()];
        s.server.tls.terminated_by_proxy = true;
    })
    .await;
    let response = app.client.get(format!("{}/sign-in", app.address)).header("x-forwarded-proto", "http").send().await;
    assert_eq!(response.unwrap().status(), 200);
}
