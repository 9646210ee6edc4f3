//! The CouchDB endpoints through the bus, in process (`Bus::call`), as PouchDB's replicator
//! and `sync` use them, and the errors CouchDB gives bad input.

use std::path::PathBuf;
use std::time::Duration;

use bus_core::{Body, Bus};
use bus_couch::Couch;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};

struct App {
    bus: Bus,
    couch: Couch,
    dir: PathBuf,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn app(name: &str) -> App {
    let dir = std::env::temp_dir().join(format!("bus-couch-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let couch = Couch::open_with(
        dir.join("db.sqlite3"),
        bus_couch::CouchConfig::default().max_attachment_bytes(1 << 20),
    )
    .unwrap();
    let bus = Bus::builder()
        .app_origin("app://localhost")
        .mount_with(bus_couch::mount("/db", &couch))
        .build();
    App { bus, couch, dir }
}

impl App {
    async fn raw(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> (StatusCode, http::HeaderMap, Vec<u8>) {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("app://localhost/db{uri}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self.bus.handle().call(req.body(body.into()).unwrap()).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, bytes)
    }

    async fn req(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let body = body
            .map(|b| Body::from(b.to_string()))
            .unwrap_or_else(Body::empty);
        // PouchDB sends this even on GETs.
        let (status, _, bytes) = self
            .raw(method, uri, &[("content-type", "application/json")], body)
            .await;
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{method} {uri}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, value)
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn server_and_database_lifecycle() {
    rt().block_on(async {
        let a = app("lifecycle");
        let (s, root) = a.req("GET", "/", None).await;
        assert_eq!(s, 200);
        assert_eq!(root["couchdb"], "Welcome");
        assert_eq!(root["uuid"], a.couch.uuid());
        assert_eq!(
            a.req("GET", "/notes", None).await,
            (
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "reason": "Database does not exist."})
            )
        );
        assert_eq!(a.req("PUT", "/notes", None).await.0, 201);
        assert_eq!(a.req("PUT", "/notes", None).await.1["error"], "file_exists");
        let (s, e) = a.req("PUT", "/Bad", None).await;
        assert_eq!(
            (s, e["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("illegal_database_name"))
        );
        assert_eq!(
            a.req("PUT", "/a%2Fb", None).await.0,
            201,
            "a slash in a name, encoded"
        );
        assert_eq!(
            a.req("GET", "/_all_dbs", None).await.1,
            json!(["a/b", "notes"])
        );
        // PouchDB's database URL ends with a slash.
        assert_eq!(a.req("GET", "/notes/", None).await.0, 200);
        let (s, info) = a.req("GET", "/notes", None).await;
        assert_eq!(s, 200);
        assert_eq!(info["db_name"], "notes");
        assert_eq!(info["doc_count"], 0);
        assert_eq!(a.req("DELETE", "/notes", None).await.0, 200);
        assert_eq!(a.req("DELETE", "/notes", None).await.0, 404);
        // The uuid survives reopening the file (PouchDB's checkpoints depend on it).
        let uuid = a.couch.uuid().to_owned();
        let again = Couch::open(a.dir.join("db.sqlite3")).unwrap();
        assert_eq!(again.uuid(), uuid);
    });
}

#[test]
fn documents_revisions_and_conflicts() {
    rt().block_on(async {
        let a = app("docs");
        a.req("PUT", "/d", None).await;
        let (s, r1) = a.req("PUT", "/d/x", Some(json!({"n": 1}))).await;
        assert_eq!(s, 201);
        let rev1 = r1["rev"].as_str().unwrap().to_owned();
        assert!(rev1.starts_with("1-"));
        // Wrong or missing rev: 409.
        assert_eq!(a.req("PUT", "/d/x", Some(json!({"n": 2}))).await, (StatusCode::CONFLICT, json!({"error": "conflict", "reason": "Document update conflict."})));
        assert_eq!(a.req("PUT", "/d/x", Some(json!({"_rev": "1-zzz", "n": 2}))).await.0, 409);
        let (_, r2) = a.req("PUT", "/d/x", Some(json!({"_rev": rev1, "n": 2}))).await;
        let rev2 = r2["rev"].as_str().unwrap().to_owned();
        let (_, doc) = a.req("GET", "/d/x?revs=true&revs_info=true", None).await;
        assert_eq!(doc["n"], 2);
        assert_eq!(doc["_rev"], rev2);
        assert_eq!(doc["_revisions"]["start"], 2);
        assert_eq!(doc["_revisions"]["ids"].as_array().unwrap().len(), 2);
        assert_eq!(doc["_revs_info"][1]["status"], "available");
        // The old revision is still readable by rev (no compaction yet).
        assert_eq!(a.req("GET", &format!("/d/x?rev={rev1}"), None).await.1["n"], 1);
        assert_eq!(a.req("GET", "/d/nope", None).await, (StatusCode::NOT_FOUND, json!({"error": "not_found", "reason": "missing"})));

        // A conflict arrives by replication (new_edits=false): both leaves kept, the
        // winner is the higher hash at the same generation.
        let (s, r) = a
            .req("POST", "/d/_bulk_docs", Some(json!({"new_edits": false, "docs": [
                {"_id": "x", "_rev": "2-ffffffffffffffffffffffffffffffff", "_revisions": {"start": 2, "ids": ["ffffffffffffffffffffffffffffffff", rev1.split_once('-').unwrap().1]}, "n": "theirs"}
            ]})))
            .await;
        assert_eq!((s, r), (StatusCode::CREATED, json!([])));
        let (_, doc) = a.req("GET", "/d/x?conflicts=true", None).await;
        assert_eq!(doc["n"], "theirs");
        assert_eq!(doc["_conflicts"], json!([rev2]));
        let (_, revs) = a.req("GET", "/d/x?open_revs=all", None).await;
        assert_eq!(revs.as_array().unwrap().len(), 2);
        let (_, latest) = a.req("GET", &format!("/d/x?open_revs=%5B%22{rev1}%22%5D&latest=true&revs=true"), None).await;
        assert_eq!(latest.as_array().unwrap().len(), 2, "latest: both leaves under rev 1: {latest}");
        let (_, missing) = a.req("GET", "/d/x?open_revs=%5B%229-abc%22%5D", None).await;
        assert_eq!(missing, json!([{"missing": "9-abc"}]));
        // Resolve: delete the winner; the other leaf wins.
        let (s, del) = a.req("DELETE", "/d/x?rev=2-ffffffffffffffffffffffffffffffff", None).await;
        assert_eq!(s, 200);
        assert!(del["rev"].as_str().unwrap().starts_with("3-"));
        let (_, doc) = a.req("GET", "/d/x?conflicts=true&deleted_conflicts=true", None).await;
        assert_eq!(doc["_rev"], rev2);
        assert!(doc.get("_conflicts").is_none());
        assert_eq!(doc["_deleted_conflicts"].as_array().unwrap().len(), 1);

        // Delete, then the doc is 404 deleted, and can be re-created without a rev.
        a.req("DELETE", &format!("/d/x?rev={rev2}"), None).await;
        assert_eq!(a.req("GET", "/d/x", None).await, (StatusCode::NOT_FOUND, json!({"error": "not_found", "reason": "deleted"})));
        let (s, again) = a.req("PUT", "/d/x", Some(json!({"n": 3}))).await;
        assert_eq!(s, 201);
        assert!(again["rev"].as_str().unwrap().starts_with("4-"), "{again}");

        // POST generates an id; _design docs live at their path.
        let (s, posted) = a.req("POST", "/d", Some(json!({"k": 1}))).await;
        assert_eq!(s, 201);
        assert_eq!(posted["id"].as_str().unwrap().len(), 32);
        assert_eq!(a.req("PUT", "/d/_design/v", Some(json!({"views": {}}))).await.0, 201);
        assert_eq!(a.req("GET", "/d/_design/v", None).await.1["_id"], "_design/v");
    });
}

#[test]
fn bad_input_gets_couchdbs_answers() {
    rt().block_on(async {
        let a = app("bad");
        a.req("PUT", "/d", None).await;
        let (s, _, body) = a.raw("PUT", "/d/x", &[], Body::from("{not json")).await;
        let e: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
        let (s, e) = a.req("PUT", "/d/x", Some(json!({"_foo": 1}))).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("doc_validation")));
        let (s, e) = a.req("PUT", "/d/_bar", Some(json!({}))).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
        let (s, e) = a.req("POST", "/d/_changes?filter=_selector", Some(json!({"selector": {"a": {"$bogus": 1}}}))).await;
        assert_eq!(s, 400);
        assert!(e["reason"].as_str().unwrap().contains("Invalid operator: $bogus"), "{e}");
        let (s, e) = a.req("GET", "/d/_changes?limit=x", None).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
        let (s, e) = a.req("POST", "/d/_bulk_docs", Some(json!({"nodocs": 1}))).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
        // Over the attachment limit (1 MiB here): 413, nothing written.
        let big = vec![7u8; (1 << 20) + 1];
        let (s, _, body) = a.raw("PUT", "/d/att/f.bin", &[("content-type", "application/octet-stream")], Body::from(big)).await;
        let e: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((s, e["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));
        assert_eq!(a.req("GET", "/d/att", None).await.0, 404);
        // One doc that does not parse fails the whole batch, as CouchDB: nothing is written.
        let (s, r) = a.req("POST", "/d/_bulk_docs", Some(json!({"docs": [{"_id": "ok1"}, {"_id": "bad", "_rev": "nope"}, {"_id": "ok2"}]}))).await;
        assert_eq!((s, r["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_request")));
        let (s, r) = a.req("POST", "/d/_bulk_docs", Some(json!({"docs": [{"_id": "ok1"}, {"_zing": 4}]}))).await;
        assert_eq!((s, r["error"].as_str()), (StatusCode::BAD_REQUEST, Some("doc_validation")));
        assert_eq!(r["reason"], "Bad special document member: _zing");
        assert_eq!(a.req("GET", "/d", None).await.1["doc_count"], 0);
        // A write that fails later (a conflict) is reported in place; the others commit.
        assert_eq!(a.req("PUT", "/d/ok1", Some(json!({}))).await.0, 201);
        let (s, r) = a.req("POST", "/d/_bulk_docs", Some(json!({"docs": [{"_id": "ok0"}, {"_id": "ok1"}, {"_id": "ok2"}]}))).await;
        assert_eq!(s, 201);
        assert_eq!(r[0]["ok"], true);
        assert_eq!(r[1]["error"], "conflict");
        assert_eq!(r[2]["ok"], true);
        assert_eq!(a.req("GET", "/d", None).await.1["doc_count"], 3);
        // Wrong methods, unknown databases.
        assert_eq!(a.req("GET", "/d/_bulk_docs", None).await.1["error"], "method_not_allowed");
        assert_eq!(a.req("GET", "/nodb/x", None).await.1["reason"], "Database does not exist.");
    });
}

#[test]
fn replication_endpoints() {
    rt().block_on(async {
        let a = app("repl");
        a.req("PUT", "/d", None).await;
        let (_, r) = a.req("POST", "/d/_bulk_docs", Some(json!({"docs": [{"_id": "a", "v": 1}, {"_id": "b", "v": 2}, {"_id": "c", "v": 3}]}))).await;
        let rev_a = r[0]["rev"].as_str().unwrap().to_owned();
        // _revs_diff: what the target lacks.
        let (_, diff) = a.req("POST", "/d/_revs_diff", Some(json!({"a": [rev_a, "2-new"], "z": ["1-q"]}))).await;
        assert_eq!(diff, json!({"a": {"missing": ["2-new"], "possible_ancestors": [rev_a]}, "z": {"missing": ["1-q"]}}));
        // _bulk_get with revs.
        let (s, got) = a.req("POST", "/d/_bulk_get?revs=true&latest=true", Some(json!({"docs": [{"id": "a", "rev": rev_a}, {"id": "nope", "rev": "1-x"}]}))).await;
        assert_eq!(s, 200);
        assert_eq!(got["results"][0]["docs"][0]["ok"]["v"], 1);
        assert_eq!(got["results"][0]["docs"][0]["ok"]["_revisions"]["start"], 1);
        assert_eq!(got["results"][1]["docs"][0]["error"]["error"], "not_found");
        // _local checkpoints: 0-N revisions, not in _changes or _all_docs.
        let (s, l) = a.req("PUT", "/d/_local/cp", Some(json!({"last_seq": 3}))).await;
        assert_eq!((s, l["rev"].as_str()), (StatusCode::CREATED, Some("0-1")));
        assert_eq!(a.req("PUT", "/d/_local/cp", Some(json!({"last_seq": 4}))).await.0, 409);
        let (_, l) = a.req("PUT", "/d/_local/cp", Some(json!({"_rev": "0-1", "last_seq": 4}))).await;
        assert_eq!(l["rev"], "0-2");
        assert_eq!(a.req("GET", "/d/_local/cp", None).await.1, json!({"_id": "_local/cp", "_rev": "0-2", "last_seq": 4}));
        // _changes: since, limit, style=all_docs, include_docs.
        let (_, ch) = a.req("GET", "/d/_changes?style=all_docs&since=0&limit=2", None).await;
        assert_eq!(ch["results"].as_array().unwrap().len(), 2);
        assert_eq!(ch["last_seq"], 2);
        assert_eq!(ch["pending"], 1);
        let (_, ch) = a.req("GET", "/d/_changes?limit=0", None).await;
        assert_eq!(ch["results"].as_array().unwrap().len(), 1, "limit=0 is limit=1, as CouchDB");
        let (_, ch) = a.req("GET", "/d/_changes?since=2&include_docs=true", None).await;
        assert_eq!(ch["results"][0]["id"], "c");
        assert_eq!(ch["results"][0]["doc"]["v"], 3);
        assert_eq!(ch["last_seq"], 3);
        // Filters: doc ids and selector; last_seq moves past unmatched changes.
        let (_, ch) = a.req("POST", "/d/_changes?filter=_doc_ids", Some(json!({"doc_ids": ["b"]}))).await;
        assert_eq!(ch["results"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect::<Vec<_>>(), vec![json!("b")]);
        assert_eq!(ch["last_seq"], 3);
        let (_, ch) = a.req("POST", "/d/_changes?filter=_selector", Some(json!({"selector": {"v": {"$gte": 2}}}))).await;
        assert_eq!(ch["results"].as_array().unwrap().len(), 2);
        // _all_docs: range, keys, include_docs; deleted docs only when asked by key.
        a.req("DELETE", &format!("/d/b?rev={}", r[1]["rev"].as_str().unwrap()), None).await;
        let (_, all) = a.req("GET", "/d/_all_docs?include_docs=true", None).await;
        assert_eq!(all["total_rows"], 2);
        assert_eq!(all["rows"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect::<Vec<_>>(), vec![json!("a"), json!("c")]);
        assert_eq!(all["rows"][0]["doc"]["v"], 1);
        let (_, all) = a.req("GET", "/d/_all_docs?startkey=%22b%22&endkey=%22c%22", None).await;
        assert_eq!(all["rows"].as_array().unwrap().len(), 1);
        assert_eq!(all["offset"], 1);
        let (_, all) = a.req("POST", "/d/_all_docs", Some(json!({"keys": ["b", "zz", "a"]}))).await;
        assert_eq!(all["rows"][0]["value"]["deleted"], true);
        assert_eq!(all["rows"][1], json!({"key": "zz", "error": "not_found"}));
        assert_eq!(all["rows"][2]["id"], "a");
        let (_, all) = a.req("GET", "/d/_all_docs?descending=true&limit=1", None).await;
        assert_eq!(all["rows"][0]["id"], "c");
    });
}

#[test]
fn attachments_once_per_digest_with_ranges() {
    rt().block_on(async {
        let a = app("atts");
        a.req("PUT", "/d", None).await;
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (s, _, body) = a.raw("PUT", "/d/doc/movie%2Fpart.bin", &[("content-type", "video/webm")], Body::from(data.clone())).await;
        assert_eq!(s, 201, "{}", String::from_utf8_lossy(&body));
        let r: Value = serde_json::from_slice(&body).unwrap();
        let rev = r["rev"].as_str().unwrap().to_owned();
        let (s, h, got) = a.raw("GET", "/d/doc/movie%2Fpart.bin", &[], Body::empty()).await;
        assert_eq!(s, 200);
        assert_eq!(got, data);
        assert_eq!(h["content-type"], "video/webm");
        assert_eq!(h["accept-ranges"], "bytes");
        let (s, h, got) = a.raw("GET", "/d/doc/movie%2Fpart.bin", &[("range", "bytes=1000-1999")], Body::empty()).await;
        assert_eq!(s, 206);
        assert_eq!(h["content-range"], "bytes 1000-1999/100000");
        assert_eq!(got, &data[1000..2000]);
        let (s, h, _) = a.raw("GET", "/d/doc/movie%2Fpart.bin", &[("range", "bytes=100000-")], Body::empty()).await;
        assert_eq!(s, 416);
        assert_eq!(h["content-range"], "bytes */100000");
        // The stub carries CouchDB's md5 digest; inline data on request.
        let (_, doc) = a.req("GET", "/d/doc", None).await;
        let stub = &doc["_attachments"]["movie/part.bin"];
        assert_eq!(stub["stub"], true);
        assert_eq!(stub["length"], 100_000);
        assert!(stub["digest"].as_str().unwrap().starts_with("md5-"));
        let (_, doc) = a.req("GET", "/d/doc?attachments=true", None).await;
        assert_eq!(doc["_attachments"]["movie/part.bin"]["data"].as_str().unwrap().len(), 133_336);
        // Updating the doc with stubs keeps the attachment; the same bytes in another doc
        // are stored once.
        let mut edited = doc.clone();
        edited["title"] = "x".into();
        edited["_attachments"]["movie/part.bin"] = stub.clone();
        let (s, _) = a.req("PUT", "/d/doc", Some(edited)).await;
        assert_eq!(s, 201);
        let (s, _) = a.req("PUT", "/d/copy", Some(json!({"_attachments": {"same": {"content_type": "video/webm", "data": doc["_attachments"]["movie/part.bin"]["data"]}}}))).await;
        assert_eq!(s, 201);
        // A second connection on the same WAL file sees every committed write.
        let blobs: i64 = rusqlite::Connection::open(a.dir.join("db.sqlite3"))
            .unwrap()
            .query_row("SELECT count(*) FROM blobs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(blobs, 1, "stored once per digest");
        // A stub naming nothing: 412 missing_stub.
        let (s, e) = a.req("PUT", "/d/new", Some(json!({"_attachments": {"f": {"stub": true}}}))).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::PRECONDITION_FAILED, Some("missing_stub")));
        // Delete the attachment from the first doc: a new revision without it.
        let (_, doc) = a.req("GET", "/d/doc", None).await;
        let (s, _) = a.req("DELETE", &format!("/d/doc/movie%2Fpart.bin?rev={}", doc["_rev"].as_str().unwrap()), None).await;
        assert_eq!(s, 200);
        assert_eq!(a.req("GET", "/d/doc/movie%2Fpart.bin", None).await.0, 404);
        let _ = rev;
    });
}

#[test]
fn longpoll_waits_for_a_commit_and_ends_when_cancelled() {
    rt().block_on(async {
        let a = app("longpoll");
        a.req("PUT", "/d", None).await;
        // A longpoll with nothing new answers its head at once and waits.
        let req =
            Request::get("app://localhost/db/d/_changes?feed=longpoll&since=now&heartbeat=50")
                .header("content-type", "application/json")
                .body(Body::empty())
                .unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(2), a.bus.handle().call(req))
            .await
            .expect("head at once");
        assert_eq!(resp.status(), 200);
        assert_eq!(a.couch.open_feeds(), 1);
        let body =
            tokio::spawn(async move { resp.into_body().collect().await.unwrap().to_bytes() });
        tokio::time::sleep(Duration::from_millis(200)).await;
        a.req("PUT", "/d/woken", Some(json!({}))).await;
        let bytes = tokio::time::timeout(Duration::from_secs(5), body)
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with('\n'), "heartbeats came first: {text:?}");
        let v: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["results"][0]["id"], "woken");
        assert_eq!(v["last_seq"], 1);

        // Dropping the response (a cancelled fetch) ends the handler.
        let req =
            Request::get("app://localhost/db/d/_changes?feed=longpoll&since=1&heartbeat=10000")
                .body(Body::empty())
                .unwrap();
        let resp = a.bus.handle().call(req).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(a.couch.open_feeds(), 1);
        drop(resp);
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while a.couch.open_feeds() != 0 {
            assert!(std::time::Instant::now() < deadline, "the feed did not end");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A timeout ends a longpoll with no results.
        let (s, v) = a
            .req("GET", "/d/_changes?feed=longpoll&since=1&timeout=100", None)
            .await;
        assert_eq!(s, 200);
        assert_eq!(v, json!({"results": [], "last_seq": 1, "pending": 0}));
    });
}

#[test]
fn continuous_and_eventsource_feeds() {
    rt().block_on(async {
        let a = app("continuous");
        a.req("PUT", "/d", None).await;
        a.req("PUT", "/d/one", Some(json!({}))).await;
        let (s, _, body) = a
            .raw(
                "GET",
                "/d/_changes?feed=continuous&timeout=300",
                &[],
                Body::empty(),
            )
            .await;
        assert_eq!(s, 200);
        let lines: Vec<Value> = String::from_utf8(body)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["id"], "one");
        assert_eq!(lines.last().unwrap()["last_seq"], 1);

        let req = Request::get("app://localhost/db/d/_changes?feed=eventsource&heartbeat=100")
            .body(Body::empty())
            .unwrap();
        let resp = a.bus.handle().call(req).await;
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut body = resp.into_body();
        let mut seen = String::new();
        let writer = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            a.req("PUT", "/d/two", Some(json!({}))).await;
        };
        let reader = async {
            while !seen.contains("\"two\"") {
                let frame = body.frame().await.unwrap().unwrap();
                if let Ok(d) = frame.into_data() {
                    seen.push_str(&String::from_utf8_lossy(&d));
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(writer, reader)
        })
        .await
        .unwrap();
        assert!(seen.starts_with("data: {"), "{seen}");
        assert!(seen.contains("id: 2\n"), "{seen}");
    });
}

#[test]
fn stemming_to_revs_limit() {
    rt().block_on(async {
        let a = app("stem");
        a.req("PUT", "/d", None).await;
        assert_eq!(a.req("PUT", "/d/_revs_limit", Some(json!(3))).await.0, 200);
        let mut rev = a.req("PUT", "/d/x", Some(json!({"i": 0}))).await.1["rev"]
            .as_str()
            .unwrap()
            .to_owned();
        for i in 1..10 {
            rev = a
                .req("PUT", "/d/x", Some(json!({"_rev": rev, "i": i})))
                .await
                .1["rev"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        let (_, doc) = a.req("GET", "/d/x?revs=true", None).await;
        assert_eq!(doc["_revisions"]["start"], 10);
        assert_eq!(doc["_revisions"]["ids"].as_array().unwrap().len(), 3);
        assert_eq!(a.couch.integrity_check().unwrap(), "ok");
    });
}

/// What PouchDB's own integration suite (`scripts/pouchdb-suite.sh`) found, each as
/// CouchDB answers it.
#[test]
fn pouchdb_suite_findings() {
    rt().block_on(async {
        let a = app("suite");
        assert_eq!(a.req("PUT", "/d", None).await.0, 201);
        // `keys` with `key` (PouchDB POSTs keys and puts key in the query): 400.
        let (s, e) = a.req("POST", "/d/_all_docs?key=%221%22", Some(json!({"keys": ["1"]}))).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("query_parse_error")));
        // The replicator's `_replication_*` fields are kept; other `_` members are refused.
        let doc = json!({"_replication_id": "x", "_replication_state": "triggered", "_replication_state_time": 1, "_replication_stats": {}});
        assert_eq!(a.req("PUT", "/d/r", Some(doc)).await.0, 201);
        assert_eq!(a.req("GET", "/d/r", None).await.1["_replication_state"], "triggered");
        // new_edits=false without `_rev` fails the request; a bare `1-` is a revision.
        let (s, _) = a.req("POST", "/d/_bulk_docs", Some(json!({"new_edits": false, "docs": [{"_id": "n"}]}))).await;
        assert_eq!(s, 400);
        let (s, r) = a.req("POST", "/d/_bulk_docs", Some(json!({"new_edits": false, "docs": [{"_id": "bare", "_rev": "1-"}]}))).await;
        assert_eq!((s, r), (StatusCode::CREATED, json!([])));
        // `_revisions` wins over `_rev` (CouchDB's transfer_fields), and comes back as
        // {"start", "ids"} in that order; numbers come back exactly.
        let doc = json!({"_id": "f", "_rev": "3-c", "_revisions": {"start": 2, "ids": ["c", "a"]}, "x": 0.21156867420223335});
        let (s, _) = a.req("POST", "/d/_bulk_docs", Some(json!({"new_edits": false, "docs": [doc]}))).await;
        assert_eq!(s, 201);
        let (_, _, body) = a.raw("GET", "/d/f?revs=true", &[], Body::empty()).await;
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains(r#""_rev":"2-c""#), "{text}");
        assert!(text.contains(r#""_revisions":{"start":2,"ids":["c","a"]}"#), "{text}");
        assert!(text.contains("0.21156867420223335"), "{text}");
        // latest=true on an old revision gives its leaf.
        let (_, r1) = a.req("PUT", "/d/l", Some(json!({"v": 1}))).await;
        let (_, r2) = a.req("PUT", "/d/l", Some(json!({"_rev": r1["rev"], "v": 2}))).await;
        let rev1 = r1["rev"].as_str().unwrap();
        let (_, got) = a.req("GET", &format!("/d/l?rev={rev1}&latest=true"), None).await;
        assert_eq!(got["_rev"], r2["rev"]);
        // open_revs naming something that is not a revision: 400.
        assert_eq!(a.req("GET", "/d/l?open_revs=%5B%22keys%22%5D", None).await.0, 400);
        // A new edit's stub must name an attachment of its parent (412), even if the bytes
        // are stored under another document.
        let att = json!({"a.txt": {"content_type": "text/plain", "data": "aGk="}});
        let (_, w) = a.req("PUT", "/d/w", Some(json!({"_attachments": att}))).await;
        let (_, s1) = a.req("PUT", "/d/s", Some(json!({}))).await;
        let digest = a.req("GET", "/d/w", None).await.1["_attachments"]["a.txt"]["digest"].clone();
        let stub = json!({"_rev": s1["rev"], "_attachments": {"a.txt": {"stub": true, "digest": digest}}});
        let (s, e) = a.req("PUT", "/d/s", Some(stub)).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::PRECONDITION_FAILED, Some("missing_stub")), "{w}");
        // Local documents: `_revisions` and `_attachments` ignored; no attachment paths.
        let local = json!({"_revisions": {"start": 0, "ids": ["1"]}, "_attachments": att, "v": 1});
        assert_eq!(a.req("PUT", "/d/_local/x", Some(local)).await.0, 201);
        assert_eq!(a.req("GET", "/d/_local/x", None).await.1, json!({"_id": "_local/x", "_rev": "0-1", "v": 1}));
        let (s, e) = a.req("GET", "/d/_local/x/a.txt", None).await;
        assert_eq!((s, e["reason"].as_str()), (StatusCode::BAD_REQUEST, Some("_local documents do not accept attachments.")));
        // Views and other design-document functions: 501; a filter or view that is not
        // there: 404, as CouchDB.
        assert_eq!(a.req("GET", "/d/_design/x/_view/y", None).await.1["error"], "not_implemented");
        assert_eq!(a.req("POST", "/d/_find", Some(json!({}))).await.0, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(a.req("GET", "/d/_changes?filter=_view&view=x/odd", None).await.0, 404);
        assert_eq!(a.req("GET", "/d/_changes?filter=_view", None).await.0, 400);
        assert_eq!(a.req("PUT", "/d/_design/x", Some(json!({"views": {}, "filters": {"f": "function(){}"}}))).await.0, 201);
        assert_eq!(a.req("GET", "/d/_changes?filter=_view&view=x/odd", None).await.1["reason"], "missing json key: odd");
        assert_eq!(a.req("GET", "/d/_changes?filter=x/f", None).await.0, 400);
    });
}
