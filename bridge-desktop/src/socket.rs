//! The relay's faster carrier: a `socketpair` to the web process extension
//! (`bridge-desktop-webext`), in place of WebKit's script messages when the extension is
//! loaded.
//!
//! The extension asks its page's view for a socket (a `WebKitUserMessage` named
//! `inproc-bus-socket/<wire version>`; another version is not answered); the view answers with one end of a fresh pair. Only this host's own view
//! gets that message from its pages: a related view's (a popup's) page asks its own view,
//! which does not answer, and stays on script messages, where the commit token refuses it.
//! What crosses the socket is what crossed as script messages (the same text, checked the
//! same way by `channel`), plus carried request bodies as raw bytes. The wire format is in
//! the extension's crate docs.
//!
//! Threads: the main loop reads the socket when it is readable, without blocking (what the
//! page sent is handled on the main thread, as a script message is, with no hop); answers are
//! written from the main thread while the socket takes them, and by a writer thread per
//! socket otherwise, so the main thread never blocks on a page that does not read.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use bytes::{Buf, Bytes, BytesMut};
use webkit2gtk::UserMessageExt;
use webkit2gtk::WebViewExt as _;

/// The handshake's message name (the extension's `HANDSHAKE`): the wire's name, then its
/// version. Only this exact name is answered: an extension library of another version (a
/// stale `.so` next to the executable) gets no socket, and its pages stay on script
/// messages, with a warning that says which versions met.
pub(crate) const HANDSHAKE: &str = "inproc-bus-socket/1";

/// What a user message's name says about the handshake.
#[derive(Debug, PartialEq)]
enum Handshake<'a> {
    /// Ours, of this version.
    Ours,
    /// The handshake of another version of the wire (that version's text).
    OtherVersion(&'a str),
    /// Not a handshake.
    NotOne,
}

/// The wire's name and this host's version of it (the two halves of [`HANDSHAKE`]).
fn wire_and_version() -> (&'static str, &'static str) {
    HANDSHAKE.split_once('/').expect("a name and a version")
}

fn handshake(name: &str) -> Handshake<'_> {
    if name == HANDSHAKE {
        return Handshake::Ours;
    }
    let (wire, _) = wire_and_version();
    match name.split_once('/') {
        Some((theirs, version)) if theirs == wire => Handshake::OtherVersion(version),
        // The first extension, before the name had a version.
        None if name == wire => Handshake::OtherVersion("0 (unversioned)"),
        _ => Handshake::NotOne,
    }
}

/// The file name of the extension's library.
pub const LIBRARY: &str = "libbridge_desktop_webext.so";

/// Page → host kinds (the extension's crate docs).
const FRAMES: u8 = 1;
const ASK: u8 = 2;
const CARRY: u8 = 3;

/// Host → page kinds.
const REJECT: u8 = 1;
const RESOLVE: u8 = 2;
const FRAMES_BACK: u8 = 3;

/// The longest frames or ask message taken from the page: the relay sends at most 2 MiB of
/// characters in one message beyond a single frame (see `channel`). A longer one, or one
/// of an unknown kind, ends the connection (only the extension writes here).
const MAX_TEXT: usize = (2 << 20) + bus_core::protocol::MAX_FRAME.div_ceil(3) * 4 + 64;

/// What the relay sent, for the main thread.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// `"<doc> <frame>…"`, as the frames handler gets it.
    Frames(String),
    /// A request for frames (as the pull handler gets it) and its answer.
    Ask(Answer, String),
    /// A carried body: `"<doc> <stream>"`, the bytes, and the answer (resolved when taken,
    /// rejected with the reason otherwise).
    Carry(Answer, String, Bytes),
}

/// The answer to one ask or carry of the socket: like a script message's reply, it settles
/// the relay's promise, rejected with a text ([`Answer::send_text`]) or, dropped unsent,
/// resolved with `undefined`.
#[derive(Debug)]
pub(crate) struct Answer {
    out: Arc<Out>,
    id: u32,
    sent: bool,
    socket: u64,
}

impl Answer {
    /// The socket it came by (see [`Handlers::closed`]).
    pub(crate) fn socket(&self) -> u64 {
        self.socket
    }

    /// Rejects the relay's promise with an `Error`-like value whose message is `text`.
    pub(crate) fn send_text(mut self, text: String) {
        self.sent = true;
        self.out.send(message(REJECT, self.id, text.as_bytes()));
    }

    /// Settles the relay's request with `frames`, each given to the page as a `Uint8Array`.
    pub(crate) fn send_frames(mut self, frames: &[Bytes]) {
        self.sent = true;
        let len = 1 + 4 + 4 + frames.iter().map(|f| 4 + f.len()).sum::<usize>();
        let mut out = Vec::with_capacity(4 + len);
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.push(FRAMES_BACK);
        out.extend_from_slice(&self.id.to_le_bytes());
        out.extend_from_slice(&(frames.len() as u32).to_le_bytes());
        for frame in frames {
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(frame);
        }
        self.out.send(out.into());
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if !self.sent {
            self.out.send(message(RESOLVE, self.id, &[]));
        }
    }
}

/// A host message: its length, `kind`, the id, then `text`.
fn message(kind: u8, id: u32, text: &[u8]) -> Bytes {
    let len = 1 + 4 + text.len();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.push(kind);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(text);
    out.into()
}

/// The way to the page: written at once from the caller's thread (the main thread) while
/// the socket takes it, by a writer thread otherwise (the main thread never blocks on a
/// page that does not read), in order either way.
#[derive(Debug)]
pub(crate) struct Out {
    socket: UnixStream,
    state: Mutex<OutState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct OutState {
    /// Messages the writer thread has yet to write; the first from `written` on.
    queue: VecDeque<Bytes>,
    written: usize,
    closed: bool,
}

impl Out {
    fn send(&self, message: Bytes) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.closed {
            return;
        }
        if !state.queue.is_empty() {
            state.queue.push_back(message);
            return;
        }
        let mut at = 0;
        while at < message.len() {
            let flags = rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL;
            match rustix::net::send(&self.socket, &message[at..], flags) {
                Ok(n) => at += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => break,
                Err(_) => {
                    state.closed = true;
                    return;
                }
            }
        }
        if at < message.len() {
            state.queue.push_back(message);
            state.written = at;
            self.ready.notify_one();
        }
    }

    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.ready.notify_one();
    }

    /// The writer thread: writes what the main thread could not, blocking.
    fn write_loop(&self) {
        loop {
            let (message, from) = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if state.closed {
                        return;
                    }
                    if let Some(front) = state.queue.front() {
                        break (front.clone(), state.written);
                    }
                    state = self.ready.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            };
            let mut at = from;
            while at < message.len() {
                match rustix::net::send(
                    &self.socket,
                    &message[at..],
                    rustix::net::SendFlags::NOSIGNAL,
                ) {
                    Ok(n) => at += n,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(_) => {
                        self.close();
                        return;
                    }
                }
            }
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.queue.pop_front();
            state.written = 0;
        }
    }
}

/// See [`Handlers::wanted`].
pub(crate) type Wanted = dyn Fn(&str) -> Result<bool, String>;

/// What the host does with a socket's messages (GTK main thread).
pub(crate) struct Handlers {
    /// Each whole message, in order.
    pub(crate) dispatch: Box<dyn Fn(Incoming)>,
    /// Whether a carried body for `"<doc> <stream>"` is wanted, asked before any of its
    /// bytes are kept: `Ok(true)` yes, `Ok(false)` not needed (answered: dropped unread),
    /// `Err(why)` refused (dropped unread, the page told why).
    pub(crate) wanted: Box<Wanted>,
    /// The socket of this id is gone (closed by the page's process, or by us on a message
    /// that is not one): what was opened over it must be ended.
    pub(crate) closed: Box<dyn Fn(u64)>,
}

/// The largest request body a carry takes (as the scheme's carrier took).
pub(crate) const MAX_CARRY: usize = 1 << 30;

static NEXT_SOCKET: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Answers `view`'s pages' handshakes with a socket each, whose messages `handlers` get on
/// the main thread, in order, as the main loop finds them (GTK main thread only).
pub(crate) fn serve(view: &webkit2gtk::WebView, handlers: Handlers) {
    let handlers = std::rc::Rc::new(handlers);
    view.connect_user_message_received(move |_, request| {
        let name = request.name();
        match handshake(name.as_deref().unwrap_or("")) {
            Handshake::Ours => {}
            Handshake::NotOne => return false,
            Handshake::OtherVersion(theirs) => {
                tracing::warn!(
                    "the web process extension speaks wire version {theirs}, this host {}: \
                     its page stays on script messages (ship the {LIBRARY} built with this \
                     host)",
                    wire_and_version().1
                );
                return false;
            }
        }
        let pair = UnixStream::pair().and_then(|(ours, theirs)| {
            let writer = ours.try_clone()?;
            Ok((ours, writer, theirs))
        });
        let (ours, writer, theirs) = match pair {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("no socketpair for the page (it stays on script messages): {e}");
                return false;
            }
        };
        let out = Arc::new(Out {
            socket: writer,
            state: Mutex::default(),
            ready: Condvar::new(),
        });
        let writing = out.clone();
        if let Err(e) = std::thread::Builder::new()
            .name("inproc-bus-socket-writer".into())
            .spawn(move || writing.write_loop())
        {
            tracing::warn!("no thread for the page's socket: {e}");
            return false;
        }
        let fd = ours.as_raw_fd();
        let mut reader = Reader {
            socket: ours,
            id: NEXT_SOCKET.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            buf: BytesMut::new(),
            scratch: vec![0u8; 256 << 10],
            out,
            skip: 0,
            carry_checked: false,
            handlers: handlers.clone(),
        };
        glib::source::unix_fd_add_local(
            fd,
            glib::IOCondition::IN | glib::IOCondition::HUP | glib::IOCondition::ERR,
            move |_, _| reader.pump(),
        );
        let list = gio::UnixFDList::from_array([theirs.into_raw_fd()]);
        request.send_reply(&webkit2gtk::UserMessage::with_fd_list(
            HANDSHAKE,
            None,
            Some(&list),
        ));
        true
    });
}

/// What [`Reader::next`] found.
enum Next {
    Message(Incoming),
    /// Something was consumed (a refused carry's head, skipped bytes): look again.
    Again,
    /// Nothing whole yet: read more.
    Wait,
}

/// The page's end, read on the main loop without blocking it.
struct Reader {
    socket: UnixStream,
    id: u64,
    /// Bytes read, not yet a whole message.
    buf: BytesMut,
    scratch: Vec<u8>,
    out: Arc<Out>,
    /// Bytes of a refused carry's body still to come, dropped as they do.
    skip: usize,
    /// The carry whose head is at the front of `buf` was asked about and is wanted.
    carry_checked: bool,
    handlers: std::rc::Rc<Handlers>,
}

/// The most room reserved at once for the rest of a message.
const RESERVE_AT_MOST: usize = 256 << 20;

/// What one turn of the main loop reads at most (the rest waits for the next turn).
const READ_PER_TURN: usize = 8 << 20;

impl Reader {
    fn pump(&mut self) -> glib::ControlFlow {
        let mut read = 0;
        while read < READ_PER_TURN {
            let got = rustix::net::recv(
                &self.socket,
                &mut self.scratch[..],
                rustix::net::RecvFlags::DONTWAIT,
            )
            .map(|(n, _)| {
                self.buf.extend_from_slice(&self.scratch[..n]);
                n
            });
            match got {
                Ok(0) => return self.end(None),
                Ok(n) => read += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) => break,
                Err(e) => return self.end(Some(format!("an error ({e})"))),
            }
            loop {
                match self.next() {
                    Ok(Next::Message(incoming)) => (self.handlers.dispatch)(incoming),
                    Ok(Next::Again) => {}
                    Ok(Next::Wait) => break,
                    Err(why) => return self.end(Some(why)),
                }
            }
        }
        glib::ControlFlow::Continue
    }

    fn end(&mut self, why: Option<String>) -> glib::ControlFlow {
        if let Some(why) = why {
            tracing::warn!("the page's socket sent {why}; it is closed");
        }
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        self.out.close();
        (self.handlers.closed)(self.id);
        glib::ControlFlow::Break
    }

    /// The next whole message in the buffer, if there is one.
    fn next(&mut self) -> Result<Next, String> {
        if self.skip > 0 {
            let n = self.skip.min(self.buf.len());
            self.buf.advance(n);
            self.skip -= n;
            return Ok(if self.skip > 0 {
                Next::Wait
            } else {
                Next::Again
            });
        }
        if self.buf.len() < 5 {
            return Ok(Next::Wait);
        }
        let len = u32::from_le_bytes(self.buf[..4].try_into().expect("4 bytes")) as usize;
        let kind = self.buf[4];
        if len == 0 {
            return Err("an empty message".into());
        }
        if matches!(kind, FRAMES | ASK) && len > MAX_TEXT {
            return Err(format!("a message of {len} bytes"));
        }
        if !matches!(kind, FRAMES | ASK | CARRY) {
            return Err(format!("a message of unknown kind {kind}"));
        }
        let answer = |out: &Arc<Out>, socket, id| Answer {
            out: out.clone(),
            id,
            sent: false,
            socket,
        };
        if kind == CARRY && !self.carry_checked {
            // Asked about before its body is kept: a body no stream wants, or one over the
            // limit, is dropped as it comes, unread.
            if self.buf.len() < 13 {
                return Ok(Next::Wait);
            }
            let id = u32::from_le_bytes(self.buf[5..9].try_into().expect("4 bytes"));
            let header_len =
                u32::from_le_bytes(self.buf[9..13].try_into().expect("4 bytes")) as usize;
            let body_len = len
                .checked_sub(9 + header_len)
                .filter(|_| header_len <= 64)
                .ok_or_else(|| format!("a carry header of {header_len} bytes"))?;
            if self.buf.len() < 13 + header_len {
                return Ok(Next::Wait);
            }
            let header = String::from_utf8(self.buf[13..13 + header_len].to_vec())
                .map_err(|_| "text that is not UTF-8".to_owned())?;
            let verdict = if body_len > MAX_CARRY {
                Err(format!(
                    "a request body of {body_len} bytes is over the carrier's {MAX_CARRY}"
                ))
            } else {
                (self.handlers.wanted)(&header)
            };
            if verdict == Ok(true) {
                self.carry_checked = true;
                self.buf.reserve(
                    (4 + len)
                        .saturating_sub(self.buf.len())
                        .min(RESERVE_AT_MOST),
                );
            } else {
                self.buf.advance(13 + header_len);
                self.skip = body_len;
                let answer = answer(&self.out, self.id, id);
                // Not needed: resolved (dropped); refused: the page is told why.
                if let Err(why) = verdict {
                    answer.send_text(why);
                }
                return Ok(Next::Again);
            }
        }
        if self.buf.len() < 4 + len {
            if kind != CARRY {
                // Room for the rest (bounded by MAX_TEXT), once.
                self.buf.reserve(4 + len - self.buf.len());
            }
            return Ok(Next::Wait);
        }
        self.carry_checked = false;
        let mut message = self.buf.split_to(4 + len).freeze();
        message.advance(5);
        let text = |bytes: &[u8]| {
            String::from_utf8(bytes.to_vec()).map_err(|_| "text that is not UTF-8".to_owned())
        };
        let u32_at = |m: &Bytes, at: usize| -> Result<u32, String> {
            m.get(at..at + 4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                .ok_or_else(|| "a cut message".to_owned())
        };
        Ok(Next::Message(match kind {
            FRAMES => Incoming::Frames(text(&message)?),
            ASK => Incoming::Ask(
                answer(&self.out, self.id, u32_at(&message, 0)?),
                text(&message[4..])?,
            ),
            _ => {
                let id = u32_at(&message, 0)?;
                let header_len = u32_at(&message, 4)? as usize;
                let header = text(&message[8..8 + header_len])?;
                Incoming::Carry(
                    answer(&self.out, self.id, id),
                    header,
                    message.slice(8 + header_len..),
                )
            }
        }))
    }
}

/// Where the extension's library is taken from: given, or found next to the running
/// executable (or in its parent directory: cargo puts tests and examples one level down).
pub(crate) fn find(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return Some(path.to_owned());
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [Some(dir), dir.parent()]
        .into_iter()
        .flatten()
        .map(|d| d.join(LIBRARY))
        .find(|p| p.is_file())
}

/// A directory only this user can write, holding a copy of `library` and nothing else:
/// WebKit loads every library in its extensions directory into the page's process, so the
/// directory must be one nobody else can add to. Removed when dropped.
#[derive(Debug)]
pub(crate) struct ExtensionDir(PathBuf);

impl ExtensionDir {
    pub(crate) fn new(library: &Path) -> std::io::Result<ExtensionDir> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let name = crate::random_hex()?;
        let dir = base.join(format!("inproc-bus-webext-{name}"));
        // Fails if it exists: a fresh name, made by us, 0700.
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let made = ExtensionDir(dir);
        std::fs::copy(library, made.0.join(LIBRARY))?;
        Ok(made)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ExtensionDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::io::{Read, Write};
    use std::rc::Rc;

    #[test]
    fn only_the_handshake_of_this_wire_version_is_answered() {
        assert_eq!(handshake(HANDSHAKE), Handshake::Ours);
        assert_eq!(
            handshake("inproc-bus-socket/2"),
            Handshake::OtherVersion("2")
        );
        assert_eq!(
            handshake("inproc-bus-socket"),
            Handshake::OtherVersion("0 (unversioned)")
        );
        for other in [
            "",
            "inproc-bus",
            "inproc-bus-socket-x/1",
            "x/1",
            "inproc-bus-socketx",
        ] {
            assert_eq!(handshake(other), Handshake::NotOne, "{other}");
        }
    }

    /// A reader on one end of a pair, whose handlers record what they were given.
    fn reader(wanted: Result<bool, String>) -> (Reader, UnixStream, Rc<RefCell<Vec<String>>>) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
        let out = Arc::new(Out {
            socket: ours.try_clone().unwrap(),
            state: Mutex::default(),
            ready: Condvar::new(),
        });
        let reader = Reader {
            socket: ours,
            id: 7,
            buf: BytesMut::new(),
            scratch: vec![0u8; 256 << 10],
            out,
            skip: 0,
            carry_checked: false,
            handlers: Rc::new(Handlers {
                dispatch: Box::new(move |i| {
                    s1.borrow_mut().push(match i {
                        Incoming::Frames(t) => format!("frames {t}"),
                        Incoming::Ask(_, t) => format!("ask {t}"),
                        Incoming::Carry(_, h, b) => format!("carry {h} {}", b.len()),
                    })
                }),
                wanted: Box::new(move |h| {
                    s2.borrow_mut().push(format!("wanted? {h}"));
                    wanted.clone()
                }),
                closed: Box::new(move |id| s3.borrow_mut().push(format!("closed {id}"))),
            }),
        };
        (reader, theirs, seen)
    }

    fn carry(id: u32, header: &str, body: usize) -> Vec<u8> {
        let len = 1 + 4 + 4 + header.len() + body;
        let mut m = Vec::with_capacity(4 + len);
        m.extend_from_slice(&(len as u32).to_le_bytes());
        m.push(CARRY);
        m.extend_from_slice(&id.to_le_bytes());
        m.extend_from_slice(&(header.len() as u32).to_le_bytes());
        m.extend_from_slice(header.as_bytes());
        m.resize(4 + len, 9);
        m
    }

    /// Pumps until `done` or the writer thread is done.
    fn pump_while(r: &mut Reader, writer: &std::thread::JoinHandle<()>) {
        while !writer.is_finished() {
            r.pump();
        }
        r.pump();
    }

    #[test]
    fn a_carry_no_stream_wants_is_dropped_unread_and_its_reason_sent() {
        let (mut r, theirs, seen) = reader(Err("stream 3 expects no carried body".into()));
        let mut page = theirs.try_clone().unwrap();
        let big = carry(5, "doc 3", 32 << 20);
        let writer = std::thread::spawn(move || {
            page.write_all(&big).unwrap();
            page.write_all(b"\x05\x00\x00\x00\x01abcd").unwrap();
        });
        pump_while(&mut r, &writer);
        assert_eq!(
            *seen.borrow(),
            ["wanted? doc 3", "frames abcd"],
            "asked once, nothing dispatched for the body, the next message read"
        );
        assert!(
            r.buf.capacity() < 4 << 20,
            "the refused body was never buffered: {} bytes of room",
            r.buf.capacity()
        );
        // The page is told why, as the answer to its carry's id.
        let mut answer = vec![0u8; 4 + 1 + 4 + 32];
        (&theirs).read_exact(&mut answer).unwrap();
        assert_eq!(answer[4], REJECT);
        assert_eq!(u32::from_le_bytes(answer[5..9].try_into().unwrap()), 5);
        assert_eq!(&answer[9..], b"stream 3 expects no carried body");
    }

    #[test]
    fn a_carry_over_the_limit_is_refused_before_its_body_and_a_wanted_one_arrives_whole() {
        let (mut r, theirs, seen) = reader(Ok(true));
        // Only the head of a body over the limit: it is refused from the head alone.
        let mut head = carry(1, "doc 1", 0);
        let len = (1 + 4 + 4 + 5 + MAX_CARRY + 1) as u32;
        head[..4].copy_from_slice(&len.to_le_bytes());
        (&theirs).write_all(&head).unwrap();
        r.pump();
        assert!(
            seen.borrow().is_empty(),
            "not even asked: {:?}",
            seen.borrow()
        );
        let mut answer = [0u8; 9];
        (&theirs).read_exact(&mut answer).unwrap();
        assert_eq!(answer[4], REJECT);
        assert_eq!(r.skip, MAX_CARRY + 1);
        // A wanted one, on a fresh reader.
        let (mut r, theirs, seen) = reader(Ok(true));
        let mut page = theirs.try_clone().unwrap();
        let body = carry(2, "doc 4", 3 << 20);
        let writer = std::thread::spawn(move || page.write_all(&body).unwrap());
        pump_while(&mut r, &writer);
        assert_eq!(
            *seen.borrow(),
            ["wanted? doc 4", &format!("carry doc 4 {}", 3 << 20)]
        );
    }

    #[test]
    fn a_message_that_is_not_one_ends_the_socket_and_says_so() {
        let (mut r, theirs, seen) = reader(Ok(true));
        (&theirs).write_all(b"\x05\x00\x00\x00\x09abcd").unwrap();
        assert!(matches!(r.pump(), glib::ControlFlow::Break));
        assert_eq!(*seen.borrow(), ["closed 7"]);
    }
}
