package dev.inprocbus;

import static dev.inprocbus.Fixture.url;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import dev.inprocbus.testapp.TestApp;
import java.lang.ref.WeakReference;
import java.util.Collections;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * What an app forgets to close: a {@link FrameSession}, a {@link BodyStream}, a
 * {@link BusHost}. None may keep the app's objects (the WebView, its Activity) reachable
 * through the native side, and each frees its native handle once it is unreachable
 * ({@link NativeCleaner}). Reachability is observed with a {@link WeakReference} and
 * {@code System.gc()}, with a bounded wait.
 */
public class CleanerTest {
    /** How long a forgotten object may take to be collected and cleaned. */
    private static final long WAIT_NANOS = 15_000_000_000L;

    private Fixture app;
    private int[] baseline;

    @Before
    public void start() {
        app = Fixture.start();
        baseline = InprocBus.openHandles();
    }

    @After
    public void stop() {
        app.close();
        assertEquals("no cleaning action failed", 0, NativeCleaner.failures());
    }

    /** Stands for the WebView and the Activity behind it: what a session's listener reaches. */
    static final class WebViewLike {
        /** Weight, as a WebView has: a leak of it shows in a heap. */
        final byte[] pixels = new byte[4 << 20];
        /** The app's bridge keeps its document's session, as {@code BusWebViewClient} does. */
        FrameSession session;
    }

    /** The app's listener: reaches the WebView (to post deliveries to its UI thread). */
    static final class Listener implements FrameListener {
        final WebViewLike view;
        final CountDownLatch called = new CountDownLatch(1);

        Listener(WebViewLike view) {
            this.view = view;
        }

        @Override
        public void framesReady() {
            called.countDown();
        }
    }

    @Test
    public void aForgottenSessionLetsItsWebViewGoAndFreesItsHandle() throws Exception {
        long cancelled = TestApp.counter("cancelled");
        WeakReference<WebViewLike> view = forgetASession(app.host);
        awaitCollected("the WebView a forgotten session's listener reaches", view);
        awaitHandles("the forgotten session's handle freed");
        // The Cleaner closed the session, which cancels what it still had open.
        final long before = cancelled;
        Fixture.waitFor("the forgotten session's open stream to be cancelled", new Callable<Boolean>() {
            @Override
            public Boolean call() {
                return TestApp.counter("cancelled") > before;
            }
        });
    }

    /**
     * Opens a session with a listener that reaches a WebView stand-in, has the native side
     * call the listener (a stream answered, one left hanging), and forgets all of it. In a
     * method of its own so no local variable of the test keeps anything.
     */
    private static WeakReference<WebViewLike> forgetASession(BusHost host) throws Exception {
        WebViewLike view = new WebViewLike();
        Listener listener = new Listener(view);
        view.session = host.openSession(Fixture.ORIGIN, true, listener);
        view.session.receive(Frame.requestHead(1, "GET", "/conf/text", true, 1 << 20).base64());
        view.session.receive(Frame.requestHead(3, "GET", "/conf/hang", true, 1 << 20).base64());
        assertTrue("framesReady from the native side", listener.called.await(20, TimeUnit.SECONDS));
        assertTrue(view.session.takeOutbound().length > 0);
        return new WeakReference<WebViewLike>(view);
    }

    @Test
    public void aForgottenBodyCancelsItsHandlerAndFreesItsHandle() throws Exception {
        final long before = TestApp.counter("abandoned");
        WeakReference<BodyStream> body = forgetABody(app.host);
        awaitCollected("a forgotten response body", body);
        awaitHandles("the forgotten body's handle freed");
        Fixture.waitFor("the forgotten body's producer to see its reader gone", new Callable<Boolean>() {
            @Override
            public Boolean call() {
                return TestApp.counter("abandoned") > before;
            }
        });
    }

    private static WeakReference<BodyStream> forgetABody(BusHost host) throws Exception {
        InterceptedResponse r = host.intercept(
                "GET", url("/conf/bytes?n=" + (64 << 20)),
                Collections.singletonMap("Referer", url("/index.html")), false);
        byte[] buf = new byte[4096];
        assertEquals(4096, r.getData().read(buf));
        return new WeakReference<BodyStream>(r.getData());
    }

    @Test
    public void aForgottenHostFreesItsHandle() throws Exception {
        WeakReference<BusHost> host = forgetAHost(app.bus);
        awaitCollected("a forgotten host", host);
        awaitHandles("the forgotten host's handle freed");
    }

    private static WeakReference<BusHost> forgetAHost(long bus) {
        BusHost host = InprocBus.openHost(bus, Fixture.ORIGIN);
        assertTrue(host.allowsNavigation(url("/")));
        return new WeakReference<BusHost>(host);
    }

    @Test
    public void closeIsIdempotentAndTheCleanerNeverClosesTwice() throws Exception {
        WeakReference<FrameSession> session = closeTwiceAndForget(app.host, app.bus);
        assertHandles("closed sessions, bodies and hosts free their handles at once");
        awaitCollected("a closed session", session);
        // Give the cleaner thread time to run anything it would run: nothing may fail.
        Thread.sleep(200);
        assertHandles("nothing changed after collection");
        assertEquals(0, NativeCleaner.failures());
    }

    private static WeakReference<FrameSession> closeTwiceAndForget(BusHost host, long bus) throws Exception {
        FrameSession session = host.openSession(Fixture.ORIGIN, true, new Listener(new WebViewLike()));
        session.close();
        session.close();
        assertTrue(session.isClosed());
        try {
            session.receive(Frame.requestHead(1, "GET", "/conf/text", true, 1 << 20).base64());
            fail("receive after close");
        } catch (IllegalStateException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("not open"));
        }
        InterceptedResponse r = host.intercept(
                "GET", url("/conf/text"), Collections.singletonMap("Referer", url("/index.html")), false);
        r.getData().close();
        r.getData().close();
        BusHost other = InprocBus.openHost(bus, Fixture.ORIGIN);
        other.close();
        other.close();
        return new WeakReference<FrameSession>(session);
    }

    @Test
    public void aLiveSessionKeepsItsListenerThoughTheNativeSideHoldsItWeakly() throws Exception {
        final AtomicInteger calls = new AtomicInteger();
        // Nothing but the session references this listener.
        FrameSession session = app.host.openSession(Fixture.ORIGIN, true, new FrameListener() {
            @Override
            public void framesReady() {
                calls.incrementAndGet();
            }
        });
        try {
            for (int i = 0; i < 5; i++) {
                System.gc();
                Thread.sleep(10);
            }
            session.receive(Frame.requestHead(1, "GET", "/conf/text", true, 1 << 20).base64());
            Fixture.waitFor("framesReady on the session's only listener", new Callable<Boolean>() {
                @Override
                public Boolean call() {
                    return calls.get() > 0;
                }
            });
        } finally {
            session.close();
        }
        // After close the listener is not called any more (a call already on its way may be).
        Thread.sleep(50);
        int after = calls.get();
        Thread.sleep(100);
        assertEquals(after, calls.get());
    }

    private static void awaitCollected(String what, WeakReference<?> ref) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT_NANOS;
        while (ref.get() != null) {
            if (System.nanoTime() > deadline) {
                fail(what + " is still reachable after " + WAIT_NANOS / 1_000_000_000L + " s of System.gc()");
            }
            System.gc();
            Thread.sleep(20);
        }
    }

    /** Waits (bounded) until the open handles are back to the test's baseline. */
    private void awaitHandles(String what) throws Exception {
        long deadline = System.nanoTime() + WAIT_NANOS;
        while (!java.util.Arrays.equals(baseline, InprocBus.openHandles())) {
            if (System.nanoTime() > deadline) {
                assertArrayEquals(what, baseline, InprocBus.openHandles());
            }
            System.gc();
            Thread.sleep(20);
        }
    }

    private void assertHandles(String what) {
        assertArrayEquals(what, baseline, InprocBus.openHandles());
    }
}
