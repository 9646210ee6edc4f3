package dev.inprocbus;

import java.io.Closeable;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One page's (one document's) frame connection to the bus: base64 frames in from the
 * page's bridge, base64 frames out. Thread-safe. Close it when the document goes away
 * (a navigation, the WebView's destruction): that cancels every open stream.
 */
public final class FrameSession implements Closeable {
    private final long handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    FrameSession(long handle) {
        this.handle = handle;
    }

    /** The native handle (for tests and diagnostics). */
    public long handle() {
        return handle;
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
        NativeBridge.sessionReceive(handle, base64Frame);
    }

    /** Every frame waiting for the page, base64, in order; empty when none. */
    public String[] takeOutbound() {
        return NativeBridge.sessionTakeOutbound(handle);
    }

    /**
     * Every frame waiting for the page as one script for {@code evaluateJavascript} (it
     * checks the document's origin first); null when none.
     */
    public String takeScript() {
        return NativeBridge.sessionTakeScript(handle);
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed.get();
    }

    /** Cancels every open stream and refuses further frames. A second call does nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            NativeBridge.sessionClose(handle);
        }
    }

    /**
     * What the native side calls: forwards to the app's listener until the session is
     * closed (a call already on its way when {@code close()} runs may still arrive).
     */
    static final class Relay implements FrameListener {
        private final FrameListener target;
        private volatile FrameSession session;

        Relay(FrameListener target) {
            this.target = target;
        }

        void attach(FrameSession session) {
            this.session = session;
        }

        @Override
        public void framesReady() {
            FrameSession s = session;
            if (s == null || !s.isClosed()) {
                target.framesReady();
            }
        }
    }
}
