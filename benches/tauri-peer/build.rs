//! Tauri's build step: reads `tauri.conf.json`, embeds `dist/` and the icon, and generates
//! the ACL the app's commands are checked against.
fn main() {
    tauri_build::build();
}
