package dev.inprocbus;

/**
 * A failure of the bus itself rather than of an argument: the bus is shut down, the
 * session refused a frame (the page was told with an {@code Error} frame too), a JNI call
 * failed, or a panic was caught in the native library (a bug there; it never crosses into
 * the JVM).
 */
public class BusException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what failed */
    public BusException(String message) {
        super(message);
    }
}
