package dev.inprocbus.android;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;
import static org.robolectric.Shadows.shadowOf;

import dev.inprocbus.FrameSession;

import android.net.Uri;
import android.os.Looper;
import android.webkit.ValueCallback;
import android.webkit.WebMessage;
import android.webkit.WebMessagePort;
import android.webkit.WebResourceRequest;
import android.webkit.WebResourceResponse;
import android.webkit.WebView;
import dev.inprocbus.Fixture;
import dev.inprocbus.testapp.TestApp;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.RuntimeEnvironment;
import org.robolectric.annotation.Config;
import org.robolectric.fakes.RoboWebMessagePort;
import org.robolectric.shadows.ShadowWebView;

/**
 * {@link BusWebViewClient} against the real framework classes ({@code WebResourceResponse},
 * {@code WebMessage}, {@code Uri}) and Robolectric's {@code WebView} shadow, with the native
 * library loaded in Robolectric's sandbox. What a real WebView does with the answers (its
 * threads, its reading of the stream, the page's JS) is not here: see the README.
 */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = 34, manifest = Config.NONE)
public class BusWebViewClientTest {
    private Fixture app;

    @Before
    public void start() {
        app = Fixture.start();
    }

    @After
    public void stop() {
        app.close();
    }

    /** What the platform reports about a request. */
    static WebResourceRequest request(final String method, final String url, final boolean mainFrame, final Map<String, String> headers) {
        return new WebResourceRequest() {
            @Override
            public Uri getUrl() {
                return Uri.parse(url);
            }

            @Override
            public boolean isForMainFrame() {
                return mainFrame;
            }

            @Override
            public boolean isRedirect() {
                return false;
            }

            @Override
            public boolean hasGesture() {
                return false;
            }

            @Override
            public String getMethod() {
                return method;
            }

            @Override
            public Map<String, String> getRequestHeaders() {
                return headers;
            }
        };
    }

    /** A WebView that records what is posted to its main frame. */
    static final class RecordingWebView extends WebView {
        final List<WebMessage> posted = new ArrayList<WebMessage>();
        final List<Uri> targets = new ArrayList<Uri>();
        String url;

        RecordingWebView() {
            super(RuntimeEnvironment.getApplication());
        }

        @Override
        public void postWebMessage(WebMessage message, Uri targetOrigin) {
            posted.add(message);
            targets.add(targetOrigin);
        }

        @Override
        public String getUrl() {
            return url;
        }
    }

    @Test
    public void interceptionAnswersWithAPulledStream() throws Exception {
        BusWebViewClient client = new BusWebViewClient(app.host);
        WebView view = new RecordingWebView();
        int n = 3 << 20;
        Map<String, String> headers = new HashMap<String, String>();
        headers.put("Referer", Fixture.url("/index.html"));
        WebResourceResponse r =
                client.shouldInterceptRequest(view, request("GET", Fixture.url("/conf/bytes?n=" + n), false, headers));
        assertNotNull(r);
        assertEquals(200, r.getStatusCode());
        assertEquals("OK", r.getReasonPhrase());
        assertEquals("application/octet-stream", r.getMimeType());
        assertEquals(String.valueOf(n), r.getResponseHeaders().get("content-length"));
        MessageDigest d = Fixture.sha256();
        byte[] buf = new byte[777];
        try (InputStream in = r.getData()) {
            for (int k; (k = in.read(buf)) >= 0; ) {
                d.update(buf, 0, k);
            }
        }
        assertEquals(Fixture.patternSha256(n), Fixture.hex(d.digest()));

        // Closed early: the handler is cancelled.
        long before = TestApp.counter("abandoned");
        WebResourceResponse big =
                client.shouldInterceptRequest(view, request("GET", Fixture.url("/conf/bytes?n=" + (64 << 20)), false, headers));
        assertEquals(1, big.getData().read(new byte[1]));
        big.getData().close();
        for (int i = 0; i < 4000 && TestApp.counter("abandoned") == before; i++) {
            Thread.sleep(5);
        }
        assertTrue(TestApp.counter("abandoned") > before);

        // Range and 206 pass through; a redirect never reaches WebResourceResponse.
        headers.put("Range", "bytes=0-9");
        WebResourceResponse range = client.shouldInterceptRequest(view, request("GET", Fixture.url("/range"), false, headers));
        assertEquals(206, range.getStatusCode());
        assertEquals("bytes 0-9/1000", range.getResponseHeaders().get("content-range"));
        range.getData().close();
        headers.remove("Range");
        WebResourceResponse nav = client.shouldInterceptRequest(
                view, request("GET", Fixture.url("/conf/redirect/307?to=/conf/text"), true, headers));
        assertEquals(200, nav.getStatusCode());
        assertEquals("text/html", nav.getMimeType());
        nav.getData().close();
        WebResourceResponse whoami = client.shouldInterceptRequest(
                view, request("GET", Fixture.url("/whoami"), true, headers));
        assertEquals("origin=https://app.invalid frame=Main transport=Intercept",
                new String(Fixture.readAll(whoami.getData()), "UTF-8"));
        whoami.getData().close();

        // Other origins are the WebView's own business.
        assertNull(client.shouldInterceptRequest(view, request("GET", "https://example.com/", true, headers)));
        // The shim, for <script src="/__bus/bridge.js">.
        WebResourceResponse script =
                client.shouldInterceptRequest(view, request("GET", Fixture.url(BusWebViewClient.BRIDGE_SCRIPT_PATH), false, headers));
        assertEquals("text/javascript", script.getMimeType());
        assertTrue(new String(Fixture.readAll(script.getData()), "UTF-8").contains("InprocBusBridge.install("));
    }

    @Test
    public void thePortGoesToTheAppOriginsMainFrameAndCarriesFrames() throws Exception {
        BusWebViewClient client = new BusWebViewClient(app.host);
        RecordingWebView view = new RecordingWebView();
        view.url = Fixture.url("/index.html");
        client.onPageStarted(view, view.url);
        ShadowWebView shadow = shadowOf((WebView) view);
        String script = shadow.getLastEvaluatedJavascript();
        assertTrue(script.contains("InprocBusBridge.queuedTransport()"));
        ValueCallback<String> callback = shadow.getLastEvaluatedJavascriptCallback();
        callback.onReceiveValue("\"waiting\""); // what the script returns before it has a port

        assertEquals(1, view.posted.size());
        assertEquals(Uri.parse(Fixture.ORIGIN), view.targets.get(0));
        WebMessage message = view.posted.get(0);
        assertEquals(BusWebViewClient.PORT_MESSAGE, message.getData());
        assertEquals(1, message.getPorts().length);
        RoboWebMessagePort pagePort = (RoboWebMessagePort) message.getPorts()[0];

        // The page sends a GET as a frame; the answer comes back through the port.
        pagePort.postMessage(new WebMessage(requestHeadGet(1, "/whoami")));
        List<String> received = new ArrayList<String>();
        for (int i = 0; i < 4000 && received.isEmpty(); i++) {
            shadowOf(Looper.getMainLooper()).idle();
            received = new ArrayList<String>(pagePort.getReceivedMessages());
            Thread.sleep(5);
        }
        assertTrue("the whole response: " + received, received.size() >= 1);
        byte[] whole = Base64.getDecoder().decode(received.get(0));
        assertEquals(9, whole[1]); // Response: head, body and end in one frame
        String data = new String(whole, "ISO-8859-1");
        assertTrue(data, data.endsWith("origin=https://app.invalid frame=Main transport=Frames"));

        // A new document closes the old session.
        assertNotNull(client.currentSession());
        client.onPageStarted(view, "https://example.com/");
        assertNull(client.currentSession());
        client.close();
    }

    /**
     * An Activity destroyed without {@code bus.close()}: its WebView, client and document
     * are unreachable but for the native session's reference to the listener, which must not
     * pin them. The WebView is collected and the cleaner closes the session.
     */
    @Test
    public void aClientNeverClosedLetsItsWebViewGoAndItsSessionClose() throws Exception {
        final int sessions = dev.inprocbus.InprocBus.openHandles()[3];
        java.lang.ref.WeakReference<WebView> view = connectAndForget(app);
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (view.get() != null) {
            assertTrue("the WebView is still reachable after 15 s of System.gc()", System.nanoTime() < deadline);
            System.gc();
            shadowOf(Looper.getMainLooper()).idle();
            Thread.sleep(20);
        }
        while (dev.inprocbus.InprocBus.openHandles()[3] != sessions) {
            assertTrue("the forgotten session was not closed", System.nanoTime() < deadline);
            System.gc();
            Thread.sleep(20);
        }
    }

    /** A page connected over the port, a request answered through it; then nothing kept. */
    private static java.lang.ref.WeakReference<WebView> connectAndForget(Fixture app) throws Exception {
        BusWebViewClient client = new BusWebViewClient(app.host);
        RecordingWebView view = new RecordingWebView();
        view.url = Fixture.url("/index.html");
        client.onPageStarted(view, view.url);
        shadowOf((WebView) view).getLastEvaluatedJavascriptCallback().onReceiveValue("\"waiting\"");
        assertNotNull(client.currentSession());
        RoboWebMessagePort pagePort = (RoboWebMessagePort) view.posted.get(0).getPorts()[0];
        pagePort.postMessage(new WebMessage(requestHeadGet(1, "/conf/text")));
        for (int i = 0; i < 4000 && pagePort.getReceivedMessages().isEmpty(); i++) {
            shadowOf(Looper.getMainLooper()).idle();
            Thread.sleep(5);
        }
        assertTrue("the answer came through the port", pagePort.getReceivedMessages().size() >= 1);
        // The session is open and the listener was called; the app forgets it all.
        assertTrue(dev.inprocbus.InprocBus.openHandles()[3] > 0);
        return new java.lang.ref.WeakReference<WebView>(view);
    }

    @Test
    public void theNavigationPolicyKeepsForeignPagesAndFramesOut() {
        BusWebViewClient client = new BusWebViewClient(app.host);
        WebView view = new RecordingWebView();
        Map<String, String> none = new HashMap<String, String>();
        // Allowed: the app origin, about:blank and about:srcdoc, in any frame.
        for (String url : new String[] {Fixture.url("/index.html"), Fixture.ORIGIN, "about:blank", "about:srcdoc"}) {
            assertFalse(url, client.shouldOverrideUrlLoading(view, request("GET", url, true, none)));
            assertFalse(url, client.shouldOverrideUrlLoading(view, request("GET", url, false, none)));
        }
        // Refused (cancelled): other origins, look-alikes, and non-http schemes.
        String[] refused = {
            "https://evil.invalid/",
            "https://app.invalid.evil.com/",
            "http://app.invalid/",
            "https://app.invalid:8443/",
            "https://docs.example.com/guide",
            "javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "blob:https://app.invalid/0b0e0000-0000-0000-0000-000000000000",
            "file:///sdcard/x.html",
            "intent://x#Intent;scheme=https;end",
        };
        for (String url : refused) {
            assertTrue(url, client.shouldOverrideUrlLoading(view, request("GET", url, true, none)));
            assertTrue(url, client.shouldOverrideUrlLoading(view, request("GET", url, false, none)));
        }
        assertTrue(client.shouldOverrideUrlLoading(view, (String) null));
        // An origin the app allows loads; only that origin.
        assertSame(app.host, app.host.allowNavigationTo("https://docs.example.com"));
        assertFalse(client.shouldOverrideUrlLoading(view, request("GET", "https://docs.example.com/guide", false, none)));
        assertTrue(client.shouldOverrideUrlLoading(view, request("GET", "https://docs.example.com:8443/", false, none)));
        assertTrue(client.shouldOverrideUrlLoading(view, request("GET", "https://evil.invalid/", true, none)));
        for (String bad : new String[] {"ftp://x.example", "https://x.example/path", "nonsense"}) {
            try {
                app.host.allowNavigationTo(bad);
                fail(bad);
            } catch (IllegalArgumentException expected) {
                // named in the message
                assertTrue(expected.getMessage(), expected.getMessage().length() > 0);
            }
        }
    }

    @Test
    public void aForeignMainFrameGetsNoPort() {
        BusWebViewClient client = new BusWebViewClient(app.host);
        RecordingWebView view = new RecordingWebView();
        view.url = Fixture.url("/index.html");
        client.onPageStarted(view, view.url);
        ValueCallback<String> callback = shadowOf((WebView) view).getLastEvaluatedJavascriptCallback();
        view.url = "https://evil.invalid/"; // navigated away before the callback
        callback.onReceiveValue("\"waiting\"");
        assertEquals(0, view.posted.size());
        assertNull(client.currentSession());
        // Foreign pages get no script at all.
        RecordingWebView other = new RecordingWebView();
        client.onPageStarted(other, "https://evil.invalid/");
        assertNull(shadowOf((WebView) other).getLastEvaluatedJavascript());
    }

    @Test
    public void anotherWebViewCannotEndOrTakeTheDocumentsSession() {
        // A popup the app gives the same client (onCreateWindow): its pages, foreign or of
        // the app, leave the main view's session alone and get no script.
        BusWebViewClient client = new BusWebViewClient(app.host, BusWebViewClient.Transport.JAVASCRIPT_INTERFACE);
        RecordingWebView view = new RecordingWebView();
        client.attach(view);
        view.url = Fixture.url("/index.html");
        client.onPageStarted(view, view.url);
        FrameSession session = client.currentSession();
        assertNotNull(session);
        RecordingWebView popup = new RecordingWebView();
        client.onPageStarted(popup, "https://evil.invalid/");
        assertSame(session, client.currentSession());
        popup.url = Fixture.url("/index.html");
        client.onPageStarted(popup, popup.url);
        assertSame(session, client.currentSession());
        assertNull(shadowOf((WebView) popup).getLastEvaluatedJavascript());
        try {
            client.attach(popup);
            fail("a second WebView attached");
        } catch (IllegalStateException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("its own"));
        }
        // Without attach, the first view to start a page is the client's.
        BusWebViewClient unattached = new BusWebViewClient(app.host, BusWebViewClient.Transport.JAVASCRIPT_INTERFACE);
        RecordingWebView first = new RecordingWebView();
        unattached.onPageStarted(first, Fixture.url("/index.html"));
        FrameSession firstSession = unattached.currentSession();
        assertNotNull(firstSession);
        unattached.onPageStarted(new RecordingWebView(), Fixture.url("/index.html"));
        assertSame(firstSession, unattached.currentSession());
        // Closed here: a session the cleaner closes later would upset another test's count.
        client.close();
        unattached.close();
    }

    @Test
    public void theInterfaceFallbackRefusesCallsWithoutTheDocumentsToken() throws Exception {
        BusWebViewClient client = new BusWebViewClient(app.host, BusWebViewClient.Transport.JAVASCRIPT_INTERFACE);
        RecordingWebView view = new RecordingWebView();
        client.attach(view);
        ShadowWebView shadow = shadowOf((WebView) view);
        BusWebViewClient.Interface bridge =
                (BusWebViewClient.Interface) shadow.getJavascriptInterface(BusWebViewClient.INTERFACE_NAME);
        assertNotNull(bridge);
        view.url = Fixture.url("/index.html");
        client.onPageStarted(view, view.url);
        String script = shadow.getLastEvaluatedJavascript();
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("const token = \"([0-9a-f]{32})\"").matcher(script);
        assertTrue(m.find());
        String token = m.group(1);

        // A caller without the token (a foreign iframe sees the object too): refused.
        bridge.send("00000000000000000000000000000000", requestHeadGet(1, "/conf/text"));
        bridge.send(null, requestHeadGet(3, "/conf/text"));
        Thread.sleep(200);
        shadowOf(Looper.getMainLooper()).idle();
        assertEquals(script, shadow.getLastEvaluatedJavascript());

        // With it: the answer is delivered by evaluateJavascript, checked against the origin.
        bridge.send(token, requestHeadGet(5, "/conf/text"));
        String delivery = null;
        for (int i = 0; i < 4000; i++) {
            shadowOf(Looper.getMainLooper()).idle();
            String last = shadow.getLastEvaluatedJavascript();
            if (last != null && last.startsWith("if(location.origin===\"https://app.invalid\"")) {
                delivery = last;
                break;
            }
            Thread.sleep(5);
        }
        assertNotNull(delivery);
        client.close();
    }

    /** A RequestHead frame (PROTOCOL.md §4) for a bodiless GET, base64. */
    static String requestHeadGet(int stream, String uri) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.write(1); // version
        le(out, 0, 4); // RequestHead
        le(out, stream, 4);
        str(out, "GET");
        str(out, uri);
        le(out, 0, 8); // no headers
        out.write(1); // end_stream
        le(out, 1 << 20, 4); // window
        return Base64.getEncoder().encodeToString(out.toByteArray());
    }

    private static void le(java.io.ByteArrayOutputStream out, long v, int n) {
        for (int i = 0; i < n; i++) {
            out.write((int) (v >>> (8 * i)) & 0xff);
        }
    }

    private static void str(java.io.ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        le(out, b.length, 8);
        out.write(b, 0, b.length);
    }
}
