#!/usr/bin/env bash
# Runs the JVM tests of bridge-android's JNI and Java layers: builds the Rust test app
# (`cargo build -p bridge-android --example jni_app`, a cdylib that registers a bus and
# carries the bridge's JNI exports), then `mvn test`, every test JVM with -Xcheck:jni.
# Fails when -Xcheck:jni reports anything. Idempotent; works on a fresh clone (Maven
# Central and crates.io reachable).
#   bridge-android/java/run-tests.sh [extra mvn arguments, e.g. -Dtest=SessionTest]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
command -v cargo >/dev/null || { echo "run-tests.sh: cargo is needed" >&2; exit 1; }
command -v mvn >/dev/null || { echo "run-tests.sh: mvn is needed (apt-get install maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "run-tests.sh: a JDK 17 is needed (apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }

(cd "$root" && cargo build --quiet -p bridge-android --example jni_app)
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
lib="$target/debug/examples/libjni_app.so"
[ -f "$lib" ] || { echo "run-tests.sh: $lib was not built" >&2; exit 1; }

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
(cd "$here" && mvn -B -ntp test -DskipCargo=true -Djni.library="$lib" "$@") 2>&1 | tee "$log" || status=$?
# -Xcheck:jni prints its findings on the test JVMs' output, which surefire passes through.
checks=$(grep -cE "WARNING in native method|FATAL ERROR in native method|JNI local refs: .* exceeds" "$log" || true)
echo "run-tests.sh: -Xcheck:jni reports: $checks"
if [ "$checks" != "0" ]; then
  grep -E -A3 "WARNING in native method|FATAL ERROR in native method|JNI local refs" "$log" | head -40 >&2
  status=1
fi
exit $status
