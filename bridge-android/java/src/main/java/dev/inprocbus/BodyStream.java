package dev.inprocbus;

import java.io.IOException;
import java.io.InputStream;

/**
 * A response body pulled from its handler as it is read: a chunk is produced only after
 * the previous one was taken (the backpressure), and {@link #close()} before the end
 * cancels the handler. Reads block like any {@code InputStream}'s; never read on a bus
 * worker (inside {@link FrameListener#framesReady()}).
 *
 * <p>Always close it: an unclosed body keeps its handler and a native handle alive until
 * the stream is unreachable and collected (then it is closed on a cleaner thread,
 * {@link NativeCleaner}), which may be much later. A {@code close()} from another thread
 * while a read blocks takes effect when that read returns (the WebView reads and closes
 * on one thread).
 */
public final class BodyStream extends InputStream {
    private static final NativeCleaner.Close CLOSE = new NativeCleaner.Close() {
        @Override
        public void close(long handle) {
            NativeBridge.bodyClose(handle);
        }
    };

    private final NativeCleaner.Cleanable cleanable;
    private final long handle;
    /** Written after each native call: see {@link #keepAlive()}. */
    private volatile int fence;

    BodyStream(long handle) {
        this.cleanable = NativeCleaner.register(this, handle, CLOSE);
        this.handle = handle;
    }

    /** The native handle (for tests and diagnostics). */
    public long handle() {
        return handle;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (b == null) {
            throw new NullPointerException("b");
        }
        if (off < 0 || len < 0 || len > b.length - off) {
            throw new IndexOutOfBoundsException("off " + off + ", len " + len + " for " + b.length + " bytes");
        }
        if (cleanable.isClosed()) {
            throw new IOException("the body stream is closed");
        }
        if (len == 0) {
            return 0;
        }
        try {
            return NativeBridge.bodyRead(handle, b, off, len);
        } finally {
            keepAlive();
        }
    }

    /** Closes the body; before its end this cancels the handler. A second call does nothing. */
    @Override
    public void close() {
        try {
            cleanable.clean();
        } finally {
            keepAlive();
        }
    }

    /**
     * Keeps this stream reachable until the native call before it returned (a volatile
     * write is never removed), so the cleaner cannot close the handle under a running read.
     */
    private void keepAlive() {
        fence = 0;
    }
}
