//! `bus_core::bridge`: the inline first poll's warning about slow handlers.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus_core::bridge::{SLOW_FIRST_POLL, poll_here_then_spawn};

/// What a `tracing` subscriber wrote.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A first poll that blocks the calling thread longer than [`SLOW_FIRST_POLL`] is named in
/// a warning when a subscriber listens (the clock is only read then), and a quick one is
/// not.
#[test]
fn a_slow_first_poll_is_named_in_a_warning() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let slow = async { std::thread::sleep(SLOW_FIRST_POLL + Duration::from_millis(20)) };
        assert!(poll_here_then_spawn(runtime.handle(), slow, &"the slow handler").is_none());
        assert!(poll_here_then_spawn(runtime.handle(), async {}, &"the quick handler").is_none());
    });
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("the slow handler ran"), "{text}");
    assert!(text.contains("spawn_blocking"), "{text}");
    assert!(!text.contains("the quick handler"), "{text}");
}
