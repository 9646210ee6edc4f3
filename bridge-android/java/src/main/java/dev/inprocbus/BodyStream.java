package dev.inprocbus;

import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A response body pulled from its handler as it is read: a chunk is produced only after
 * the previous one was taken (the backpressure), and {@link #close()} before the end
 * cancels the handler. Reads block like any {@code InputStream}'s; never read on a bus
 * worker (inside {@link FrameListener#framesReady()}).
 *
 * <p>Always close it: an unclosed body keeps its handler and a native handle alive. A
 * {@code close()} from another thread while a read blocks takes effect when that read
 * returns (the WebView reads and closes on one thread).
 */
public final class BodyStream extends InputStream {
    private final long handle;
    private final AtomicBoolean closed = new AtomicBoolean();

    BodyStream(long handle) {
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
        if (closed.get()) {
            throw new IOException("the body stream is closed");
        }
        if (len == 0) {
            return 0;
        }
        return NativeBridge.bodyRead(handle, b, off, len);
    }

    /** Closes the body; before its end this cancels the handler. A second call does nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            NativeBridge.bodyClose(handle);
        }
    }
}
