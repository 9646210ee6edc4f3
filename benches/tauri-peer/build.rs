//! Tauri's build step: reads `tauri.conf.json`, embeds the page (`dist/index.html` and the
//! bus benchmark's own `bench.js`, which both pages load, so they cannot drift) and the
//! icon, and generates the ACL the app's commands are checked against.
fn main() {
    // The page's files are listed in `frontendDist`, not a directory tauri-build watches.
    println!("cargo:rerun-if-changed=dist/index.html");
    println!("cargo:rerun-if-changed=../src/webview/bench.js");
    tauri_build::build();
}
