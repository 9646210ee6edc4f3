package dev.inprocbus.android;

import android.net.Uri;
import android.os.Handler;
import android.os.Looper;
import android.util.Log;
import android.webkit.JavascriptInterface;
import android.webkit.ValueCallback;
import android.webkit.WebMessage;
import android.webkit.WebMessagePort;
import android.webkit.WebResourceRequest;
import android.webkit.WebResourceResponse;
import android.webkit.WebView;
import dev.inprocbus.BusHost;
import dev.inprocbus.FrameListener;
import dev.inprocbus.FrameSession;
import dev.inprocbus.InterceptedResponse;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.nio.charset.Charset;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Connects one {@link WebView} to a {@link BusHost}. Call it from your own
 * {@code WebViewClient}:
 *
 * <pre>{@code
 * final BusWebViewClient bus = new BusWebViewClient(host);
 * webView.getSettings().setJavaScriptEnabled(true);
 * bus.attach(webView);
 * webView.setWebViewClient(new WebViewClient() {
 *     public WebResourceResponse shouldInterceptRequest(WebView v, WebResourceRequest r) {
 *         return bus.shouldInterceptRequest(v, r);
 *     }
 *     public boolean shouldOverrideUrlLoading(WebView v, WebResourceRequest r) {
 *         return bus.shouldOverrideUrlLoading(v, r);
 *     }
 *     public void onPageStarted(WebView v, String url, Bitmap icon) { bus.onPageStarted(v, url); }
 *     public void onPageFinished(WebView v, String url) { bus.onPageFinished(v, url); }
 * });
 * webView.loadUrl(host.origin() + "/index.html");
 * // in onDestroy: bus.close(); webView.destroy();
 * }</pre>
 *
 * <ul>
 *   <li><b>Interception</b> ({@link #shouldInterceptRequest}): requests for the app origin
 *       go to the bus with the caller the platform reports ({@code isForMainFrame()}, the
 *       URL, the {@code Origin}/{@code Referer} the engine attached); the answer is a
 *       {@code WebResourceResponse} whose {@code InputStream} pulls the body from Rust as
 *       the engine reads (backpressure) and cancels the handler when closed early. The
 *       host never hands it a 3xx (it throws for those).
 *   <li><b>Frames</b> (fetch, XHR, EventSource, POST forms, through the bridge-js shim):
 *       by default over a framework {@code WebMessageChannel}: one port posted to the main
 *       frame for the app origin only ({@code postWebMessage(message, Uri.parse(appOrigin))}).
 *       {@link Transport#JAVASCRIPT_INTERFACE} is a fallback (see the README for what it
 *       cannot verify).
 *   <li><b>Navigations</b> ({@link #shouldOverrideUrlLoading}): the host's policy; frames
 *       may show the app origin, {@code about:blank}/{@code about:srcdoc} and the origins
 *       the app allowed, nothing else.
 *   <li><b>The shim</b> is evaluated into the main frame at {@link #onPageStarted} (not a
 *       document-start guarantee: see the README), again at {@link #onPageFinished} if it
 *       is not connected yet; a page may also load it first thing with
 *       {@code <script src="/__bus/bridge.js">} ({@link #BRIDGE_SCRIPT_PATH}).
 * </ul>
 *
 * <p>Threads: {@code shouldInterceptRequest} on the WebView's worker threads (it blocks
 * until the response head); everything else on the UI thread. Requires API 23 (the
 * message channel).
 */
public final class BusWebViewClient {
    /** How the page's frames reach the host. */
    public enum Transport {
        /** A framework {@code WebMessageChannel} port, posted to the app origin's main frame. */
        WEB_MESSAGE_CHANNEL,
        /**
         * An {@code addJavascriptInterface} object every frame can see: calls without the
         * current document's token are refused, but the caller's frame and origin cannot
         * be verified. A fallback only.
         */
        JAVASCRIPT_INTERFACE,
    }

    /** The name of the {@code addJavascriptInterface} object ({@link Transport#JAVASCRIPT_INTERFACE}). */
    public static final String INTERFACE_NAME = "__inprocBusInterface";

    /**
     * A path of the app origin this helper answers itself with the page script
     * ({@link Transport#WEB_MESSAGE_CHANNEL} only): {@code <script src="/__bus/bridge.js">}
     * as a page's first script installs the shim before any other script runs.
     */
    public static final String BRIDGE_SCRIPT_PATH = "/__bus/bridge.js";

    /** The message that carries the port (bridge-android {@code scripts::PORT_MESSAGE}). */
    static final String PORT_MESSAGE = "inproc-bus-port";

    /** What the page script returns while it waits for its port, as JSON. */
    static final String STATE_WAITING = "\"waiting\"";

    private static final String TAG = "InprocBus";
    private static final Charset UTF_8 = Charset.forName("UTF-8");

    private final BusHost host;
    private final Transport transport;
    private final Handler ui;
    private final SecureRandom random = new SecureRandom();
    private final Interface javascriptInterface = new Interface();
    /** The current document's bridge; written on the UI thread, read from any. */
    private volatile Document current;
    /**
     * The WebView this client serves: the one given to {@link #attach}, else the first whose
     * page started (UI thread). Another view's pages (a popup's, if the app gives popups
     * this client too) neither end its document nor get a session. Weak: the binding itself
     * keeps no WebView alive (a document's session holds its own view while it is open).
     */
    private java.lang.ref.WeakReference<WebView> view;

    /** Frames over a {@code WebMessageChannel}. */
    public BusWebViewClient(BusHost host) {
        this(host, Transport.WEB_MESSAGE_CHANNEL);
    }

    /** Frames over {@code transport}. */
    public BusWebViewClient(BusHost host, Transport transport) {
        if (host == null) {
            throw new NullPointerException("host");
        }
        if (transport == null) {
            throw new NullPointerException("transport");
        }
        this.host = host;
        this.transport = transport;
        this.ui = new Handler(Looper.getMainLooper());
    }

    /** The host this client serves. */
    public BusHost host() {
        return host;
    }

    /**
     * Call once before the first load: binds this client to {@code view} (its only WebView;
     * give each WebView, a popup's too, a client of its own) and, with
     * {@link Transport#JAVASCRIPT_INTERFACE}, adds the interface object (which only
     * documents loaded afterwards see).
     *
     * @throws IllegalStateException if this client already serves another WebView
     */
    public void attach(WebView view) {
        if (view == null) {
            throw new NullPointerException("view");
        }
        WebView served = this.view == null ? null : this.view.get();
        if (served != null && served != view) {
            throw new IllegalStateException(
                    "this BusWebViewClient already serves another WebView: give each WebView (a popup's too) its own");
        }
        this.view = new java.lang.ref.WeakReference<WebView>(view);
        if (transport == Transport.JAVASCRIPT_INTERFACE) {
            view.addJavascriptInterface(javascriptInterface, INTERFACE_NAME);
        }
    }

    /**
     * The answer for {@code WebViewClient.shouldInterceptRequest(WebView,
     * WebResourceRequest)}: null for URLs outside the app origin (the WebView loads them),
     * else the bus's response. Blocks until the response head.
     */
    public WebResourceResponse shouldInterceptRequest(WebView view, WebResourceRequest request) {
        Uri uri = request.getUrl();
        String url = uri == null ? null : uri.toString();
        String method = request.getMethod();
        if (url == null || method == null) {
            return null;
        }
        if (transport == Transport.WEB_MESSAGE_CHANNEL
                && "GET".equals(method)
                && isAppUrl(url)
                && BRIDGE_SCRIPT_PATH.equals(uri.getPath())) {
            return text(200, "OK", "text/javascript", host.pageScript());
        }
        InterceptedResponse response;
        try {
            response = host.intercept(method, url, request.getRequestHeaders(), request.isForMainFrame());
        } catch (RuntimeException e) {
            if (!isAppUrl(url)) {
                return null;
            }
            Log.w(TAG, "intercept failed: " + url, e);
            return text(500, "Internal Server Error", "text/plain", "the bus could not answer: " + e + "\n");
        }
        if (response == null) {
            return null;
        }
        try {
            return new WebResourceResponse(
                    response.getMimeType(),
                    response.getEncoding(),
                    response.getStatusCode(),
                    response.getReasonPhrase(),
                    response.getResponseHeaders(),
                    response.getData());
        } catch (RuntimeException e) {
            // The host keeps statuses and reasons within what the constructor takes; should
            // it ever throw, cancel the handler rather than leak it.
            response.getData().close();
            return text(502, "Bad Gateway", "text/plain", "unusable response: " + e + "\n");
        }
    }

    /**
     * The answer for {@code WebViewClient.shouldOverrideUrlLoading(WebView,
     * WebResourceRequest)}: true (cancel) for a navigation the host's policy refuses
     * ({@link BusHost#allowsNavigation}: only the app origin, {@code about:blank},
     * {@code about:srcdoc} and origins allowed with {@link BusHost#allowNavigationTo}), for
     * the main frame and subframes alike. A foreign page in the WebView can attack the app
     * origin from inside it, and a foreign iframe is the classic way to reach a bridge.
     *
     * <p>Android does not ask this for the app's own {@code loadUrl} nor for POST
     * navigations; a foreign page or frame reached that way is still foreign to the host
     * (no frame session, anonymous or foreign requests).
     */
    public boolean shouldOverrideUrlLoading(WebView view, WebResourceRequest request) {
        Uri uri = request == null ? null : request.getUrl();
        return shouldOverrideUrlLoading(view, uri == null ? null : uri.toString());
    }

    /** As {@link #shouldOverrideUrlLoading(WebView, WebResourceRequest)}, for the URL alone. */
    public boolean shouldOverrideUrlLoading(WebView view, String url) {
        if (url != null && host.allowsNavigation(url)) {
            return false;
        }
        Log.w(TAG, "navigation refused by the policy: " + url);
        return true;
    }

    /**
     * Call from {@code WebViewClient.onPageStarted}: a new main-frame document. Closes the
     * previous document's session and, for an app-origin URL, evaluates the page script.
     */
    public void onPageStarted(WebView view, String url) {
        if (!serves(view)) {
            return;
        }
        closeDocument();
        if (url == null || !isAppUrl(url)) {
            return;
        }
        Document document = new Document(view);
        if (transport == Transport.JAVASCRIPT_INTERFACE) {
            // The session exists before the page can call: its identity is the main
            // frame's URL as the platform reports it here; calls carry the token.
            try {
                document.session = host.openSession(originOf(url), true, document);
            } catch (RuntimeException e) {
                Log.w(TAG, "no frame session for " + url, e);
                return;
            }
        }
        current = document;
        inject(document);
    }

    /**
     * Call from {@code WebViewClient.onPageFinished}: evaluates the page script again if
     * the document is not connected yet (the script is idempotent and reports its state).
     */
    public void onPageFinished(WebView view, String url) {
        Document document = current;
        if (document != null && document.view == view && !document.connected && url != null && isAppUrl(url)) {
            inject(document);
        }
    }

    /** Closes the current document's session and port; call when the WebView goes away. */
    public void close() {
        closeDocument();
    }

    /** The current document's session, or null (for tests and diagnostics). */
    public FrameSession currentSession() {
        Document document = current;
        return document == null ? null : document.session;
    }

    /**
     * Whether {@code view} is this client's WebView (the first to start a page, when
     * {@link #attach} was not called). A popup the app gave this client too would otherwise
     * end the main view's document with each of its own pages, and take the session over
     * with an app page.
     */
    private boolean serves(WebView view) {
        WebView served = this.view == null ? null : this.view.get();
        if (served == null) {
            // The first, or the one before is gone.
            this.view = new java.lang.ref.WeakReference<WebView>(view);
            return true;
        }
        if (served == view) {
            return true;
        }
        Log.w(TAG, "ignored a page of another WebView (a popup?): give each WebView its own BusWebViewClient");
        return false;
    }

    private void closeDocument() {
        Document document = current;
        current = null;
        if (document != null) {
            document.close();
        }
    }

    private void inject(final Document document) {
        String script = transport == Transport.JAVASCRIPT_INTERFACE
                ? host.pageScript(INTERFACE_NAME, document.token)
                : host.pageScript();
        document.view.evaluateJavascript(script, new ValueCallback<String>() {
            @Override
            public void onReceiveValue(String state) {
                onScriptState(document, state);
            }
        });
    }

    private void onScriptState(Document document, String state) {
        if (document != current || document.closed) {
            return; // another document since
        }
        if (transport == Transport.JAVASCRIPT_INTERFACE) {
            document.connected = true;
        } else if (STATE_WAITING.equals(state)) {
            connectPort(document);
        } else if ("\"connected\"".equals(state)) {
            document.connected = document.session != null;
        }
    }

    private void connectPort(Document document) {
        WebView view = document.view;
        // What the platform reports about the main frame now; postWebMessage below only
        // delivers to a main-frame document of the app origin, whatever happens meanwhile.
        String pageOrigin = originOf(view.getUrl());
        if (pageOrigin == null || !pageOrigin.equals(host.origin())) {
            return;
        }
        document.closeChannel(); // a port posted before went to a document that is gone
        FrameSession session;
        try {
            session = host.openSession(pageOrigin, true, document);
        } catch (RuntimeException e) {
            Log.w(TAG, "no frame session for " + pageOrigin, e);
            return;
        }
        WebMessagePort[] ports = view.createWebMessageChannel();
        document.session = session;
        document.port = ports[0];
        ports[0].setWebMessageCallback(document.portCallback, ui);
        view.postWebMessage(new WebMessage(PORT_MESSAGE, new WebMessagePort[] {ports[1]}), Uri.parse(host.origin()));
        document.connected = true;
    }

    private boolean isAppUrl(String url) {
        return host.origin().equals(originOf(url));
    }

    /**
     * {@code scheme://host[:port]} of an absolute http(s) URL, lower case, default port
     * omitted; null for anything else.
     */
    static String originOf(String url) {
        if (url == null) {
            return null;
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (Exception e) {
            return null;
        }
        String scheme = uri.getScheme();
        String name = uri.getHost();
        if (scheme == null || name == null) {
            return null;
        }
        scheme = scheme.toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http")) {
            return null;
        }
        int port = uri.getPort();
        boolean defaultPort = port == -1 || (scheme.equals("https") && port == 443) || (scheme.equals("http") && port == 80);
        return scheme + "://" + name.toLowerCase(Locale.ROOT) + (defaultPort ? "" : ":" + port);
    }

    private static WebResourceResponse text(int status, String reason, String mimeType, String body) {
        Map<String, String> headers = new HashMap<String, String>();
        headers.put("cache-control", "no-store");
        return new WebResourceResponse(
                mimeType, "utf-8", status, reason, headers, new ByteArrayInputStream(body.getBytes(UTF_8)));
    }

    private String newToken() {
        byte[] bytes = new byte[16];
        random.nextBytes(bytes);
        StringBuilder hex = new StringBuilder(32);
        for (byte b : bytes) {
            hex.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return hex.toString();
    }

    /** One main-frame document's bridge. */
    private final class Document implements FrameListener, Runnable {
        final WebView view;
        final String token = newToken();
        final AtomicBoolean scheduled = new AtomicBoolean();
        volatile FrameSession session;
        volatile WebMessagePort port;
        volatile boolean connected;
        volatile boolean closed;

        final WebMessagePort.WebMessageCallback portCallback = new WebMessagePort.WebMessageCallback() {
            @Override
            public void onMessage(WebMessagePort from, WebMessage message) {
                FrameSession s = session;
                if (s == null || from != port || message == null || message.getData() == null) {
                    return;
                }
                try {
                    s.receive(message.getData());
                } catch (RuntimeException e) {
                    // The page got an Error frame for it; nothing else to do.
                    Log.w(TAG, "frame refused", e);
                }
            }
        };

        Document(WebView view) {
            this.view = view;
        }

        /** From a native bus thread (or inside receive/close): post one delivery. */
        @Override
        public void framesReady() {
            if (scheduled.compareAndSet(false, true)) {
                ui.post(this);
            }
        }

        /** The delivery, on the UI thread: everything waiting, in order. */
        @Override
        public void run() {
            scheduled.set(false);
            FrameSession s = session;
            if (closed || s == null || s.isClosed()) {
                return;
            }
            if (transport == Transport.JAVASCRIPT_INTERFACE) {
                String script = s.takeScript();
                if (script != null) {
                    view.evaluateJavascript(script, null);
                }
                return;
            }
            WebMessagePort p = port;
            for (String frame : s.takeOutbound()) {
                if (p != null) {
                    p.postMessage(new WebMessage(frame));
                }
            }
        }

        void closeChannel() {
            FrameSession s = session;
            WebMessagePort p = port;
            session = null;
            port = null;
            if (s != null) {
                s.close();
            }
            if (p != null) {
                p.close();
            }
        }

        void close() {
            closed = true;
            closeChannel();
        }

        boolean hasToken(String given) {
            return given != null && MessageDigest.isEqual(token.getBytes(UTF_8), given.getBytes(UTF_8));
        }
    }

    /**
     * The {@code addJavascriptInterface} object. Every frame of every document sees it, and
     * it cannot learn who called: only calls with the current document's token (given to
     * the app origin's main frame in the page script) reach the session.
     */
    public final class Interface {
        private Interface() {}

        /** Called by the page script on the WebView's JavaBridge thread. */
        @JavascriptInterface
        public void send(String token, String frame) {
            Document document = current;
            if (document == null || !document.hasToken(token)) {
                Log.w(TAG, "refused a frame from a caller without the document's token");
                return;
            }
            FrameSession s = document.session;
            if (s == null || frame == null) {
                return;
            }
            try {
                s.receive(frame);
            } catch (RuntimeException e) {
                Log.w(TAG, "frame refused", e);
            }
        }
    }

    /** The interface object (for tests). */
    Object javascriptInterface() {
        return javascriptInterface;
    }
}
