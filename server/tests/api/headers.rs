use app::on_both_backends;

use crate::helpers::spawn_app;

on_both_backends!(every_response_carries_the_security_headers, |backend| async move {
    let app = spawn_app(backend).await;
    for path in ["/", "/sign-in", "/healthz", "/readyz", "/no-such-page"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("object-src 'none'"), "{path}");
        assert!(!csp.contains("'unsafe-inline'"), "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert!(headers.contains_key("x-request-id"), "{path}");
        assert!(!headers.contains_key("strict-transport-security"), "{path}: no HSTS without TLS");
    }
});

on_both_backends!(the_hydration_script_runs_by_a_fresh_nonce_and_nothing_else_inline_does, |backend| async move {
    let app = spawn_app(backend).await;
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let response = app.get("/").await;
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_owned();
        let page = response.text().await.unwrap();
        let scripts = page.matches("<script").count();
        assert!(scripts >= 1);
        assert_eq!(page.matches(&format!("<script type=\"module\" nonce=\"{nonce}\"")).count(), 1, "{page}");
        assert_eq!(page.matches(&format!("nonce=\"{nonce}\">")).count(), scripts, "every script carries the nonce");
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);
    assert!(nonces[0].len() >= 22, "at least 128 bits of nonce");
});

on_both_backends!(a_cross_origin_server_function_call_is_refused, |backend| async move {
    let app = spawn_app(backend).await;
    let url = format!("{}/api/system_status", app.address);
    let post = |origin: Option<&str>, fetch_site: Option<&str>| {
        let mut request = app.client.post(&url).header("content-type", "application/json").body("{}");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };

    assert_eq!(post(Some("https://evil.example"), None).await.unwrap().status(), 403);
    assert_eq!(post(None, Some("cross-site")).await.unwrap().status(), 403);
    assert_eq!(post(None, None).await.unwrap().status(), 403);
    assert_eq!(post(Some(&app.address), None).await.unwrap().status(), 200);
    assert_eq!(post(None, Some("same-origin")).await.unwrap().status(), 200);
    // Pages themselves are not affected.
    assert_eq!(app.get("/").await.status(), 200);
});

on_both_backends!(
    an_origin_that_matches_a_forged_host_header_but_not_the_public_url_is_refused,
    |backend| async move {
        let app = spawn_app(backend).await;
        let port = app.address.rsplit(':').next().unwrap().to_owned();
        let post = |host: String, origin: String| {
            app.client
                .post(format!("{}/api/system_status", app.address))
                .header("host", host)
                .header("origin", origin)
                .header("content-type", "application/json")
                .body("{}")
                .send()
        };

        // The Host header is the client's to write; only the configured public URL counts.
        let forged = post("evil.example".into(), "http://evil.example".into()).await.unwrap();
        let other_port = post(format!("localhost:{port}"), "http://localhost:1".into()).await.unwrap();
        let other_scheme = post(format!("localhost:{port}"), format!("https://localhost:{port}")).await.unwrap();
        let public = post(format!("localhost:{port}"), app.address.clone()).await.unwrap();

        assert_eq!(forged.status(), 403);
        assert_eq!(other_port.status(), 403);
        assert_eq!(other_scheme.status(), 403);
        assert_eq!(public.status(), 200);
    }
);
