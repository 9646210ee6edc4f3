package dev.inprocbus;

import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.fail;

import dev.inprocbus.testapp.TestApp;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.Callable;

/** What every JVM test shares: the library, a bus and a host, the test pattern. */
public final class Fixture implements AutoCloseable {
    public static final String ORIGIN = "https://app.invalid";

    public final long bus;
    public final BusHost host;

    private Fixture() {
        bus = TestApp.startBus();
        host = InprocBus.openHost(bus, ORIGIN);
    }

    /** Loads the library (once per class loader) and starts a bus. */
    public static Fixture start() {
        load();
        return new Fixture();
    }

    /** Loads the debug build of the Rust test app named by {@code -Dinprocbus.library}. */
    public static synchronized void load() {
        if (InprocBus.isLoaded()) {
            return;
        }
        String path = System.getProperty("inprocbus.library");
        assertNotNull("run with -Dinprocbus.library=.../libjni_app.so (run-tests.sh does)", path);
        File lib = new File(path);
        if (!lib.isFile()) {
            fail(lib + " is missing: build it with cargo build -p bridge-android --example jni_app");
        }
        InprocBus.load(lib.getAbsolutePath());
    }

    @Override
    public void close() {
        host.close();
        InprocBus.releaseBus(bus);
    }

    public static String url(String path) {
        return ORIGIN + path;
    }

    /** Byte k of the test pattern is k % 251 (as testkit's /conf/bytes makes it). */
    public static byte patternByte(long k) {
        return (byte) (k % 251);
    }

    public static byte[] pattern(int n) {
        byte[] out = new byte[n];
        for (int k = 0; k < n; k++) {
            out[k] = patternByte(k);
        }
        return out;
    }

    public static String patternSha256(long n) {
        MessageDigest d = sha256();
        byte[] buf = new byte[64 * 1024];
        for (long done = 0; done < n; ) {
            int len = (int) Math.min(buf.length, n - done);
            for (int i = 0; i < len; i++) {
                buf[i] = patternByte(done + i);
            }
            d.update(buf, 0, len);
            done += len;
        }
        return hex(d.digest());
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    public static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) {
            s.append(String.format("%02x", b & 0xff));
        }
        return s.toString();
    }

    public static byte[] readAll(InputStream in) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        for (int n; (n = in.read(buf)) >= 0; ) {
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    public static String text(InterceptedResponse r) throws IOException {
        try (BodyStream body = r.getData()) {
            return new String(readAll(body), "UTF-8");
        }
    }

    /** Polls {@code condition} until it holds, for at most 20 s. */
    public static void waitFor(String what, Callable<Boolean> condition) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!condition.call()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(5);
        }
    }
}
