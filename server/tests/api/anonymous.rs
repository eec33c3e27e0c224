//! What anonymous calls may cost: the first refusals of each address and minute are audit rows
//! of their own, the rest one summary row that counts them exactly; they write no session row,
//! and challenges (which do) stop at a budget per address.

use std::sync::Arc;

use app::domain::anonymous::{AUDITED_PER_WINDOW, SESSIONS_PER_WINDOW};
use app::domain::clock::FixedClock;
use app::domain::entities::{audit_event, session};
use app::on_both_backends;
use futures::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::{TestApp, spawn_app_configured};

fn pinned() -> Arc<FixedClock> {
    Arc::new(FixedClock::new("2026-12-01T09:00:10Z".parse().unwrap()))
}

async fn open_chart(app: &TestApp, forwarded: Option<&str>) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new()
        .post(format!("{}/api/chart/open", app.address))
        .header("origin", &app.address)
        .json(&serde_json::json!({"patient_id": uuid::Uuid::new_v4().to_string()}));
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    request.send().await.unwrap().status()
}

async fn chart_refusals(app: &TestApp) -> Vec<audit_event::Model> {
    audit_event::Entity::find()
        .filter(audit_event::Column::Action.eq("chart.read"))
        .filter(audit_event::Column::Outcome.eq("denied"))
        .all(&app.services.db)
        .await
        .unwrap()
}

on_both_backends!(
    a_thousand_anonymous_calls_write_a_bounded_number_of_rows_and_a_summary_that_counts_them_all,
    |backend| async move {
        let clock = pinned();
        let app = spawn_app_configured(backend, clock.clone(), |_| {}).await;

        let statuses: Vec<reqwest::StatusCode> =
            futures::stream::iter(0..1000).map(|_| open_chart(&app, None)).buffer_unordered(8).collect().await;

        assert!(statuses.iter().all(|status| *status == 401), "every call is refused");
        assert_eq!(AUDITED_PER_WINDOW, 20);
        assert_eq!(chart_refusals(&app).await.len(), 20, "the budget, one row each");
        assert_eq!(session::Entity::find().count(&app.services.db).await.unwrap(), 0, "no session rows");

        // The address's first call of the next minute writes the closed minute's summary.
        clock.advance(chrono::Duration::seconds(60));
        assert_eq!(open_chart(&app, None).await, 401);

        let rows = chart_refusals(&app).await;
        let summaries: Vec<&audit_event::Model> =
            rows.iter().filter(|row| row.resource_type == "anonymous_calls").collect();
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].resource_id.as_deref(), Some("980"));
        assert_eq!(summaries[0].rule.as_deref(), Some("not-signed-in"));
        assert_eq!(summaries[0].ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(summaries[0].actor_role, "anonymous");
        assert_eq!(rows.len(), 20 + 1 + 1, "the first window's rows, its summary, the new call");
        assert_eq!(session::Entity::find().count(&app.services.db).await.unwrap(), 0);
    }
);

on_both_backends!(an_address_that_never_comes_back_is_summarized_once_by_the_sweep, |backend| async move {
    let clock = pinned();
    let app =
        spawn_app_configured(backend, clock.clone(), |s| s.server.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    for _ in 0..25 {
        assert_eq!(open_chart(&app, Some("198.51.100.77")).await, 401);
    }
    assert_eq!(app.services.anonymous.sweep().await.unwrap(), 0, "the window is still open");

    clock.advance(chrono::Duration::seconds(60));
    let first = app.services.anonymous.sweep().await.unwrap();
    let again = app.services.anonymous.sweep().await.unwrap();

    assert_eq!((first, again), (1, 0), "one summary, written once");
    let rows = chart_refusals(&app).await;
    assert_eq!(rows.len(), 21);
    let summary = rows.iter().find(|row| row.resource_type == "anonymous_calls").unwrap();
    assert_eq!(summary.resource_id.as_deref(), Some("5"));
    assert_eq!(summary.ip.as_deref(), Some("198.51.100.77"));
});

on_both_backends!(sign_in_challenges_from_one_address_stop_at_the_session_budget, |backend| async move {
    let clock = pinned();
    let app = spawn_app_configured(backend, clock.clone(), |_| {}).await;
    let start = || async {
        // A fresh client each time: no cookie, so each challenge would be a new session row.
        reqwest::Client::new()
            .post(format!("{}/api/auth/start_sign_in", app.address))
            .header("origin", &app.address)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .status()
    };
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(start().await.as_u16());
    }

    assert_eq!(SESSIONS_PER_WINDOW, 30);
    let mut expected = vec![200; 30];
    expected.extend([429; 10]);
    assert_eq!(statuses, expected);
    assert_eq!(session::Entity::find().count(&app.services.db).await.unwrap(), 30);
    clock.advance(chrono::Duration::seconds(60));
    assert_eq!(start().await, 200, "the next minute has a budget of its own");
});
