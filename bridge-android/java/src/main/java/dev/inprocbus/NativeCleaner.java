package dev.inprocbus;

import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.util.Collections;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Frees a native handle when the Java object that owns it ({@link FrameSession},
 * {@link BodyStream}, {@link BusHost}) becomes unreachable without having been closed.
 * {@code close()} stays the way to release a handle; this is the safety net for the one an
 * app forgets (an Activity destroyed without {@code BusWebViewClient.close()}).
 *
 * <p>This is {@code java.lang.ref.Cleaner}'s mechanism — a {@link PhantomReference} per
 * owner, one {@link ReferenceQueue}, one daemon thread running the actions — written out
 * because {@code Cleaner} is Java 9 and Android API 33, and this library is built for
 * Java 8 and API 23. As with {@code Cleaner}: the action ({@link Close}, a static
 * {@link NativeBridge} method, and the handle) never references its owner, or the owner
 * could never become unreachable; and it runs at most once, whoever runs it first
 * ({@link Cleanable#clean()} from the owner's {@code close()}, or the cleaner thread).
 *
 * <p>Each owner writes a volatile field of its own after every native call that uses its
 * handle (its {@code keepAlive()}; {@code Reference.reachabilityFence} is Java 9 / API 28):
 * a volatile write cannot be removed, so the owner stays reachable until the call
 * returned. Without it, an owner whose last use is a native call could be collected, and
 * its handle closed, while the call still runs.
 */
final class NativeCleaner {
    /** How one kind of handle is closed. Implementations reference no owner. */
    interface Close {
        void close(long handle);
    }

    private static final ReferenceQueue<Object> QUEUE = new ReferenceQueue<Object>();
    /** Cleanables not run yet: a phantom reference must be strongly reachable to be enqueued. */
    private static final Set<Cleanable> LIVE =
            Collections.newSetFromMap(new ConcurrentHashMap<Cleanable, Boolean>());
    private static final AtomicLong FAILURES = new AtomicLong();
    private static final AtomicLong CLEANED = new AtomicLong();
    private static volatile Thread thread;

    private NativeCleaner() {}

    /**
     * Closes {@code handle} with {@code close} once {@code owner} is unreachable, unless
     * {@link Cleanable#clean()} ran first.
     */
    static Cleanable register(Object owner, long handle, Close close) {
        if (owner == null || close == null) {
            throw new NullPointerException(owner == null ? "owner" : "close");
        }
        startThread();
        Cleanable c = new Cleanable(owner, handle, close);
        LIVE.add(c);
        return c;
    }

    /** Actions the cleaner thread ran that threw (printed; for tests). */
    static long failures() {
        return FAILURES.get();
    }

    /** Handles the cleaner thread closed for owners nobody closed (for tests and diagnostics). */
    static long cleaned() {
        return CLEANED.get();
    }

    private static void startThread() {
        if (thread != null) {
            return;
        }
        synchronized (NativeCleaner.class) {
            if (thread != null) {
                return;
            }
            Thread t = new Thread(new Runnable() {
                @Override
                public void run() {
                    drain();
                }
            }, "inprocbus-cleaner");
            t.setDaemon(true);
            t.start();
            thread = t;
        }
    }

    private static void drain() {
        while (true) {
            Cleanable c;
            try {
                c = (Cleanable) QUEUE.remove();
            } catch (InterruptedException e) {
                continue; // nobody but the JVM owns this thread: keep serving
            }
            try {
                if (c.clean()) {
                    CLEANED.incrementAndGet();
                }
            } catch (Throwable t) {
                FAILURES.incrementAndGet();
                System.err.println("inprocbus-cleaner: closing handle " + c.handle + " failed: " + t);
            }
        }
    }

    /**
     * One owner's handle and whether it was closed. It does not keep its owner reachable
     * (a phantom reference), so what the native side holds (a {@link FrameSession}'s
     * relay) may keep it.
     */
    static final class Cleanable extends PhantomReference<Object> {
        private final long handle;
        private final Close close;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Cleanable(Object owner, long handle, Close close) {
            super(owner, QUEUE);
            this.handle = handle;
            this.close = close;
        }

        long handle() {
            return handle;
        }

        boolean isClosed() {
            return closed.get();
        }

        /**
         * Closes the handle unless that was done already; true when this call did. An
         * exception from the close reaches the caller (the handle counts as closed).
         */
        boolean clean() {
            if (!closed.compareAndSet(false, true)) {
                return false;
            }
            LIVE.remove(this);
            clear();
            close.close(handle);
            return true;
        }
    }
}
