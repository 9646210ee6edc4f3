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
