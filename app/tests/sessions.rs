//! The database session store on both backends: what tower-sessions relies on, plus hashing of
//! ids at rest and ending every session of one user.

#![allow(clippy::unwrap_used)] // Test code: a failed step should stop the test where it failed.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use app::domain::clock::{Clock, FixedClock};
use app::domain::entities::session;
use app::domain::sessions::{DbSessionStore, USER_ID_KEY};
use app::on_both_backends;
use chrono::{Duration, TimeZone, Utc};
use common::TestDb;
use sea_orm::{EntityTrait, PaginatorTrait};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::SessionStore;

fn store(test: &TestDb) -> (DbSessionStore, Arc<FixedClock>) {
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()));
    (DbSessionStore::new(test.db.clone(), clock.clone() as Arc<dyn Clock>), clock)
}

fn record(clock: &FixedClock, user: Option<uuid::Uuid>, lifetime: Duration) -> Record {
    let mut data = HashMap::new();
    data.insert("signed_in_at".to_owned(), serde_json::json!(1_764_000_000));
    if let Some(user) = user {
        data.insert(USER_ID_KEY.to_owned(), serde_json::json!(user));
    }
    let expires = clock.now() + lifetime;
    Record {
        id: Id::default(),
        data,
        expiry_date: time::OffsetDateTime::from_unix_timestamp(expires.timestamp()).unwrap(),
    }
}

on_both_backends!(a_session_round_trips_and_its_id_is_stored_only_as_a_hash, |backend| async move {
    let test = TestDb::new(backend).await;
    let (store, clock) = store(&test);
    let user = uuid::Uuid::new_v4();
    let mut saved = record(&clock, Some(user), Duration::minutes(15));

    store.create(&mut saved).await.unwrap();

    let loaded = store.load(&saved.id).await.unwrap().unwrap();
    assert_eq!(loaded.data, saved.data);
    assert_eq!(loaded.expiry_date, saved.expiry_date);
    let rows = session::Entity::find().all(&test.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].id_hash, saved.id.to_string());
    assert_eq!(rows[0].id_hash, DbSessionStore::id_hash(&saved.id));
    assert_eq!(rows[0].user_id, Some(user));
});

on_both_backends!(saving_again_updates_in_place_and_delete_removes, |backend| async move {
    let test = TestDb::new(backend).await;
    let (store, clock) = store(&test);
    let mut saved = record(&clock, None, Duration::minutes(15));
    store.create(&mut saved).await.unwrap();

    saved.data.insert("step".to_owned(), serde_json::json!("two"));
    store.save(&saved).await.unwrap();

    assert_eq!(store.load(&saved.id).await.unwrap().unwrap().data["step"], "two");
    assert_eq!(session::Entity::find().count(&test.db).await.unwrap(), 1);
    store.delete(&saved.id).await.unwrap();
    assert!(store.load(&saved.id).await.unwrap().is_none());
});

on_both_backends!(an_expired_session_is_not_loaded_and_is_swept, |backend| async move {
    let test = TestDb::new(backend).await;
    let (store, clock) = store(&test);
    let mut saved = record(&clock, None, Duration::minutes(15));
    store.create(&mut saved).await.unwrap();

    clock.advance(Duration::minutes(16));

    assert!(store.load(&saved.id).await.unwrap().is_none());
    assert_eq!(store.delete_expired().await.unwrap(), 1);
});

on_both_backends!(ending_a_users_sessions_leaves_other_users_signed_in, |backend| async move {
    let test = TestDb::new(backend).await;
    let (store, clock) = store(&test);
    let (alice, bob) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let mut a1 = record(&clock, Some(alice), Duration::hours(1));
    let mut a2 = record(&clock, Some(alice), Duration::hours(1));
    let mut b1 = record(&clock, Some(bob), Duration::hours(1));
    for r in [&mut a1, &mut a2, &mut b1] {
        store.create(r).await.unwrap();
    }

    assert_eq!(store.end_all_for_user(alice).await.unwrap(), 2);

    assert!(store.load(&a1.id).await.unwrap().is_none());
    assert!(store.load(&a2.id).await.unwrap().is_none());
    assert!(store.load(&b1.id).await.unwrap().is_some());
});

on_both_backends!(saving_a_session_that_was_deleted_does_not_bring_it_back, |backend| async move {
    let test = TestDb::new(backend).await;
    let (store, clock) = store(&test);
    let user = uuid::Uuid::new_v4();
    let mut held = record(&clock, Some(user), Duration::minutes(15));
    store.create(&mut held).await.unwrap();
    // Signed out elsewhere (or ended by an admin) while a request or socket still holds it.
    store.end_all_for_user(user).await.unwrap();

    held.data.insert("last_seen".to_owned(), serde_json::json!(1_764_000_100));
    store.save(&held).await.unwrap();

    assert!(store.load(&held.id).await.unwrap().is_none());
    assert_eq!(session::Entity::find().count(&test.db).await.unwrap(), 0);
});

on_both_backends!(expired_sessions_are_swept_by_one_node_per_period, |backend| async move {
    use app::domain::lease::{SESSION_SWEEP, TaskLease};
    let test = TestDb::new(backend).await;
    let (store, clock) = store(&test);
    let node_a = TaskLease::new(test.db.clone(), clock.clone() as Arc<dyn Clock>, SESSION_SWEEP);
    let node_b = TaskLease::new(test.db.clone(), clock.clone() as Arc<dyn Clock>, SESSION_SWEEP);
    let mut short = record(&clock, None, Duration::minutes(1));
    let mut long = record(&clock, None, Duration::minutes(20));
    store.create(&mut short).await.unwrap();
    store.create(&mut long).await.unwrap();
    clock.advance(Duration::minutes(2));

    // Node A takes the period's lease and sweeps; node B, in the same period, does not.
    assert_eq!(store.sweep(&node_a, Duration::minutes(5)).await.unwrap(), Some(1));
    assert_eq!(store.sweep(&node_b, Duration::minutes(5)).await.unwrap(), None);
    assert_eq!(store.sweep(&node_a, Duration::minutes(5)).await.unwrap(), None, "once per period, A included");
    assert_eq!(session::Entity::find().count(&test.db).await.unwrap(), 1);

    // Next period: whichever node comes first sweeps what has expired since.
    clock.advance(Duration::minutes(20));
    assert_eq!(store.sweep(&node_b, Duration::minutes(5)).await.unwrap(), Some(1));
    assert_eq!(store.sweep(&node_a, Duration::minutes(5)).await.unwrap(), None);
    assert_eq!(session::Entity::find().count(&test.db).await.unwrap(), 0);
    let lease = app::domain::entities::task_lease::Entity::find_by_id(SESSION_SWEEP.to_owned())
        .one(&test.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.holder.as_deref(), Some(node_b.node()));
});
