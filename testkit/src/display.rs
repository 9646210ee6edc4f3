//! An X display for WebView tests: the one in `DISPLAY`, or this same program re-run
//! under `xvfb-run` (a private Xvfb without TCP) when there is none.

use std::process::Command;

/// Returns when `DISPLAY` is set. Otherwise re-runs the current program, with the same
/// arguments, under `xvfb-run -a -s "-nolisten tcp -screen 0 1280x800x24"` and exits with
/// its status — so the caller's code after this line always has a display.
///
/// # Errors
/// A message naming what is missing when there is no display and `xvfb-run` cannot run.
pub fn ensure() -> Result<(), String> {
    if std::env::var_os("DISPLAY").is_some_and(|d| !d.is_empty()) {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let status = Command::new("xvfb-run")
        .args(["-a", "-s", "-nolisten tcp -screen 0 1280x800x24"])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .status()
        .map_err(|e| {
            format!("no DISPLAY, and xvfb-run could not start ({e}): install xvfb and xauth, or set DISPLAY")
        })?;
    std::process::exit(status.code().unwrap_or(1));
}
