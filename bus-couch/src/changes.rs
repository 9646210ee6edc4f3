//! `_changes`: the by-sequence feed, `normal`, `longpoll`, `continuous` and
//! `eventsource`, with `filter=_doc_ids`, `_selector` and `_design`.
//!
//! Waiting feeds answer the response head at once and stream the rest (heartbeat newlines,
//! then the results), so the bus's time-to-head limit never cuts them; they wake on every
//! commit to their database, and end as soon as the reader drops the body (PouchDB's
//! `cancel()` aborting its fetch).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bus_core::{Body, BodySender};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::Shared;
use crate::doc::ReadOpts;
use crate::error::CouchError;
use crate::http::{Query, json_response, read_json};
use crate::selector::Selector;
use crate::store::{self, DocRow};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Feed {
    Normal,
    Longpoll,
    Continuous,
    EventSource,
}

#[derive(Clone, Debug)]
enum Filter {
    None,
    DocIds(HashSet<String>),
    Selector(Arc<Selector>),
    Design,
}

#[derive(Clone, Debug)]
struct Params {
    db: String,
    feed: Feed,
    limit: Option<u64>,
    descending: bool,
    include_docs: bool,
    all_leaves: bool,
    opts: ReadOpts,
    filter: Filter,
    heartbeat: Option<Duration>,
    timeout: Option<Duration>,
}

/// How many rows one scan reads under the store's lock.
const SCAN_BATCH: usize = 500;

pub(crate) async fn handle(
    shared: &Arc<crate::Shared>,
    db: &str,
    m: &str,
    query: &Query,
    headers: &http::HeaderMap,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    let posted = match m {
        "GET" | "HEAD" => None,
        "POST" => {
            let b = crate::http::read_body(shared, body).await?;
            if b.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                Some(
                    serde_json::from_slice::<Value>(&b)
                        .map_err(|e| CouchError::BadRequest(format!("invalid UTF-8 JSON: {e}")))?,
                )
            }
        }
        _ => return Err(CouchError::MethodNotAllowed("GET,HEAD,POST")),
    };
    let _ = read_json; // (the body is read above, tolerating an empty one as CouchDB does)
    let feed = match query.str("feed") {
        None | Some("normal") => Feed::Normal,
        Some("longpoll") => Feed::Longpoll,
        Some("continuous") => Feed::Continuous,
        Some("eventsource") => Feed::EventSource,
        Some(other) => return Err(CouchError::BadRequest(format!("Invalid feed {other:?}"))),
    };
    let filter = match query.str("filter") {
        None | Some("") => Filter::None,
        Some("_doc_ids") => {
            let ids = match posted.as_ref().and_then(|p| p.get("doc_ids")) {
                Some(v) => v.clone(),
                None => query.json("doc_ids")?.ok_or_else(|| {
                    CouchError::BadRequest("filter=_doc_ids needs doc_ids".into())
                })?,
            };
            let ids = ids
                .as_array()
                .ok_or_else(|| {
                    CouchError::BadRequest(
                        "`doc_ids` filter parameter is not a list of doc ids.".into(),
                    )
                })?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| CouchError::BadRequest("`doc_ids` must be strings".into()))
                })
                .collect::<Result<HashSet<_>, _>>()?;
            Filter::DocIds(ids)
        }
        Some("_selector") => {
            let sel = posted
                .as_ref()
                .and_then(|p| p.get("selector"))
                .ok_or_else(|| {
                    CouchError::BadRequest("Selector must be specified in POST payload".into())
                })?;
            let sel = Selector::parse(sel)
                .map_err(|e| CouchError::BadRequest(format!("Invalid selector: {e}")))?;
            Filter::Selector(Arc::new(sel))
        }
        Some("_design") => Filter::Design,
        Some("_view") => {
            let Some(view) = query.str("view") else {
                return Err(CouchError::BadRequest(
                    "`view` filter parameter is not provided.".into(),
                ));
            };
            // As CouchDB: a missing design document, `views` member or view is 404.
            design_member(shared, db, view, "views").await?;
            return Err(CouchError::BadRequest(format!(
                "filter=_view ({view}) is not supported: this backend runs no JavaScript views"
            )));
        }
        Some(other) => {
            design_member(shared, db, other, "filters").await?;
            return Err(CouchError::BadRequest(format!(
                "filter {other:?} is a design-document function: this backend runs no JavaScript (use filter=_selector or _doc_ids)"
            )));
        }
    };
    let ms = |name: &str| -> Result<Option<Duration>, CouchError> {
        match query.str(name) {
            None => Ok(None),
            Some("true") => Ok(Some(Duration::from_secs(60))),
            Some(v) => v
                .parse::<u64>()
                .map(|n| Some(Duration::from_millis(n.max(1))))
                .map_err(|_| {
                    CouchError::BadRequest(format!("Invalid {name}: {v:?} (milliseconds)"))
                }),
        }
    };
    let heartbeat = ms("heartbeat")?;
    let timeout = match ms("timeout")? {
        Some(t) => Some(t),
        None if heartbeat.is_none() => Some(Duration::from_secs(60)),
        None => None,
    };
    let params = Params {
        db: db.to_owned(),
        feed,
        // CouchDB answers `limit=0` as `limit=1`.
        limit: query.u64("limit")?.map(|l| l.max(1)),
        descending: query.bool("descending")?,
        include_docs: query.bool("include_docs")?,
        all_leaves: query.str("style") == Some("all_docs"),
        opts: ReadOpts {
            conflicts: query.bool("conflicts")?,
            attachments: query.bool("attachments")?,
            ..ReadOpts::default()
        },
        filter,
        heartbeat,
        timeout,
    };
    let since_text = query.str("since").map(str::to_owned).or_else(|| {
        headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });

    // Subscribe before the first scan so no commit can slip between the two.
    let mut watch = shared.store.watch(db);
    watch.borrow_and_update();
    let first = {
        let p = params.clone();
        shared
            .store
            .read(move |c| {
                let dbr = store::db_row(c, &p.db)?;
                let since = parse_since(since_text.as_deref(), dbr.seq)?;
                scan(c, &p, since, p.limit)
            })
            .await?
    };

    if params.feed == Feed::Normal || (params.feed == Feed::Longpoll && !first.results.is_empty()) {
        return Ok(json_response(
            StatusCode::OK,
            &first.to_json(params.feed == Feed::Normal || params.feed == Feed::Longpoll),
        ));
    }

    let (tx, body) = Body::channel(16);
    let mut response = Response::new(body);
    let content_type = if params.feed == Feed::EventSource {
        "text/event-stream"
    } else {
        "application/json"
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let shared = Arc::clone(shared);
    shared.feeds.fetch_add(1, Ordering::SeqCst);
    let guard = FeedGuard(Arc::clone(&shared));
    tokio::spawn(async move {
        let _guard = guard;
        tokio::select! {
            () = tx.closed() => {}
            () = run_feed(&shared, &params, first, &mut watch, &tx) => {}
        }
    });
    Ok(response)
}

/// Checks that `ddoc/name` names a member of `key` (`views`, `filters`) of a design
/// document of `db`, answering CouchDB's 404s when it does not.
async fn design_member(
    shared: &Arc<Shared>,
    db: &str,
    spec: &str,
    key: &'static str,
) -> Result<(), CouchError> {
    let Some((ddoc, name)) = spec.split_once('/') else {
        return Err(CouchError::BadRequest(format!(
            "`{spec}` is not a design document function name (ddoc/name)"
        )));
    };
    let (db, id, name) = (db.to_owned(), format!("_design/{ddoc}"), name.to_owned());
    shared
        .store
        .read(move |c| {
            let dbr = store::db_row(c, &db)?;
            let doc = store::load_doc(c, dbr.id, &id)?
                .filter(|d| !d.deleted())
                .ok_or_else(CouchError::missing)?;
            let body = store::render(c, dbr.id, &doc, &doc.winner(), ReadOpts::default())?
                .ok_or_else(CouchError::missing)?;
            let members = body
                .get(key)
                .ok_or_else(|| CouchError::NotFound(format!("missing json key: {key}")))?;
            members
                .get(&name)
                .ok_or_else(|| CouchError::NotFound(format!("missing json key: {name}")))?;
            Ok(())
        })
        .await
}

struct FeedGuard(Arc<Shared>);

impl Drop for FeedGuard {
    fn drop(&mut self) {
        self.0.feeds.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn run_feed(
    shared: &Arc<Shared>,
    params: &Params,
    first: Scan,
    watch: &mut tokio::sync::watch::Receiver<u64>,
    tx: &BodySender,
) {
    let deadline = params.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut heartbeat = params.heartbeat.map(|h| {
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + h, h);
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    let mut cursor = first.last_seq;
    let mut sent: u64 = 0;
    let mut batch = first;
    loop {
        // Emit what the last scan found.
        if !batch.results.is_empty() {
            match params.feed {
                Feed::Longpoll => {
                    let _ = tx
                        .send(Bytes::from(batch.to_json(true).to_string() + "\n"))
                        .await;
                    return;
                }
                Feed::Continuous | Feed::EventSource => {
                    for r in &batch.results {
                        let line = match params.feed {
                            Feed::EventSource => format!("data: {r}\nid: {}\n\n", r["seq"]),
                            _ => format!("{r}\n"),
                        };
                        if tx.send(Bytes::from(line)).await.is_err() {
                            return;
                        }
                        sent += 1;
                    }
                    if params.limit.is_some_and(|l| sent >= l) {
                        let _ = tx.send(Bytes::from(end_line(params.feed, cursor))).await;
                        return;
                    }
                }
                Feed::Normal => unreachable!("answered without waiting"),
            }
        }
        cursor = batch.last_seq;
        // Wait for a commit, a heartbeat, or the end.
        let more = loop {
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let beat = async {
                match heartbeat.as_mut() {
                    Some(i) => {
                        i.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                changed = watch.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if *watch.borrow_and_update() > cursor {
                        break true;
                    }
                    // The database was deleted (seq 0) or nothing new.
                    if *watch.borrow() == 0 {
                        let _ = tx.send(Bytes::from(end_line(params.feed, cursor))).await;
                        return;
                    }
                }
                () = beat => {
                    let line = if params.feed == Feed::EventSource { "event: heartbeat\ndata: \n\n" } else { "\n" };
                    if tx.send(Bytes::from_static(line.as_bytes())).await.is_err() {
                        return;
                    }
                }
                () = sleep => break false,
            }
        };
        if !more {
            let end = match params.feed {
                Feed::Longpoll => {
                    json!({"results": [], "last_seq": cursor, "pending": 0}).to_string() + "\n"
                }
                _ => end_line(params.feed, cursor),
            };
            let _ = tx.send(Bytes::from(end)).await;
            return;
        }
        let p = params.clone();
        let remaining = params.limit.map(|l| l.saturating_sub(sent));
        let scanned = shared
            .store
            .read(move |c| scan(c, &p, cursor, remaining))
            .await;
        match scanned {
            Ok(s) => batch = s,
            Err(e) => {
                let _ = tx.send(Bytes::from(e.to_json().to_string() + "\n")).await;
                return;
            }
        }
    }
}

fn end_line(feed: Feed, seq: u64) -> String {
    match feed {
        Feed::EventSource => format!("event: end\ndata: {}\n\n", json!({"last_seq": seq})),
        _ => json!({"last_seq": seq, "pending": 0}).to_string() + "\n",
    }
}

/// `since`: a sequence number, `now`, or a CouchDB 2 style `N-…` string.
fn parse_since(text: Option<&str>, now: u64) -> Result<u64, CouchError> {
    match text.map(|t| t.trim_matches('"')) {
        None | Some("") => Ok(0),
        Some("now") => Ok(now),
        Some(t) => {
            let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().map_err(|_| {
                CouchError::BadRequest(format!(
                    "Malformed sequence supplied in 'since' parameter: {t:?}"
                ))
            })
        }
    }
}

/// One scan of the by-sequence index.
#[derive(Debug)]
struct Scan {
    results: Vec<Value>,
    last_seq: u64,
    pending: u64,
}

impl Scan {
    fn to_json(&self, with_pending: bool) -> Value {
        let mut v = json!({"results": self.results, "last_seq": self.last_seq});
        if with_pending {
            v["pending"] = self.pending.into();
        }
        v
    }
}

fn scan(
    c: &rusqlite::Connection,
    p: &Params,
    since: u64,
    limit: Option<u64>,
) -> Result<Scan, CouchError> {
    let dbr = store::db_row(c, &p.db)?;
    let limit = limit.unwrap_or(u64::MAX);
    let mut results = Vec::new();
    let mut cursor = since;
    if p.descending {
        let rows = store::changes_since(c, dbr.id, 0, limit.min(usize::MAX as u64) as usize, true)?;
        let mut last = dbr.seq;
        for row in rows {
            if let Some(v) = change(c, dbr.id, p, &row)? {
                last = row.seq;
                results.push(v);
            }
        }
        return Ok(Scan {
            results,
            last_seq: last,
            pending: 0,
        });
    }
    let mut hit_limit = false;
    'outer: loop {
        let rows = store::changes_since(c, dbr.id, cursor, SCAN_BATCH, false)?;
        let n = rows.len();
        for row in rows {
            cursor = row.seq;
            if let Some(v) = change(c, dbr.id, p, &row)? {
                results.push(v);
                if results.len() as u64 >= limit {
                    hit_limit = true;
                    break 'outer;
                }
            }
        }
        if n < SCAN_BATCH {
            break;
        }
    }
    // Scanned to the end: the feed is current up to the database's sequence.
    let last_seq = if hit_limit {
        cursor
    } else {
        dbr.seq.max(cursor)
    };
    let pending = if hit_limit {
        store::count_after(c, dbr.id, cursor)?
    } else {
        0
    };
    Ok(Scan {
        results,
        last_seq,
        pending,
    })
}

fn change(
    c: &rusqlite::Connection,
    db: i64,
    p: &Params,
    row: &DocRow,
) -> Result<Option<Value>, CouchError> {
    match &p.filter {
        Filter::DocIds(ids) if !ids.contains(&row.id) => return Ok(None),
        Filter::Design if !row.id.starts_with("_design/") => return Ok(None),
        _ => {}
    }
    let winner = row.winner();
    let needs_doc = p.include_docs || matches!(p.filter, Filter::Selector(_));
    let doc = if needs_doc {
        store::render(c, db, row, &winner, p.opts)?
    } else {
        None
    };
    if let Filter::Selector(sel) = &p.filter {
        match &doc {
            Some(d) if sel.matches(d) => {}
            _ => return Ok(None),
        }
    }
    let changes: Vec<Value> = if p.all_leaves {
        let mut leaves = row.tree.leaves();
        leaves.retain(|l| *l != winner);
        std::iter::once(&winner)
            .chain(leaves.iter())
            .map(|r| json!({"rev": r.to_string()}))
            .collect()
    } else {
        vec![json!({"rev": winner.to_string()})]
    };
    let mut v = json!({"seq": row.seq, "id": row.id, "changes": changes});
    if row.deleted() {
        v["deleted"] = true.into();
    }
    if p.include_docs {
        v["doc"] = doc.unwrap_or(Value::Null);
    }
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        assert_eq!(parse_since(None, 9).unwrap(), 0);
        assert_eq!(parse_since(Some("now"), 9).unwrap(), 9);
        assert_eq!(parse_since(Some("12"), 9).unwrap(), 12);
        assert_eq!(parse_since(Some("12-g1AAAA"), 9).unwrap(), 12);
        assert_eq!(parse_since(Some("\"3\""), 9).unwrap(), 3);
        assert!(parse_since(Some("x"), 9).is_err());
    }
}
