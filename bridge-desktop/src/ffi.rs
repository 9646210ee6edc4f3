//! The only unsafe code of this crate: handing a pipe's read end to GIO.

use std::os::fd::OwnedFd;

/// Wraps the read end of a pipe in a `GUnixInputStream` that owns it.
pub(crate) fn input_stream_from_fd(fd: OwnedFd) -> gio::UnixInputStream {
    // SAFETY: `fd` is an open file descriptor that we own (an `OwnedFd` moved in);
    // `take_fd` takes that ownership and closes it when the stream is finalised, so it
    // is closed exactly once and no other owner remains.
    unsafe { gio::UnixInputStream::take_fd(fd) }
}
