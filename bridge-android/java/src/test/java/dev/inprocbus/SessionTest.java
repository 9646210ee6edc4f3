package dev.inprocbus;

import static dev.inprocbus.Fixture.url;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.inprocbus.testapp.TestApp;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * Frames through a session, as base64 strings from the {@link Frame} codec (checked
 * against the golden vectors): the cases of {@code bodies_push_streams_and_cancel_as_frames}
 * in {@code bridge-android/tests/host.rs}, through JNI.
 */
public class SessionTest {
    private Fixture app;

    @Before
    public void start() {
        app = Fixture.start();
    }

    @After
    public void stop() {
        app.close();
    }

    @Test
    public void aGetAndAPostWithABodyAsFrames() throws Exception {
        Page page = new Page(app.host, false);
        try {
            Page.Answer text = page.request("GET", url("/conf/text"), null);
            assertEquals(200, text.status());
            assertEquals("hello", text.text());

            byte[] json = "{\"a\":1,\"b\":\"two\"}".getBytes(StandardCharsets.UTF_8);
            Page.Answer echo = page.request("POST", "/conf/echo", json, "content-type", "application/json");
            assertEquals(200, echo.status());
            assertEquals("POST", echo.header("x-echo-method"));
            assertEquals("{\"a\":1,\"b\":\"two\"}", echo.text());

            // Over the initial upload window: sent within the credit the bus grants.
            byte[] big = Fixture.pattern(1_500_000);
            Page.Answer hashed = page.request("POST", "/conf/sha256", big);
            JsonObject sum = JsonParser.parseString(hashed.text()).getAsJsonObject();
            assertEquals(Fixture.patternSha256(big.length), sum.get("sha256").getAsString());

            // The caller of a session is the one the platform verified when it opened.
            assertEquals(
                    "origin=https://app.invalid frame=Main transport=Frames",
                    page.request("GET", "/whoami", null).text());
            assertEquals(200, page.request("GET", "/main-only", null).status());

            // framesReady came from a native bus thread, attached as a daemon.
            boolean fromNative = false;
            for (Thread t : page.wokenBy) {
                fromNative |= t != Thread.currentThread() && t.isDaemon();
            }
            assertTrue("a native daemon thread among " + page.wokenBy, fromNative);
        } finally {
            page.session.close();
        }
    }

    @Test
    public void pollingWorksWithoutAListener() throws Exception {
        Page page = new Page(app.host, true);
        try {
            assertEquals("hello", page.request("GET", "/conf/text", null).text());
            assertEquals(0, page.session.takeOutbound().length);
            assertNull(page.session.takeScript());
        } finally {
            page.session.close();
        }
    }

    @Test
    public void aCancelledStreamDropsItsHandler() throws Exception {
        final long before = TestApp.counter("cancelled");
        Page page = new Page(app.host, false);
        try {
            long hang = page.open("GET", "/conf/hang", null);
            Thread.sleep(100);
            page.send(Frame.simple(Frame.CANCEL, hang));
            Fixture.waitFor("the cancelled handler to be dropped", new Callable<Boolean>() {
                @Override
                public Boolean call() {
                    return TestApp.counter("cancelled") > before;
                }
            });
        } finally {
            page.session.close();
        }
        // Closing the session cancels what is still open, too.
        final long after = TestApp.counter("cancelled");
        Page other = new Page(app.host, false);
        other.open("GET", "/conf/hang", null);
        Thread.sleep(100);
        other.session.close();
        Fixture.waitFor("close to cancel the open stream", new Callable<Boolean>() {
            @Override
            public Boolean call() {
                return TestApp.counter("cancelled") > after;
            }
        });
    }

    @Test
    public void theScriptDeliveryChecksTheDocument() throws Exception {
        Page page = new Page(app.host, true);
        try {
            page.send(Frame.requestHead(1, "GET", "/conf/text", true, 1 << 20));
            String script = null;
            for (int i = 0; i < 2000 && script == null; i++) {
                script = page.session.takeScript();
                Thread.sleep(5);
            }
            assertNotNull(script);
            assertTrue(script, script.startsWith("if(location.origin===\"https://app.invalid\"&&"));
            assertTrue(script, script.contains("globalThis.__inprocBusDeliver(\""));
            assertFalse(page.session.isClosed());
        } finally {
            page.session.close();
        }
        assertTrue(page.session.isClosed());
    }
}
