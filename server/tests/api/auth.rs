//! The passkey server functions over HTTP: cookie attributes, challenge options, refused
//! sign-ins and enrollment links audited. (The full ceremony runs in end2end/ with a virtual
//! authenticator in Chromium.)

use app::domain::entities::audit_event;
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::spawn_app;

on_both_backends!(
    a_sign_in_challenge_asks_for_a_verified_discoverable_passkey_in_a_strict_cookie,
    |backend| async move {
        let app = spawn_app(backend).await;

        let response = app.call_json("auth/start_sign_in", serde_json::json!({})).await;

        assert_eq!(response.status(), 200);
        let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("clinic_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(!cookie.contains("Secure"), "no Secure flag without TLS");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["publicKey"]["userVerification"], "required");
        assert!(body["publicKey"]["allowCredentials"].as_array().is_none_or(|a| a.is_empty()));
        assert!(body["mediation"].is_null());
    }
);

on_both_backends!(a_forged_assertion_is_refused_and_audited, |backend| async move {
    let app = spawn_app(backend).await;
    app.call_json("auth/start_sign_in", serde_json::json!({})).await;
    let forged = serde_json::json!({"credential": {
        "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
        "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null}
    }});

    let response = app.call_json("auth/finish_sign_in", forged).await;

    assert!(!response.status().is_success());
    let refused = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("auth.sign_in"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .all(&app.services.db)
        .await
        .unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].actor_role, "anonymous");
    assert_eq!(refused[0].ip.as_deref(), Some("127.0.0.1"));
    assert!(refused[0].user_agent.is_some());
});

on_both_backends!(an_unknown_enrollment_link_is_refused_and_audited, |backend| async move {
    let app = spawn_app(backend).await;

    let response = app.call_json("auth/start_enrollment", serde_json::json!({"token": "not-a-real-token"})).await;

    assert!(!response.status().is_success());
    let body = response.text().await.unwrap();
    assert!(body.contains("not valid any more"), "{body}");
    let refused = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("user.enroll"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .all(&app.services.db)
        .await
        .unwrap();
    assert_eq!(refused.len(), 1);
});

on_both_backends!(without_a_session_no_one_is_signed_in, |backend| async move {
    let app = spawn_app(backend).await;
    let response = app.call_json("auth/session", serde_json::json!({})).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap(), serde_json::Value::Null);
});

on_both_backends!(repeated_failed_sign_ins_from_one_ip_get_429_and_are_audited, |backend| async move {
    let app = spawn_app(backend).await;
    let forged = serde_json::json!({"credential": {
        "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
        "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null}
    }});
    let limit = app::domain::throttle::MAX_FAILURES_PER_IP;
    for attempt in 0..limit {
        let response = app.call_json("auth/finish_sign_in", forged.clone()).await;
        assert_ne!(response.status(), 429, "attempt {attempt} was throttled too early");
    }

    let response = app.call_json("auth/finish_sign_in", forged).await;

    assert_eq!(response.status(), 429);
    assert!(response.text().await.unwrap().contains("TooManyRequests"));
    let throttled = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("auth.sign_in"))
        .filter(audit_event::Column::Rule.eq("rate-limited-ip"))
        .all(&app.services.db)
        .await
        .unwrap();
    assert_eq!(throttled.len(), 1);
    assert_eq!(throttled[0].ip.as_deref(), Some("127.0.0.1"));
});

on_both_backends!(a_challenge_is_single_use_and_bound_to_its_own_session, |backend| async move {
    let app = spawn_app(backend).await;
    let forged = serde_json::json!({"credential": {
        "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
        "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null}
    }});
    // A challenge issued to one browser session...
    app.call_json("auth/start_sign_in", serde_json::json!({})).await;
    // ...cannot be answered from another,
    let foreign = app.call_as("", "auth/finish_sign_in", forged.clone()).await;
    assert!(!foreign.status().is_success());
    // and, once answered, cannot be answered again.
    app.call_json("auth/finish_sign_in", forged.clone()).await;
    let replay = app.call_json("auth/finish_sign_in", forged).await;
    assert!(!replay.status().is_success());

    let rules: Vec<Option<String>> = audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("auth.sign_in"))
        .all(&app.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.rule)
        .collect();
    assert_eq!(
        rules,
        [Some("no-pending-challenge".into()), Some("unknown-credential".into()), Some("no-pending-challenge".into())]
    );
});
