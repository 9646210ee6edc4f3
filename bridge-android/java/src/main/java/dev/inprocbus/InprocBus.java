package dev.inprocbus;

/**
 * The entry point: loads the native library (the app's own Rust cdylib, which links
 * {@code bridge-android} and so exports its JNI functions too), and opens a
 * {@link BusHost} for a bus the app's Rust code registered.
 *
 * <pre>{@code
 * InprocBus.loadLibrary("myapp");                  // libmyapp.so, built with cargo ndk
 * long bus = MyApp.startBus();                     // the app's own export: register_bus(...)
 * BusHost host = InprocBus.openHost(bus, InprocBus.DEFAULT_ORIGIN);
 * }</pre>
 */
public final class InprocBus {
    /** The native interface version this Java side was written for. */
    public static final int ABI_VERSION = 2;

    /**
     * An app origin that fails closed: {@code .invalid} never resolves (RFC 6761), so a
     * request that ever escapes interception fails instead of reaching a socket.
     */
    public static final String DEFAULT_ORIGIN = "https://app.invalid";

    private static volatile boolean loaded;

    private InprocBus() {}

    /**
     * {@code System.loadLibrary(name)}, then checks the library's interface version.
     *
     * @throws UnsatisfiedLinkError when the library is missing or of another version
     */
    public static synchronized void loadLibrary(String name) {
        System.loadLibrary(name);
        checkVersion(name);
    }

    /**
     * {@code System.load(path)} (an absolute path), then checks the interface version.
     *
     * @throws UnsatisfiedLinkError when the library is missing or of another version
     */
    public static synchronized void load(String path) {
        System.load(path);
        checkVersion(path);
    }

    private static void checkVersion(String what) {
        int version = NativeBridge.abiVersion();
        if (version != ABI_VERSION) {
            throw new UnsatisfiedLinkError(
                    what + " has native interface version " + version + ", this Java side needs " + ABI_VERSION);
        }
        loaded = true;
    }

    /** Whether a library was loaded and checked. */
    public static boolean isLoaded() {
        return loaded;
    }

    /**
     * A host serving {@code appOrigin} from the bus registered as {@code bus}. The origin
     * must be http(s) with a name that never resolves ({@link #DEFAULT_ORIGIN}); the bus
     * should have the same app origin.
     *
     * @throws IllegalArgumentException for an origin that is not an app origin
     *     ({@code localhost}, an IP address, a path, another scheme)
     * @throws IllegalStateException when {@code bus} is not a registered bus
     */
    public static BusHost openHost(long bus, String appOrigin) {
        if (appOrigin == null) {
            throw new NullPointerException("appOrigin");
        }
        long handle = NativeBridge.hostOpen(bus, appOrigin);
        try {
            return new BusHost(handle, NativeBridge.hostOrigin(handle));
        } catch (RuntimeException | Error e) {
            NativeBridge.hostClose(handle); // Java never got it: close it now
            throw e;
        }
    }

    /**
     * Releases a bus registration: a bus the app registered with {@code register_bus} is
     * shut down (requests still running end, sessions get {@code Error Shutdown} frames).
     *
     * @throws IllegalStateException when {@code bus} is not registered (any more)
     */
    public static void releaseBus(long bus) {
        NativeBridge.busRelease(bus);
    }

    /**
     * Native handles open now: buses, hosts, response bodies, sessions — to find leaks
     * (a {@link BodyStream} never closed keeps its handler running).
     */
    public static int[] openHandles() {
        return NativeBridge.openHandles();
    }
}
