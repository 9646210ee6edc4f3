//! The relay's faster carrier: a `socketpair` to the web process extension
//! (`bridge-desktop-webext`), in place of WebKit's script messages when the extension is
//! loaded.
//!
//! The extension asks its page's view for a socket (a `WebKitUserMessage` named
//! [`HANDSHAKE`]); the view answers with one end of a fresh pair. Only this host's own view
//! gets that message from its pages: a related view's (a popup's) page asks its own view,
//! which does not answer, and stays on script messages, where the commit token refuses it.
//! What crosses the socket is what crossed as script messages (the same text, checked the
//! same way by `channel`), plus carried request bodies as raw bytes. The wire format is in
//! the extension's crate docs.
//!
//! Threads: a reader per socket takes messages as they come and hands them to the main
//! thread in order (a future on the main context); a writer per socket writes the host's
//! answers, so the main thread never blocks on a page that does not read.

use std::io::{Read, Write};
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use webkit2gtk::UserMessageExt;
use webkit2gtk::WebViewExt as _;

/// The handshake's message name (the extension's `HANDSHAKE`).
pub(crate) const HANDSHAKE: &str = "inproc-bus-socket";

/// The file name of the extension's library.
pub const LIBRARY: &str = "libbridge_desktop_webext.so";

/// Page → host kinds (the extension's crate docs).
const FRAMES: u8 = 1;
const ASK: u8 = 2;
const CARRY: u8 = 3;

/// Host → page kinds.
const REJECT: u8 = 1;
const RESOLVE: u8 = 2;

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
    out: crossbeam_channel::Sender<Vec<u8>>,
    id: u32,
    sent: bool,
}

impl Answer {
    /// Rejects the relay's promise with an `Error`-like value whose message is `text`.
    pub(crate) fn send_text(mut self, text: String) {
        self.sent = true;
        let _ = self.out.send(message(REJECT, self.id, text.as_bytes()));
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        if !self.sent {
            let _ = self.out.send(message(RESOLVE, self.id, &[]));
        }
    }
}

/// A host message: its length, `kind`, the id, then `text`.
fn message(kind: u8, id: u32, text: &[u8]) -> Vec<u8> {
    let len = 1 + 4 + text.len();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.push(kind);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(text);
    out
}

/// Answers `view`'s pages' handshakes with a socket each, whose messages `dispatch` gets on
/// the main thread, in order (GTK main thread only).
pub(crate) fn serve(view: &webkit2gtk::WebView, dispatch: impl Fn(Incoming) + Clone + 'static) {
    view.connect_user_message_received(move |_, request| {
        if request.name().as_deref() != Some(HANDSHAKE) {
            return false;
        }
        let (ours, theirs) = match UnixStream::pair() {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("no socketpair for the page (it stays on script messages): {e}");
                return false;
            }
        };
        let writer = match ours.try_clone() {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("cannot clone the page's socket: {e}");
                return false;
            }
        };
        let (out, out_rx) = crossbeam_channel::unbounded::<Vec<u8>>();
        let (to_main, mut from_reader) = tokio::sync::mpsc::unbounded_channel();
        let spawned = std::thread::Builder::new()
            .name("inproc-bus-socket-writer".into())
            .spawn(move || write_loop(writer, out_rx))
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("inproc-bus-socket-reader".into())
                    .spawn(move || read_loop(ours, out, to_main))
            });
        if let Err(e) = spawned {
            tracing::warn!("no thread for the page's socket: {e}");
            return false;
        }
        let dispatch = dispatch.clone();
        glib::MainContext::default().spawn_local(async move {
            while let Some(incoming) = from_reader.recv().await {
                dispatch(incoming);
            }
        });
        let list = gio::UnixFDList::from_array([theirs.into_raw_fd()]);
        request.send_reply(&webkit2gtk::UserMessage::with_fd_list(
            HANDSHAKE,
            None,
            Some(&list),
        ));
        true
    });
}

fn write_loop(mut socket: UnixStream, messages: crossbeam_channel::Receiver<Vec<u8>>) {
    for message in messages {
        if socket.write_all(&message).is_err() {
            return;
        }
    }
}

fn read_loop(
    mut socket: UnixStream,
    out: crossbeam_channel::Sender<Vec<u8>>,
    to_main: tokio::sync::mpsc::UnboundedSender<Incoming>,
) {
    loop {
        let incoming = match read_one(&mut socket, &out) {
            Ok(Some(incoming)) => incoming,
            Ok(None) => return,
            Err(why) => {
                tracing::warn!("the page's socket sent {why}; it is closed");
                let _ = socket.shutdown(std::net::Shutdown::Both);
                return;
            }
        };
        if to_main.send(incoming).is_err() {
            return;
        }
    }
}

/// One message, `None` at the end of the stream.
fn read_one(
    socket: &mut UnixStream,
    out: &crossbeam_channel::Sender<Vec<u8>>,
) -> Result<Option<Incoming>, String> {
    let mut head = [0u8; 5];
    if socket.read_exact(&mut head).is_err() {
        return Ok(None);
    }
    let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
    let rest = len
        .checked_sub(1)
        .ok_or_else(|| "an empty message".to_owned())?;
    let answer = |id| Answer {
        out: out.clone(),
        id,
        sent: false,
    };
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|_| "text that is not UTF-8");
    match head[4] {
        FRAMES | ASK if rest > MAX_TEXT => Err(format!("a message of {rest} bytes")),
        FRAMES => Ok(Some(Incoming::Frames(text(read_n(socket, rest)?)?))),
        ASK => {
            let id = read_u32(socket)?;
            let body = read_n(socket, rest.checked_sub(4).ok_or("a short ask")?)?;
            Ok(Some(Incoming::Ask(answer(id), text(body)?)))
        }
        CARRY => {
            let id = read_u32(socket)?;
            let header_len = read_u32(socket)? as usize;
            let body_len = rest
                .checked_sub(8 + header_len)
                .ok_or("a carry shorter than its header")?;
            if header_len > 64 {
                return Err(format!("a carry header of {header_len} bytes"));
            }
            let header = text(read_n(socket, header_len)?)?;
            let body = read_n(socket, body_len)?;
            Ok(Some(Incoming::Carry(answer(id), header, Bytes::from(body))))
        }
        kind => Err(format!("a message of unknown kind {kind}")),
    }
}

fn read_u32(socket: &mut UnixStream) -> Result<u32, String> {
    let mut bytes = [0u8; 4];
    socket
        .read_exact(&mut bytes)
        .map_err(|e| format!("a cut message ({e})"))?;
    Ok(u32::from_le_bytes(bytes))
}

/// `n` bytes, allocated as they come (a length is not trusted with an allocation).
fn read_n(socket: &mut UnixStream, n: usize) -> Result<Vec<u8>, String> {
    const STEP: usize = 16 << 20;
    let mut buf = BytesMut::new();
    let mut left = n;
    while left > 0 {
        let take = left.min(STEP);
        let at = buf.len();
        buf.resize(at + take, 0);
        socket
            .read_exact(&mut buf[at..])
            .map_err(|e| format!("a cut message ({e})"))?;
        left -= take;
    }
    Ok(buf.into())
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
