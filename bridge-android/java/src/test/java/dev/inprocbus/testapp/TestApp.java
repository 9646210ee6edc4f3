package dev.inprocbus.testapp;

/**
 * The exports of the Rust test app ({@code bridge-android/examples/jni_app.rs}): what an
 * app's own Rust crate exports ({@link #startBus()}) plus test-only hooks.
 */
public final class TestApp {
    private TestApp() {}

    /** A new bus with the test routes, registered; its handle. */
    public static native long startBus();

    /**
     * {@code "cancelled"}: dropped {@code /conf/hang} handlers; {@code "abandoned"}:
     * {@code /conf/bytes} producers whose reader went away (over every bus started).
     */
    public static native long counter(String name);

    /** Panics inside a JNI export (it must become a BusException). */
    public static native void panicNow();
}
