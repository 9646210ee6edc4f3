package dev.inprocbus;

import java.io.Closeable;
import java.util.Map;

/**
 * The Android host over one bus: answers {@code shouldInterceptRequest} and opens frame
 * sessions for the app's pages. Thread-safe: call it from WebView threads, the UI thread
 * and your own at once. Closing it leaves the bodies and sessions it opened working. A
 * host the app forgets to close is closed once it is unreachable ({@link NativeCleaner}).
 */
public final class BusHost implements Closeable {
    private static final NativeCleaner.Close CLOSE = new NativeCleaner.Close() {
        @Override
        public void close(long handle) {
            NativeBridge.hostClose(handle);
        }
    };

    private final NativeCleaner.Cleanable cleanable;
    private final long handle;
    private final String origin;
    /** Written after each native call: see {@link #keepAlive()}. */
    private volatile int fence;

    BusHost(long handle, String origin) {
        this.cleanable = NativeCleaner.register(this, handle, CLOSE);
        this.handle = handle;
        this.origin = origin;
    }

    /** The app origin, {@code scheme://host[:port]}, canonical. */
    public String origin() {
        return origin;
    }

    /** The native handle (for tests and diagnostics). */
    public long handle() {
        return handle;
    }

    /**
     * What {@code shouldInterceptRequest} should answer, given what the platform reports
     * about the request ({@code WebResourceRequest}: method, URL, headers,
     * {@code isForMainFrame()}). Blocks until the response head; the body is then pulled
     * through {@link InterceptedResponse#getData()}, which must be closed.
     *
     * @return null when {@code url} is not of the app origin (the WebView loads it itself)
     * @throws IllegalStateException when this host is closed
     */
    public InterceptedResponse intercept(String method, String url, Map<String, String> headers, boolean isMainFrame) {
        if (method == null) {
            throw new NullPointerException("method");
        }
        if (url == null) {
            throw new NullPointerException("url");
        }
        try {
            return NativeBridge.intercept(handle, method, url, flatten(headers), isMainFrame);
        } finally {
            keepAlive();
        }
    }

    /**
     * Opens a frame session for a page, given what the platform reports about it: its
     * origin and whether it is the main frame. Only the app origin's main frame gets one.
     *
     * @param listener told when frames wait for the page (from a native thread: see
     *     {@link FrameListener}); null to poll {@link FrameSession#takeOutbound()}. The
     *     session keeps it; the native side reaches it only weakly, so an unreachable
     *     session never pins the listener (nor the WebView it reaches).
     * @throws SecurityException for another origin or a subframe
     * @throws BusException when the bus is shut down
     */
    public FrameSession openSession(String pageOrigin, boolean isMainFrame, FrameListener listener) {
        if (pageOrigin == null) {
            throw new NullPointerException("pageOrigin");
        }
        FrameSession.Relay relay = listener == null ? null : new FrameSession.Relay(listener);
        long session;
        try {
            session = NativeBridge.sessionOpen(handle, pageOrigin, isMainFrame, relay);
        } finally {
            keepAlive();
        }
        FrameSession opened;
        try {
            opened = new FrameSession(session, listener);
        } catch (RuntimeException | Error e) {
            NativeBridge.sessionClose(session); // Java never got it: close it now
            throw e;
        }
        if (relay != null) {
            relay.attach(opened);
        }
        return opened;
    }

    /**
     * Lets the WebView show pages of {@code origin} ({@code scheme://host[:port]}, http or
     * https) besides the app's, in the top frame and in iframes. Such pages stay foreign:
     * the page script stands down there, no frame session opens for them, and their
     * requests to the app origin reach only public mounts. Allow only origins the app
     * means to show.
     *
     * @return this host
     * @throws IllegalArgumentException for what is not an http(s) origin
     */
    public BusHost allowNavigationTo(String origin) {
        if (origin == null) {
            throw new NullPointerException("origin");
        }
        try {
            NativeBridge.hostAllowNavigationTo(handle, origin);
        } finally {
            keepAlive();
        }
        return this;
    }

    /**
     * The navigation policy, for {@code WebViewClient.shouldOverrideUrlLoading} (which
     * should return {@code !allowsNavigation(url)}, for the main frame and subframes
     * alike): the app origin, {@code about:blank}, {@code about:srcdoc}, and origins
     * allowed with {@link #allowNavigationTo}. Everything else is refused: other origins,
     * {@code data:}, {@code blob:}, {@code javascript:}, {@code file:}, {@code intent:}.
     */
    public boolean allowsNavigation(String url) {
        if (url == null) {
            return false;
        }
        try {
            return NativeBridge.hostAllowsNavigation(handle, url);
        } finally {
            keepAlive();
        }
    }

    /**
     * The main-frame script (the bridge-js bundle and its install) over a
     * {@code WebMessagePort} the host posts: evaluate it at page start; it returns (as
     * JSON) {@code "waiting"} when it wants its port.
     */
    public String pageScript() {
        try {
            return NativeBridge.hostPageScript(handle, null, null);
        } finally {
            keepAlive();
        }
    }

    /**
     * The main-frame script over an {@code addJavascriptInterface} object named
     * {@code interfaceName}, for the document whose token is {@code token} (32 lower-case
     * hex digits, new for each document).
     *
     * @throws IllegalArgumentException for a name that is not a JS identifier or a
     *     malformed token
     */
    public String pageScript(String interfaceName, String token) {
        if (interfaceName == null) {
            throw new NullPointerException("interfaceName");
        }
        if (token == null) {
            throw new NullPointerException("token");
        }
        try {
            return NativeBridge.hostPageScript(handle, interfaceName, token);
        } finally {
            keepAlive();
        }
    }

    /** Closes the host; a second call does nothing. */
    @Override
    public void close() {
        try {
            cleanable.clean();
        } finally {
            keepAlive();
        }
    }

    /**
     * Keeps this host reachable until the native call before it returned (a volatile write
     * is never removed), so the cleaner cannot close the handle under a running call.
     */
    private void keepAlive() {
        fence = 0;
    }

    static String[] flatten(Map<String, String> headers) {
        if (headers == null) {
            return new String[0];
        }
        String[] out = new String[headers.size() * 2];
        int i = 0;
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (i >= out.length) {
                break; // the map grew meanwhile
            }
            out[i++] = e.getKey();
            out[i++] = e.getValue();
        }
        if (i < out.length) {
            String[] shorter = new String[i];
            System.arraycopy(out, 0, shorter, 0, i);
            return shorter;
        }
        return out;
    }
}
