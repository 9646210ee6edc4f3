//! The SQLite store: databases, documents with their revision trees, the by-sequence
//! index, revision bodies, `_local` documents, and attachment bytes stored once per
//! digest (reference-counted).
//!
//! One writer connection in WAL mode with `synchronous=FULL`; every write request is one
//! transaction (a document that fails inside a `_bulk_docs` is rolled back to its own
//! savepoint and reported, the others commit together). Reads use a small pool of
//! read-only connections beside it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::doc::{AttInput, AttMeta, Atts, DocInput, ReadOpts, atts_json, digest};
use crate::error::CouchError;
use crate::revtree::{Rev, RevTree};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dbs(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  seq INTEGER NOT NULL DEFAULT 0,
  revs_limit INTEGER NOT NULL DEFAULT 1000,
  doc_count INTEGER NOT NULL DEFAULT 0,
  del_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS docs(
  db INTEGER NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  winner TEXT NOT NULL,
  deleted INTEGER NOT NULL,
  tree TEXT NOT NULL,
  PRIMARY KEY(db, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS docs_by_seq ON docs(db, seq);
CREATE TABLE IF NOT EXISTS revs(
  db INTEGER NOT NULL,
  id TEXT NOT NULL,
  rev TEXT NOT NULL,
  body TEXT NOT NULL,
  atts TEXT,
  PRIMARY KEY(db, id, rev)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blobs(
  rowid INTEGER PRIMARY KEY,
  digest TEXT NOT NULL UNIQUE,
  refs INTEGER NOT NULL,
  data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS locals(
  db INTEGER NOT NULL,
  id TEXT NOT NULL,
  rev INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY(db, id)
) WITHOUT ROWID;
";

/// A database's row.
#[derive(Clone, Debug)]
pub(crate) struct DbRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) seq: u64,
    pub(crate) revs_limit: u64,
    pub(crate) doc_count: u64,
    pub(crate) del_count: u64,
}

/// A document's row: its tree and where it sits in the by-sequence index.
#[derive(Clone, Debug)]
pub(crate) struct DocRow {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) tree: RevTree,
}

impl DocRow {
    pub(crate) fn winner(&self) -> Rev {
        self.tree
            .winner()
            .expect("a stored document has a revision")
    }
    pub(crate) fn deleted(&self) -> bool {
        self.tree.winner_deleted()
    }
}

/// A stored revision: its body without `_` fields, and its attachments.
pub(crate) type RevBody = (Map<String, Value>, Atts);

/// A `_local` document: its revision number and body.
pub(crate) type LocalDoc = (u64, Map<String, Value>);

/// The result of one document of a write.
pub(crate) type WriteResult = Result<Rev, CouchError>;

/// Statements through SQLite's prepared-statement cache (rusqlite's `prepare_cached`): a
/// write runs the same few statements for every document of a `_bulk_docs`, and a read
/// the same few for every document of a `_bulk_get`; compiling each one each time was
/// a large share of their cost.
pub(crate) trait Cached {
    /// `query_row` through the cache.
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
    /// `execute` through the cache.
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Read connections kept for reuse (more are opened while more reads run at once).
const READERS_KEPT: usize = 4;

/// The store. Cheap to share (`Arc`). Writes go through its one writer connection, in
/// turn; reads through a small pool of read-only connections, concurrently with each
/// other and with the writer (WAL: a reader sees the last commit before it began).
#[derive(Debug)]
pub(crate) struct Store {
    path: std::path::PathBuf,
    conn: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    pub(crate) uuid: String,
    pub(crate) max_attachment_bytes: u64,
    watchers: Mutex<HashMap<String, watch::Sender<u64>>>,
}

fn random_hex(bytes: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::new();
    while out.len() < bytes * 2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(bytes * 2);
    out
}

/// A new document id (32 hex digits, as CouchDB's uuids).
pub(crate) fn new_id() -> String {
    random_hex(16)
}

fn rev_hash(parent: Option<&Rev>, deleted: bool, body: &Map<String, Value>, atts: &Atts) -> String {
    use md5::Digest as _;
    let mut h = md5::Md5::new();
    h.update(parent.map(|p| p.to_string()).unwrap_or_default());
    h.update([u8::from(deleted)]);
    h.update(serde_json::to_vec(body).unwrap_or_default());
    for (name, a) in atts {
        h.update(name.as_bytes());
        h.update(a.digest.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl Store {
    /// Opens (creating) the store at `path`.
    pub(crate) fn open(path: &Path, max_attachment_bytes: u64) -> Result<Store, CouchError> {
        let conn = Connection::open(path)?;
        let mode: String = conn.row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(CouchError::Internal(format!(
                "SQLite refused WAL mode (got {mode})"
            )));
        }
        // temp_store=MEMORY: the per-document savepoints of a `_bulk_docs` keep their
        // statement journal in memory rather than in a temp file (seen in a profile).
        conn.execute_batch(
            "PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA temp_store=MEMORY;",
        )?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(SCHEMA)?;
        let uuid: Option<String> = conn
            .row("SELECT value FROM meta WHERE key='uuid'", [], |r| r.get(0))
            .optional()?;
        let uuid = match uuid {
            Some(u) => u,
            None => {
                let u = random_hex(16);
                conn.exec("INSERT INTO meta(key, value) VALUES('uuid', ?1)", [&u])?;
                u
            }
        };
        Ok(Store {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            uuid,
            max_attachment_bytes,
            watchers: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `f` with the connection on a blocking thread.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, CouchError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, CouchError> + Send + 'static,
    {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = store.conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| CouchError::Internal(format!("store task failed: {e}")))?
    }

    /// Runs `f` with a read-only connection on a blocking thread: reads do not wait for
    /// the writer (its fsync, or a long `_bulk_docs`) nor for each other.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, CouchError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, CouchError> + Send + 'static,
    {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let pooled = store
                .readers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => store.open_reader()?,
            };
            let out = f(&conn);
            let mut readers = store.readers.lock().unwrap_or_else(|e| e.into_inner());
            if readers.len() < READERS_KEPT {
                readers.push(conn);
            }
            out
        })
        .await
        .map_err(|e| CouchError::Internal(format!("store task failed: {e}")))?
    }

    fn open_reader(&self) -> Result<Connection, CouchError> {
        let conn = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.execute_batch("PRAGMA busy_timeout=5000;")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// Runs `f` synchronously (for callers already off the async runtime).
    pub(crate) fn run_blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, CouchError>,
    ) -> Result<T, CouchError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
    }

    /// A receiver of `db`'s update sequence, woken by every commit that changes it.
    pub(crate) fn watch(&self, db: &str) -> watch::Receiver<u64> {
        let mut w = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        w.entry(db.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Tells the watchers of `db` it is now at `seq`.
    pub(crate) fn notify(&self, db: &str, seq: u64) {
        let w = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = w.get(db) {
            tx.send_replace(seq);
        }
    }
}

/// CouchDB's database name rule.
pub(crate) fn valid_db_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars
            .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '$' | '(' | ')' | '+' | '-' | '/'))
}

pub(crate) fn db_row(c: &Connection, name: &str) -> Result<DbRow, CouchError> {
    c.row(
        "SELECT id, name, seq, revs_limit, doc_count, del_count FROM dbs WHERE name=?1",
        [name],
        |r| {
            Ok(DbRow {
                id: r.get(0)?,
                name: r.get(1)?,
                seq: r.get::<_, i64>(2)? as u64,
                revs_limit: r.get::<_, i64>(3)? as u64,
                doc_count: r.get::<_, i64>(4)? as u64,
                del_count: r.get::<_, i64>(5)? as u64,
            })
        },
    )
    .optional()?
    .ok_or_else(CouchError::no_db)
}

pub(crate) fn create_db(c: &mut Connection, name: &str) -> Result<(), CouchError> {
    if !valid_db_name(name) {
        return Err(CouchError::IllegalDbName(name.to_owned()));
    }
    let tx = c.transaction()?;
    let exists: Option<i64> = tx
        .row("SELECT id FROM dbs WHERE name=?1", [name], |r| r.get(0))
        .optional()?;
    if exists.is_some() {
        return Err(CouchError::FileExists);
    }
    tx.exec("INSERT INTO dbs(name) VALUES(?1)", [name])?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn delete_db(c: &mut Connection, name: &str) -> Result<(), CouchError> {
    let tx = c.transaction()?;
    let db = db_row(&tx, name)?;
    let atts: Vec<Option<String>> = {
        let mut st = tx.prepare_cached("SELECT atts FROM revs WHERE db=?1 AND atts IS NOT NULL")?;
        st.query_map([db.id], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    for a in atts.into_iter().flatten() {
        release_atts(&tx, &parse_atts(Some(a))?)?;
    }
    tx.exec("DELETE FROM revs WHERE db=?1", [db.id])?;
    tx.exec("DELETE FROM docs WHERE db=?1", [db.id])?;
    tx.exec("DELETE FROM locals WHERE db=?1", [db.id])?;
    tx.exec("DELETE FROM dbs WHERE id=?1", [db.id])?;
    tx.exec("DELETE FROM blobs WHERE refs<=0", [])?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn all_dbs(c: &Connection) -> Result<Vec<String>, CouchError> {
    let mut st = c.prepare_cached("SELECT name FROM dbs ORDER BY name")?;
    let names = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(names)
}

pub(crate) fn set_revs_limit(c: &mut Connection, name: &str, limit: u64) -> Result<(), CouchError> {
    let db = db_row(c, name)?;
    c.exec(
        "UPDATE dbs SET revs_limit=?1 WHERE id=?2",
        params![limit as i64, db.id],
    )?;
    Ok(())
}

fn parse_atts(text: Option<String>) -> Result<Atts, CouchError> {
    match text {
        None => Ok(Atts::new()),
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| CouchError::Internal(format!("stored attachments unreadable: {e}"))),
    }
}

pub(crate) fn load_doc(c: &Connection, db: i64, id: &str) -> Result<Option<DocRow>, CouchError> {
    let row: Option<(i64, String)> = c
        .row(
            "SELECT seq, tree FROM docs WHERE db=?1 AND id=?2",
            params![db, id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(seq, tree)| {
        Ok(DocRow {
            id: id.to_owned(),
            seq: seq as u64,
            tree: serde_json::from_str(&tree)
                .map_err(|e| CouchError::Internal(format!("stored tree unreadable: {e}")))?,
        })
    })
    .transpose()
}

/// A stored revision: its body (without `_` fields) and attachments.
pub(crate) fn load_rev(
    c: &Connection,
    db: i64,
    id: &str,
    rev: &Rev,
) -> Result<Option<RevBody>, CouchError> {
    let row: Option<(String, Option<String>)> = c
        .row(
            "SELECT body, atts FROM revs WHERE db=?1 AND id=?2 AND rev=?3",
            params![db, id, rev.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(body, atts)| {
        let body: Map<String, Value> = serde_json::from_str(&body)
            .map_err(|e| CouchError::Internal(format!("stored body unreadable: {e}")))?;
        Ok((body, parse_atts(atts)?))
    })
    .transpose()
}

/// Renders revision `rev` of `doc` as CouchDB answers it.
pub(crate) fn render(
    c: &Connection,
    db: i64,
    doc: &DocRow,
    rev: &Rev,
    opts: ReadOpts,
) -> Result<Option<Value>, CouchError> {
    let Some((body, atts)) = load_rev(c, db, &doc.id, rev)? else {
        return Ok(None);
    };
    let node = doc.tree.get(rev);
    let deleted = node.is_some_and(|n| n.deleted);
    let mut out = Map::new();
    out.insert("_id".into(), doc.id.clone().into());
    out.insert("_rev".into(), rev.to_string().into());
    if deleted {
        out.insert("_deleted".into(), true.into());
    }
    for (k, v) in body {
        out.insert(k, v);
    }
    if !atts.is_empty() {
        let value = atts_json(&atts, |meta| {
            if opts.attachments {
                read_blob(c, &meta.digest, None).map(Some)
            } else {
                Ok(None)
            }
        })?;
        out.insert("_attachments".into(), value);
    }
    if opts.revs {
        out.insert("_revisions".into(), doc.tree.revisions_json(rev));
    }
    if opts.conflicts {
        let conflicts = doc.tree.conflicts();
        if !conflicts.is_empty() && Some(rev) == doc.tree.winner().as_ref() {
            out.insert(
                "_conflicts".into(),
                conflicts
                    .iter()
                    .map(|r| Value::String(r.to_string()))
                    .collect(),
            );
        }
    }
    if opts.deleted_conflicts {
        let dc = doc.tree.deleted_conflicts();
        if !dc.is_empty() {
            out.insert(
                "_deleted_conflicts".into(),
                dc.iter().map(|r| Value::String(r.to_string())).collect(),
            );
        }
    }
    if opts.revs_info {
        let info: Vec<Value> = doc
            .tree
            .ancestry(rev)
            .iter()
            .map(|r| {
                let n = doc.tree.get(r).expect("in ancestry");
                let status = if n.deleted {
                    "deleted"
                } else if n.body {
                    "available"
                } else {
                    "missing"
                };
                json!({"rev": r.to_string(), "status": status})
            })
            .collect();
        out.insert("_revs_info".into(), info.into());
    }
    if opts.local_seq {
        out.insert("_local_seq".into(), doc.seq.into());
    }
    Ok(Some(Value::Object(out)))
}

/// The bytes of an attachment, or a byte range of them.
pub(crate) fn read_blob(
    c: &Connection,
    digest: &str,
    range: Option<(u64, u64)>,
) -> Result<Vec<u8>, CouchError> {
    let rowid: i64 = c
        .row("SELECT rowid FROM blobs WHERE digest=?1", [digest], |r| {
            r.get(0)
        })
        .optional()?
        .ok_or_else(|| CouchError::Internal(format!("attachment bytes {digest} are missing")))?;
    let blob = c.blob_open(rusqlite::MAIN_DB, "blobs", "data", rowid, true)?;
    let len = blob.len() as u64;
    let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
    if len == 0 {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u8; (end.min(len - 1) + 1 - start) as usize];
    blob.read_at_exact(&mut buf, start as usize)?;
    Ok(buf)
}

fn store_blob(tx: &Connection, data: &[u8]) -> Result<String, CouchError> {
    let d = digest(data);
    let updated = tx.exec("UPDATE blobs SET refs=refs+1 WHERE digest=?1", [&d])?;
    if updated == 0 {
        tx.exec(
            "INSERT INTO blobs(digest, refs, data) VALUES(?1, 1, ?2)",
            params![d, data],
        )?;
    }
    Ok(d)
}

fn retain_blob(tx: &Connection, digest: &str) -> Result<bool, CouchError> {
    Ok(tx.exec("UPDATE blobs SET refs=refs+1 WHERE digest=?1", [digest])? > 0)
}

fn release_atts(tx: &Connection, atts: &Atts) -> Result<(), CouchError> {
    for a in atts.values() {
        tx.exec("UPDATE blobs SET refs=refs-1 WHERE digest=?1", [&a.digest])?;
    }
    Ok(())
}

/// Writes `docs` to `db` in one transaction; one result per document, in order.
/// `new_edits=false` results only carry the errors CouchDB reports (callers drop the Oks).
pub(crate) fn write_docs(
    c: &mut Connection,
    db_name: &str,
    docs: Vec<DocInput>,
    new_edits: bool,
    max_attachment_bytes: u64,
) -> Result<(Vec<(String, WriteResult)>, u64), CouchError> {
    let tx = c.transaction()?;
    let mut db = db_row(&tx, db_name)?;
    let mut results = Vec::with_capacity(docs.len());
    for doc in docs {
        let id = doc.id.clone();
        let mut sp = tx.unchecked_transaction_savepoint()?;
        let before = (db.seq, db.doc_count, db.del_count);
        let outcome = write_one(&sp, &mut db, doc, new_edits, max_attachment_bytes);
        match &outcome {
            Ok(_) => sp.commit()?,
            Err(_) => sp.rollback()?,
        }
        // A failed document leaves the counters as they were before it (the `dbs` row is
        // written once at the end, so they come from memory, not from the table).
        if outcome.is_err() {
            (db.seq, db.doc_count, db.del_count) = before;
        }
        results.push((id, outcome.map(|(rev, _)| rev)));
    }
    tx.exec(
        "UPDATE dbs SET seq=?1, doc_count=?2, del_count=?3 WHERE id=?4",
        params![
            db.seq as i64,
            db.doc_count as i64,
            db.del_count as i64,
            db.id
        ],
    )?;
    tx.commit()?;
    Ok((results, db.seq))
}

/// Savepoints on a transaction borrowed immutably, so one function can hold both.
trait SavepointExt {
    fn unchecked_transaction_savepoint(&self) -> Result<Sp<'_>, CouchError>;
}

pub(crate) struct Sp<'a> {
    conn: &'a Connection,
    done: bool,
}

impl SavepointExt for Transaction<'_> {
    fn unchecked_transaction_savepoint(&self) -> Result<Sp<'_>, CouchError> {
        self.execute_batch("SAVEPOINT doc")?;
        Ok(Sp {
            conn: self,
            done: false,
        })
    }
}

impl Sp<'_> {
    fn commit(&mut self) -> Result<(), CouchError> {
        self.done = true;
        self.conn.execute_batch("RELEASE doc")?;
        Ok(())
    }
    fn rollback(&mut self) -> Result<(), CouchError> {
        self.done = true;
        self.conn.execute_batch("ROLLBACK TO doc; RELEASE doc")?;
        Ok(())
    }
}

impl std::ops::Deref for Sp<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Sp<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.conn.execute_batch("ROLLBACK TO doc; RELEASE doc");
        }
    }
}

fn write_one(
    tx: &Connection,
    db: &mut DbRow,
    doc: DocInput,
    new_edits: bool,
    max_attachment_bytes: u64,
) -> Result<(Rev, bool), CouchError> {
    if let Some(local) = doc.id.strip_prefix("_local/") {
        let local = local.to_owned();
        let mut body = doc.body;
        if doc.deleted {
            delete_local(tx, db.id, &local, doc.rev.as_ref().map(|r| r.to_string()))?;
            return Ok((
                Rev {
                    pos: 0,
                    hash: "0".into(),
                },
                false,
            ));
        }
        body.remove("_id");
        let rev = put_local(
            tx,
            db.id,
            &local,
            doc.rev.as_ref().map(|r| r.to_string()),
            &body,
            new_edits,
        )?;
        return Ok((
            Rev {
                pos: 0,
                hash: rev.to_string(),
            },
            false,
        ));
    }
    crate::doc::validate_id(&doc.id)?;
    let existing = load_doc(tx, db.id, &doc.id)?;
    let was_deleted = existing.as_ref().map(|d| d.deleted());
    let mut tree = existing
        .as_ref()
        .map(|d| d.tree.clone())
        .unwrap_or_default();

    // Which revision this write creates, and its path (newest first).
    let (new_rev, path, parent) = if new_edits {
        let parent = match &doc.rev {
            Some(rev) => {
                if !tree.is_leaf(rev) {
                    return Err(CouchError::Conflict);
                }
                Some(rev.clone())
            }
            None => match tree.winner() {
                None => None,
                Some(w) if tree.winner_deleted() => Some(w),
                Some(_) => return Err(CouchError::Conflict),
            },
        };
        if doc.deleted && parent.is_none() && doc.rev.is_none() && existing.is_none() {
            // Deleting a document that never existed: CouchDB creates a deleted revision.
        }
        // The hash covers the attachments as resolved below; compute after resolving.
        (None, Vec::new(), parent)
    } else {
        let Some(rev) = doc.rev.clone() else {
            return Err(CouchError::BadRequest(format!(
                "Document {} has no _rev (required with new_edits=false)",
                doc.id
            )));
        };
        // As CouchDB (`couch_doc:transfer_fields`), `_revisions` wins over `_rev` when
        // both are there: PouchDB can send a `_rev` its `_revisions` do not start with
        // (a tree where one hash repeats along a branch; PouchDB's test #468).
        let (rev, path) = match &doc.revisions {
            Some(p) => (p[0].clone(), p.clone()),
            None => (rev.clone(), vec![rev]),
        };
        if tree.get(&rev).is_some() {
            // Known already: nothing to write (CouchDB answers nothing for it either).
            return Ok((rev, false));
        }
        let parent = path.get(1).cloned();
        (Some(rev), path, parent)
    };

    // Resolve attachments: stubs against the nearest stored ancestor, data stored by digest.
    let base_atts: Atts = {
        let mut found = Atts::new();
        let candidates: Vec<Rev> = match &parent {
            Some(p) => {
                let mut v = tree.ancestry(p);
                // new_edits=false: the path may name ancestors the tree lacks the bodies of.
                v.extend(path.iter().skip(1).cloned());
                v
            }
            None => Vec::new(),
        };
        for r in candidates {
            if let Some((_, atts)) = load_rev(tx, db.id, &doc.id, &r)? {
                found = atts;
                break;
            }
        }
        found
    };
    let mut atts = Atts::new();
    let new_pos = match &new_rev {
        Some(r) => r.pos,
        None => parent.as_ref().map_or(1, |p| p.pos + 1),
    };
    if let Some(inputs) = doc.atts {
        for (name, input) in inputs {
            match input {
                AttInput::Stub { digest } => {
                    let meta = match base_atts.get(&name) {
                        Some(m) if digest.as_ref().is_none_or(|d| *d == m.digest) => m.clone(),
                        _ => {
                            // Replicated writes (new_edits=false): a stub naming bytes we
                            // hold (a digest seen before) is enough. A new edit's stub must
                            // name an attachment of its parent, as CouchDB requires (412).
                            let Some(d) = digest.filter(|_| !new_edits) else {
                                return Err(CouchError::MissingStub(format!(
                                    "Invalid attachment stub in {} for {}",
                                    doc.id, name
                                )));
                            };
                            let len: Option<i64> = tx
                                .row(
                                    "SELECT length(data) FROM blobs WHERE digest=?1",
                                    [&d],
                                    |r| r.get(0),
                                )
                                .optional()?;
                            let Some(len) = len else {
                                return Err(CouchError::MissingStub(format!(
                                    "Invalid attachment stub in {} for {}",
                                    doc.id, name
                                )));
                            };
                            AttMeta {
                                content_type: base_atts
                                    .get(&name)
                                    .map(|m| m.content_type.clone())
                                    .unwrap_or_else(|| "application/octet-stream".into()),
                                digest: d,
                                length: len as u64,
                                revpos: new_pos,
                            }
                        }
                    };
                    if !retain_blob(tx, &meta.digest)? {
                        return Err(CouchError::MissingStub(format!(
                            "Invalid attachment stub in {} for {}",
                            doc.id, name
                        )));
                    }
                    atts.insert(name, meta);
                }
                AttInput::Data { content_type, data } => {
                    if data.len() as u64 > max_attachment_bytes {
                        return Err(CouchError::TooLarge(format!(
                            "Attachment {name} is {} bytes, over the limit of {max_attachment_bytes}",
                            data.len()
                        )));
                    }
                    let length = data.len() as u64;
                    let d = store_blob(tx, &data)?;
                    atts.insert(
                        name,
                        AttMeta {
                            content_type,
                            digest: d,
                            length,
                            revpos: new_pos,
                        },
                    );
                }
            }
        }
    }

    let (new_rev, path) = match new_rev {
        Some(r) => (r, path),
        None => {
            let hash = rev_hash(parent.as_ref(), doc.deleted, &doc.body, &atts);
            let rev = Rev { pos: new_pos, hash };
            let mut p = vec![rev.clone()];
            if let Some(parent) = &parent {
                p.push(parent.clone());
            }
            (rev, p)
        }
    };
    if tree.get(&new_rev).is_some() {
        // The same edit made twice (same parent, same content): CouchDB calls it a conflict.
        release_atts(tx, &atts)?;
        return Err(CouchError::Conflict);
    }
    tree.merge_path(&path, doc.deleted);

    let body = serde_json::to_string(&doc.body).map_err(|e| CouchError::Internal(e.to_string()))?;
    let atts_text = if atts.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&atts).map_err(|e| CouchError::Internal(e.to_string()))?)
    };
    tx.exec(
        "INSERT OR REPLACE INTO revs(db, id, rev, body, atts) VALUES(?1, ?2, ?3, ?4, ?5)",
        params![db.id, doc.id, new_rev.to_string(), body, atts_text],
    )?;

    // Stem, and drop the bodies of what was cut.
    for gone in tree.stem(db.revs_limit as usize) {
        drop_rev(tx, db.id, &doc.id, &gone)?;
    }

    db.seq += 1;
    let winner = tree.winner().expect("just written");
    let deleted = tree.winner_deleted();
    let tree_text =
        serde_json::to_string(&tree).map_err(|e| CouchError::Internal(e.to_string()))?;
    tx.exec(
        "INSERT OR REPLACE INTO docs(db, id, seq, winner, deleted, tree) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
        params![db.id, doc.id, db.seq as i64, winner.to_string(), deleted, tree_text],
    )?;
    match (was_deleted, deleted) {
        (None, false) => db.doc_count += 1,
        (None, true) => db.del_count += 1,
        (Some(true), false) => {
            db.del_count -= 1;
            db.doc_count += 1;
        }
        (Some(false), true) => {
            db.doc_count -= 1;
            db.del_count += 1;
        }
        _ => {}
    }
    Ok((new_rev, true))
}

fn drop_rev(tx: &Connection, db: i64, id: &str, rev: &Rev) -> Result<(), CouchError> {
    let atts: Option<Option<String>> = tx
        .row(
            "SELECT atts FROM revs WHERE db=?1 AND id=?2 AND rev=?3",
            params![db, id, rev.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(atts) = atts {
        release_atts(tx, &parse_atts(atts)?)?;
        tx.exec(
            "DELETE FROM revs WHERE db=?1 AND id=?2 AND rev=?3",
            params![db, id, rev.to_string()],
        )?;
        tx.exec("DELETE FROM blobs WHERE refs<=0", [])?;
    }
    Ok(())
}

/// Drops the bodies of revisions that are not leaves (`_compact`).
pub(crate) fn compact(c: &mut Connection, name: &str) -> Result<(), CouchError> {
    let tx = c.transaction()?;
    let db = db_row(&tx, name)?;
    let docs: Vec<(String, String)> = {
        let mut st = tx.prepare_cached("SELECT id, tree FROM docs WHERE db=?1")?;
        st.query_map([db.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (id, tree_text) in docs {
        let mut tree: RevTree = serde_json::from_str(&tree_text)
            .map_err(|e| CouchError::Internal(format!("stored tree unreadable: {e}")))?;
        let leaves = tree.leaves();
        let old: Vec<Rev> = tree
            .revs()
            .filter(|(r, n)| n.body && !leaves.contains(r))
            .map(|(r, _)| r.clone())
            .collect();
        if old.is_empty() {
            continue;
        }
        for r in &old {
            drop_rev(&tx, db.id, &id, r)?;
            tree.set_body(r, false);
        }
        let text = serde_json::to_string(&tree).map_err(|e| CouchError::Internal(e.to_string()))?;
        tx.exec(
            "UPDATE docs SET tree=?1 WHERE db=?2 AND id=?3",
            params![text, db.id, id],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// Documents changed after `since`, in sequence order, at most `limit`.
pub(crate) fn changes_since(
    c: &Connection,
    db: i64,
    since: u64,
    limit: usize,
    descending: bool,
) -> Result<Vec<DocRow>, CouchError> {
    let sql = if descending {
        "SELECT id, seq, tree FROM docs WHERE db=?1 AND seq>?2 ORDER BY seq DESC LIMIT ?3"
    } else {
        "SELECT id, seq, tree FROM docs WHERE db=?1 AND seq>?2 ORDER BY seq LIMIT ?3"
    };
    let mut st = c.prepare_cached(sql)?;
    let rows = st.query_map(params![db, since as i64, limit as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, seq, tree) = row?;
        out.push(DocRow {
            id,
            seq: seq as u64,
            tree: serde_json::from_str(&tree)
                .map_err(|e| CouchError::Internal(format!("stored tree unreadable: {e}")))?,
        });
    }
    Ok(out)
}

/// How many documents changed after `seq`.
pub(crate) fn count_after(c: &Connection, db: i64, seq: u64) -> Result<u64, CouchError> {
    let n: i64 = c.row(
        "SELECT count(*) FROM docs WHERE db=?1 AND seq>?2",
        params![db, seq as i64],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Documents by id for `_all_docs` (deleted ones excluded), in id order.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ids_in_range(
    c: &Connection,
    db: i64,
    start: Option<&str>,
    end: Option<&str>,
    inclusive_end: bool,
    descending: bool,
    skip: u64,
    limit: u64,
) -> Result<Vec<DocRow>, CouchError> {
    // Bounds are given in iteration order; turn them into lower/upper.
    let (lo, lo_incl, hi, hi_incl) = if descending {
        (end, inclusive_end, start, true)
    } else {
        (start, true, end, inclusive_end)
    };
    let mut sql = String::from("SELECT id, seq, tree FROM docs WHERE db=?1 AND deleted=0");
    if lo.is_some() {
        sql.push_str(if lo_incl { " AND id>=?2" } else { " AND id>?2" });
    } else {
        sql.push_str(" AND ?2 IS NULL");
    }
    if hi.is_some() {
        sql.push_str(if hi_incl { " AND id<=?3" } else { " AND id<?3" });
    } else {
        sql.push_str(" AND ?3 IS NULL");
    }
    sql.push_str(if descending {
        " ORDER BY id DESC"
    } else {
        " ORDER BY id"
    });
    sql.push_str(" LIMIT ?4 OFFSET ?5");
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(
        params![
            db,
            lo,
            hi,
            limit.min(i64::MAX as u64) as i64,
            skip.min(i64::MAX as u64) as i64
        ],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (id, seq, tree) = row?;
        out.push(DocRow {
            id,
            seq: seq as u64,
            tree: serde_json::from_str(&tree)
                .map_err(|e| CouchError::Internal(format!("stored tree unreadable: {e}")))?,
        });
    }
    Ok(out)
}

/// Ids less than `id` (or up to, for `offset` of a descending listing).
pub(crate) fn count_before(
    c: &Connection,
    db: i64,
    id: Option<&str>,
    descending: bool,
) -> Result<u64, CouchError> {
    let Some(id) = id else { return Ok(0) };
    let sql = if descending {
        "SELECT count(*) FROM docs WHERE db=?1 AND deleted=0 AND id>?2"
    } else {
        "SELECT count(*) FROM docs WHERE db=?1 AND deleted=0 AND id<?2"
    };
    let n: i64 = c.row(sql, params![db, id], |r| r.get(0))?;
    Ok(n as u64)
}

pub(crate) fn get_local(c: &Connection, db: i64, id: &str) -> Result<Option<LocalDoc>, CouchError> {
    let row: Option<(i64, String)> = c
        .row(
            "SELECT rev, body FROM locals WHERE db=?1 AND id=?2",
            params![db, id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(rev, body)| {
        Ok((
            rev as u64,
            serde_json::from_str(&body).map_err(|e| CouchError::Internal(e.to_string()))?,
        ))
    })
    .transpose()
}

/// `_local` revisions are `0-N`; `rev` is the `_rev` given (must match unless
/// `new_edits=false`, as CouchDB).
pub(crate) fn put_local(
    tx: &Connection,
    db: i64,
    id: &str,
    rev: Option<String>,
    body: &Map<String, Value>,
    new_edits: bool,
) -> Result<u64, CouchError> {
    let current = get_local(tx, db, id)?.map(|(r, _)| r);
    let given = match rev.as_deref() {
        None => None,
        Some(r) => Some(
            r.strip_prefix("0-")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or(CouchError::Conflict)?,
        ),
    };
    if new_edits && given != current {
        return Err(CouchError::Conflict);
    }
    let next = current.unwrap_or(0) + 1;
    let text = serde_json::to_string(body).map_err(|e| CouchError::Internal(e.to_string()))?;
    tx.exec(
        "INSERT OR REPLACE INTO locals(db, id, rev, body) VALUES(?1, ?2, ?3, ?4)",
        params![db, id, next as i64, text],
    )?;
    Ok(next)
}

pub(crate) fn delete_local(
    tx: &Connection,
    db: i64,
    id: &str,
    rev: Option<String>,
) -> Result<(), CouchError> {
    let current = get_local(tx, db, id)?
        .map(|(r, _)| r)
        .ok_or_else(CouchError::missing)?;
    let given = rev
        .as_deref()
        .and_then(|r| r.strip_prefix("0-"))
        .and_then(|n| n.parse::<u64>().ok());
    if given != Some(current) {
        return Err(CouchError::Conflict);
    }
    tx.exec("DELETE FROM locals WHERE db=?1 AND id=?2", params![db, id])?;
    Ok(())
}

/// Attachment lookup for GET: the revision's attachment metadata.
pub(crate) fn attachment(
    c: &Connection,
    db: i64,
    doc: &DocRow,
    rev: &Rev,
    name: &str,
) -> Result<AttMeta, CouchError> {
    let (_, atts) = load_rev(c, db, &doc.id, rev)?.ok_or_else(CouchError::missing)?;
    atts.get(name)
        .cloned()
        .ok_or_else(|| CouchError::NotFound(format!("Document is missing attachment {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_names() {
        for ok in ["a", "notes", "a_b$c(d)+e-f/g", "a1"] {
            assert!(valid_db_name(ok), "{ok}");
        }
        for bad in ["", "A", "1a", "_a", "a b", "a.b", "aé"] {
            assert!(!valid_db_name(bad), "{bad}");
        }
    }
}
