//! The web process extension (`bridge-desktop-webext`) that bridge-desktop loads from next to
//! the running executable: built here, as an app ships it, before anything is measured.

use std::path::Path;
use std::process::{Command, Stdio};

/// Builds the extension's library into this binary's target directory (a no-op when cargo
/// finds it up to date) and checks it is where bridge-desktop looks.
pub(crate) fn build() -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("this binary's path: {e}"))?;
    let dir = exe
        .parent()
        .ok_or("this binary has no directory")?
        .to_owned();
    let library = dir.join(bridge_desktop::socket::LIBRARY);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // This binary's profile directory is `<target>/<profile>`.
    let release = dir.file_name().is_some_and(|n| n == "release");
    let mut args = vec!["build", "-p", "bridge-desktop-webext", "--manifest-path"];
    if release {
        args.insert(1, "--release");
    }
    let target = dir.parent().ok_or("no target directory")?;
    let status = Command::new(&cargo)
        .args(&args)
        .arg(&workspace)
        .env("CARGO_TARGET_DIR", target)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {cargo} to build the web process extension: {e}"))?;
    if !status.success() {
        return Err(format!(
            "building the web process extension failed ({status}); cargo's messages are above"
        ));
    }
    if !library.is_file() {
        return Err(format!(
            "the web process extension was built, but {} is missing",
            library.display()
        ));
    }
    Ok(())
}
