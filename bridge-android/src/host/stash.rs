//! The form-result stash: responses to form submissions that went through frames, kept
//! for the one navigation that shows them (`GET <origin>/__bus/result/<token>`).
//!
//! Bounded three ways: bytes (entries and results still being collected), entries, and
//! age. A full stash evicts its oldest entries; a result that cannot fit is refused while
//! it is being collected (the page gets an `Error` frame), never after.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// How much the stash may hold. See [`AndroidHost::stash_limits`](super::AndroidHost::stash_limits).
#[derive(Clone, Debug)]
pub struct StashLimits {
    /// Largest single result body, in bytes (default 16 MiB).
    pub max_entry_bytes: usize,
    /// Bytes of all results together, those still being collected included (default 64 MiB).
    pub max_total_bytes: usize,
    /// Results kept at once (default 32); the oldest goes first.
    pub max_entries: usize,
    /// How long a result waits for its navigation (default 60 s).
    pub ttl: Duration,
}

impl Default for StashLimits {
    fn default() -> Self {
        StashLimits {
            max_entry_bytes: 16 << 20,
            max_total_bytes: 64 << 20,
            max_entries: 32,
            ttl: Duration::from_secs(60),
        }
    }
}

/// One stored result: the response as the handler gave it.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, Bytes)>,
    pub(crate) body: Bytes,
}

#[derive(Debug)]
struct Stored {
    token: String,
    entry: Entry,
    created: Instant,
}

#[derive(Debug, Default)]
struct State {
    entries: VecDeque<Stored>,
    /// Bytes of stored bodies.
    stored: usize,
    /// Bytes reserved by results being collected.
    reserved: usize,
}

#[derive(Debug)]
pub(crate) struct Stash {
    limits: StashLimits,
    state: Mutex<State>,
}

impl Stash {
    pub(crate) fn new(limits: StashLimits) -> Self {
        Stash {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn limits(&self) -> &StashLimits {
        &self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update keeps the state consistent at each step: a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn purge(&self, state: &mut State, now: Instant) {
        while let Some(front) = state.entries.front() {
            if now.duration_since(front.created) < self.limits.ttl {
                break;
            }
            let gone = state.entries.pop_front().expect("front exists");
            state.stored -= gone.entry.body.len();
        }
    }

    /// Reserves `n` more bytes for a result being collected, evicting the oldest stored
    /// results if that makes room. `false` when it cannot fit.
    pub(crate) fn reserve(&self, n: usize) -> bool {
        let mut state = self.lock();
        self.purge(&mut state, Instant::now());
        let max = self.limits.max_total_bytes;
        if state.reserved + n > max {
            return false; // stored results are not evicted for a reservation that cannot fit
        }
        while state.stored + state.reserved + n > max {
            let gone = state
                .entries
                .pop_front()
                .expect("stored bytes imply entries");
            state.stored -= gone.entry.body.len();
        }
        state.reserved += n;
        true
    }

    /// Gives back `n` reserved bytes (a result abandoned while being collected).
    pub(crate) fn release(&self, n: usize) {
        let mut state = self.lock();
        state.reserved = state.reserved.saturating_sub(n);
    }

    /// Stores a result under `token`; its body's bytes were reserved already.
    pub(crate) fn insert(&self, token: String, entry: Entry) {
        let mut state = self.lock();
        let len = entry.body.len();
        state.reserved = state.reserved.saturating_sub(len);
        state.stored += len;
        self.purge(&mut state, Instant::now());
        while state.entries.len() >= self.limits.max_entries.max(1) {
            let gone = state.entries.pop_front().expect("not empty");
            state.stored -= gone.entry.body.len();
        }
        state.entries.push_back(Stored {
            token,
            entry,
            created: Instant::now(),
        });
    }

    /// Removes and returns the result for `token`, if it is still there.
    pub(crate) fn take(&self, token: &str) -> Option<Entry> {
        let mut state = self.lock();
        self.purge(&mut state, Instant::now());
        let at = state.entries.iter().position(|s| s.token == token)?;
        let stored = state.entries.remove(at).expect("position is valid");
        state.stored -= stored.entry.body.len();
        Some(stored.entry)
    }

    /// Whether a result for `token` is waiting (it is not taken).
    #[cfg(test)]
    pub(crate) fn contains(&self, token: &str) -> bool {
        let mut state = self.lock();
        self.purge(&mut state, Instant::now());
        state.entries.iter().any(|s| s.token == token)
    }

    /// Stored results and bytes in use (stored + reserved).
    pub(crate) fn usage(&self) -> (usize, usize) {
        let mut state = self.lock();
        self.purge(&mut state, Instant::now());
        (state.entries.len(), state.stored + state.reserved)
    }
}

/// A fresh unguessable token: 128 bits from the OS, as 32 lower-case hex digits.
pub(crate) fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> Entry {
        Entry {
            status: 200,
            headers: vec![],
            body: Bytes::from(vec![7u8; n]),
        }
    }

    fn stash(total: usize, entries: usize, ttl: Duration) -> Stash {
        Stash::new(StashLimits {
            max_entry_bytes: total,
            max_total_bytes: total,
            max_entries: entries,
            ttl,
        })
    }

    #[test]
    fn a_result_is_taken_once() {
        let s = stash(100, 4, Duration::from_secs(60));
        assert!(s.reserve(10));
        s.insert("a".into(), entry(10));
        assert!(s.contains("a"));
        assert_eq!(s.take("a").unwrap().body.len(), 10);
        assert!(s.take("a").is_none());
        assert_eq!(s.usage(), (0, 0));
    }

    #[test]
    fn bytes_and_entries_are_bounded_oldest_first() {
        let s = stash(100, 2, Duration::from_secs(60));
        for (t, n) in [("a", 40), ("b", 40)] {
            assert!(s.reserve(n));
            s.insert(t.into(), entry(n));
        }
        // 40 more bytes fit only by evicting "a".
        assert!(s.reserve(40));
        s.insert("c".into(), entry(40));
        assert!(!s.contains("a") && s.contains("b") && s.contains("c"));
        // Reservations in progress are never evicted: 100 bytes reserved, nothing fits.
        s.take("b");
        s.take("c");
        assert!(s.reserve(100));
        assert!(!s.reserve(1));
        s.release(100);
        assert_eq!(s.usage(), (0, 0));
        // The entry count evicts too.
        for t in ["x", "y", "z"] {
            assert!(s.reserve(1));
            s.insert(t.into(), entry(1));
        }
        assert!(!s.contains("x") && s.contains("y") && s.contains("z"));
    }

    #[test]
    fn entries_expire() {
        let s = stash(100, 4, Duration::from_millis(0));
        assert!(s.reserve(5));
        s.insert("a".into(), entry(5));
        assert!(s.take("a").is_none());
        assert_eq!(s.usage(), (0, 0));
    }

    #[test]
    fn tokens_are_hex_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
