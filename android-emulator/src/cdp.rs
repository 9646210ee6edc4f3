//! A raw CDP client over Chromium's `--remote-debugging-pipe`: JSON messages, each ended
//! by a NUL byte, commands written to the child's fd 3 and replies read from its fd 4. No
//! socket of any kind.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use serde_json::{Value, json};

use crate::EmulatorError;

/// An event from the browser: `method`, `params`, and the flattened session it belongs to.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) method: String,
    pub(crate) params: Value,
    pub(crate) session: Option<String>,
}

type Reply = Result<Value, String>;

pub(crate) struct Cdp {
    writer: Mutex<std::io::PipeWriter>,
    next_id: AtomicU64,
    pending: Mutex<HashMap<u64, mpsc::Sender<Reply>>>,
    closed: AtomicBool,
}

impl Cdp {
    pub(crate) fn new(writer: std::io::PipeWriter) -> Self {
        Cdp {
            writer: Mutex::new(writer),
            next_id: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        }
    }

    fn write(&self, id: u64, method: &str, params: Value, session: Option<&str>) -> bool {
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::String(session.to_owned());
        }
        let mut bytes = serde_json::to_vec(&message).expect("JSON serialises");
        bytes.push(0);
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.write_all(&bytes).is_ok()
    }

    /// Sends a command without waiting for its reply (the reply is dropped).
    pub(crate) fn send(&self, method: &str, params: Value, session: Option<&str>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if !self.write(id, method, params, session) {
            tracing::debug!(method, "CDP pipe closed; command dropped");
        }
    }

    /// Sends a command and waits for its reply.
    pub(crate) fn call(
        &self,
        method: &str,
        params: Value,
        session: Option<&str>,
        timeout: Duration,
    ) -> Result<Value, EmulatorError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(EmulatorError::Closed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.lock_pending().insert(id, tx);
        if !self.write(id, method, params, session) {
            self.lock_pending().remove(&id);
            return Err(EmulatorError::Closed);
        }
        match rx.recv_timeout(timeout) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(EmulatorError::Cdp {
                method: method.to_owned(),
                message,
            }),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.lock_pending().remove(&id);
                Err(EmulatorError::Timeout(method.to_owned()))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(EmulatorError::Closed),
        }
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::Sender<Reply>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads messages until the browser closes its end, answering waiting calls and
    /// handing events to `on_event` (on this thread: it must not block for long).
    pub(crate) fn read_loop(&self, reader: std::io::PipeReader, mut on_event: impl FnMut(Event)) {
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(0, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if buf.last() == Some(&0) {
                buf.pop();
            }
            let Ok(mut message) = serde_json::from_slice::<Value>(&buf) else {
                tracing::warn!("unparsable CDP message ({} bytes)", buf.len());
                continue;
            };
            if let Some(id) = message.get("id").and_then(Value::as_u64) {
                let reply = match message.get_mut("error") {
                    Some(error) => Err(error
                        .get("message")
                        .and_then(Value::as_str)
                        .map_or_else(|| error.to_string(), str::to_owned)),
                    None => Ok(message
                        .get_mut("result")
                        .map(Value::take)
                        .unwrap_or(Value::Null)),
                };
                if let Some(tx) = self.lock_pending().remove(&id) {
                    let _ = tx.send(reply);
                }
                continue;
            }
            let Some(method) = message.get("method").and_then(Value::as_str) else {
                continue;
            };
            on_event(Event {
                method: method.to_owned(),
                session: message
                    .get("sessionId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                params: message
                    .get_mut("params")
                    .map(Value::take)
                    .unwrap_or(Value::Null),
            });
        }
        self.closed.store(true, Ordering::Release);
        // Wake every waiting call: the browser is gone.
        self.lock_pending().clear();
    }
}
