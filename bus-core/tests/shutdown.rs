//! Shutting the bus down: at once, or gracefully with a grace period (on tokio's paused
//! clock, so the times are exact).

use std::convert::Infallible;
use std::time::Duration;

use bus_core::{Body, Bus, BusError};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use tokio::time::{Instant, sleep};

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// `/head/{ms}` answers after `ms`; `/stream/{ms}` answers at once with a body that sends a
/// chunk every 100 ms for `ms`.
fn bus() -> Bus {
    let head = tower::service_fn(|req: Request<Body>| async move {
        let ms: u64 = req.uri().path()[1..].parse().unwrap();
        sleep(Duration::from_millis(ms)).await;
        Ok::<_, Infallible>(Response::new(Body::from("late head")))
    });
    let stream = tower::service_fn(|req: Request<Body>| async move {
        let ms: u64 = req.uri().path()[1..].parse().unwrap();
        let (tx, body) = Body::channel(1);
        tokio::spawn(async move {
            for _ in 0..ms / 100 {
                sleep(Duration::from_millis(100)).await;
                if tx.send(Bytes::from_static(b"x")).await.is_err() {
                    return;
                }
            }
        });
        Ok::<_, Infallible>(Response::new(body))
    });
    Bus::builder()
        .mount("/head", head)
        .mount("/stream", stream)
        .build()
}

/// Calls `uri` in a task; the task's result is the status and the body's bytes, or the
/// error the body ended with.
fn spawn_call(
    bus: &Bus,
    uri: &'static str,
) -> tokio::task::JoinHandle<(u16, Result<usize, String>)> {
    let handle = bus.handle();
    tokio::spawn(async move {
        let response = handle.call(get_req(uri)).await;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await;
        (
            status,
            body.map(|b| b.to_bytes().len()).map_err(|e| e.to_string()),
        )
    })
}

#[tokio::test(start_paused = true)]
async fn graceful_shutdown_drains_what_ends_in_time_and_cuts_off_the_rest() {
    let bus = bus();
    let quick_head = spawn_call(&bus, "/head/1000");
    let quick_stream = spawn_call(&bus, "/stream/3000"); // 30 chunks, done at 3 s
    let slow_head = spawn_call(&bus, "/head/10000");
    let slow_stream = spawn_call(&bus, "/stream/20000");
    sleep(Duration::from_millis(10)).await;
    assert_eq!(bus.handle().in_flight(), 4);

    let started = Instant::now();
    let late = {
        let handle = bus.handle();
        tokio::spawn(async move {
            sleep(Duration::from_millis(500)).await;
            // Draining: not shut down yet, but no new request is admitted.
            assert!(!handle.is_closed());
            handle.try_call(get_req("/head/0")).await
        })
    };
    let left = bus.shutdown_graceful(Duration::from_secs(5)).await;
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "waited the whole grace"
    );
    assert_eq!(left, 2, "the two requests still running at the deadline");
    assert!(bus.handle().is_closed());

    assert_eq!(quick_head.await.unwrap(), (200, Ok(9)));
    assert_eq!(
        quick_stream.await.unwrap(),
        (200, Ok(30)),
        "complete, not cut"
    );
    assert_eq!(slow_head.await.unwrap().0, 503);
    let (status, body) = slow_stream.await.unwrap();
    assert_eq!(status, 200, "its head had been sent");
    assert_eq!(
        body.unwrap_err(),
        "the bus is shut down",
        "a body cut off never looks complete"
    );
    assert!(matches!(late.await.unwrap(), Err(BusError::Closed)));
    assert_eq!(bus.handle().in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn graceful_shutdown_returns_as_soon_as_the_last_request_ends() {
    let bus = bus();
    let calls = [
        spawn_call(&bus, "/head/700"),
        spawn_call(&bus, "/stream/1500"),
        spawn_call(&bus, "/head/200"),
    ];
    sleep(Duration::from_millis(10)).await;
    let started = Instant::now();
    assert_eq!(bus.shutdown_graceful(Duration::from_secs(60)).await, 0);
    // The stream's last chunk at 1.5 s after it started, 10 ms before the drain began.
    assert_eq!(started.elapsed(), Duration::from_millis(1490));
    for call in calls {
        assert!(matches!(call.await.unwrap(), (200, Ok(_))));
    }
    assert_eq!(
        bus.handle().call(get_req("/head/0")).await.status(),
        503,
        "shut down after the drain"
    );
}

#[tokio::test(start_paused = true)]
async fn graceful_shutdown_of_an_idle_bus_is_immediate() {
    let bus = bus();
    let started = Instant::now();
    assert_eq!(bus.shutdown_graceful(Duration::from_secs(60)).await, 0);
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(bus.handle().is_closed());
}

#[tokio::test(start_paused = true)]
async fn closed_completes_when_the_drain_ends_not_when_it_begins() {
    let bus = bus();
    let call = spawn_call(&bus, "/head/2000");
    sleep(Duration::from_millis(10)).await;
    let handle = bus.handle();
    let watcher = tokio::spawn(async move {
        let started = Instant::now();
        handle.closed().await;
        started.elapsed()
    });
    assert_eq!(bus.shutdown_graceful(Duration::from_secs(5)).await, 0);
    assert_eq!(watcher.await.unwrap(), Duration::from_millis(1990));
    assert_eq!(call.await.unwrap().0, 200);
}

#[tokio::test(start_paused = true)]
async fn shutdown_now_cuts_off_a_streaming_body_with_an_error() {
    let bus = bus();
    let call = spawn_call(&bus, "/stream/10000");
    sleep(Duration::from_millis(550)).await;
    bus.shutdown();
    let (status, body) = call.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body.unwrap_err(), "the bus is shut down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_racing_many_ends_on_other_threads_never_sleeps_to_its_deadline() {
    // Requests end on the workers while the drain starts on another: an end it missed would
    // leave it asleep for the whole minute.
    for round in 0..20u64 {
        let bus = bus();
        let calls: Vec<_> = (0..200u64)
            .map(|i| {
                let handle = bus.handle();
                tokio::spawn(async move {
                    let uri = format!("/head/{}", (i * 7 + round) % 5);
                    handle.call(get_req(&uri)).await.status()
                })
            })
            .collect();
        // Start the drain with requests in flight.
        let waiting = std::time::Instant::now();
        while bus.handle().in_flight() < 20 && waiting.elapsed() < Duration::from_secs(5) {
            tokio::task::yield_now().await;
        }
        let started = std::time::Instant::now();
        let left = bus.shutdown_graceful(Duration::from_secs(60)).await;
        assert_eq!(left, 0, "round {round}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "round {round}: the drain took {:?}",
            started.elapsed()
        );
        let mut drained = 0;
        for call in calls {
            // Each was either drained (200) or came after the door closed (503).
            match call.await.unwrap().as_u16() {
                200 => drained += 1,
                503 => {}
                other => panic!("round {round}: status {other}"),
            }
        }
        assert!(
            drained >= 20,
            "round {round}: only {drained} were in flight"
        );
    }
}
