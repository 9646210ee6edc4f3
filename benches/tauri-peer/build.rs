//! Tauri's build step: reads `tauri.conf.json`, embeds the page (`dist/index.html` and the
//! bus benchmark's own `bench.js`, which both pages load, so they cannot drift) and the
//! icon, and generates the ACL the app's commands are checked against.
fn main() {
    // The page's files are listed in `frontendDist`, not a directory tauri-build watches.
    println!("cargo:rerun-if-changed=dist/index.html");
    println!("cargo:rerun-if-changed=../src/webview/bench.js");
    // The peer has no capability files (its commands need none: its page is local and it
    // defines no ACL manifest). By default tauri-build watches `capabilities/`, and a
    // watched path that does not exist is dirty on every build: the peer would be
    // recompiled on every `webview --tauri` run. A pattern instead of the directory
    // watches nothing.
    let attributes =
        tauri_build::Attributes::new().capabilities_path_pattern("./capabilities/**/*");
    if let Err(e) = tauri_build::try_build(attributes) {
        panic!("tauri-build: {e:#}");
    }
}
