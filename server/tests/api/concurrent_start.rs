//! Apps starting in one process while another serves pages. Building a router used to generate
//! the route list each time, which renders the app with resource loading switched off for the
//! whole process (leptos#4773): a page whose resource was first polled in that window never
//! finished, and the test waiting on it hung the run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use app::on_both_backends;

use crate::helpers::spawn_app;

on_both_backends!(pages_being_served_finish_while_other_apps_start_in_the_same_process, |backend| async move {
    let app = Arc::new(spawn_app(backend).await);
    let starting = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            let starting = starting.clone();
            tokio::spawn(async move {
                let mut served = 0_u32;
                while starting.load(Ordering::Relaxed) || served == 0 {
                    // The client's timeout turns a page that never finishes into an error here.
                    let page = app.get("/").await.text().await.expect("the page finished");
                    assert!(page.contains("Welcome to the clinic"), "{page}");
                    served += 1;
                }
                served
            })
        })
        .collect();
    let others = futures::future::join_all((0..6).map(|_| spawn_app(backend))).await;
    starting.store(false, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.unwrap() >= 1);
    }
    for other in &others {
        let page = other.get("/").await.text().await.unwrap();
        assert!(page.contains("Welcome to the clinic"));
    }
});
