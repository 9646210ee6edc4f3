package dev.inprocbus;

/**
 * The native methods, exported by {@code bridge-android/src/jni.rs} (every one of them;
 * each name and signature there quotes its declaration here). Handles are {@code long}s:
 * 0 is never issued, and a closed, forged or wrong-kind handle is refused with an
 * {@link IllegalStateException}. Callers outside this package use the wrappers
 * ({@link InprocBus}, {@link BusHost}, {@link BodyStream}, {@link FrameSession}).
 */
final class NativeBridge {
    private NativeBridge() {}

    static native int abiVersion();

    static native void busRelease(long bus);

    static native long hostOpen(long bus, String appOrigin);

    static native void hostClose(long host);

    static native String hostOrigin(long host);

    static native void hostAllowNavigationTo(long host, String origin);

    static native boolean hostAllowsNavigation(long host, String url);

    static native String hostPageScript(long host, String interfaceName, String token);

    static native InterceptedResponse intercept(
            long host, String method, String url, String[] headerNamesAndValues, boolean isMainFrame);

    static native int bodyRead(long body, byte[] buf, int off, int len);

    static native void bodyClose(long body);

    static native long sessionOpen(long host, String pageOrigin, boolean isMainFrame, FrameListener listener);

    static native void sessionReceive(long session, String frame);

    static native String[] sessionTakeOutbound(long session);

    static native String sessionTakeScript(long session);

    static native void sessionClose(long session);

    static native int[] openHandles();
}
