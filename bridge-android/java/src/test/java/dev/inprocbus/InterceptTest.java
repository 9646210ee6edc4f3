package dev.inprocbus;

import static dev.inprocbus.Fixture.text;
import static dev.inprocbus.Fixture.url;
import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import dev.inprocbus.testapp.TestApp;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * What {@code shouldInterceptRequest} gets, through JNI: the same cases as
 * {@code bridge-android/tests/host.rs} drives through {@code AndroidHost} directly, plus
 * what only the JNI layer has (the pulled {@code InputStream}, its close, threads).
 */
public class InterceptTest {
    private Fixture app;

    @Before
    public void start() {
        app = Fixture.start();
    }

    @After
    public void stop() throws Exception {
        app.close();
        // Every body was closed: no native handle is left behind.
        Fixture.waitFor("bodies closed", new Callable<Boolean>() {
            @Override
            public Boolean call() {
                return InprocBus.openHandles()[2] == 0;
            }
        });
    }

    private static Map<String, String> referer() {
        Map<String, String> h = new HashMap<String, String>();
        h.put("Referer", url("/pages/index.html"));
        return h;
    }

    private InterceptedResponse get(String path) {
        InterceptedResponse r = app.host.intercept("GET", url(path), referer(), false);
        assertTrue(path + " is a bus URL", r != null);
        return r;
    }

    @Test
    public void aTextResponseHasItsStatusReasonTypeAndHeaders() throws Exception {
        InterceptedResponse r = get("/conf/text");
        assertEquals(200, r.getStatusCode());
        assertEquals("OK", r.getReasonPhrase());
        assertEquals("text/plain", r.getMimeType());
        assertEquals("utf-8", r.getEncoding().toLowerCase());
        assertEquals("5", r.getResponseHeaders().get("content-length"));
        assertEquals("hello", text(r));

        InterceptedResponse multi = get("/conf/multi-header");
        assertEquals("a, b", multi.getResponseHeaders().get("x-multi"));
        text(multi);

        InterceptedResponse head = app.host.intercept("HEAD", url("/conf/text"), referer(), false);
        assertEquals(200, head.getStatusCode());
        assertEquals("", text(head));
    }

    @Test
    public void aMultiMegabyteBodyStreamsInSmallReads() throws Exception {
        int n = 8 << 20;
        InterceptedResponse r = get("/conf/bytes?n=" + n);
        assertEquals(String.valueOf(n), r.getResponseHeaders().get("content-length"));
        MessageDigest d = Fixture.sha256();
        byte[] buf = new byte[1000]; // small reads, odd size: chunks are cut across reads
        long total = 0;
        try (BodyStream body = r.getData()) {
            for (int k; (k = body.read(buf, 7, 993)) >= 0; ) {
                assertTrue(k > 0);
                d.update(buf, 7, k);
                total += k;
            }
            assertEquals(-1, body.read());
        }
        assertEquals(n, total);
        assertEquals(Fixture.patternSha256(n), Fixture.hex(d.digest()));
    }

    @Test
    public void closingTheStreamEarlyCancelsTheHandler() throws Exception {
        final long before = TestApp.counter("abandoned");
        InterceptedResponse r = get("/conf/bytes?n=" + (64 << 20));
        BodyStream body = r.getData();
        byte[] buf = new byte[4096];
        assertEquals(4096, body.read(buf));
        assertArrayEquals(Fixture.pattern(4096), buf);
        body.close();
        body.close(); // a second close does nothing, as InputStream's contract says
        Fixture.waitFor("the producer to see its reader gone", new Callable<Boolean>() {
            @Override
            public Boolean call() {
                return TestApp.counter("abandoned") > before;
            }
        });
        try {
            body.read(buf);
            throw new AssertionError("read after close");
        } catch (java.io.IOException expected) {
            assertTrue(expected.getMessage().contains("closed"));
        }
    }

    @Test
    public void rangeRequestsPassThroughAs206() throws Exception {
        Map<String, String> h = referer();
        h.put("Range", "bytes=10-19");
        InterceptedResponse r = app.host.intercept("GET", url("/range"), h, false);
        assertEquals(206, r.getStatusCode());
        assertEquals("Partial Content", r.getReasonPhrase());
        assertEquals("bytes 10-19/1000", r.getResponseHeaders().get("content-range"));
        byte[] body = Fixture.readAll(r.getData());
        r.getData().close();
        byte[] want = new byte[10];
        for (int i = 0; i < 10; i++) {
            want[i] = Fixture.patternByte(10 + i);
        }
        assertArrayEquals(want, body);
    }

    @Test
    public void redirectsAndStatusesAndroidRefusesNeverReachJava() throws Exception {
        // A subresource's redirect is followed on the host...
        InterceptedResponse followed = get("/conf/redirect/302?to=/conf/text");
        assertEquals(200, followed.getStatusCode());
        assertEquals("hello", text(followed));
        // ...a navigation gets a page that navigates on.
        InterceptedResponse nav =
                app.host.intercept("GET", url("/conf/redirect/302?to=/conf/json"), referer(), true);
        assertEquals(200, nav.getStatusCode());
        assertEquals("text/html", nav.getMimeType());
        String page = text(nav);
        assertTrue(page, page.contains("<meta http-equiv=\"refresh\" content=\"0;url=https://app.invalid/conf/json\">"));
        assertFalse(page, page.contains("<script"));
        for (String s : new String[] {"304", "300", "101"}) {
            InterceptedResponse r = get("/conf/status/" + s);
            assertEquals(s, 502, r.getStatusCode());
            assertTrue(text(r).contains("answered " + s));
        }
        InterceptedResponse empty = get("/conf/status/204");
        assertEquals(204, empty.getStatusCode());
        assertEquals("No Content", empty.getReasonPhrase());
        assertEquals("", text(empty));
    }

    @Test
    public void theCallerIsWhatThePlatformReports() throws Exception {
        InterceptedResponse main = app.host.intercept("GET", url("/whoami"), referer(), true);
        assertEquals("origin=https://app.invalid frame=Main transport=Intercept", text(main));
        // isForMainFrame() proves nothing about who asked: a foreign page setting
        // top.location makes a main-frame request too (with its own Referer, or none).
        InterceptedResponse bare = app.host.intercept("GET", url("/whoami"), null, true);
        assertEquals(403, bare.getStatusCode());
        assertTrue(text(bare).contains("anonymous request"));
        Map<String, String> elsewhere = new HashMap<String, String>();
        elsewhere.put("Referer", "https://evil.invalid/page");
        InterceptedResponse led = app.host.intercept("GET", url("/whoami"), elsewhere, true);
        assertEquals(403, led.getStatusCode());
        assertTrue(text(led).contains("origin https://evil.invalid may not call this mount"));
        // Every answer refuses to be framed by another origin, unless the app said otherwise.
        InterceptedResponse framed = get("/conf/text");
        assertEquals("SAMEORIGIN", framed.getResponseHeaders().get("x-frame-options"));
        text(framed);
        // A page cannot claim to be the main frame: only isForMainFrame() says so.
        Map<String, String> h = referer();
        h.put("X-Frame", "Main");
        InterceptedResponse sub = app.host.intercept("GET", url("/main-only"), h, false);
        assertEquals(403, sub.getStatusCode());
        text(sub);
        Map<String, String> foreign = new HashMap<String, String>();
        foreign.put("Origin", "https://evil.invalid");
        InterceptedResponse cors = app.host.intercept("GET", url("/whoami"), foreign, false);
        assertEquals(403, cors.getStatusCode());
        assertTrue(text(cors).contains("origin https://evil.invalid may not call this mount"));
        // A body never reaches shouldInterceptRequest: refused, never run on an empty body.
        InterceptedResponse post = app.host.intercept("POST", url("/conf/echo"), referer(), false);
        assertEquals(400, post.getStatusCode());
        assertTrue(text(post).contains("request bodies cannot be intercepted on Android"));
        // Other origins are the WebView's business.
        for (String other : new String[] {
            "https://example.com/", "http://app.invalid/x", "https://app.invalid:8443/x", "not a url"
        }) {
            assertNull(other, app.host.intercept("GET", other, null, false));
        }
    }

    @Test
    public void aPanickingHandlerIsA500AndTheJvmGoesOn() throws Exception {
        InterceptedResponse r = get("/panic");
        assertEquals(500, r.getStatusCode());
        assertTrue(text(r).contains("panic"));
        assertEquals("hello", text(get("/conf/text")));
    }

    @Test
    public void manyJavaThreadsAtOnce() throws Exception {
        int threads = 24;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        final CountDownLatch go = new CountDownLatch(1);
        final String bigSha = Fixture.patternSha256(300_000);
        try {
            List<Future<Integer>> done = new ArrayList<Future<Integer>>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                done.add(pool.submit(new Callable<Integer>() {
                    @Override
                    public Integer call() throws Exception {
                        go.await();
                        int ok = 0;
                        for (int i = 0; i < 15; i++) {
                            if ((id + i) % 3 == 0) {
                                InterceptedResponse r = get("/conf/bytes?n=300000");
                                MessageDigest d = Fixture.sha256();
                                d.update(Fixture.readAll(r.getData()));
                                r.getData().close();
                                assertEquals(bigSha, Fixture.hex(d.digest()));
                            } else {
                                assertEquals("hello", text(get("/conf/text")));
                            }
                            ok++;
                        }
                        return ok;
                    }
                }));
            }
            go.countDown();
            int total = 0;
            for (Future<Integer> f : done) {
                total += f.get();
            }
            assertEquals(threads * 15, total);
        } finally {
            pool.shutdownNow();
        }
    }
}
