use app::domain::audit::AuditContext;
use app::domain::seed;
use app::on_both_backends;

use crate::helpers::spawn_app;

on_both_backends!(the_home_page_is_the_shell_with_a_sign_in_entry_and_no_phi, |backend| async move {
    let app = spawn_app(backend).await;
    let seeded =
        seed::seed_patients(&app.services.patients, &AuditContext::system("test"), 5, 1, |_| {}).await.unwrap();

    let response = app.get("/").await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(page.contains("<header class=\"app-header\">"));
    assert!(page.contains("href=\"/sign-in\""));
    assert!(page.contains("id=\"check-status\""));
    assert!(page.contains("/pkg/clinic.js"));
    for (_, patient) in seeded {
        assert!(!page.contains(&patient.family_name));
    }
});

on_both_backends!(an_unknown_page_is_a_404_with_a_way_home, |backend| async move {
    let app = spawn_app(backend).await;
    let response = app.get("/nowhere").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
});

on_both_backends!(the_system_status_server_function_reports_readiness, |backend| async move {
    let app = spawn_app(backend).await;
    let response = app.call("system_status").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["database"], true);
    assert_eq!(body["migrations_current"], true);
    assert_eq!(body["keys_loaded"], true);
    let expected = match backend {
        app::domain::test_support::Backend::Sqlite => "sqlite",
        app::domain::test_support::Backend::Postgres => "postgres",
    };
    assert_eq!(body["backend"], expected);
});

// Before its WASM has loaded, a page's form is plain HTML: submitted then (Enter in a field),
// a GET form would put what was typed into the URL, where proxies and access logs keep it.
// Every form the server renders posts instead, and a post to a page is refused.
on_both_backends!(every_rendered_form_posts_so_typed_values_never_reach_a_url, |backend| async move {
    use app::domain::audit::Role;
    let app = spawn_app(backend).await;
    let pages: [(Option<Role>, &str); 6] = [
        (None, "/enroll"),
        (Some(Role::Patient), "/account"),
        (Some(Role::Clinician), "/dashboard"),
        (Some(Role::Admin), "/admin"),
        (Some(Role::SecurityOfficer), "/security/alerts"),
        (Some(Role::SecurityOfficer), "/security/incidents/new"),
    ];
    let client = reqwest::Client::new();
    for (role, path) in pages {
        let mut request = client.get(format!("{}{path}", app.address));
        if let Some(role) = role {
            let (_, cookie) = app.signed_in(role).await;
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let page = response.text().await.unwrap();
        let forms: Vec<&str> =
            page.match_indices("<form").map(|(at, _)| &page[at..at + page[at..].find('>').unwrap()]).collect();
        assert!(!forms.is_empty(), "{path} rendered no form");
        for form in forms {
            assert!(form.contains(r#"method="post""#), "{path}: {form}");
        }
    }

    let response = client
        .post(format!("{}/enroll", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("device_name=Synthetic+Phone")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert!(!response.text().await.unwrap().contains("Synthetic"));
});
