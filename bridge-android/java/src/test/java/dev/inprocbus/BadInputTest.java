package dev.inprocbus;

import static dev.inprocbus.Fixture.url;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import dev.inprocbus.testapp.TestApp;
import java.io.IOException;
import java.util.Arrays;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * Bad input at the boundary, straight into the native methods (bypassing the wrappers'
 * own checks): every case is an exception naming the problem, never a crash, and the
 * library goes on serving. The JVM runs with -Xcheck:jni.
 */
public class BadInputTest {
    private Fixture app;
    private int[] baseline;

    @Before
    public void start() {
        app = Fixture.start();
        baseline = InprocBus.openHandles();
    }

    @After
    public void stop() {
        assertArrayEquals("no handle leaked", baseline, InprocBus.openHandles());
        app.close();
    }

    interface Call {
        void run() throws Exception;
    }

    static <T extends Throwable> T expect(Class<T> type, String fragment, Call call) {
        try {
            call.run();
        } catch (Throwable t) {
            if (!type.isInstance(t)) {
                throw new AssertionError("expected " + type.getName() + ", got " + t, t);
            }
            String message = String.valueOf(t.getMessage());
            assertTrue("\"" + message + "\" should contain \"" + fragment + "\"", message.contains(fragment));
            return type.cast(t);
        }
        fail("no " + type.getSimpleName() + " (" + fragment + ")");
        return null;
    }

    @Test
    public void theseTestsRunUnderXcheckJni() {
        assertTrue(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-Xcheck:jni"));
    }

    @Test
    public void nullsAreNullPointerExceptions() {
        final long host = app.host.handle();
        expect(NullPointerException.class, "origin is null", () -> NativeBridge.hostOpen(app.bus, null));
        expect(NullPointerException.class, "method is null",
                () -> NativeBridge.intercept(host, null, url("/conf/text"), new String[0], false));
        expect(NullPointerException.class, "url is null",
                () -> NativeBridge.intercept(host, "GET", null, new String[0], false));
        expect(NullPointerException.class, "headerNamesAndValues is null",
                () -> NativeBridge.intercept(host, "GET", url("/conf/text"), null, false));
        expect(NullPointerException.class, "a header value is null",
                () -> NativeBridge.intercept(host, "GET", url("/conf/text"), new String[] {"accept", null}, false));
        expect(NullPointerException.class, "pageOrigin is null",
                () -> NativeBridge.sessionOpen(host, null, true, null));
        final FrameSession session = app.host.openSession(Fixture.ORIGIN, true, null);
        try {
            expect(NullPointerException.class, "frame is null",
                    () -> NativeBridge.sessionReceive(session.handle(), null));
        } finally {
            session.close();
        }
        InterceptedResponse r = app.host.intercept("GET", url("/conf/text"), null, false);
        final long body = r.getData().handle();
        expect(NullPointerException.class, "buf is null", () -> NativeBridge.bodyRead(body, null, 0, 1));
        r.getData().close();
        expect(NullPointerException.class, "name is null", () -> TestApp.counter(null));
    }

    @Test
    public void closedAndGarbageHandlesAreIllegalState() throws Exception {
        final long[] garbage = {0, -1, Long.MIN_VALUE, Long.MAX_VALUE, 123456789L};
        for (final long h : garbage) {
            expect(IllegalStateException.class, "host handle " + h + " is not open",
                    () -> NativeBridge.intercept(h, "GET", url("/"), new String[0], false));
            expect(IllegalStateException.class, "body handle " + h,
                    () -> NativeBridge.bodyRead(h, new byte[1], 0, 1));
            expect(IllegalStateException.class, "body handle " + h, () -> NativeBridge.bodyClose(h));
            expect(IllegalStateException.class, "session handle " + h,
                    () -> NativeBridge.sessionReceive(h, "AQ=="));
            expect(IllegalStateException.class, "session handle " + h, () -> NativeBridge.sessionTakeOutbound(h));
            expect(IllegalStateException.class, "session handle " + h, () -> NativeBridge.sessionClose(h));
            expect(IllegalStateException.class, "bus handle " + h, () -> NativeBridge.hostOpen(h, Fixture.ORIGIN));
            expect(IllegalStateException.class, "bus handle " + h, () -> NativeBridge.busRelease(h));
            expect(IllegalStateException.class, "host handle " + h, () -> NativeBridge.hostClose(h));
        }
        // A handle of another kind is not open in this registry.
        final long hostHandle = app.host.handle();
        expect(IllegalStateException.class, "body handle " + hostHandle,
                () -> NativeBridge.bodyRead(hostHandle, new byte[1], 0, 1));
        expect(IllegalStateException.class, "session handle " + hostHandle,
                () -> NativeBridge.sessionClose(hostHandle));

        // Closed ones: a body, a session, a host.
        final InterceptedResponse r = app.host.intercept("GET", url("/conf/text"), null, false);
        final long body = r.getData().handle();
        NativeBridge.bodyClose(body);
        expect(IllegalStateException.class, "body handle " + body + " is not open",
                () -> NativeBridge.bodyRead(body, new byte[8], 0, 8));
        expect(IllegalStateException.class, "body handle " + body, () -> NativeBridge.bodyClose(body));
        // The wrapper's own close then is refused too: it was closed behind its back.
        expect(IllegalStateException.class, "body handle " + body, () -> r.getData().close());
        final FrameSession session = app.host.openSession(Fixture.ORIGIN, true, null);
        session.close();
        session.close(); // the wrapper's second close does nothing
        expect(IllegalStateException.class, "session handle " + session.handle(),
                () -> session.receive(Frame.simple(Frame.CANCEL, 1).base64()));
        expect(IllegalStateException.class, "session handle", () -> session.takeOutbound());
        final BusHost other = InprocBus.openHost(app.bus, Fixture.ORIGIN);
        other.close();
        expect(IllegalStateException.class, "host handle " + other.handle(),
                () -> other.intercept("GET", url("/conf/text"), null, false));
        expect(IllegalStateException.class, "host handle", () -> other.openSession(Fixture.ORIGIN, true, null));
        expect(IllegalStateException.class, "host handle", () -> other.pageScript());
    }

    @Test
    public void offsetsLengthsAndSizesAreChecked() throws Exception {
        // The app's own request (its Referer says so): an anonymous one would get a 403.
        InterceptedResponse r = app.host.intercept(
                "GET", url("/conf/text"), java.util.Collections.singletonMap("Referer", url("/index.html")), false);
        final long body = r.getData().handle();
        try {
            final byte[] buf = new byte[16];
            for (final int[] bad : new int[][] {{-1, 1}, {0, -1}, {0, 17}, {10, 7}, {Integer.MAX_VALUE, 1}, {1, Integer.MAX_VALUE}}) {
                expect(IndexOutOfBoundsException.class, "off " + bad[0] + ", len " + bad[1],
                        () -> NativeBridge.bodyRead(body, buf, bad[0], bad[1]));
            }
            assertEquals(0, NativeBridge.bodyRead(body, buf, 16, 0));
            // A huge buffer is fine: a read copies at most what there is.
            byte[] huge = new byte[8 << 20];
            assertEquals(5, NativeBridge.bodyRead(body, huge, 1, huge.length - 1));
            assertEquals("hello", new String(huge, 1, 5, "UTF-8"));
            assertEquals(-1, NativeBridge.bodyRead(body, huge, 0, huge.length));
        } finally {
            r.getData().close();
        }

        final long host = app.host.handle();
        expect(IllegalArgumentException.class, "names and values come in pairs",
                () -> NativeBridge.intercept(host, "GET", url("/conf/text"), new String[] {"accept"}, false));
        final String[] many = new String[4098];
        Arrays.fill(many, "x");
        expect(IllegalArgumentException.class, "2049 headers, over the limit of 1024",
                () -> NativeBridge.intercept(host, "GET", url("/conf/text"), many, false));
        final String longUrl = url("/conf/text?") + repeat('a', (1 << 20) + 1);
        expect(IllegalArgumentException.class, "url is " + longUrl.length() + " characters, over the",
                () -> NativeBridge.intercept(host, "GET", longUrl, new String[0], false));
        // Malformed HTTP is an HTTP answer, as from the engine (the bus names it).
        InterceptedResponse bad = NativeBridge.intercept(host, "GET", url("/conf/text"), new String[] {"bad name", "x"}, false);
        assertEquals(400, bad.getStatusCode());
        assertTrue(Fixture.text(bad).contains("invalid request header name"));
        InterceptedResponse nul = NativeBridge.intercept(host, "GET", url("/conf/text"), new String[] {"x-nul", "a\u0000b"}, false);
        assertEquals(400, nul.getStatusCode());
        Fixture.text(nul);
        InterceptedResponse method = NativeBridge.intercept(host, "G E T", url("/conf/text"), new String[0], false);
        assertEquals(400, method.getStatusCode());
        Fixture.text(method);
    }

    @Test
    public void malformedFramesAreRefusedAndTheSessionGoesOn() throws Exception {
        final FrameSession session = app.host.openSession(Fixture.ORIGIN, true, null);
        try {
            expect(IllegalArgumentException.class, "not base64", () -> session.receive("not base64!"));
            // The page was told too: an Error frame on stream 0.
            Frame told = Frame.decodeBase64(session.takeOutbound()[0]);
            assertEquals(Frame.ERROR, told.type);
            assertEquals(0, told.stream);
            expect(BusException.class, "", () -> session.receive("AgAAAAA=")); // version 2
            expect(BusException.class, "", () -> session.receive("")); // empty
            final String huge = repeat('A', 1_485_488);
            expect(IllegalArgumentException.class, "frame is 1485488 characters", () -> session.receive(huge));
            // Wrong direction: a ResponseEnd from the page.
            expect(BusException.class, "", () -> session.receive(Frame.simple(Frame.RESPONSE_END, 1).base64()));
            session.takeOutbound();
            Page page = new Page(app.host, true);
            try {
                assertEquals("hello", page.request("GET", "/conf/text", null).text());
            } finally {
                page.session.close();
            }
        } finally {
            session.close();
        }
    }

    @Test
    public void onlyTheAppOriginsMainFrameGetsASession() {
        final long host = app.host.handle();
        for (final String origin : new String[] {
            "https://evil.invalid", "null", "http://app.invalid", "https://app.invalid.evil.com", "", "garbage"
        }) {
            expect(SecurityException.class, "frames are accepted only from https://app.invalid",
                    () -> NativeBridge.sessionOpen(host, origin, true, null));
        }
        expect(SecurityException.class, "not from a subframe",
                () -> NativeBridge.sessionOpen(host, Fixture.ORIGIN, false, null));
        for (final String origin : new String[] {"https://localhost", "http://127.0.0.1:8080", "app://x", "https://app.invalid/path"}) {
            expect(IllegalArgumentException.class, "", () -> InprocBus.openHost(app.bus, origin));
        }
        expect(IllegalArgumentException.class, "not a JavaScript identifier",
                () -> app.host.pageScript("a;b", "0123456789abcdef0123456789abcdef"));
        expect(IllegalArgumentException.class, "32 lower-case hex digits", () -> app.host.pageScript("ok", "nope"));
    }

    @Test
    public void aShutDownBusAnswers503AndOpensNoSession() throws Exception {
        long bus = TestApp.startBus();
        final BusHost host = InprocBus.openHost(bus, Fixture.ORIGIN);
        try {
            final FrameSession open = host.openSession(Fixture.ORIGIN, true, null);
            InprocBus.releaseBus(bus);
            InterceptedResponse r = host.intercept("GET", url("/conf/text"), null, false);
            assertEquals(503, r.getStatusCode());
            Fixture.text(r);
            expect(BusException.class, "the bus is shut down", () -> host.openSession(Fixture.ORIGIN, true, null));
            open.close();
        } finally {
            host.close();
        }
    }

    @Test
    public void panicsAndThrowingListenersStayOnTheirSide() throws Exception {
        expect(BusException.class, "panic in bridge-android: a panic inside a JNI export", () -> TestApp.panicNow());
        // A listener that throws: printed and cleared on the native thread; frames still flow.
        final int[] calls = {0};
        FrameSession session = app.host.openSession(Fixture.ORIGIN, true, () -> {
            calls[0]++;
            throw new RuntimeException("a listener that throws (expected in this test)");
        });
        try {
            session.receive(Frame.requestHead(1, "GET", "/conf/text", true, 1 << 20).base64());
            for (int i = 0; i < 2000 && calls[0] == 0; i++) {
                Thread.sleep(5);
            }
            assertTrue(calls[0] > 0);
            String[] frames = new String[0];
            for (int i = 0; i < 2000 && frames.length < 1; i++) {
                String[] more = session.takeOutbound();
                String[] all = Arrays.copyOf(frames, frames.length + more.length);
                System.arraycopy(more, 0, all, frames.length, more.length);
                frames = all;
                Thread.sleep(5);
            }
            // A small answer complete at once: one whole Response frame.
            assertEquals(Frame.RESPONSE, Frame.decodeBase64(frames[0]).type);
        } finally {
            session.close();
        }
        // Blocking calls from framesReady (a bus worker) are refused, not a deadlock.
        final Thread test = Thread.currentThread();
        final java.util.concurrent.atomic.AtomicReference<Throwable> fromWorker =
                new java.util.concurrent.atomic.AtomicReference<Throwable>();
        FrameSession blocking = app.host.openSession(Fixture.ORIGIN, true, () -> {
            if (Thread.currentThread() == test || fromWorker.get() != null) {
                return;
            }
            try {
                app.host.intercept("GET", url("/conf/text"), null, false);
                fromWorker.set(new AssertionError("intercept blocked a bus worker"));
            } catch (Throwable t) {
                fromWorker.set(t);
            }
        });
        try {
            blocking.receive(Frame.requestHead(1, "GET", "/conf/text", true, 1 << 20).base64());
            for (int i = 0; i < 2000 && fromWorker.get() == null; i++) {
                Thread.sleep(5);
            }
            Throwable refused = fromWorker.get();
            assertTrue(String.valueOf(refused), refused instanceof BusException);
            assertTrue(refused.getMessage(), refused.getMessage().contains("panic in bridge-android"));
        } finally {
            blocking.close();
        }
        expect(IOException.class, "closed", () -> {
            InterceptedResponse r = app.host.intercept("GET", url("/conf/text"), null, false);
            r.getData().close();
            r.getData().read();
        });
    }

    static String repeat(char c, int n) {
        char[] chars = new char[n];
        Arrays.fill(chars, c);
        return new String(chars);
    }
}
