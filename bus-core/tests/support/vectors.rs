//! What the golden-vector tests share: keeping a folder of vectors equal to what the code
//! generates (`UPDATE_VECTORS=1` rewrites it).

use std::path::Path;

/// Rewrites `dir` with `files` when `UPDATE_VECTORS` is set; then checks that `dir` holds
/// exactly `files` (a `README.md` aside), byte for byte. `test` names the test target, for
/// the command the failure message gives.
pub(crate) fn check_on_disk(dir: &Path, files: Vec<(String, Vec<u8>)>, test: &str) {
    let update = format!("run UPDATE_VECTORS=1 cargo test -p bus-core --test {test}");
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} is not there ({e}): {update}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "README.md")
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    expected.sort();
    assert_eq!(on_disk, expected, "stale vectors: {update}");
    for (name, bytes) in files {
        let disk = std::fs::read(dir.join(&name)).unwrap();
        assert!(disk == bytes, "{name} is stale: {update}");
    }
}

/// One vector of a folder: its short name and description, what the index says of it
/// (`("frame", …)`, `("message", …)` for a valid one, `("error", code)` for an invalid
/// one), and its bytes.
pub(crate) type Entry = (
    &'static str,
    &'static str,
    (&'static str, serde_json::Value),
    Vec<u8>,
);

/// A folder's files as every generator writes them: `valid-NN-<name>.bin` for each of
/// `valid`, `invalid-NN-<name>.bin` for each of `invalid`, and `index.json`: `doc` (what
/// generated it, the limits) with `vectors`, an entry per file.
pub(crate) fn folder(
    valid: Vec<Entry>,
    invalid: Vec<Entry>,
    mut doc: serde_json::Value,
) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut index = Vec::new();
    for (kind, entries) in [("valid", valid), ("invalid", invalid)] {
        for (i, (name, description, (key, value), bytes)) in entries.into_iter().enumerate() {
            let file = format!("{kind}-{:02}-{name}.bin", i + 1);
            let mut entry = serde_json::json!({ "file": file, "description": description });
            entry[key] = value;
            index.push(entry);
            files.push((file, bytes));
        }
    }
    doc["vectors"] = serde_json::Value::Array(index);
    files.push((
        "index.json".into(),
        (serde_json::to_string_pretty(&doc).unwrap() + "\n").into_bytes(),
    ));
    files
}
