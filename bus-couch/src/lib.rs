//! A CouchDB-replication-compatible document store over SQLite, as a tower service for the
//! in-process HTTP bus: PouchDB in the WebView syncs with it through the bus, with no
//! server and no socket.
//!
//! ```
//! use bus_core::{Body, Bus};
//! use http_body_util::BodyExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let dir = std::env::temp_dir().join(format!("bus-couch-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let couch = bus_couch::Couch::open(dir.join("couch.sqlite3")).unwrap();
//! let bus = Bus::builder()
//!     .app_origin("app://localhost")
//!     .mount_with(bus_couch::mount("/db", &couch))
//!     .build();
//!
//! let put = |uri: &str, body: &str| {
//!     http::Request::put(format!("app://localhost{uri}"))
//!         .header("content-type", "application/json")
//!         .body(Body::from(body.to_owned()))
//!         .unwrap()
//! };
//! assert_eq!(bus.handle().call(put("/db/notes", "")).await.status(), 201);
//! let created = bus.handle().call(put("/db/notes/hello", r#"{"text":"hi"}"#)).await;
//! assert_eq!(created.status(), 201);
//! let body = created.into_body().collect().await.unwrap().to_bytes();
//! let reply: serde_json::Value = serde_json::from_slice(&body).unwrap();
//! assert!(reply["rev"].as_str().unwrap().starts_with("1-"));
//! # drop(bus); std::fs::remove_dir_all(&dir).ok();
//! # });
//! ```
//!
//! From a page, PouchDB (the npm package) replicates with `app://localhost/db/notes`; see
//! the README for the one adapter line PouchDB needs on a non-http scheme.
//!
//! # Layout
//!
//! - `revtree`: revision trees — merge, the winning revision, conflicts, stemming.
//! - `selector`: Mango selectors and CouchDB collation (`filter=_selector`).
//! - `doc`: documents in (validated JSON) and out (with stubs or inline attachments).
//! - `store`: SQLite (WAL, `synchronous=FULL`): schema, one transaction per write,
//!   the by-sequence index, `_local` documents, attachments stored once per digest.
//! - `http`: [`CouchService`], the routes and CouchDB's JSON shapes and errors.
//! - `changes`: `_changes` feeds (normal, longpoll, continuous, eventsource) and filters.
//! - `error`: [`CouchError`].
//!
//! # Caveats
//! - No views, `_find`, design-document functions (filters, validation, update handlers),
//!   `_purge`, `_security`, users or sessions; the mount's bus policy is the access control.
//! - Sequences are integers (CouchDB 1.x style); PouchDB accepts them.
//! - Document bodies come back with their keys sorted (serde_json's map), not in the order
//!   they were written.
#![forbid(unsafe_code)]

mod changes;
mod doc;
mod error;
mod http;
mod revtree;
mod selector;
mod store;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

pub use error::CouchError;
pub use http::CouchService;
pub use revtree::{Node, Rev, RevTree, path_from_revisions};
pub use selector::{Selector, SelectorError, collate};

/// Limits of a [`Couch`].
#[derive(Clone, Debug)]
pub struct CouchConfig {
    max_request_bytes: u64,
    max_attachment_bytes: u64,
}

impl Default for CouchConfig {
    /// 256 MiB request bodies (a `_bulk_docs` with inline base64 attachments), 64 MiB per
    /// attachment.
    fn default() -> Self {
        CouchConfig {
            max_request_bytes: 256 << 20,
            max_attachment_bytes: 64 << 20,
        }
    }
}

impl CouchConfig {
    /// The largest request body accepted (413 `too_large` above it).
    pub fn max_request_bytes(mut self, bytes: u64) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// The largest attachment accepted (413 `too_large` above it).
    pub fn max_attachment_bytes(mut self, bytes: u64) -> Self {
        self.max_attachment_bytes = bytes;
        self
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Arc<store::Store>,
    pub(crate) config: CouchConfig,
    /// `_changes` feeds waiting or streaming now.
    pub(crate) feeds: AtomicUsize,
}

/// A CouchDB-compatible store in one SQLite file. Clones share it.
#[derive(Clone, Debug)]
pub struct Couch {
    shared: Arc<Shared>,
}

impl Couch {
    /// Opens (creating) the store at `path` with the default limits.
    ///
    /// # Errors
    /// [`CouchError::Storage`] when SQLite cannot open the file or set WAL mode.
    pub fn open(path: impl AsRef<Path>) -> Result<Couch, CouchError> {
        Couch::open_with(path, CouchConfig::default())
    }

    /// Opens (creating) the store at `path` with `config`.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(path: impl AsRef<Path>, config: CouchConfig) -> Result<Couch, CouchError> {
        let store = store::Store::open(path.as_ref(), config.max_attachment_bytes)?;
        Ok(Couch {
            shared: Arc::new(Shared {
                store: Arc::new(store),
                config,
                feeds: AtomicUsize::new(0),
            }),
        })
    }

    /// The tower service answering CouchDB's HTTP API.
    pub fn service(&self) -> CouchService {
        CouchService {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The server's `uuid` (stable for the file: PouchDB's checkpoints depend on it).
    pub fn uuid(&self) -> &str {
        &self.shared.store.uuid
    }

    /// How many `_changes` feeds are waiting or streaming now (a cancelled long-poll
    /// leaves this count).
    pub fn open_feeds(&self) -> usize {
        self.shared.feeds.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Runs `PRAGMA integrity_check` and returns its answer (`"ok"` when sound).
    ///
    /// # Errors
    /// [`CouchError::Storage`] when SQLite fails.
    pub fn integrity_check(&self) -> Result<String, CouchError> {
        self.shared
            .store
            .run_blocking(|c| Ok(c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
    }
}

/// The tower service of `couch` (see [`Couch::service`]).
pub fn service(couch: &Couch) -> CouchService {
    couch.service()
}

/// `couch` mounted at `prefix`, as it should be: no bus body limit or timeout (the
/// service enforces its own limits and answers them as CouchDB does, with JSON; a
/// `_changes` long-poll answers its head at once and then streams). The policy is the
/// bus's default (the app's own documents only).
pub fn mount(prefix: &str, couch: &Couch) -> bus_core::Mount {
    bus_core::Mount::new(prefix, couch.service())
        .max_body(None)
        .timeout(None)
}
