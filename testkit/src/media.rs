//! Test media made on the spot (nothing binary is committed).

use std::path::Path;
use std::process::Command;

/// Writes a 30 s, 640×360, 30 fps VP8 WebM to `path` with GStreamer, unless it exists.
/// `pattern` is a `videotestsrc` pattern: `ball` compresses to a few hundred KiB, `snow`
/// to several MiB (more Range pieces to fetch).
///
/// # Errors
/// A message naming the packages to install when `gst-launch-1.0` is missing or fails.
pub fn webm(path: &Path, pattern: &str) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    let status = Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "num-buffers=900"])
        .arg(format!("pattern={pattern}"))
        .args(["!", "video/x-raw,width=640,height=360,framerate=30/1", "!"])
        .args(["vp8enc", "deadline=1", "keyframe-max-dist=30", "target-bitrate=2000000", "!"])
        .args(["webmmux", "!", "filesink"])
        .arg(format!("location={}", path.display()))
        .status()
        .map_err(|e| format!("gst-launch-1.0 did not run ({e}): apt-get install gstreamer1.0-tools gstreamer1.0-plugins-good"))?;
    if status.success() {
        Ok(())
    } else {
        let _ = std::fs::remove_file(path);
        Err(format!(
            "gst-launch-1.0 failed ({status}) making {}",
            path.display()
        ))
    }
}
