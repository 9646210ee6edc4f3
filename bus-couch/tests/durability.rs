//! Durability: a child process writing `_bulk_docs` batches through the bus is killed with
//! SIGKILL at random moments, many times. After reopening, every batch the child saw
//! acknowledged (201) is there whole, no batch is there in part, the counters agree with
//! the documents, and SQLite's `PRAGMA integrity_check` says `ok`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bus_core::{Body, Bus};
use bus_couch::Couch;
use http_body_util::BodyExt;
use serde_json::{Value, json};

const CHILD: &str = "BUS_COUCH_DURABILITY_CHILD";
const BATCH: usize = 40;
const ROUNDS: u64 = 12;

fn bus(couch: &Couch) -> Bus {
    Bus::builder()
        .app_origin("app://localhost")
        .mount_with(bus_couch::mount("/db", couch))
        .build()
}

async fn call(bus: &Bus, method: &str, path: &str, body: Value) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("app://localhost/db{path}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = bus.handle().call(req).await;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The child: writes batches `first..` forever, printing `ack N` after each 201.
fn child(path: &str, first: u64) {
    let couch = Couch::open(path).expect("the store opens");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let bus = bus(&couch);
        let _ = call(&bus, "PUT", "/d", Value::Null).await;
        let filler = "x".repeat(900);
        for batch in first.. {
            let docs: Vec<Value> = (0..BATCH)
                .map(|i| {
                    let mut d = json!({"_id": format!("b{batch:07}-{i:02}"), "batch": batch, "i": i, "filler": filler});
                    if i == 0 {
                        // Every batch carries an attachment too (bytes stored by digest).
                        let data = format!("batch {batch} attachment {}", "y".repeat(2000));
                        d["_attachments"] = json!({"a.txt": {"content_type": "text/plain", "data": base64(data.as_bytes())}});
                    }
                    d
                })
                .collect();
            let (status, _) = call(&bus, "POST", "/d/_bulk_docs", json!({"docs": docs})).await;
            if status == 201 {
                println!("ack {batch}");
            } else {
                println!("refused {batch} {status}");
            }
        }
    });
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(spec) = std::env::var(CHILD) {
        let (path, first) = spec.rsplit_once('|').unwrap();
        child(path, first.parse().unwrap());
        return;
    }
    let dir = std::env::temp_dir().join(format!("bus-couch-durability-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("couch.sqlite3");
    let mut acked: Vec<u64> = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let started = Instant::now();
    for round in 0..ROUNDS {
        let first = round * 1_000_000;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "acknowledged_writes_survive_sigkill",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, format!("{}|{first}", path.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    got.push(n.trim().parse::<u64>().unwrap());
                }
            }
            got
        });
        // Kill at a pseudo-random moment: 150–900 ms in (opening, the first batches, or
        // anywhere in the middle of a write).
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(150 + seed % 750));
        child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on Unix
        let status = child.wait().unwrap();
        assert!(!status.success(), "the child was killed");
        let got = reader.join().unwrap();
        println!(
            "round {round}: {} batches acknowledged before SIGKILL",
            got.len()
        );
        acked.extend(got);
    }
    assert!(
        acked.len() >= ROUNDS as usize,
        "the children wrote something: {acked:?}"
    );

    let couch = Couch::open(&path).expect("reopens after the kills");
    assert_eq!(couch.integrity_check().unwrap(), "ok");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let bus = bus(&couch);
        let (s, all) = call(&bus, "GET", "/d/_all_docs?include_docs=true", Value::Null).await;
        assert_eq!(s, 200);
        let rows = all["rows"].as_array().unwrap();
        let mut per_batch: std::collections::BTreeMap<u64, usize> = Default::default();
        for row in rows {
            let doc = &row["doc"];
            let batch = doc["batch"].as_u64().unwrap();
            assert_eq!(doc["filler"].as_str().map(str::len), Some(900), "{row}");
            *per_batch.entry(batch).or_default() += 1;
        }
        // Nothing half-written: every batch present is whole.
        for (batch, n) in &per_batch {
            assert_eq!(*n, BATCH, "batch {batch} is partly there");
        }
        // Every acknowledged batch is there, with its attachment.
        for batch in &acked {
            assert!(per_batch.contains_key(batch), "acknowledged batch {batch} is missing");
        }
        for batch in acked.iter().step_by(7) {
            let req = http::Request::get(format!("app://localhost/db/d/b{batch:07}-00/a.txt")).body(Body::empty()).unwrap();
            let resp = bus.handle().call(req).await;
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert!(body.starts_with(format!("batch {batch} ").as_bytes()));
        }
        let (_, info) = call(&bus, "GET", "/d", Value::Null).await;
        assert_eq!(info["doc_count"].as_u64(), Some(rows.len() as u64), "{info}");
        assert_eq!(all["total_rows"].as_u64(), Some(rows.len() as u64));
        let (_, changes) = call(&bus, "GET", "/d/_changes", Value::Null).await;
        assert_eq!(changes["results"].as_array().unwrap().len(), rows.len());
        assert_eq!(changes["last_seq"], info["update_seq"]);
        println!(
            "{} kills, {} acknowledged batches ({} documents) all present, {} batches on disk, integrity ok, {:.1?}",
            ROUNDS,
            acked.len(),
            acked.len() * BATCH,
            per_batch.len(),
            started.elapsed()
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}
