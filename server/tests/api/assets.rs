//! The bundle and pages on the wire: precompressed brotli and gzip files, a 304 for a browser
//! that has the file, pages and server-function answers compressed on the fly, and PHI
//! responses never stored.

use app::domain::test_support::Backend;

use crate::helpers::{TestApp, spawn_app_configured};

const WASM: &[u8] = b"\0asm synthetic bundle for tests";
const WASM_BR: &[u8] = b"brotli bytes of the synthetic bundle";
const WASM_GZ: &[u8] = b"gzip bytes of the synthetic bundle";

/// An app whose site root holds a bundle with its precompressed variants.
async fn app_with_bundle() -> (TestApp, tempfile::TempDir) {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("clinic.wasm"), WASM).unwrap();
    std::fs::write(pkg.join("clinic.wasm.br"), WASM_BR).unwrap();
    std::fs::write(pkg.join("clinic.wasm.gz"), WASM_GZ).unwrap();
    let root = site.path().to_str().unwrap().to_owned();
    let app = spawn_app_configured(Backend::Sqlite, std::sync::Arc::new(app::domain::clock::SystemClock), |s| {
        s.server.site_root = root;
    })
    .await;
    (app, site)
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_is_served_precompressed_to_a_client_that_takes_it() {
    let (app, _site) = app_with_bundle().await;

    let br = get(&app, "/pkg/clinic.wasm", &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(br.status(), 200);
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.headers()["content-type"], "application/wasm");
    assert_eq!(br.headers()["vary"], "accept-encoding");
    assert_eq!(br.bytes().await.unwrap().as_ref(), WASM_BR);

    let gzip = get(&app, "/pkg/clinic.wasm", &[("accept-encoding", "gzip")]).await;
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(gzip.bytes().await.unwrap().as_ref(), WASM_GZ);

    let identity = get(&app, "/pkg/clinic.wasm", &[]).await;
    assert!(!identity.headers().contains_key("content-encoding"));
    assert_eq!(identity.bytes().await.unwrap().as_ref(), WASM);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_that_has_the_bundle_gets_a_304_with_no_body() {
    let (app, _site) = app_with_bundle().await;
    let first = get(&app, "/pkg/clinic.wasm", &[("accept-encoding", "br")]).await;
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let modified = first.headers()["last-modified"].to_str().unwrap().to_owned();

    let again = get(&app, "/pkg/clinic.wasm", &[("accept-encoding", "br"), ("if-modified-since", &modified)]).await;

    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_server_function_answers_are_compressed_on_the_fly_and_never_stored() {
    let (app, _site) = app_with_bundle().await;
    let page = get(&app, "/sign-in", &[("accept-encoding", "br")]).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-encoding"], "br");
    assert_eq!(page.headers()["cache-control"], "no-store");

    let call = app
        .client
        .post(format!("{}/api/auth/start_sign_in", app.address))
        .header("origin", &app.address)
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    assert_eq!(call.headers()["content-encoding"], "gzip");
    assert_eq!(call.headers()["cache-control"], "no-store");
}
