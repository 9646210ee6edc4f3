//! The JNI layer: every JNI export of this crate, for the Java class
//! `dev.inprocbus.NativeBridge` (in `java/`), over [`host`](crate::host).
//!
//! Each export is a few lines: it calls one safe, fallible function of this module under
//! [`guarded`], which runs it under [`catch_unwind`] and turns an [`Error`] — or a panic —
//! into a Java exception (a panic never crosses into the JVM). Arguments are checked before
//! anything is read or allocated: a null string or array, a handle that is not open, an
//! offset or length outside its array, a string over its size limit are exceptions, never
//! a crash.
//!
//! # Exceptions
//! | error | Java exception |
//! |---|---|
//! | a required argument is null | `NullPointerException` |
//! | a handle that is not open: closed, never issued, 0, or of another kind | `IllegalStateException` |
//! | a malformed argument (origin, header array, base64, size over a limit) | `IllegalArgumentException` |
//! | `off`/`len` outside the array (`bodyRead`, as `InputStream.read`) | `IndexOutOfBoundsException` |
//! | a page that may not open a session (foreign origin, subframe) | `SecurityException` |
//! | the response body failed midway | `java.io.IOException` |
//! | the bus is shut down, a frame was refused, a JNI failure, a panic | `dev.inprocbus.BusException` |
//!
//! # Handles
//! Buses, hosts, response bodies and sessions are Java `long`s: keys in registries, never
//! pointers, positive, never 0 and never reused (see `handles`). Each is closed exactly
//! once by its own function (`busRelease`, `hostClose`, `bodyClose`, `sessionClose`); a
//! second close, a forged value or a handle of another kind is an `IllegalStateException`.
//! Handles are independent: closing a host leaves the bodies and sessions it opened
//! working (they hold what they need), and releasing a bus makes them answer as a shut
//! down bus does (`503`, `Error Shutdown` frames).
//!
//! # Threads
//! Every export may be called from any Java thread, concurrently. `intercept` blocks until
//! the response head and `bodyRead` until the next chunk (as `InputStream.read` does): call
//! them on the WebView's `shouldInterceptRequest` threads or your own, never on a bus
//! worker — which is where a session's `FrameListener.framesReady` runs. That callback is
//! made from a Rust thread (a bus worker) attached to the JVM with
//! `AttachCurrentThread` as a daemon the first time it calls (and left attached until the
//! thread ends, so later calls cost nothing), or from the Java thread calling
//! `sessionReceive`/`sessionClose`. It must return quickly and must not block: post a task
//! to the UI thread that takes the frames. An exception it throws is printed and cleared.
//!
//! # Safety of the exports
//! The only `unsafe` here is `#[unsafe(no_mangle)]`, each with its `SAFETY` comment: an
//! export's name and parameter types must match the `native` declaration in
//! `NativeBridge.java` (quoted in its doc), since the JVM binds by name alone and trusts
//! the types. The JVM tests call every native method. There is no `unsafe` block: no
//! export dereferences a raw pointer, the `jni` crate's typed wrappers are used throughout.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use bus_core::{Bus, BusHandle};
use jni::JNIEnv;
use jni::JavaVM;
use jni::objects::{GlobalRef, JByteArray, JClass, JObject, JObjectArray, JString, JValue};
use jni::sys::{jboolean, jint, jlong, jobject, jobjectArray, jstring};

use crate::handles::{self, BODIES, BUSES, HOSTS, NotOpen, Registered, SESSIONS};
use crate::host::{AndroidHost, FrameError, InterceptedRequest, OriginError, SessionRefused};
use crate::scripts::{self, Bridge, ScriptError};

/// The version of the native interface; `InprocBus` checks it against the Java side's
/// when it loads the library. It changes with every incompatible change of the exports.
pub const ABI_VERSION: i32 = 2;

/// Most header names and values `intercept` takes (1,024 headers).
pub const MAX_HEADER_STRINGS: usize = 2048;
/// Most UTF-16 units of method, URL and headers together (the bus answers `431` above its
/// own, smaller, limit: this only bounds what is copied out of Java).
pub const MAX_HEAD_CHARS: usize = 1 << 20;
/// Longest base64 frame `sessionReceive` takes: the base64 length of the protocol's
/// `MAX_FRAME` (1,114,112 bytes).
pub const MAX_FRAME_BASE64: usize = bus_core::protocol::MAX_FRAME.div_ceil(3) * 4;
/// Most bytes one `bodyRead` copies into Java (a larger `len` reads less, as
/// `InputStream.read` may).
pub const MAX_READ: usize = 256 * 1024;

const RESPONSE_CLASS: &str = "dev/inprocbus/InterceptedResponse";
const RESPONSE_CTOR: &str =
    "(ILjava/lang/String;Ljava/lang/String;Ljava/lang/String;[Ljava/lang/String;J)V";

/// Why a JNI call failed; each becomes the Java exception named in the module docs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A required argument was null.
    #[error("{0} is null")]
    Null(&'static str),
    /// A handle that is not open: closed already, never issued, or of another kind.
    #[error(
        "{kind} handle {handle} is not open (closed already, never issued, or of another kind)"
    )]
    NotOpen {
        /// `bus`, `host`, `body` or `session`.
        kind: &'static str,
        /// The value given.
        handle: i64,
    },
    /// A malformed argument, or one over its size limit.
    #[error("{0}")]
    InvalidArgument(String),
    /// `off`/`len` outside the array.
    #[error("{0}")]
    OutOfBounds(String),
    /// Not an app origin.
    #[error(transparent)]
    Origin(#[from] OriginError),
    /// The page may not open a session, or the bus is shut down.
    #[error(transparent)]
    Refused(#[from] SessionRefused),
    /// The session refused a frame (the page got an `Error` frame for it too).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A script could not be made.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// The response body failed midway.
    #[error("the response body failed: {0}")]
    Body(std::io::Error),
    /// A JNI call failed (its Java exception, if any, is left pending).
    #[error("JNI: {0}")]
    Jni(#[from] jni::errors::Error),
    /// A panic was caught at the boundary: a bug in this crate or in a handler it called
    /// synchronously.
    #[error("panic in bridge-android: {0}")]
    Panic(String),
}

impl From<NotOpen> for Error {
    fn from(e: NotOpen) -> Self {
        Error::NotOpen {
            kind: e.kind,
            handle: e.handle,
        }
    }
}

impl Error {
    /// The Java exception class this error is thrown as (JNI form, `java/lang/...`).
    pub fn java_class(&self) -> &'static str {
        match self {
            Error::Null(_) => "java/lang/NullPointerException",
            Error::NotOpen { .. } => "java/lang/IllegalStateException",
            Error::InvalidArgument(_) | Error::Origin(_) | Error::Script(_) => {
                "java/lang/IllegalArgumentException"
            }
            Error::Frame(FrameError::NotBase64(_)) => "java/lang/IllegalArgumentException",
            Error::OutOfBounds(_) => "java/lang/IndexOutOfBoundsException",
            Error::Refused(SessionRefused::ForeignOrigin { .. })
            | Error::Refused(SessionRefused::NotMainFrame { .. }) => "java/lang/SecurityException",
            Error::Body(_) => "java/io/IOException",
            _ => "dev/inprocbus/BusException",
        }
    }
}

// ---------------------------------------------------------------------------------------
// The Rust side of an app

/// Hands `bus` over to Java and returns its handle (positive; pass it to
/// `InprocBus.openHost`). The registration owns the bus: `InprocBus.releaseBus` (or
/// [`unregister_bus`]) drops it, which shuts it down.
///
/// The app's own Rust crate (the cdylib it loads with `System.loadLibrary`) calls this from
/// a JNI export of its own; see `examples/jni_app.rs`:
///
/// ```
/// use bridge_android::jni::{guarded, register_bus};
/// use jni::objects::JClass;
/// use jni::sys::jlong;
/// use jni::JNIEnv;
///
/// // Java: `static native long startBus();` in the app's class com.example.App
/// #[unsafe(no_mangle)]
/// pub extern "system" fn Java_com_example_App_startBus(mut env: JNIEnv, _: JClass) -> jlong {
///     guarded(&mut env, 0, |_env| {
///         let bus = bus_core::Bus::builder().app_origin("https://app.invalid").build();
///         Ok(register_bus(bus))
///     })
/// }
/// ```
pub fn register_bus(bus: Bus) -> i64 {
    BUSES.insert(Registered::Owned(bus))
}

/// Like [`register_bus`], for a bus the app keeps owning: releasing the handle only
/// forgets it, and dropping the app's [`Bus`] shuts it down.
pub fn register_bus_handle(bus: BusHandle) -> i64 {
    BUSES.insert(Registered::Borrowed(bus))
}

/// Releases a registration, as `InprocBus.releaseBus` does: a bus given to
/// [`register_bus`] is shut down. Hosts, bodies and sessions keep their own handles.
///
/// # Errors
/// [`Error::NotOpen`] when `handle` is not a registered bus.
pub fn unregister_bus(handle: i64) -> Result<(), Error> {
    let registered = BUSES.remove(handle)?;
    drop(registered); // outside the registry's lock: a shutdown takes a moment
    Ok(())
}

/// Runs `f` for a JNI export: under [`catch_unwind`], with an error or a panic thrown as
/// the Java exception of [`Error::java_class`] (unless one is pending already) and
/// `fallback` returned to Java in that case. Use it in the app's own exports too (see
/// [`register_bus`]).
pub fn guarded<'local, T>(
    env: &mut JNIEnv<'local>,
    fallback: T,
    f: impl FnOnce(&mut JNIEnv<'local>) -> Result<T, Error>,
) -> T {
    let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut *env)));
    let error = match outcome {
        Ok(Ok(value)) => return value,
        Ok(Err(error)) => error,
        Err(panic) => Error::Panic(panic_message(panic.as_ref())),
    };
    throw(env, &error);
    fallback
}

fn throw(env: &mut JNIEnv<'_>, error: &Error) {
    // A JNI call that failed with a Java exception left it pending: that one is the
    // better report (an OutOfMemoryError, say), and a second throw would replace it.
    if env.exception_check().unwrap_or(true) {
        return;
    }
    let message = error.to_string();
    // If even this fails (the class cannot be found), FindClass left a
    // NoClassDefFoundError pending, which Java sees instead.
    let _ = env.throw_new(error.java_class(), message);
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned())
}

// ---------------------------------------------------------------------------------------
// The safe functions behind the exports

fn host_open(env: &mut JNIEnv<'_>, bus: i64, origin: &JString<'_>) -> Result<i64, Error> {
    let origin = string(env, origin, "origin", 2048)?;
    let bus = handles::bus(bus)?;
    let host = AndroidHost::new(bus, &origin)?;
    Ok(HOSTS.insert(host))
}

fn host_close(handle: i64) -> Result<(), Error> {
    drop(HOSTS.remove(handle)?);
    Ok(())
}

fn host_origin<'local>(env: &mut JNIEnv<'local>, handle: i64) -> Result<JString<'local>, Error> {
    let host = HOSTS.get(handle)?;
    Ok(env.new_string(host.origin())?)
}

fn host_allow_navigation_to(
    env: &mut JNIEnv<'_>,
    handle: i64,
    origin: &JString<'_>,
) -> Result<(), Error> {
    let origin = string(env, origin, "origin", 2048)?;
    HOSTS.get(handle)?.allow_navigation_to(&origin)?;
    Ok(())
}

fn host_allows_navigation(
    env: &mut JNIEnv<'_>,
    handle: i64,
    url: &JString<'_>,
) -> Result<bool, Error> {
    let host = HOSTS.get(handle)?;
    let mut budget = MAX_HEAD_CHARS;
    let url = string_within(env, url, "url", &mut budget)?;
    Ok(host.allows_navigation(&url))
}

fn page_script<'local>(
    env: &mut JNIEnv<'local>,
    handle: i64,
    interface: &JString<'_>,
    token: &JString<'_>,
) -> Result<JString<'local>, Error> {
    let host = HOSTS.get(handle)?;
    let script = if interface.is_null() {
        scripts::page_script(host.origin(), Bridge::Port)?
    } else {
        let name = string(env, interface, "interfaceName", 64)?;
        let token = string(env, token, "token", 64)?;
        scripts::page_script(
            host.origin(),
            Bridge::Interface {
                name: &name,
                token: &token,
            },
        )?
    };
    Ok(env.new_string(script)?)
}

/// `intercept(host, method, url, headerNamesAndValues, isMainFrame)`.
fn intercept<'local>(
    env: &mut JNIEnv<'local>,
    handle: i64,
    method: &JString<'_>,
    url: &JString<'_>,
    headers: &JObjectArray<'_>,
    is_main_frame: bool,
) -> Result<JObject<'local>, Error> {
    let host = HOSTS.get(handle)?;
    let mut budget = MAX_HEAD_CHARS;
    let method = string_within(env, method, "method", &mut budget)?;
    let url = string_within(env, url, "url", &mut budget)?;
    if headers.is_null() {
        return Err(Error::Null("headerNamesAndValues"));
    }
    let count = usize::try_from(env.get_array_length(headers)?).unwrap_or(0);
    if count % 2 != 0 {
        return Err(Error::InvalidArgument(format!(
            "headerNamesAndValues has {count} elements: names and values come in pairs"
        )));
    }
    if count > MAX_HEADER_STRINGS {
        return Err(Error::InvalidArgument(format!(
            "{} headers, over the limit of {}",
            count / 2,
            MAX_HEADER_STRINGS / 2
        )));
    }
    let mut request = InterceptedRequest {
        method,
        url,
        is_main_frame,
        ..InterceptedRequest::default()
    };
    for pair in 0..count / 2 {
        let name = string_element(env, headers, pair * 2, "a header name", &mut budget)?;
        let value = string_element(env, headers, pair * 2 + 1, "a header value", &mut budget)?;
        request.headers.push((name, value));
    }
    let Some(response) = host.intercept(&request) else {
        return Ok(JObject::null()); // not a bus URL: the WebView loads it itself
    };
    let header_map = response.header_map();
    let body = BODIES.insert(Arc::new(Mutex::new(response.body)));
    let built = response_object(
        env,
        response.status,
        &response.reason,
        response.mime_type.as_deref(),
        response.encoding.as_deref(),
        &header_map,
        body,
    );
    if built.is_err() {
        // Java never got the handle: cancel the handler now.
        drop(BODIES.remove(body));
    }
    built
}

fn response_object<'local>(
    env: &mut JNIEnv<'local>,
    status: u16,
    reason: &str,
    mime_type: Option<&str>,
    encoding: Option<&str>,
    headers: &std::collections::BTreeMap<String, String>,
    body: i64,
) -> Result<JObject<'local>, Error> {
    let reason = env.new_string(reason)?;
    let mime_type = optional_string(env, mime_type)?;
    let encoding = optional_string(env, encoding)?;
    let pairs: Vec<&str> = headers
        .iter()
        .flat_map(|(n, v)| [n.as_str(), v.as_str()])
        .collect();
    let strings = string_array(env, &pairs)?;
    let object = env.new_object(
        RESPONSE_CLASS,
        RESPONSE_CTOR,
        &[
            JValue::Int(jint::from(status)),
            JValue::Object(&reason),
            JValue::Object(&mime_type),
            JValue::Object(&encoding),
            JValue::Object(&strings),
            JValue::Long(body),
        ],
    )?;
    Ok(object)
}

/// `bodyRead(body, buf, off, len)`: as `InputStream.read(byte[], int, int)` — blocks until
/// at least one byte is there, returns how many were copied (at most `len` and
/// [`MAX_READ`]), `-1` at the end, `0` when `len` is 0.
fn body_read(
    env: &mut JNIEnv<'_>,
    handle: i64,
    buf: &JByteArray<'_>,
    off: i32,
    len: i32,
) -> Result<i32, Error> {
    if buf.is_null() {
        return Err(Error::Null("buf"));
    }
    let size = env.get_array_length(buf)?;
    if off < 0 || len < 0 || i64::from(off) + i64::from(len) > i64::from(size) {
        return Err(Error::OutOfBounds(format!(
            "off {off}, len {len} for an array of {size} bytes"
        )));
    }
    let slot = BODIES.get(handle)?;
    if len == 0 {
        return Ok(0);
    }
    let want = usize::try_from(len).unwrap_or(0).min(MAX_READ);
    let mut chunk = vec![0u8; want];
    let n = {
        let mut body = slot.lock().unwrap_or_else(PoisonError::into_inner);
        body.read(&mut chunk).map_err(Error::Body)?
    };
    if n == 0 {
        return Ok(-1);
    }
    // Java's byte is signed: reinterpret each u8 bit for bit.
    let signed: Vec<i8> = chunk[..n].iter().map(|&b| b as i8).collect();
    env.set_byte_array_region(buf, off, &signed)?;
    Ok(i32::try_from(n).unwrap_or(i32::MAX))
}

fn body_close(handle: i64) -> Result<(), Error> {
    let slot = BODIES.remove(handle)?;
    // The last reference cancels the handler (a read blocked on another thread holds one
    // until its chunk arrives).
    drop(slot);
    Ok(())
}

/// `sessionOpen(host, pageOrigin, isMainFrame, listener)`.
fn session_open(
    env: &mut JNIEnv<'_>,
    handle: i64,
    page_origin: &JString<'_>,
    is_main_frame: bool,
    listener: &JObject<'_>,
) -> Result<i64, Error> {
    let host = HOSTS.get(handle)?;
    let page_origin = string(env, page_origin, "pageOrigin", 2048)?;
    let notify = if listener.is_null() {
        None // the Java side polls
    } else {
        Some(Listener {
            vm: env.get_java_vm()?,
            object: env.new_global_ref(listener)?,
        })
    };
    let session = host.open_session(&page_origin, is_main_frame, move || {
        if let Some(listener) = &notify {
            listener.call();
        }
    })?;
    Ok(SESSIONS.insert(Arc::new(session)))
}

fn session_receive(env: &mut JNIEnv<'_>, handle: i64, frame: &JString<'_>) -> Result<(), Error> {
    let session = SESSIONS.get(handle)?;
    let frame = string(env, frame, "frame", MAX_FRAME_BASE64)?;
    session.receive(&frame)?;
    Ok(())
}

fn session_take_outbound<'local>(
    env: &mut JNIEnv<'local>,
    handle: i64,
) -> Result<JObjectArray<'local>, Error> {
    let session = SESSIONS.get(handle)?;
    let frames = session.take_outbound();
    let frames: Vec<&str> = frames.iter().map(String::as_str).collect();
    string_array(env, &frames)
}

fn session_take_script<'local>(
    env: &mut JNIEnv<'local>,
    handle: i64,
) -> Result<JString<'local>, Error> {
    let session = SESSIONS.get(handle)?;
    match session.take_script() {
        Some(script) => Ok(env.new_string(script)?),
        None => Ok(JString::from(JObject::null())),
    }
}

fn session_close(handle: i64) -> Result<(), Error> {
    let session = SESSIONS.remove(handle)?;
    session.close();
    drop(session);
    Ok(())
}

#[cfg(feature = "leak-probe")]
fn open_handles<'local>(
    env: &mut JNIEnv<'local>,
) -> Result<jni::objects::JIntArray<'local>, Error> {
    let counts = handles::open_counts().map(|n| jint::try_from(n).unwrap_or(jint::MAX));
    let array = env.new_int_array(4)?;
    env.set_int_array_region(&array, 0, &counts)?;
    Ok(array)
}

/// A session's `FrameListener`, called when its outbox goes from empty to not empty.
struct Listener {
    vm: JavaVM,
    object: GlobalRef,
}

impl Listener {
    /// Calls `framesReady()` on the listener, from whatever thread the outbox filled on:
    /// a bus worker (attached as a daemon the first time: a runtime's worker threads live
    /// as long as its bus, and a daemon thread never keeps the JVM from exiting) or a Java
    /// thread inside `sessionReceive`/`sessionClose` (already attached: nothing changes).
    fn call(&self) {
        // Nothing may unwind into the bus's sink either.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let Ok(mut env) = self.vm.attach_current_thread_as_daemon() else {
                return;
            };
            // A frame of its own: a permanently attached thread never returns to Java,
            // so local references made here would otherwise pile up.
            let _ = env.with_local_frame(8, |env| -> Result<(), jni::errors::Error> {
                let called = env.call_method(&self.object, "framesReady", "()V", &[]);
                if env.exception_check().unwrap_or(false) {
                    let _ = env.exception_describe();
                    let _ = env.exception_clear();
                }
                called.map(drop)
            });
        }));
    }
}

// ---------------------------------------------------------------------------------------
// Conversions

/// A Java string argument (not null, at most `max_chars` UTF-16 units) as a Rust string.
/// Unpaired surrogates become U+FFFD.
fn string(
    env: &mut JNIEnv<'_>,
    value: &JString<'_>,
    what: &'static str,
    max_chars: usize,
) -> Result<String, Error> {
    let mut budget = max_chars;
    string_within(env, value, what, &mut budget)
}

/// As [`string`], counting its length against a budget shared by several arguments.
fn string_within(
    env: &mut JNIEnv<'_>,
    value: &JString<'_>,
    what: &'static str,
    budget: &mut usize,
) -> Result<String, Error> {
    if value.is_null() {
        return Err(Error::Null(what));
    }
    env.with_local_frame(8, |env| -> Result<String, Error> {
        // The length first, so a huge string is refused before it is copied out.
        let chars = env.call_method(value, "length", "()I", &[])?.i()?;
        let chars = usize::try_from(chars).unwrap_or(0);
        if chars > *budget {
            return Err(Error::InvalidArgument(format!(
                "{what} is {chars} characters, over the {budget} left of its limit",
                budget = *budget
            )));
        }
        *budget -= chars;
        Ok(env.get_string(value)?.into())
    })
}

/// Element `index` of a `String[]`, which must not be null.
fn string_element(
    env: &mut JNIEnv<'_>,
    array: &JObjectArray<'_>,
    index: usize,
    what: &'static str,
    budget: &mut usize,
) -> Result<String, Error> {
    env.with_local_frame(4, |env| -> Result<String, Error> {
        let index = i32::try_from(index).map_err(|_| Error::OutOfBounds(what.to_owned()))?;
        let element = JString::from(env.get_object_array_element(array, index)?);
        string_within(env, &element, what, budget)
    })
}

fn optional_string<'local>(
    env: &mut JNIEnv<'local>,
    value: Option<&str>,
) -> Result<JObject<'local>, Error> {
    Ok(match value {
        Some(s) => env.new_string(s)?.into(),
        None => JObject::null(),
    })
}

/// A new `String[]` of `items`, each element made in a frame of its own.
fn string_array<'local>(
    env: &mut JNIEnv<'local>,
    items: &[&str],
) -> Result<JObjectArray<'local>, Error> {
    let len = i32::try_from(items.len())
        .map_err(|_| Error::InvalidArgument("too many strings for a Java array".into()))?;
    let array = env.new_object_array(len, "java/lang/String", JObject::null())?;
    for (i, item) in (0..len).zip(items.iter().copied()) {
        env.with_local_frame(2, |env| -> Result<(), Error> {
            let s = env.new_string(item)?;
            env.set_object_array_element(&array, i, &s)?;
            Ok(())
        })?;
    }
    Ok(array)
}

fn flag(value: jboolean) -> bool {
    value != 0
}

// ---------------------------------------------------------------------------------------
// Exports: `dev.inprocbus.NativeBridge`

/// `static native int abiVersion();` — [`ABI_VERSION`].
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.abiVersion`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_abiVersion(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
) -> jint {
    guarded(&mut env, -1, |_| Ok(ABI_VERSION))
}

/// `static native void busRelease(long bus);` — see [`unregister_bus`].
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.busRelease`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_busRelease(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    bus: jlong,
) {
    guarded(&mut env, (), |_| unregister_bus(bus));
}

/// `static native long hostOpen(long bus, String appOrigin);` — a host for a registered
/// bus ([`AndroidHost::new`]).
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.hostOpen`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_hostOpen<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    bus: jlong,
    origin: JString<'local>,
) -> jlong {
    guarded(&mut env, 0, |env| host_open(env, bus, &origin))
}

/// `static native void hostClose(long host);`
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.hostClose`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_hostClose(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    host: jlong,
) {
    guarded(&mut env, (), |_| host_close(host));
}

/// `static native String hostOrigin(long host);` — the app origin, canonical.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.hostOrigin`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_hostOrigin<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    host: jlong,
) -> jstring {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        Ok(host_origin(env, host)?.into_raw())
    })
}

/// `static native void hostAllowNavigationTo(long host, String origin);` —
/// [`AndroidHost::allow_navigation_to`]; `IllegalArgumentException` for what is not an
/// http(s) origin.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.hostAllowNavigationTo`),
// and the parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_hostAllowNavigationTo<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    host: jlong,
    origin: JString<'local>,
) {
    guarded(&mut env, (), |env| {
        host_allow_navigation_to(env, host, &origin)
    });
}

/// `static native boolean hostAllowsNavigation(long host, String url);` — the navigation
/// policy ([`AndroidHost::allows_navigation`]), for `shouldOverrideUrlLoading`.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.hostAllowsNavigation`),
// and the parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_hostAllowsNavigation<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    host: jlong,
    url: JString<'local>,
) -> jboolean {
    guarded(&mut env, 0, |env| {
        Ok(jboolean::from(host_allows_navigation(env, host, &url)?))
    })
}

/// `static native String hostPageScript(long host, String interfaceName, String token);` —
/// [`scripts::page_script`]: over the port when `interfaceName` is null, else over that
/// `addJavascriptInterface` object with the document's `token`.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.hostPageScript`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_hostPageScript<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    host: jlong,
    interface_name: JString<'local>,
    token: JString<'local>,
) -> jstring {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        Ok(page_script(env, host, &interface_name, &token)?.into_raw())
    })
}

/// `static native InterceptedResponse intercept(long host, String method, String url,
/// String[] headerNamesAndValues, boolean isMainFrame);` — null for URLs outside the app
/// origin ([`AndroidHost::intercept`]). Blocks until the response head.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.intercept`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_intercept<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    host: jlong,
    method: JString<'local>,
    url: JString<'local>,
    headers: JObjectArray<'local>,
    is_main_frame: jboolean,
) -> jobject {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        let response = intercept(env, host, &method, &url, &headers, flag(is_main_frame))?;
        Ok(response.into_raw())
    })
}

/// `static native int bodyRead(long body, byte[] buf, int off, int len);` — blocks like
/// `InputStream.read`; `-1` at the end.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.bodyRead`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_bodyRead<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    body: jlong,
    buf: JByteArray<'local>,
    off: jint,
    len: jint,
) -> jint {
    guarded(&mut env, -1, |env| body_read(env, body, &buf, off, len))
}

/// `static native void bodyClose(long body);` — drops the body, which cancels its handler.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.bodyClose`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_bodyClose(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    body: jlong,
) {
    guarded(&mut env, (), |_| body_close(body));
}

/// `static native long sessionOpen(long host, String pageOrigin, boolean isMainFrame,
/// FrameListener listener);` — refuses pages that are not the app origin's main frame
/// (`SecurityException`). `listener` may be null (poll `sessionTakeOutbound`).
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.sessionOpen`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_sessionOpen<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    host: jlong,
    page_origin: JString<'local>,
    is_main_frame: jboolean,
    listener: JObject<'local>,
) -> jlong {
    guarded(&mut env, 0, |env| {
        session_open(env, host, &page_origin, flag(is_main_frame), &listener)
    })
}

/// `static native void sessionReceive(long session, String frame);` — one base64 frame
/// from the page. Never blocks.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.sessionReceive`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_sessionReceive<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    session: jlong,
    frame: JString<'local>,
) {
    guarded(&mut env, (), |env| session_receive(env, session, &frame));
}

/// `static native String[] sessionTakeOutbound(long session);` — the frames waiting for the
/// page, base64, in order (empty when none).
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.sessionTakeOutbound`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_sessionTakeOutbound<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    session: jlong,
) -> jobjectArray {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        Ok(session_take_outbound(env, session)?.into_raw())
    })
}

/// `static native String sessionTakeScript(long session);` — the frames waiting, as one
/// script for `evaluateJavascript`; null when none.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.sessionTakeScript`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_sessionTakeScript<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    session: jlong,
) -> jstring {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        Ok(session_take_script(env, session)?.into_raw())
    })
}

/// `static native void sessionClose(long session);` — cancels every open stream.
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.sessionClose`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_sessionClose(
    mut env: JNIEnv<'_>,
    _class: JClass<'_>,
    session: jlong,
) {
    guarded(&mut env, (), |_| session_close(session));
}

/// `static native int[] openHandles();` — handles open now: buses, hosts, bodies,
/// sessions (for leak checks). Feature `leak-probe` only: test tooling, not in an app's
/// build (there, `NativeBridge.openHandles` throws `UnsatisfiedLinkError`).
#[cfg(feature = "leak-probe")]
// SAFETY: no other symbol has this name (JNI's for `NativeBridge.openHandles`), and the
// parameter and return types are the JNI types of that `native` declaration.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_inprocbus_NativeBridge_openHandles<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
) -> jni::sys::jintArray {
    guarded(&mut env, std::ptr::null_mut(), |env| {
        Ok(open_handles(env)?.into_raw())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_documented_exceptions() {
        let cases: Vec<(Error, &str)> = vec![
            (Error::Null("x"), "java/lang/NullPointerException"),
            (
                Error::NotOpen {
                    kind: "body",
                    handle: 7,
                },
                "java/lang/IllegalStateException",
            ),
            (
                Error::InvalidArgument("x".into()),
                "java/lang/IllegalArgumentException",
            ),
            (
                Error::Frame(FrameError::NotBase64("x".into())),
                "java/lang/IllegalArgumentException",
            ),
            (
                Error::OutOfBounds("x".into()),
                "java/lang/IndexOutOfBoundsException",
            ),
            (
                Error::Refused(SessionRefused::NotMainFrame { app: "a".into() }),
                "java/lang/SecurityException",
            ),
            (
                Error::Refused(SessionRefused::Closed),
                "dev/inprocbus/BusException",
            ),
            (
                Error::Body(std::io::Error::other("x")),
                "java/io/IOException",
            ),
            (Error::Panic("x".into()), "dev/inprocbus/BusException"),
        ];
        for (error, class) in cases {
            assert_eq!(error.java_class(), class, "{error}");
            assert!(
                class.starts_with("java/") || class.starts_with("dev/inprocbus/"),
                "{class}"
            );
        }
        assert_eq!(MAX_FRAME_BASE64, 1_485_484);
    }

    #[test]
    fn panic_messages_are_kept() {
        let caught = catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "boom 1");
        let caught = catch_unwind(|| std::panic::panic_any(5u8)).unwrap_err();
        assert_eq!(
            panic_message(caught.as_ref()),
            "a panic with a non-string payload"
        );
    }
}
