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
