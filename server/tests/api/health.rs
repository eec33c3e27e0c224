use app::on_both_backends;

use crate::helpers::spawn_app;

on_both_backends!(healthz_answers_while_the_process_lives, |backend| async move {
    let app = spawn_app(backend).await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
});

on_both_backends!(readyz_reports_database_schema_and_keys, |backend| async move {
    let app = spawn_app(backend).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "status": "ready",
            "database": true,
            "migrations_current": true,
            "keys_loaded": true,
            "audit_chainer": true,
            "draining": false
        })
    );
});

on_both_backends!(readyz_says_draining_at_once_when_the_node_begins_to_shut_down, |backend| async move {
    let app = spawn_app(backend).await;
    app.services.lifecycle.begin_draining();
    // The listener has stopped accepting by now, so the handler is asked directly.
    let (status, axum::Json(body)) = server::health::readyz(axum::extract::State(app.services.clone())).await;
    assert_eq!(status, 503);
    let body = serde_json::to_value(body).unwrap();
    assert_eq!((body["status"].as_str(), body["draining"].as_bool()), (Some("draining"), Some(true)));
    assert_eq!(body["database"], false, "not even asked");
});

on_both_backends!(readyz_is_not_ready_once_the_database_is_gone, |backend| async move {
    let app = spawn_app(backend).await;
    app.services.db.clone().close().await.unwrap();
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["database"], false);
});
