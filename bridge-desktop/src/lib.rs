//! The desktop host: a wry WebView whose app origin (`app://localhost`) is served by a
//! [`bus_core::Bus`], with no socket anywhere.
//!
//! ```no_run
//! # fn demo(bus: &bus_core::BusHandle) -> Result<(), bridge_desktop::HostError> {
//! use gtk::prelude::*;
//! use wry::WebViewBuilderExtUnix;
//!
//! gtk::init().expect("a display");
//! let window = gtk::Window::new(gtk::WindowType::Toplevel);
//! let vbox = gtk::Box::new(gtk::Orientation::Vertical, 0);
//! window.add(&vbox);
//! // Build the WebView without a URL: the scheme must be registered before the first load.
//! let webview = wry::WebViewBuilder::new().build_gtk(&vbox)?;
//! let host = bridge_desktop::attach(&webview, bus, bridge_desktop::HostConfig::new("app://localhost"))?;
//! host.load("/index.html");
//! window.show_all();
//! gtk::main();
//! # Ok(()) }
//! ```
//!
//! What [`attach`] sets up on the WebView's WebKit objects (Linux, WebKitGTK):
//! - the app scheme on the WebView's `WebContext`, registered secure and CORS-enabled,
//!   answered by the bus off the GTK main thread, responses streamed through a pipe
//!   (wry's own custom protocols buffer whole responses on the main thread);
//! - a frame channel for the shim that only our own main frame can reach (an isolated
//!   world handler and a top-frame relay; see [`channel`]);
//! - the shim (bridge-js) injected at document start in the top frame, installing
//!   nothing on a foreign page;
//! - a navigation policy that keeps foreign pages out of the WebView.
//!
//! # Layout
//! - `scheme`: the `app://` scheme handler (requests in, streamed responses out, caller
//!   identity from `Origin`/`Referer`).
//! - [`channel`]: the isolated-world frame channel and per-document sessions.
//! - `navigation`: the navigation policy.
//! - [`shim`]: the bridge-js bundle and its install call.
//! - `ffi`: the only unsafe code (a pipe's fd handed to GIO; the reply of a script message).
//!
//! ## Platform-specific
//! Linux only for now (WebKitGTK 4.1 ≥ 2.40). macOS and Windows wry back ends need their
//! own scheme and channel modules. On other targets the crate is empty and none of its
//! platform dependencies (wry, WebKitGTK, GTK) are built, so a workspace that holds it
//! still builds there.
#![cfg(target_os = "linux")]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod channel;
mod ffi;
mod navigation;
mod scheme;
pub mod shim;
pub mod socket;

use std::sync::atomic::{AtomicU64, Ordering};

use bus_core::BusHandle;
use webkit2gtk::{UserContentManagerExt, WebViewExt};
use wry::WebViewExtUnix;

/// How the host presents the bus to the WebView.
#[derive(Clone, Debug)]
pub struct HostConfig {
    origin: String,
    scheme: String,
    navigable: Vec<String>,
    srcdoc_frames: bool,
    /// `None`: the default shim ([`shim::script`], made at attach, when the policy is
    /// known); `Some(None)`: nothing injected.
    shim: Option<Option<String>>,
    inline_first_poll: bool,
    /// `None`: found next to the executable; `Some(None)`: off.
    web_process_extension: Option<Option<std::path::PathBuf>>,
}

impl HostConfig {
    /// The app's origin, e.g. `app://localhost`. Its scheme is registered on the WebView.
    ///
    /// # Panics
    /// When `origin` is not `scheme://host`.
    pub fn new(origin: &str) -> Self {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        let (scheme, host) = origin
            .split_once("://")
            .unwrap_or_else(|| panic!("an origin is scheme://host, got {origin:?}"));
        assert!(
            !scheme.is_empty() && !host.is_empty() && !host.contains('/'),
            "an origin is scheme://host, got {origin:?}"
        );
        HostConfig {
            scheme: scheme.to_owned(),
            shim: None,
            origin,
            navigable: Vec::new(),
            srcdoc_frames: false,
            inline_first_poll: INLINE_DEFAULT,
            web_process_extension: None,
        }
    }

    /// Whether each request to the scheme, and each stream of the page's frame session, is
    /// polled once on the GTK main thread, inside the bus runtime's context, before the
    /// bus's workers take it (default: yes; `port::SessionConfig::inline_first_poll` for
    /// the frames). A handler that answers without waiting (routing, a small JSON reply)
    /// is then answered in the same main-loop turn, without a hop to a worker and back: in
    /// the webview benchmark (3-round A/Bs, quiet machine) a native small GET took 0.234 ms
    /// with it against 0.266 ms without, and a frames one 0.254/0.255 ms against
    /// 0.262/0.329 ms. The cost: a handler's code up to its first `.await` runs on the UI thread,
    /// as Tauri's synchronous commands do; one that takes longer than 4 ms there is logged
    /// with a `tracing` warning. Turn it off for handlers that compute or block before they
    /// first await (or move that work to `tokio::task::spawn_blocking`).
    pub fn inline_first_poll(mut self, inline: bool) -> Self {
        self.inline_first_poll = inline;
        self
    }

    /// Lets the WebView (and its iframes) navigate to pages of another origin. By default
    /// only the app origin and `about:blank` are allowed.
    ///
    /// **Identity**: WebKitGTK sends `<img>`, `<script>`, `<link>`, `<video>` and
    /// navigations to the app scheme with nothing that says which document asked (no
    /// `Origin`, `Referer` or fetch metadata). While the WebView can show only the app's
    /// documents, those requests are the app's (with its cookies, reaching its API mounts);
    /// once it may show another origin's, they are **anonymous**: they reach only public
    /// mounts and carry no cookie. The app's fetch, XHR, `EventSource` and WebSocket go
    /// through the shim and stay the app's either way.
    pub fn allow_navigation_to(mut self, origin: &str) -> Self {
        self.navigable
            .push(origin.trim_end_matches('/').to_ascii_lowercase());
        self
    }

    /// Lets frames load `srcdoc` documents (refused by default). A `srcdoc` frame is how a
    /// page shows HTML it does not trust (in a `sandbox`, with an opaque origin), and
    /// WebKitGTK does not say which requests such a frame makes: with `srcdoc` allowed,
    /// requests the engine reports nothing about are **anonymous**, as with
    /// [`allow_navigation_to`](Self::allow_navigation_to).
    pub fn allow_srcdoc_frames(mut self) -> Self {
        self.srcdoc_frames = true;
        self
    }

    /// Replaces the script injected in the top frame at document start (the bridge-js
    /// shim by default); `None` injects nothing.
    pub fn shim(mut self, script: Option<String>) -> Self {
        self.shim = Some(script);
        self
    }

    /// The app origin.
    /// The web process extension (crate `bridge-desktop-webext`, a library named
    /// [`socket::LIBRARY`]) that gives the page's relay a socketpair
    /// to the host in place of WebKit's script messages: the frames of `fetch`, XHR,
    /// `EventSource` and WebSockets, and carried request bodies, cross it without WebKit's
    /// IPC (measured in `benches webview`). Nothing listens anywhere: the host hands the
    /// page's process one end of a pair.
    ///
    /// `Some(path)`: that library; `None`: none (script messages only). By default the
    /// host looks for it next to the running executable and in that directory's parent
    /// (where cargo puts a workspace's `cdylib` for its tests and examples), and goes without
    /// it when it is not there. It is copied into a fresh directory only this user can write
    /// (WebKit loads every library of its extensions directory), removed with the host.
    /// Like the scheme, it applies to web processes started after [`attach`]: attach before
    /// the WebView loads anything. It takes the WebView's context's extensions directory:
    /// an app that loads web process extensions of its own on that context turns this off
    /// (`None`) or puts this library in its own directory.
    pub fn web_process_extension(mut self, library: Option<std::path::PathBuf>) -> Self {
        self.web_process_extension = Some(library);
        self
    }

    /// The app's origin (lower-case, no trailing slash).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// Why the host could not be attached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// wry failed to build or drive the WebView.
    #[error("wry: {0}")]
    Wry(#[from] wry::Error),
    /// The WebView has no WebKit context to register the scheme on.
    #[error("the WebView has no WebKit context")]
    NoContext,
    /// The frame channel's message handlers could not be registered on the WebView.
    #[error("cannot set up the frame channel: {0}")]
    FrameChannel(&'static str),
    /// The WebView already loaded a page: the scheme must be registered before.
    #[error("attach the host before the WebView loads anything (it is at {0})")]
    AlreadyLoaded(String),
    /// Another host already serves the scheme on this WebView's WebKit context (WebKitGTK
    /// keeps the first handler, so this host's WebView would be served by the other's bus).
    #[error(
        "another host already serves {0}:// on this WebView's WebKit context: give each \
         attached WebView its own context (wry makes one per WebView unless it is given one)"
    )]
    SchemeTaken(String),
}

/// [`HostConfig::inline_first_poll`]'s default.
const INLINE_DEFAULT: bool = true;

static NEXT_HOST: AtomicU64 = AtomicU64::new(1);

/// The host attached to one WebView. Dropping it stops routing frames to the bus.
#[derive(Debug)]
pub struct Host {
    id: u64,
    origin: String,
    webview: webkit2gtk::WebView,
    /// Where the web process extension is loaded from (kept while the host lives: a web
    /// process started later loads it from there).
    _extension: Option<socket::ExtensionDir>,
}

/// Connects `webview` to `bus`. Call on the GTK main thread, before the first load.
///
/// # Errors
/// [`HostError::AlreadyLoaded`] when the WebView already shows a page,
/// [`HostError::NoContext`] when it has no WebKit context, [`HostError::SchemeTaken`] when
/// another host serves the scheme on the same context.
///
/// # Identity
/// Requests WebKitGTK reports nothing about (`<img>`, navigations) are the app's only while
/// the navigation policy sees every document that can make one: no `decide-policy` handler
/// connected before `attach` (wry's `with_navigation_handler`) and no `create` handler
/// (wry's `with_new_window_req_handler`) on the WebView; otherwise they are anonymous and a
/// warning says why (see [`HostConfig::allow_navigation_to`]).
pub fn attach(
    webview: &wry::WebView,
    bus: &BusHandle,
    config: HostConfig,
) -> Result<Host, HostError> {
    let view = webview.webview();
    if let Some(uri) = view
        .uri()
        .filter(|u| !u.is_empty() && u.as_str() != "about:blank")
    {
        return Err(HostError::AlreadyLoaded(uri.to_string()));
    }
    let context = view.context().ok_or(HostError::NoContext)?;
    if scheme::taken(&context, &config.scheme, &view) {
        return Err(HostError::SchemeTaken(config.scheme));
    }
    // The policy proves the WebView's documents only if it sees every one of them.
    let admits_only_the_app = navigation::Admits::of(&config).only_the_app();
    let outside = navigation::outside_the_policy(&view);
    if let (true, Some(why)) = (admits_only_the_app, outside) {
        tracing::warn!(
            "{why}: requests WebKitGTK reports nothing about (<img>, navigations) are anonymous"
        );
    }
    let documents_proven = admits_only_the_app && outside.is_none();
    let extension = match &config.web_process_extension {
        Some(None) => None,
        Some(Some(path)) => socket::find(Some(path)),
        None => socket::find(None),
    }
    .and_then(|library| match socket::ExtensionDir::new(&library) {
        Ok(dir) => Some(dir),
        Err(e) => {
            tracing::warn!(
                "the web process extension {} is not used: {e}",
                library.display()
            );
            None
        }
    });
    if let Some(dir) = &extension {
        use webkit2gtk::WebContextExt;
        context.set_web_extensions_directory(&dir.path().to_string_lossy());
    }
    let id = NEXT_HOST.fetch_add(1, Ordering::Relaxed);
    let secret = random_hex().map_err(|e| {
        HostError::FrameChannel(Box::leak(
            format!("no random bytes for the upload carrier's secret: {e}").into_boxed_str(),
        ))
    })?;
    // The frame channel first: it is the part that can fail (and it fails before touching
    // the WebView), while a scheme registered on the context cannot be taken back.
    channel::install(
        id,
        &view,
        bus.clone(),
        &config.origin,
        config.inline_first_poll,
        &secret,
    )?;
    scheme::register(
        &context,
        &config.scheme,
        bus.clone(),
        scheme::SchemeConfig {
            origin: config.origin.clone(),
            authority: config
                .origin
                .split_once("://")
                .map_or_else(String::new, |(_, host)| host.to_owned()),
            navigable: config.navigable.clone(),
            documents_proven,
            inline_first_poll: config.inline_first_poll,
            host_id: id,
            carrier_secret: secret,
        },
        &view,
    );
    let default_shim = config.shim.is_none();
    let shim = config
        .shim
        .clone()
        .unwrap_or_else(|| Some(shim::script(&config.origin, documents_proven)));
    if let (Some(shim), Some(manager)) = (&shim, view.user_content_manager()) {
        manager.add_script(&webkit2gtk::UserScript::new(
            shim,
            webkit2gtk::UserContentInjectedFrames::TopFrame,
            webkit2gtk::UserScriptInjectionTime::Start,
            &[],
            &[],
        ));
        if default_shim {
            // The app's iframes have no shim: their document.cookie goes to the top
            // document's (bus_shim::frame_cookie_script).
            manager.add_script(&webkit2gtk::UserScript::new(
                &bus_shim::frame_cookie_script(&config.origin),
                webkit2gtk::UserContentInjectedFrames::AllFrames,
                webkit2gtk::UserScriptInjectionTime::Start,
                &[],
                &[],
            ));
        }
    }
    navigation::install(&view, &config);
    Ok(Host {
        id,
        origin: config.origin,
        webview: view,
        _extension: extension,
    })
}

/// 128 random bits, as hex: the value of the relay's carrier header, and each commit's
/// session token, known only to the host and its isolated world (see [`channel`]).
pub(crate) fn random_hex() -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Host {
    /// Loads `path` of the app origin (`/index.html` → `app://localhost/index.html`).
    pub fn load(&self, path: &str) {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        self.webview.load_uri(&format!("{}{path}", self.origin));
    }

    /// The WebKit WebView, for anything this crate does not wrap.
    pub fn webkit(&self) -> &webkit2gtk::WebView {
        &self.webview
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        channel::remove(self.id);
    }
}
