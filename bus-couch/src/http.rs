//! The HTTP face: [`CouchService`] routes CouchDB's paths to the store and answers with
//! CouchDB's JSON shapes, statuses and `{error, reason}` bodies.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bus_core::Body;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::changes;
use crate::doc::{AttInput, DocInput, ReadOpts};
use crate::error::CouchError;
use crate::revtree::Rev;
use crate::store::{self, DocRow};

/// The tower service of a [`Couch`](crate::Couch): mount it on a bus (see
/// [`mount`](crate::mount)). Clones share the store.
#[derive(Clone, Debug)]
pub struct CouchService {
    pub(crate) shared: Arc<Shared>,
}

impl tower::Service<Request<Body>> for CouchService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let head = req.method() == Method::HEAD;
            let mut response = match handle(shared, req).await {
                Ok(r) => r,
                Err(e) => error_response(&e),
            };
            if head {
                *response.body_mut() = Body::empty();
            }
            Ok(response)
        })
    }
}

/// A CouchDB error as a response.
pub(crate) fn error_response(e: &CouchError) -> Response<Body> {
    if let CouchError::Storage(_) | CouchError::Internal(_) = e {
        tracing::error!(error = %e, "bus-couch request failed");
    }
    let mut r = json_response(e.status(), &e.to_json());
    if let CouchError::RangeNotSatisfiable { length } = e
        && let Ok(v) = HeaderValue::from_str(&format!("bytes */{length}"))
    {
        r.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    r
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut bytes = serde_json::to_vec(&CouchJson(value)).unwrap_or_default();
    bytes.push(b'\n');
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("must-revalidate"),
    );
    r
}

/// A JSON value serialized as CouchDB writes it: `_revisions` objects as `{"start",
/// "ids"}` (serde_json's map sorts keys, which would put `ids` first; clients compare
/// `JSON.stringify(doc._revisions)`, e.g. PouchDB's test #3179).
struct CouchJson<'a>(&'a Value);

impl serde::Serialize for CouchJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&CouchJson(v))?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut out = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("_revisions", Value::Object(r))
                            if r.len() == 2 && r.contains_key("start") && r.contains_key("ids") =>
                        {
                            out.serialize_key(k)?;
                            out.serialize_value(&RevisionsJson(r))?;
                        }
                        _ => out.serialize_entry(k, &CouchJson(v))?,
                    }
                }
                out.end()
            }
            other => other.serialize(s),
        }
    }
}

struct RevisionsJson<'a>(&'a Map<String, Value>);

impl serde::Serialize for RevisionsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut out = s.serialize_map(Some(2))?;
        out.serialize_entry("start", &self.0["start"])?;
        out.serialize_entry("ids", &self.0["ids"])?;
        out.end()
    }
}

/// Query parameters, decoded (the last of a repeated name wins).
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    fn parse(q: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    pub(crate) fn bool(&self, name: &str) -> Result<bool, CouchError> {
        match self.str(name) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(CouchError::BadRequest(format!(
                "Invalid boolean parameter {name}={other:?}"
            ))),
        }
    }
    pub(crate) fn u64(&self, name: &str) -> Result<Option<u64>, CouchError> {
        self.str(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    CouchError::BadRequest(format!(
                        "Invalid value for {name}: {v:?} (a non-negative integer)"
                    ))
                })
            })
            .transpose()
    }
    pub(crate) fn json(&self, name: &str) -> Result<Option<Value>, CouchError> {
        self.str(name)
            .map(|v| {
                serde_json::from_str(v)
                    .map_err(|e| CouchError::BadRequest(format!("Invalid JSON in {name}: {e}")))
            })
            .transpose()
    }
}

fn percent_decode(segment: &str) -> Result<String, CouchError> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| CouchError::BadRequest("Path is not valid UTF-8 once decoded".into()))
}

pub(crate) async fn read_body(shared: &Shared, body: Body) -> Result<Bytes, CouchError> {
    let limit = shared.config.max_request_bytes;
    if let Some(len) = body.exact_len()
        && len > limit
    {
        return Err(too_large(len, limit));
    }
    let limited = http_body_util::Limited::new(body, limit.min(usize::MAX as u64) as usize);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large(limit + 1, limit)),
        Err(e) => Err(CouchError::BadRequest(format!("request body failed: {e}"))),
    }
}

fn too_large(len: u64, limit: u64) -> CouchError {
    CouchError::TooLarge(format!(
        "Request body of {len} bytes is over the limit of {limit}"
    ))
}

pub(crate) async fn read_json(shared: &Shared, body: Body) -> Result<Value, CouchError> {
    let bytes = read_body(shared, body).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CouchError::BadRequest(format!("invalid UTF-8 JSON: {e}")))
}

async fn handle(shared: Arc<Shared>, req: Request<Body>) -> Result<Response<Body>, CouchError> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let query = Query::parse(parts.uri.query());
    let raw: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let segs: Vec<String> = raw
        .iter()
        .map(|s| percent_decode(s))
        .collect::<Result<_, _>>()?;
    let mut segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    // `/db/` is `/db` (PouchDB's database URL ends with a slash).
    if segs.len() > 1 && segs.last() == Some(&"") {
        segs.pop();
    }
    let method = parts.method.clone();
    let m = method.as_str();
    match segs.as_slice() {
        [] | [""] => match m {
            "GET" | "HEAD" => Ok(json_response(
                StatusCode::OK,
                &json!({
                    "couchdb": "Welcome",
                    "version": "3.3.3",
                    "uuid": shared.store.uuid,
                    "vendor": {"name": "bus-couch", "version": env!("CARGO_PKG_VERSION")},
                    "features": [],
                }),
            )),
            _ => Err(CouchError::MethodNotAllowed("GET,HEAD")),
        },
        ["_all_dbs"] => {
            let dbs = shared.store.read(store::all_dbs).await?;
            Ok(json_response(StatusCode::OK, &json!(dbs)))
        }
        ["_up"] => Ok(json_response(StatusCode::OK, &json!({"status": "ok"}))),
        ["_uuids"] => {
            let n = query.u64("count")?.unwrap_or(1).min(1000);
            let ids: Vec<String> = (0..n).map(|_| store::new_id()).collect();
            Ok(json_response(StatusCode::OK, &json!({"uuids": ids})))
        }
        [db] if db.starts_with('_') => Err(CouchError::NotFound(format!(
            "Database {db} does not exist."
        ))),
        [db] => db_root(&shared, db, m, &query, body).await,
        [db, "_all_docs"] => all_docs(&shared, db, m, &query, body).await,
        [db, "_changes"] => changes::handle(&shared, db, m, &query, &parts.headers, body).await,
        [db, "_bulk_docs"] => {
            post_only(m)?;
            bulk_docs(&shared, db, body).await
        }
        [db, "_bulk_get"] => {
            post_only(m)?;
            bulk_get(&shared, db, &query, body).await
        }
        [db, "_revs_diff"] => {
            post_only(m)?;
            revs_diff(&shared, db, body).await
        }
        [db, "_revs_limit"] => revs_limit(&shared, db, m, body).await,
        [db, "_ensure_full_commit"] => {
            post_only(m)?;
            let name = db.to_string();
            shared
                .store
                .read(move |c| store::db_row(c, &name).map(|_| ()))
                .await?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"ok": true, "instance_start_time": "0"}),
            ))
        }
        [db, "_compact"] => {
            post_only(m)?;
            let name = db.to_string();
            shared.store.run(move |c| store::compact(c, &name)).await?;
            Ok(json_response(StatusCode::ACCEPTED, &json!({"ok": true})))
        }
        [db, "_local", id] => local_doc(&shared, db, id, m, &query, body).await,
        [_, "_local", _, _, ..] => Err(CouchError::BadRequest(
            "_local documents do not accept attachments.".into(),
        )),
        [db, "_design", ddoc] => {
            let id = format!("_design/{ddoc}");
            document(&shared, db, &id, m, &query, &parts.headers, body).await
        }
        [_, "_design", _, special, ..] if special.starts_with('_') => {
            Err(CouchError::NotImplemented(format!(
                "{special}: design-document functions (views, shows, lists, updates) are not supported by bus-couch"
            )))
        }
        [db, "_design", ddoc, att @ ..] => {
            let id = format!("_design/{ddoc}");
            attachment(
                &shared,
                db,
                &id,
                &att.join("/"),
                m,
                &query,
                &parts.headers,
                body,
            )
            .await
        }
        [
            _,
            special @ ("_find"
            | "_index"
            | "_explain"
            | "_purge"
            | "_purged_infos_limit"
            | "_security"
            | "_view_cleanup"
            | "_design_docs"
            | "_temp_view"
            | "_shards"
            | "_partition"
            | "_search_analyze"),
        ] => Err(CouchError::NotImplemented(format!(
            "{special} is not supported by bus-couch"
        ))),
        [_, special] if special.starts_with('_') => Err(CouchError::BadRequest(
            "Only reserved document ids may start with underscore.".into(),
        )),
        [db, id] => document(&shared, db, id, m, &query, &parts.headers, body).await,
        [db, id, att @ ..] => {
            attachment(
                &shared,
                db,
                id,
                &att.join("/"),
                m,
                &query,
                &parts.headers,
                body,
            )
            .await
        }
    }
}

fn post_only(m: &str) -> Result<(), CouchError> {
    if m == "POST" {
        Ok(())
    } else {
        Err(CouchError::MethodNotAllowed("POST"))
    }
}

async fn db_root(
    shared: &Arc<Shared>,
    db: &str,
    m: &str,
    query: &Query,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    let name = db.to_owned();
    match m {
        "GET" | "HEAD" => {
            let row = shared.store.read(move |c| store::db_row(c, &name)).await?;
            Ok(json_response(
                StatusCode::OK,
                &json!({
                    "db_name": row.name,
                    "doc_count": row.doc_count,
                    "doc_del_count": row.del_count,
                    "update_seq": row.seq,
                    "committed_update_seq": row.seq,
                    "purge_seq": 0,
                    "compact_running": false,
                    "instance_start_time": "0",
                    "disk_format_version": 8,
                    "sizes": {"active": 0, "external": 0, "file": 0},
                    "props": {},
                }),
            ))
        }
        "PUT" => {
            shared
                .store
                .run(move |c| store::create_db(c, &name))
                .await?;
            Ok(json_response(StatusCode::CREATED, &json!({"ok": true})))
        }
        "DELETE" => {
            shared
                .store
                .run(move |c| store::delete_db(c, &name))
                .await?;
            shared.store.notify(db, 0);
            Ok(json_response(StatusCode::OK, &json!({"ok": true})))
        }
        "POST" => {
            let value = read_json(shared, body).await?;
            let mut doc = DocInput::from_json(value, None)?;
            if doc.id.is_empty() {
                doc.id = store::new_id();
            }
            let new_edits = !matches!(query.str("new_edits"), Some("false"));
            write_single(shared, db, doc, new_edits).await
        }
        _ => Err(CouchError::MethodNotAllowed("GET,HEAD,PUT,DELETE,POST")),
    }
}

async fn write_single(
    shared: &Arc<Shared>,
    db: &str,
    doc: DocInput,
    new_edits: bool,
) -> Result<Response<Body>, CouchError> {
    let name = db.to_owned();
    let limit = shared.store.max_attachment_bytes;
    let (mut results, seq) = shared
        .store
        .run(move |c| store::write_docs(c, &name, vec![doc], new_edits, limit))
        .await?;
    shared.store.notify(db, seq);
    let (id, result) = results.pop().expect("one result per doc");
    let rev = result?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"ok": true, "id": id, "rev": rev.to_string()}),
    ))
}

async fn bulk_docs(
    shared: &Arc<Shared>,
    db: &str,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    let mut value = read_json(shared, body).await?;
    let new_edits = match value.get("new_edits") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(CouchError::BadRequest(
                "`new_edits` must be a boolean".into(),
            ));
        }
    };
    // Taken, not cloned: a batch with inline attachments is megabytes of base64.
    let Some(Value::Array(docs)) = value.get_mut("docs").map(Value::take) else {
        return Err(CouchError::BadRequest(
            "POST body must include `docs` parameter.".into(),
        ));
    };
    // Parse every document first. As CouchDB (`doc_from_json_obj_validate` over the whole
    // array before any write), a document that does not parse — a bad special member, an
    // invalid `_rev` or `_id` — fails the whole request and nothing is written; what fails
    // later (conflicts, missing stubs) is reported in place.
    let mut slots: Vec<Result<usize, (String, CouchError)>> = Vec::with_capacity(docs.len());
    let mut inputs = Vec::new();
    for doc in docs {
        let id = doc
            .get("_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let mut d = DocInput::from_json(doc, None)?;
        if d.id.is_empty() {
            if new_edits {
                d.id = store::new_id();
            } else {
                slots.push(Err((
                    id,
                    CouchError::BadRequest("Document id is missing".into()),
                )));
                continue;
            }
        } else if !d.id.starts_with("_local/") {
            crate::doc::validate_id(&d.id)?;
            if !new_edits && d.rev.is_none() {
                return Err(CouchError::BadRequest(format!(
                    "Document {} has no _rev (required with new_edits=false)",
                    d.id
                )));
            }
        }
        slots.push(Ok(inputs.len()));
        inputs.push(d);
    }
    let name = db.to_owned();
    let limit = shared.store.max_attachment_bytes;
    let (results, seq) = shared
        .store
        .run(move |c| store::write_docs(c, &name, inputs, new_edits, limit))
        .await?;
    shared.store.notify(db, seq);
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        let (id, result) = match slot {
            Ok(i) => {
                let (id, r) = &results[i];
                (
                    id.clone(),
                    match r {
                        Ok(rev) => Ok(rev.clone()),
                        Err(e) => Err(e.to_json()),
                    },
                )
            }
            Err((id, e)) => (id, Err(e.to_json())),
        };
        match result {
            Ok(rev) if new_edits => {
                out.push(json!({"ok": true, "id": id, "rev": local_aware_rev(&id, &rev)}))
            }
            Ok(_) => {}
            Err(mut e) => {
                e["id"] = Value::String(id);
                out.push(e);
            }
        }
    }
    Ok(json_response(StatusCode::CREATED, &Value::Array(out)))
}

fn local_aware_rev(id: &str, rev: &Rev) -> String {
    if id.starts_with("_local/") {
        format!("0-{}", rev.hash)
    } else {
        rev.to_string()
    }
}

async fn bulk_get(
    shared: &Arc<Shared>,
    db: &str,
    query: &Query,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    let value = read_json(shared, body).await?;
    let Some(Value::Array(docs)) = value.get("docs") else {
        return Err(CouchError::BadRequest(
            "POST body must include `docs` parameter.".into(),
        ));
    };
    let opts = ReadOpts {
        revs: query.bool("revs")?,
        attachments: query.bool("attachments")?,
        ..ReadOpts::default()
    };
    let latest = query.bool("latest")?;
    let requests: Vec<(String, Option<String>)> = docs
        .iter()
        .map(|d| {
            let id = d.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
            let rev = d.get("rev").and_then(Value::as_str).map(str::to_owned);
            (id, rev)
        })
        .collect();
    let name = db.to_owned();
    let results = shared
        .store
        .read(move |c| {
            let dbr = store::db_row(c, &name)?;
            let mut out = Vec::with_capacity(requests.len());
            for (id, rev) in requests {
                let missing = |rev: &str, reason: &str| {
                    json!({"error": {"id": id, "rev": rev, "error": "not_found", "reason": reason}})
                };
                let doc = if id.is_empty() { None } else { store::load_doc(c, dbr.id, &id)? };
                let Some(doc) = doc else {
                    out.push(json!({"id": id, "docs": [missing(rev.as_deref().unwrap_or("undefined"), "missing")]}));
                    continue;
                };
                let revs: Vec<Result<Rev, String>> = match &rev {
                    None => vec![Ok(doc.winner())],
                    Some(r) => match Rev::parse(r) {
                        None => vec![Err(r.clone())],
                        Some(r) if latest && doc.tree.get(&r).is_some() => {
                            doc.tree.leaves_from(&r).into_iter().map(Ok).collect()
                        }
                        Some(r) => vec![Ok(r)],
                    },
                };
                let mut docs = Vec::new();
                for r in revs {
                    match r {
                        Ok(r) => match store::render(c, dbr.id, &doc, &r, opts)? {
                            Some(d) => docs.push(json!({"ok": d})),
                            None => docs.push(missing(&r.to_string(), "missing")),
                        },
                        Err(text) => docs.push(missing(&text, "missing")),
                    }
                }
                out.push(json!({"id": id, "docs": docs}));
            }
            Ok(out)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &json!({"results": results})))
}

async fn revs_diff(
    shared: &Arc<Shared>,
    db: &str,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    let value = read_json(shared, body).await?;
    let Value::Object(map) = value else {
        return Err(CouchError::BadRequest(
            "Request body must be a JSON object".into(),
        ));
    };
    let mut asks: Vec<(String, Vec<Rev>, Vec<String>)> = Vec::with_capacity(map.len());
    for (id, revs) in map {
        let Value::Array(revs) = revs else {
            return Err(CouchError::BadRequest(format!(
                "Revisions of {id} must be an array"
            )));
        };
        let mut parsed = Vec::new();
        let mut bad = Vec::new();
        for r in revs {
            match r.as_str().and_then(Rev::parse) {
                Some(p) => parsed.push(p),
                None => bad.push(r.as_str().unwrap_or_default().to_owned()),
            }
        }
        asks.push((id, parsed, bad));
    }
    let name = db.to_owned();
    let out = shared
        .store
        .read(move |c| {
            let dbr = store::db_row(c, &name)?;
            let mut out = Map::new();
            for (id, revs, bad) in asks {
                let doc = store::load_doc(c, dbr.id, &id)?;
                let (missing, ancestors) = match &doc {
                    None => (revs.clone(), Vec::new()),
                    Some(d) => {
                        let missing = d.tree.missing(&revs);
                        let anc = d.tree.possible_ancestors(&missing);
                        (missing, anc)
                    }
                };
                let mut missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
                missing.extend(bad);
                if missing.is_empty() {
                    continue;
                }
                let mut entry = Map::new();
                entry.insert("missing".into(), json!(missing));
                if !ancestors.is_empty() {
                    let a: Vec<String> = ancestors.iter().map(ToString::to_string).collect();
                    entry.insert("possible_ancestors".into(), json!(a));
                }
                out.insert(id, Value::Object(entry));
            }
            Ok(Value::Object(out))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &out))
}

async fn revs_limit(
    shared: &Arc<Shared>,
    db: &str,
    m: &str,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    let name = db.to_owned();
    match m {
        "GET" => {
            let row = shared.store.read(move |c| store::db_row(c, &name)).await?;
            Ok(json_response(StatusCode::OK, &json!(row.revs_limit)))
        }
        "PUT" => {
            let v = read_json(shared, body).await?;
            let limit = v.as_u64().filter(|l| *l > 0).ok_or_else(|| {
                CouchError::BadRequest("revs_limit must be a positive integer".into())
            })?;
            shared
                .store
                .run(move |c| store::set_revs_limit(c, &name, limit))
                .await?;
            Ok(json_response(StatusCode::OK, &json!({"ok": true})))
        }
        _ => Err(CouchError::MethodNotAllowed("GET,PUT")),
    }
}

/// The `rev` query parameter, parsed.
fn rev_param(query: &Query) -> Result<Option<Rev>, CouchError> {
    query
        .str("rev")
        .map(|r| {
            Rev::parse(r)
                .ok_or_else(|| CouchError::BadRequest(format!("Invalid rev format: {r:?}")))
        })
        .transpose()
}

/// The revision a read without `rev` gets: the winner, unless the document is deleted
/// (`404 deleted`).
fn live_winner(doc: &store::DocRow) -> Result<Rev, CouchError> {
    if doc.deleted() {
        return Err(CouchError::NotFound("deleted".into()));
    }
    Ok(doc.winner())
}

/// Deletes the local document `lid` of database `name` (`rev`: the one the caller
/// names, if any) and answers as CouchDB does.
async fn delete_local(
    shared: &Arc<Shared>,
    name: String,
    lid: String,
    rev: Option<String>,
) -> Result<Response<Body>, CouchError> {
    let id = format!("_local/{lid}");
    shared
        .store
        .run(move |c| {
            let dbr = store::db_row(c, &name)?;
            store::delete_local(c, dbr.id, &lid, rev)
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"ok": true, "id": id, "rev": "0-0"}),
    ))
}

async fn local_doc(
    shared: &Arc<Shared>,
    db: &str,
    id: &str,
    m: &str,
    query: &Query,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    let name = db.to_owned();
    let lid = id.to_owned();
    match m {
        "GET" | "HEAD" => {
            let (rev, body) = shared
                .store
                .read(move |c| {
                    let dbr = store::db_row(c, &name)?;
                    store::get_local(c, dbr.id, &lid)?.ok_or_else(CouchError::missing)
                })
                .await?;
            let mut out = Map::new();
            out.insert("_id".into(), format!("_local/{id}").into());
            out.insert("_rev".into(), format!("0-{rev}").into());
            out.extend(body);
            Ok(json_response(StatusCode::OK, &Value::Object(out)))
        }
        "PUT" => {
            let value = read_json(shared, body).await?;
            let Value::Object(mut map) = value else {
                return Err(CouchError::BadRequest(
                    "Document must be a JSON object".into(),
                ));
            };
            map.remove("_id");
            let rev = match map.remove("_rev") {
                Some(Value::String(s)) => Some(s),
                _ => query.str("rev").map(str::to_owned),
            };
            if map.remove("_deleted") == Some(Value::Bool(true)) {
                return delete_local(shared, name, lid, rev).await;
            }
            // Special members CouchDB parses and a local document does not keep.
            for ignored in [
                "_revisions",
                "_attachments",
                "_conflicts",
                "_deleted_conflicts",
                "_local_seq",
                "_revs_info",
            ] {
                map.remove(ignored);
            }
            if let Some(bad) = map.keys().find(|k| k.starts_with('_')) {
                return Err(CouchError::DocValidation(format!(
                    "Bad special document member: {bad}"
                )));
            }
            let next = shared
                .store
                .run(move |c| {
                    let tx = c.transaction()?;
                    let dbr = store::db_row(&tx, &name)?;
                    let n = store::put_local(&tx, dbr.id, &lid, rev, &map, true)?;
                    tx.commit()?;
                    Ok(n)
                })
                .await?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"ok": true, "id": format!("_local/{id}"), "rev": format!("0-{next}")}),
            ))
        }
        "DELETE" => {
            let rev = query.str("rev").map(str::to_owned);
            delete_local(shared, name, lid, rev).await
        }
        _ => Err(CouchError::MethodNotAllowed("GET,HEAD,PUT,DELETE")),
    }
}

fn read_opts(query: &Query) -> Result<ReadOpts, CouchError> {
    let meta = query.bool("meta")?;
    Ok(ReadOpts {
        revs: query.bool("revs")?,
        conflicts: query.bool("conflicts")? || meta,
        deleted_conflicts: query.bool("deleted_conflicts")? || meta,
        revs_info: query.bool("revs_info")? || meta,
        attachments: query.bool("attachments")?,
        local_seq: query.bool("local_seq")?,
    })
}

#[allow(clippy::too_many_arguments)]
async fn document(
    shared: &Arc<Shared>,
    db: &str,
    id: &str,
    m: &str,
    query: &Query,
    headers: &http::HeaderMap,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    match m {
        "GET" | "HEAD" => get_document(shared, db, id, query).await,
        "PUT" => {
            let value = read_json(shared, body).await?;
            let mut doc = DocInput::from_json(value, Some(id))?;
            if let Some(r) = query.str("rev") {
                let r = Rev::parse(r)
                    .ok_or_else(|| CouchError::BadRequest(format!("Invalid rev format: {r:?}")))?;
                match &doc.rev {
                    Some(b) if *b != r => {
                        return Err(CouchError::BadRequest(
                            "Document rev from request body and query string have different values"
                                .into(),
                        ));
                    }
                    _ => doc.rev = Some(r),
                }
            }
            let new_edits = !matches!(query.str("new_edits"), Some("false"));
            write_single(shared, db, doc, new_edits).await
        }
        "DELETE" => {
            let rev = query.str("rev").map(str::to_owned).or_else(|| {
                headers
                    .get(header::IF_MATCH)
                    .and_then(|v| v.to_str().ok())
                    .map(|s| s.trim_matches('"').to_owned())
            });
            let Some(rev) = rev else {
                return Err(CouchError::Conflict);
            };
            let rev = Rev::parse(&rev)
                .ok_or_else(|| CouchError::BadRequest(format!("Invalid rev format: {rev:?}")))?;
            let doc = DocInput {
                id: id.to_owned(),
                rev: Some(rev),
                deleted: true,
                revisions: None,
                atts: None,
                body: Map::new(),
            };
            let mut r = write_single(shared, db, doc, true).await?;
            *r.status_mut() = StatusCode::OK;
            Ok(r)
        }
        _ => Err(CouchError::MethodNotAllowed("GET,HEAD,PUT,DELETE")),
    }
}

async fn get_document(
    shared: &Arc<Shared>,
    db: &str,
    id: &str,
    query: &Query,
) -> Result<Response<Body>, CouchError> {
    let opts = read_opts(query)?;
    let latest = query.bool("latest")?;
    let open_revs = match query.str("open_revs") {
        None => None,
        Some("all") => Some(None),
        Some(_) => {
            let v = query.json("open_revs")?.unwrap_or_default();
            let list = v.as_array().ok_or_else(|| {
                CouchError::BadRequest("open_revs must be \"all\" or a JSON array".into())
            })?;
            let revs: Vec<String> = list
                .iter()
                .map(|r| match r.as_str() {
                    Some(s) if Rev::parse(s).is_some() => Ok(s.to_owned()),
                    _ => Err(CouchError::BadRequest(format!(
                        "Invalid rev format in open_revs: {r}"
                    ))),
                })
                .collect::<Result<_, _>>()?;
            Some(Some(revs))
        }
    };
    let rev = rev_param(query)?;
    let name = db.to_owned();
    let id = id.to_owned();
    let value = shared
        .store
        .read(move |c| {
            let dbr = store::db_row(c, &name)?;
            let doc = store::load_doc(c, dbr.id, &id)?;
            if let Some(open) = open_revs {
                let Some(doc) = doc else {
                    return match open {
                        None => Err(CouchError::missing()),
                        Some(list) => Ok(Value::Array(
                            list.into_iter().map(|r| json!({"missing": r})).collect(),
                        )),
                    };
                };
                let wanted: Vec<Result<Rev, String>> = match open {
                    None => doc.tree.leaves().into_iter().map(Ok).collect(),
                    Some(list) => {
                        let mut seen = BTreeSet::new();
                        let mut out = Vec::new();
                        for text in list {
                            match Rev::parse(&text) {
                                Some(r) if latest && doc.tree.get(&r).is_some() => {
                                    for l in doc.tree.leaves_from(&r) {
                                        if seen.insert(l.clone()) {
                                            out.push(Ok(l));
                                        }
                                    }
                                }
                                Some(r) => {
                                    if seen.insert(r.clone()) {
                                        out.push(Ok(r));
                                    }
                                }
                                None => out.push(Err(text)),
                            }
                        }
                        out
                    }
                };
                let mut out = Vec::new();
                for w in wanted {
                    match w {
                        Ok(r) => match store::render(c, dbr.id, &doc, &r, opts)? {
                            Some(d) => out.push(json!({"ok": d})),
                            None => out.push(json!({"missing": r.to_string()})),
                        },
                        Err(text) => out.push(json!({"missing": text})),
                    }
                }
                return Ok(Value::Array(out));
            }
            let doc = doc.ok_or_else(CouchError::missing)?;
            let rev = match rev {
                // `latest`: the leaf descending from `rev` (of several, the one that would
                // win among them: live over deleted, then the highest revision).
                Some(r) if latest && doc.tree.get(&r).is_some() => doc
                    .tree
                    .leaves_from(&r)
                    .into_iter()
                    .max_by_key(|l| {
                        let deleted = doc.tree.get(l).is_some_and(|n| n.deleted);
                        (!deleted, l.pos, l.hash.clone())
                    })
                    .unwrap_or(r),
                Some(r) => r,
                None => live_winner(&doc)?,
            };
            store::render(c, dbr.id, &doc, &rev, opts)?.ok_or_else(CouchError::missing)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &value))
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range) → inclusive bounds within `len`.
fn parse_range(value: &str, len: u64) -> Result<Option<(u64, u64)>, CouchError> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: answer the whole body, as CouchDB may
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let unsatisfiable = CouchError::RangeNotSatisfiable { length: len };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b
            .parse()
            .map_err(|_| CouchError::BadRequest(format!("Invalid Range {value:?}")))?;
        if n == 0 || len == 0 {
            return Err(unsatisfiable);
        }
        (len.saturating_sub(n), len - 1)
    } else {
        let start: u64 = a
            .parse()
            .map_err(|_| CouchError::BadRequest(format!("Invalid Range {value:?}")))?;
        let end: u64 = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| CouchError::BadRequest(format!("Invalid Range {value:?}")))?
                .min(len.saturating_sub(1))
        };
        if start >= len || end < start {
            return Err(unsatisfiable);
        }
        (start, end)
    };
    Ok(Some(range))
}

#[allow(clippy::too_many_arguments)]
async fn attachment(
    shared: &Arc<Shared>,
    db: &str,
    id: &str,
    att: &str,
    m: &str,
    query: &Query,
    headers: &http::HeaderMap,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    let name = db.to_owned();
    let doc_id = id.to_owned();
    let att_name = att.to_owned();
    let rev = rev_param(query)?;
    match m {
        "GET" | "HEAD" => {
            let range_header = headers
                .get(header::RANGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let if_none_match = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let head_only = m == "HEAD";
            let (meta, range, data) = shared
                .store
                .read(move |c| {
                    let dbr = store::db_row(c, &name)?;
                    let doc =
                        store::load_doc(c, dbr.id, &doc_id)?.ok_or_else(CouchError::missing)?;
                    let rev = match rev {
                        Some(r) => r,
                        None => live_winner(&doc)?,
                    };
                    let meta = store::attachment(c, dbr.id, &doc, &rev, &att_name)?;
                    let range = match &range_header {
                        Some(h) => parse_range(h, meta.length)?,
                        None => None,
                    };
                    let etag = format!("\"{}\"", meta.digest);
                    if head_only || if_none_match.as_deref() == Some(etag.as_str()) {
                        return Ok((meta, range, None));
                    }
                    let data = store::read_blob(c, &meta.digest, range)?;
                    Ok((meta, range, Some(data)))
                })
                .await?;
            let etag = format!("\"{}\"", meta.digest);
            let not_modified = !head_only && data.is_none();
            let len = match range {
                Some((a, b)) => b - a + 1,
                None => meta.length,
            };
            let mut r = Response::new(match data {
                Some(d) => Body::from(d),
                None => Body::empty(),
            });
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(&meta.content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            );
            h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            if let Ok(v) = HeaderValue::from_str(&etag) {
                h.insert(header::ETAG, v);
            }
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("must-revalidate"),
            );
            if not_modified {
                *r.status_mut() = StatusCode::NOT_MODIFIED;
                return Ok(r);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            if let Some((a, b)) = range {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{}", meta.length)) {
                    h.insert(header::CONTENT_RANGE, v);
                }
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            }
            Ok(r)
        }
        "PUT" | "DELETE" => {
            let new_data = if m == "PUT" {
                let content_type = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let data = read_body(shared, body).await?;
                if data.len() as u64 > shared.store.max_attachment_bytes {
                    return Err(CouchError::TooLarge(format!(
                        "Attachment {att} is {} bytes, over the limit of {}",
                        data.len(),
                        shared.store.max_attachment_bytes
                    )));
                }
                Some((content_type, data.to_vec()))
            } else {
                if rev.is_none() {
                    return Err(CouchError::Conflict);
                }
                None
            };
            let limit = shared.store.max_attachment_bytes;
            let is_put = new_data.is_some();
            let (id_out, result, seq) = shared
                .store
                .run(move |c| {
                    let dbr = store::db_row(c, &name)?;
                    let existing: Option<DocRow> = store::load_doc(c, dbr.id, &doc_id)?;
                    let (body, mut atts) = match (&existing, &rev) {
                        (Some(doc), Some(r)) => {
                            if !doc.tree.is_leaf(r) {
                                return Err(CouchError::Conflict);
                            }
                            let (body, atts) = store::load_rev(c, dbr.id, &doc.id, r)?
                                .ok_or(CouchError::Conflict)?;
                            let atts: std::collections::BTreeMap<String, AttInput> = atts
                                .into_iter()
                                .map(|(n, a)| {
                                    (
                                        n,
                                        AttInput::Stub {
                                            digest: Some(a.digest),
                                        },
                                    )
                                })
                                .collect();
                            (body, atts)
                        }
                        (Some(doc), None) if !doc.deleted() => return Err(CouchError::Conflict),
                        (None, Some(_)) => return Err(CouchError::Conflict),
                        _ => (Map::new(), Default::default()),
                    };
                    match new_data {
                        Some((content_type, data)) => {
                            atts.insert(att_name.clone(), AttInput::Data { content_type, data });
                        }
                        None => {
                            if atts.remove(&att_name).is_none() {
                                return Err(CouchError::NotFound(format!(
                                    "Document is missing attachment {att_name}"
                                )));
                            }
                        }
                    }
                    let doc = DocInput {
                        id: doc_id.clone(),
                        rev,
                        deleted: false,
                        revisions: None,
                        atts: Some(atts),
                        body,
                    };
                    let (mut results, seq) = store::write_docs(c, &name, vec![doc], true, limit)?;
                    let (id, result) = results.pop().expect("one");
                    Ok((id, result, seq))
                })
                .await?;
            shared.store.notify(db, seq);
            let rev = result?;
            let status = if is_put {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_response(
                status,
                &json!({"ok": true, "id": id_out, "rev": rev.to_string()}),
            ))
        }
        _ => Err(CouchError::MethodNotAllowed("GET,HEAD,PUT,DELETE")),
    }
}

async fn all_docs(
    shared: &Arc<Shared>,
    db: &str,
    m: &str,
    query: &Query,
    body: Body,
) -> Result<Response<Body>, CouchError> {
    let keys: Option<Vec<Value>> = match m {
        "GET" | "HEAD" => query
            .json("keys")?
            .map(|k| match k {
                Value::Array(a) => Ok(a),
                _ => Err(CouchError::BadRequest("`keys` must be an array".into())),
            })
            .transpose()?,
        "POST" => {
            let v = read_json(shared, body).await?;
            match v.get("keys") {
                None | Some(Value::Null) => None,
                Some(Value::Array(a)) => Some(a.clone()),
                Some(_) => {
                    return Err(CouchError::BadRequest(
                        "`keys` body member must be an array".into(),
                    ));
                }
            }
        }
        _ => return Err(CouchError::MethodNotAllowed("GET,HEAD,POST")),
    };
    let key_str = |name: &str| -> Result<Option<String>, CouchError> {
        match query.json(name)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(CouchError::BadRequest(format!(
                "{name} must be a string document id, got {other}"
            ))),
        }
    };
    let descending = query.bool("descending")?;
    let key = key_str("key")?;
    if keys.is_some()
        && ["key", "startkey", "start_key", "endkey", "end_key"]
            .iter()
            .any(|k| query.str(k).is_some())
    {
        return Err(CouchError::QueryParse(
            "`keys` is incompatible with `key`, `start_key` and `end_key`".into(),
        ));
    }
    let start = key
        .clone()
        .or(key_str("startkey")?)
        .or(key_str("start_key")?)
        .or(query.str("startkey_docid").map(str::to_owned));
    let end = key
        .clone()
        .or(key_str("endkey")?)
        .or(key_str("end_key")?)
        .or(query.str("endkey_docid").map(str::to_owned));
    let inclusive_end = !matches!(query.str("inclusive_end"), Some("false"));
    let limit = query.u64("limit")?.unwrap_or(u64::MAX);
    let skip = query.u64("skip")?.unwrap_or(0);
    let include_docs = query.bool("include_docs")?;
    let opts = ReadOpts {
        conflicts: query.bool("conflicts")?,
        attachments: query.bool("attachments")?,
        ..ReadOpts::default()
    };
    let update_seq = query.bool("update_seq")?;
    let name = db.to_owned();
    let out = shared
        .store
        .read(move |c| {
            let dbr = store::db_row(c, &name)?;
            let row_json = |c: &rusqlite::Connection, doc: &DocRow| -> Result<Value, CouchError> {
                let w = doc.winner();
                let mut row = json!({"id": doc.id, "key": doc.id, "value": {"rev": w.to_string()}});
                if doc.deleted() {
                    row["value"]["deleted"] = true.into();
                    if include_docs {
                        row["doc"] = Value::Null;
                    }
                } else if include_docs {
                    row["doc"] = store::render(c, dbr.id, doc, &w, opts)?.unwrap_or(Value::Null);
                }
                Ok(row)
            };
            let mut rows = Vec::new();
            let offset;
            match keys {
                Some(keys) => {
                    offset = 0;
                    let mut list: Vec<Value> = keys;
                    if descending {
                        list.reverse();
                    }
                    for k in list
                        .into_iter()
                        .skip(skip as usize)
                        .take(limit.min(usize::MAX as u64) as usize)
                    {
                        let found = match k.as_str() {
                            Some(id) => store::load_doc(c, dbr.id, id)?,
                            None => None,
                        };
                        match found {
                            Some(doc) => rows.push(row_json(c, &doc)?),
                            None => rows.push(json!({"key": k, "error": "not_found"})),
                        }
                    }
                }
                None => {
                    offset = store::count_before(c, dbr.id, start.as_deref(), descending)? + skip;
                    for doc in store::ids_in_range(
                        c,
                        dbr.id,
                        start.as_deref(),
                        end.as_deref(),
                        inclusive_end,
                        descending,
                        skip,
                        limit,
                    )? {
                        rows.push(row_json(c, &doc)?);
                    }
                }
            }
            let mut out = json!({"total_rows": dbr.doc_count, "offset": offset, "rows": rows});
            if update_seq {
                out["update_seq"] = dbr.seq.into();
            }
            Ok(out)
        })
        .await?;
    Ok(json_response(StatusCode::OK, &out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=95-200", 100).unwrap(), Some((95, 99)));
        assert!(matches!(
            parse_range("bytes=100-", 100),
            Err(CouchError::RangeNotSatisfiable { length: 100 })
        ));
        assert!(parse_range("bytes=a-b", 100).is_err());
        assert_eq!(parse_range("items=0-1", 100).unwrap(), None);
    }
}
