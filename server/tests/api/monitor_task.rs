//! The detector task the server spawns: with `[monitoring] enabled`, an incident written to the
//! audit log is an alert within about one period, raised once.

use app::domain::audit::{Action, Outcome, Role};
use app::domain::entities::security_alert;
use app::domain::ids::UserId;
use app::domain::test_support::audit_stream::{context, row};
use app::on_both_backends;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::helpers::spawn_app_with_settings;

on_both_backends!(the_spawned_monitor_raises_a_probing_alert_within_a_period, |backend| async move {
    let app = spawn_app_with_settings(backend, |settings| {
        settings.monitoring.enabled = true;
        settings.monitoring.period_seconds = 1;
    })
    .await;
    let prober = UserId::new();
    for _ in 0..10 {
        let refused = row(Action::UserList, None, Outcome::Denied, "not-an-admin");
        app.services.audit.record(&app.services.db, &context(prober, Role::Clinician, None), refused).await.unwrap();
    }
    let alerts = || {
        security_alert::Entity::find()
            .filter(security_alert::Column::Kind.eq("probing"))
            .filter(security_alert::Column::UserId.eq(prober.0))
            .count(&app.services.db)
    };
    let mut waited = 0;
    while alerts().await.unwrap() == 0 {
        assert!(waited < 100, "no alert within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    // Later periods see the same rows as already read: still one alert.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(alerts().await.unwrap(), 1);
});
