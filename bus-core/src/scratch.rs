//! Small buffers cut from one larger buffer per thread, which is used again once every
//! piece cut from it is dropped.
//!
//! Bridges hand the port each frame in a buffer of its own (a `Vec` from a base64 decode,
//! a copy out of the engine). Slicing a request's URI and header values out of such a
//! buffer makes `bytes` allocate a shared reference count for it, and encoding an answer
//! into a `Vec` of its own is an allocation too: each a `malloc` and a `free` per request.
//! A request head or a small encoded answer is instead copied into this thread's scratch
//! buffer, whose pieces share its one reference count (issue 16).
//!
//! A piece keeps its whole chunk alive: a handler that holds its request's URI for long
//! keeps up to [`CHUNK`] bytes. Pieces are at most [`MAX_PIECE`] bytes; larger ones get a
//! buffer of their own, as before.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// The size of a scratch buffer; a new one is made when the current one is used up while
/// a piece of it is still held.
const CHUNK: usize = 16 * 1024;

/// The largest piece cut from a scratch buffer.
pub(crate) const MAX_PIECE: usize = 2 * 1024;

thread_local! {
    static SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// The `len` bytes `fill` writes, as a buffer cut from this thread's scratch buffer when
/// `len` is at most [`MAX_PIECE`], else as a buffer of their own. `fill` must write
/// exactly `len` bytes (checked in debug builds); a piece it makes itself gets a buffer of
/// its own.
pub(crate) fn piece(len: usize, fill: impl FnOnce(&mut BytesMut)) -> Bytes {
    if len > MAX_PIECE {
        return own(len, fill);
    }
    let mut fill = Some(fill);
    let cut = SCRATCH.try_with(|cell| {
        let Ok(mut buf) = cell.try_borrow_mut() else {
            return None;
        };
        if buf.capacity() < len {
            // Takes the chunk back when no piece of it is held any more (`bytes` checks
            // its reference count); else makes a new one and lets the old one go with
            // its last piece.
            buf.reserve(CHUNK);
        }
        let fill = fill.take().expect("called once");
        // Empty already, unless a `fill` unwound half-way through: its bytes are never
        // the start of the next piece.
        buf.clear();
        fill(&mut buf);
        // Cut before checking, so a failed check leaves the buffer empty.
        let piece = buf.split().freeze();
        debug_assert_eq!(piece.len(), len);
        Some(piece)
    });
    match cut {
        Ok(Some(bytes)) => bytes,
        // Re-entered, or the thread is ending: a buffer of its own.
        _ => own(len, fill.take().expect("not called")),
    }
}

/// A copy of `src`: [`piece`] of it.
pub(crate) fn copy(src: &[u8]) -> Bytes {
    piece(src.len(), |buf| buf.extend_from_slice(src))
}

fn own(len: usize, fill: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut buf = BytesMut::with_capacity(len);
    fill(&mut buf);
    debug_assert_eq!(buf.len(), len);
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces hold their own bytes while later ones are cut, and the chunk is taken back
    /// (no new allocation: the same addresses) once they are dropped.
    #[test]
    fn pieces_are_their_own_and_the_chunk_is_used_again() {
        let a = copy(b"first");
        let b = copy(b"second");
        assert_eq!((&a[..], &b[..]), (&b"first"[..], &b"second"[..]));
        let start = a.as_ptr();
        drop((a, b));
        // Used up, then taken back from the start.
        let mut held = Vec::new();
        while held.len() * 100 < CHUNK - 100 {
            held.push(copy(&[7; 100]));
        }
        drop(held);
        let mut again = Vec::new();
        for _ in 0..CHUNK / 100 + 1 {
            again.push(copy(&[9; 100]));
        }
        assert!(again.iter().all(|p| p[..] == [9; 100]));
        assert!(
            again.iter().any(|p| p.as_ptr() == start),
            "the chunk was taken back"
        );
    }

    /// A piece still held when the chunk is used up keeps its bytes: the next pieces come
    /// from a new chunk.
    #[test]
    fn a_held_piece_keeps_its_bytes() {
        let held = copy(b"kept for long");
        let mut others = Vec::new();
        for i in 0..(3 * CHUNK / 64) {
            others.push(copy(&[i as u8; 64]));
            if others.len() > 4 {
                others.remove(0);
            }
        }
        assert_eq!(&held[..], b"kept for long");
        assert!(others.iter().all(|p| p.iter().all(|&b| b == p[0])));
    }

    /// A `fill` that unwinds half-way leaves nothing for the next piece (found by review:
    /// its bytes were the start of the next piece on the thread).
    #[test]
    fn a_fill_that_unwinds_leaves_nothing_behind() {
        let unwound = std::panic::catch_unwind(|| {
            piece(11, |buf| {
                buf.extend_from_slice(b"SECRET");
                panic!("half-way");
            })
        });
        assert!(unwound.is_err());
        assert_eq!(&copy(b"hello")[..], b"hello");
        assert_eq!(&copy(b"again")[..], b"again");
    }

    /// Large pieces, and pieces cut while another is being written, get buffers of their
    /// own.
    #[test]
    fn large_and_reentrant_pieces() {
        let big = copy(&vec![1; MAX_PIECE + 1]);
        assert_eq!(big.len(), MAX_PIECE + 1);
        let outer = piece(6, |buf| {
            let inner = copy(b"inner");
            buf.extend_from_slice(b"outer!");
            assert_eq!(&inner[..], b"inner");
        });
        assert_eq!(&outer[..], b"outer!");
    }
}
