package dev.inprocbus;

import java.io.Closeable;
import java.lang.ref.WeakReference;

/**
 * One page's (one document's) frame connection to the bus: base64 frames in from the
 * page's bridge, base64 frames out. Thread-safe. Close it when the document goes away
 * (a navigation, the WebView's destruction): that cancels every open stream.
 *
 * <p>A session the app forgets to close does not keep its listener (nor the WebView and
 * Activity a listener usually reaches) alive: the native side holds only a relay that
 * reaches the listener through a {@link WeakReference}, and this object holds the
 * listener. Once this session is unreachable, the listener can be collected with it, and
 * the session is closed as by {@link #close()} (cancelling its streams) on a cleaner
 * thread ({@link NativeCleaner}). Rely on that for leaks only: until the collector runs,
 * the page's streams and handlers stay open.
 */
public final class FrameSession implements Closeable {
    private static final NativeCleaner.Close CLOSE = new NativeCleaner.Close() {
        @Override
        public void close(long handle) {
            NativeBridge.sessionClose(handle);
        }
    };

    private final NativeCleaner.Cleanable cleanable;
    /**
     * The app's listener, held here (strongly) so it lives exactly as long as this session
     * is reachable; the native side reaches it only weakly, through {@link Relay}.
     */
    private final FrameListener listener;
    /** Written after each native call: see {@link #keepAlive()}. */
    private volatile int fence;

    FrameSession(long handle, FrameListener listener) {
        this.cleanable = NativeCleaner.register(this, handle, CLOSE);
        this.listener = listener;
    }

    /** The native handle (for tests and diagnostics). */
    public long handle() {
        return cleanable.handle();
    }

    /**
     * One frame from the page, base64. Never blocks.
     *
     * @throws IllegalArgumentException when it is not base64 (the page got an
     *     {@code Error} frame for it)
     * @throws BusException when the session refused the frame (the page was told too;
     *     other streams go on)
     * @throws IllegalStateException when the session is closed
     */
    public void receive(String base64Frame) {
        if (base64Frame == null) {
            throw new NullPointerException("base64Frame");
        }
        try {
            NativeBridge.sessionReceive(cleanable.handle(), base64Frame);
        } finally {
            keepAlive();
        }
    }

    /** Every frame waiting for the page, base64, in order; empty when none. */
    public String[] takeOutbound() {
        try {
            return NativeBridge.sessionTakeOutbound(cleanable.handle());
        } finally {
            keepAlive();
        }
    }

    /**
     * Every frame waiting for the page as one script for {@code evaluateJavascript} (it
     * checks the document's origin first); null when none.
     */
    public String takeScript() {
        try {
            return NativeBridge.sessionTakeScript(cleanable.handle());
        } finally {
            keepAlive();
        }
    }

    /** Whether the session was closed ({@link #close()}). */
    public boolean isClosed() {
        return cleanable.isClosed();
    }

    /** Cancels every open stream and refuses further frames. A second call does nothing. */
    @Override
    public void close() {
        try {
            cleanable.clean();
        } finally {
            keepAlive();
        }
    }

    /**
     * Keeps this session reachable until the native call before it returned (a volatile
     * write is never removed), so the cleaner cannot close the handle under a running call.
     */
    private void keepAlive() {
        fence = 0;
    }

    /**
     * What the native side holds and calls (a JNI global reference): forwards to the app's
     * listener while the session is open and the listener alive. It reaches neither the
     * session nor the listener strongly, so it pins nothing of the app's (a call already on
     * its way when {@code close()} runs may still arrive).
     */
    static final class Relay implements FrameListener {
        private final WeakReference<FrameListener> target;
        private volatile NativeCleaner.Cleanable session;

        Relay(FrameListener target) {
            this.target = new WeakReference<FrameListener>(target);
        }

        void attach(FrameSession session) {
            this.session = session.cleanable;
        }

        @Override
        public void framesReady() {
            NativeCleaner.Cleanable s = session;
            if (s != null && s.isClosed()) {
                return;
            }
            FrameListener l = target.get();
            if (l != null) {
                l.framesReady();
            }
        }
    }
}
