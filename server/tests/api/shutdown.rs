//! Graceful shutdown: a node asked to stop reports not-ready, stops accepting, tells its video
//! sockets to reconnect (to another node), hands its leases back and ends cleanly.

use app::domain::entities::{job, task_lease};
use app::domain::lease::SESSION_SWEEP;
use app::on_both_backends;
use futures::StreamExt;
use sea_orm::EntityTrait;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::spawn_stoppable;
use crate::video::{next, open, video_visit};

on_both_backends!(
    a_node_asked_to_stop_drains_tells_video_to_reconnect_and_hands_back_its_leases,
    |backend| async move {
        let (app, stop, running) = spawn_stoppable(backend).await;
        let visit = video_visit(&app).await;
        let mut socket = open(&app.address, visit.id, Some(&visit.patient_cookie), None).await.unwrap();
        assert_eq!(next(&mut socket).await["kind"], "welcome");
        // The node's session sweeper takes its lease at once; a reminder job is claimed by it too.
        let mut held = None;
        for _ in 0..50 {
            held = task_lease::Entity::find_by_id(SESSION_SWEEP).one(&app.services.db).await.unwrap();
            if held.as_ref().is_some_and(|l| l.locked_until.is_some()) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(held.unwrap().locked_until.is_some(), "the sweeper holds its lease");
        let now = chrono::Utc::now();
        app::domain::jobs::enqueue(&app.services.db, "test-job", uuid::Uuid::now_v7(), now, now).await.unwrap();
        let node = app::domain::lease::node_name();
        let claimed =
            app::domain::jobs::claim(&app.services.db, &["test-job"], &node, chrono::Duration::minutes(5), now)
                .await
                .unwrap()
                .expect("the job is claimed");

        stop.send(()).unwrap();

        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next()).await.unwrap();
        match frame {
            Some(Ok(Message::Close(Some(close)))) => {
                assert_eq!(u16::from(close.code), 1012);
                assert_eq!(close.reason.as_str(), "server restarting; reconnect");
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
        let readiness = app::domain::health::check(&app.services).await;
        assert!(readiness.draining && !readiness.ready());
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), running).await;
        ended.expect("stopped within the grace period").unwrap().expect("serve ended without error");
        assert!(reqwest::get(format!("{}/healthz", app.address)).await.is_err(), "no longer accepting");

        let lease = task_lease::Entity::find_by_id(SESSION_SWEEP).one(&app.services.db).await.unwrap().unwrap();
        assert_eq!(lease.locked_until, None, "the sweep lease is free for another node now");
        let job = job::Entity::find_by_id(claimed.id).one(&app.services.db).await.unwrap().unwrap();
        assert_eq!((job.locked_by, job.locked_until, job.status.as_str()), (None, None, "pending"));
    }
);
