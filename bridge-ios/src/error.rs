//! [`Error`]: every way a call of the C API can fail; [`Status`]: its code on the C side;
//! and the calling thread's last error message.

use std::cell::RefCell;

/// A status code as the C functions return it (`BusIosStatus`, an `int32_t`).
///
/// The numbers are stable; `include/bus_ios.h` defines each as `BUS_IOS_<NAME>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(i32)]
pub enum Status {
    /// Success. `0`
    Ok = 0,
    /// A required pointer was null. `1`
    NullPointer = 1,
    /// The handle is 0, was never issued, was already freed, or is of another kind. `2`
    BadHandle = 2,
    /// An argument is not valid (method, URL, header, origin bytes; an unknown enum value). `3`
    InvalidArgument = 3,
    /// A size is over its limit; refused before anything was allocated or read. `4`
    TooLarge = 4,
    /// The other side is gone: the bus is shut down, or the handler stopped reading the
    /// request body, or the request was cancelled. Stop sending. `5`
    Closed = 5,
    /// No room now (the request body queue is full): try again later. `6`
    WouldBlock = 6,
    /// The call does not fit the object's state: the body was already ended, the request
    /// already cancelled, or it has no body. A bug in the caller. `7`
    InvalidState = 7,
    /// The session refused the frame; the page got the same problem as an `Error` frame
    /// and every other stream goes on. `8`
    Rejected = 8,
    /// (Callbacks only) the response body failed after its head was delivered. `9`
    BodyFailed = 9,
    /// A panic was caught at the boundary (a bug in this crate); the call had no effect
    /// that can be relied on. `10`
    Panic = 10,
}

impl Status {
    /// The number the C side sees.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The status's name as in the C header, e.g. `BUS_IOS_BAD_HANDLE`.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "BUS_IOS_OK",
            Status::NullPointer => "BUS_IOS_NULL_POINTER",
            Status::BadHandle => "BUS_IOS_BAD_HANDLE",
            Status::InvalidArgument => "BUS_IOS_INVALID_ARGUMENT",
            Status::TooLarge => "BUS_IOS_TOO_LARGE",
            Status::Closed => "BUS_IOS_CLOSED",
            Status::WouldBlock => "BUS_IOS_WOULD_BLOCK",
            Status::InvalidState => "BUS_IOS_INVALID_STATE",
            Status::Rejected => "BUS_IOS_REJECTED",
            Status::BodyFailed => "BUS_IOS_BODY_FAILED",
            Status::Panic => "BUS_IOS_PANIC",
        }
    }
}

/// Why a call of the C API failed. Each variant maps to one [`Status`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required pointer was null.
    #[error("{0} is a null pointer")]
    NullPointer(&'static str),
    /// The handle is unknown (0, never issued, freed, or of another kind).
    #[error(
        "{kind} handle {handle} is not valid (0, never issued, already freed, or of another kind)"
    )]
    BadHandle {
        /// What kind of handle was expected.
        kind: &'static str,
        /// The value given.
        handle: u64,
    },
    /// An argument is not valid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A size over its limit.
    #[error("{what} is {size} bytes/items, over the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The size given.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The other side is gone.
    #[error("closed: {0}")]
    Closed(&'static str),
    /// No room now; try again.
    #[error("would block: {0}")]
    WouldBlock(&'static str),
    /// The call does not fit the object's state.
    #[error("invalid state: {0}")]
    InvalidState(&'static str),
    /// The session refused a frame (the page was told with an `Error` frame).
    #[error("frame rejected: {0}")]
    Rejected(#[from] bus_core::port::Rejected),
    /// A panic caught at the boundary.
    #[error("panic in bridge-ios: {0}")]
    Panic(String),
}

impl Error {
    /// The status code this error is reported with.
    pub fn status(&self) -> Status {
        match self {
            Error::NullPointer(_) => Status::NullPointer,
            Error::BadHandle { .. } => Status::BadHandle,
            Error::InvalidArgument(_) => Status::InvalidArgument,
            Error::TooLarge { .. } => Status::TooLarge,
            Error::Closed(_) => Status::Closed,
            Error::WouldBlock(_) => Status::WouldBlock,
            Error::InvalidState(_) => Status::InvalidState,
            Error::Rejected(_) => Status::Rejected,
            Error::Panic(_) => Status::Panic,
        }
    }

    /// The error's message, prefixed with its status name.
    pub(crate) fn describe(&self) -> String {
        format!("{}: {self}", self.status().name())
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records `message` as this thread's last error.
pub(crate) fn set_last_error(message: String) {
    LAST_ERROR.with(|last| *last.borrow_mut() = Some(message));
}

/// This thread's last error message, if any call on it failed.
pub(crate) fn last_error() -> Option<String> {
    LAST_ERROR.with(|last| last.borrow().clone())
}

/// Checks that a size is within its limit, before anything is read or allocated.
pub(crate) fn check_size(what: &'static str, size: usize, limit: usize) -> Result<(), Error> {
    if size > limit {
        Err(Error::TooLarge { what, size, limit })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_error_is_per_thread() {
        set_last_error("here".into());
        let other = std::thread::spawn(last_error).join().unwrap();
        assert_eq!(other, None);
        assert_eq!(last_error().as_deref(), Some("here"));
    }

    #[test]
    fn errors_name_their_status() {
        let e = Error::BadHandle {
            kind: "request",
            handle: 7,
        };
        assert_eq!(e.status(), Status::BadHandle);
        assert!(
            e.describe()
                .starts_with("BUS_IOS_BAD_HANDLE: request handle 7")
        );
        assert!(check_size("x", 2, 1).is_err());
        assert!(check_size("x", 1, 1).is_ok());
    }
}
