//! The client's address behind a reverse proxy: believed only from `server.trusted_proxies`,
//! recorded in the audit log, and the address the sign-in limits count.

use std::sync::Arc;

use app::domain::clock::{Clock, FixedClock, SystemClock};
use app::domain::entities::audit_event;
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::{Backend, TestApp, spawn_app_configured};

const FORGED: &str = r#"{"credential": {
    "id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {},
    "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null}
}}"#;

async fn behind(backend: Backend, proxies: &[&str], clock: Arc<dyn Clock>) -> TestApp {
    let proxies: Vec<String> = proxies.iter().map(|p| p.to_string()).collect();
    spawn_app_configured(backend, clock, move |settings| settings.server.trusted_proxies = proxies).await
}

/// An anonymous chart read (refused and audited) sent with `X-Forwarded-For: forwarded`.
async fn open_chart_as(app: &TestApp, forwarded: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{}/api/chart/open", app.address))
        .header("origin", &app.address)
        .header("x-forwarded-for", forwarded)
        .json(&serde_json::json!({"patient_id": uuid::Uuid::new_v4().to_string()}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn refusal_addresses(app: &TestApp) -> Vec<Option<String>> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("chart.read"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .all(&app.services.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.ip)
        .collect()
}

on_both_backends!(behind_a_trusted_proxy_the_audit_row_holds_the_forwarded_client, |backend| async move {
    let app = behind(backend, &["127.0.0.1/32"], Arc::new(SystemClock)).await;

    assert_eq!(open_chart_as(&app, "203.0.113.7").await, 401);

    assert_eq!(refusal_addresses(&app).await, [Some("203.0.113.7".to_owned())]);
});

on_both_backends!(without_trusted_proxies_the_audit_row_holds_the_peer, |backend| async move {
    let app = behind(backend, &[], Arc::new(SystemClock)).await;

    assert_eq!(open_chart_as(&app, "203.0.113.7").await, 401);

    assert_eq!(refusal_addresses(&app).await, [Some("127.0.0.1".to_owned())]);
});

on_both_backends!(a_forwarded_header_from_an_untrusted_peer_is_ignored, |backend| async move {
    let app = behind(backend, &["10.0.0.0/8"], Arc::new(SystemClock)).await;

    assert_eq!(open_chart_as(&app, "203.0.113.7").await, 401);

    assert_eq!(refusal_addresses(&app).await, [Some("127.0.0.1".to_owned())]);
});

on_both_backends!(
    ten_failed_sign_ins_lock_that_forwarded_address_only_until_its_window_ends_however_often_it_retries,
    |backend| async move {
        let clock = Arc::new(FixedClock::new("2026-12-01T09:00:00Z".parse().unwrap()));
        let app = behind(backend, &["127.0.0.1/32"], clock.clone()).await;
        let sign_in = |from: &'static str| {
            let url = format!("{}/api/auth/finish_sign_in", app.address);
            let origin = app.address.clone();
            async move {
                reqwest::Client::new()
                    .post(url)
                    .header("origin", origin)
                    .header("x-forwarded-for", from)
                    .header("content-type", "application/json")
                    .body(FORGED)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        for attempt in 0..10 {
            assert_eq!(sign_in("203.0.113.7").await, 401, "attempt {attempt}");
        }

        // Locked: and trying again every half minute for the whole window keeps it locked...
        assert_eq!(sign_in("203.0.113.7").await, 429);
        for _ in 0..29 {
            clock.advance(chrono::Duration::seconds(30));
            assert_eq!(sign_in("203.0.113.7").await, 429);
        }
        // ...while another client behind the same proxy is not locked.
        assert_eq!(sign_in("198.51.100.23").await, 401);
        // The window of the ten failures ends at 09:15:00; the retries never extended it.
        clock.advance(chrono::Duration::seconds(31));
        assert_eq!(clock.now(), "2026-12-01T09:15:01Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap());
        assert_eq!(sign_in("203.0.113.7").await, 401);

        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::Action.eq("auth.sign_in"))
            .all(&app.services.db)
            .await
            .unwrap();
        let from = |ip: &str, rule: &str| {
            rows.iter().filter(|r| r.ip.as_deref() == Some(ip) && r.rule.as_deref() == Some(rule)).count()
        };
        assert_eq!(from("203.0.113.7", "no-pending-challenge"), 11);
        assert_eq!(from("198.51.100.23", "no-pending-challenge"), 1);
        assert_eq!(from("127.0.0.1", "no-pending-challenge"), 0, "the proxy itself is never blamed");
        assert_eq!(from("203.0.113.7", "rate-limited-ip"), 30, "30 refusals, 2 in each minute");
    }
);
