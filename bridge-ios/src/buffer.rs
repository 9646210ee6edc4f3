//! Rust-owned byte buffers handed to C, and the list of those still out.
//!
//! A buffer stays in [`LIVE`] from the moment it is handed out until the host frees it;
//! freeing looks the pointer up there and drops the buffer from the list. C's pointer is
//! compared, never dereferenced or turned back into an allocation, so freeing twice, or
//! freeing a pointer this crate never handed out, is refused instead of corrupting the
//! heap.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::error::Error;

/// Buffers handed out and not yet freed, by address. A `Vec`'s heap buffer does not move
/// when the `Vec` does, so the address C holds stays valid while the entry is here. (A
/// B-tree, as in `registry`, so leak checkers see the entries as reachable.)
static LIVE: Mutex<BTreeMap<usize, Vec<u8>>> = Mutex::new(BTreeMap::new());

/// A buffer handed out: its address and length (not counting the trailing NUL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handed {
    pub(crate) ptr: *const u8,
    pub(crate) len: usize,
}

/// Hands `bytes` out, followed by a NUL (not counted in `len`) so text can be read as a
/// C string. Empty content is handed out too (it is one NUL byte), so every buffer has a
/// unique address.
pub(crate) fn hand_out(bytes: &[u8]) -> Handed {
    let mut buffer = Vec::with_capacity(bytes.len() + 1);
    buffer.extend_from_slice(bytes);
    buffer.push(0);
    let ptr = buffer.as_ptr();
    lock().insert(ptr as usize, buffer);
    Handed {
        ptr,
        len: bytes.len(),
    }
}

/// Frees a buffer handed out by [`hand_out`].
///
/// # Errors
/// [`Error::BadHandle`] when `ptr` is not a live buffer of ours (freed already, or
/// never ours) or `len` is not its length.
pub(crate) fn free(ptr: *const u8, len: usize) -> Result<(), Error> {
    let mut live = lock();
    match live.get(&(ptr as usize)) {
        Some(buffer) if buffer.len() == len + 1 => {
            let buffer = live.remove(&(ptr as usize));
            drop(live);
            drop(buffer);
            Ok(())
        }
        Some(_) => Err(Error::InvalidArgument(format!(
            "buffer {ptr:p} was handed out with another length than {len}"
        ))),
        None => Err(Error::BadHandle {
            kind: "buffer",
            handle: ptr as usize as u64,
        }),
    }
}

fn lock() -> MutexGuard<'static, BTreeMap<usize, Vec<u8>>> {
    // One insert or remove per update: a poisoned lock is still consistent.
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_freed_once_and_foreign_pointers_are_refused() {
        let a = hand_out(b"hello");
        let b = hand_out(b"");
        assert_ne!(a.ptr, b.ptr);
        assert_eq!(a.len, 5);
        assert!(matches!(free(a.ptr, 4), Err(Error::InvalidArgument(_))));
        free(a.ptr, 5).unwrap();
        assert!(matches!(free(a.ptr, 5), Err(Error::BadHandle { .. })));
        let local = [0u8; 4];
        assert!(matches!(
            free(local.as_ptr(), 4),
            Err(Error::BadHandle { .. })
        ));
        free(b.ptr, 0).unwrap();
    }
}
