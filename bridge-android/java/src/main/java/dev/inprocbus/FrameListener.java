package dev.inprocbus;

/**
 * Told when frames wait for the page: {@link FrameSession#takeOutbound()} (or
 * {@link FrameSession#takeScript()}) then returns them all, so one delivery carries
 * everything queued by then.
 *
 * <p><b>Threads.</b> {@link #framesReady()} is called from a native bus worker thread,
 * attached to the JVM as a daemon thread the first time it calls (and left attached until
 * it ends), or from the thread inside {@link FrameSession#receive(String)} or
 * {@link FrameSession#close()}. It must return quickly and must not block: post a task to
 * the thread that delivers (the UI thread on Android). It must not call
 * {@link BusHost#intercept} or read a {@link BodyStream} (they block, and a bus worker must
 * not). An exception it throws is printed and cleared.
 */
public interface FrameListener {
    /** Frames wait for the page; take them soon. */
    void framesReady();
}
