package dev.inprocbus;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The answer for {@code shouldInterceptRequest}, already within what
 * {@code WebResourceResponse} accepts: a status of 200–299 or 400–599 (the host follows
 * redirects or turns them into a page that navigates on, and maps what Android refuses to
 * 502), a non-empty ASCII reason phrase, one value per header name.
 *
 * <pre>{@code
 * new WebResourceResponse(r.getMimeType(), r.getEncoding(), r.getStatusCode(),
 *         r.getReasonPhrase(), r.getResponseHeaders(), r.getData());
 * }</pre>
 */
public final class InterceptedResponse {
    private final int statusCode;
    private final String reasonPhrase;
    private final String mimeType;
    private final String encoding;
    private final Map<String, String> responseHeaders;
    private final BodyStream data;

    /** Made by the native library only ({@code jni.rs}: {@code response_object}). */
    InterceptedResponse(
            int statusCode, String reasonPhrase, String mimeType, String encoding, String[] headers, long body) {
        this.statusCode = statusCode;
        this.reasonPhrase = reasonPhrase;
        this.mimeType = mimeType;
        this.encoding = encoding;
        Map<String, String> map = new LinkedHashMap<String, String>();
        for (int i = 0; i + 1 < headers.length; i += 2) {
            map.put(headers[i], headers[i + 1]);
        }
        this.responseHeaders = Collections.unmodifiableMap(map);
        this.data = new BodyStream(body);
    }

    /** 200–299 or 400–599. */
    public int getStatusCode() {
        return statusCode;
    }

    /** Non-empty ASCII (the canonical phrase, {@code "Unknown"} for unregistered codes). */
    public String getReasonPhrase() {
        return reasonPhrase;
    }

    /** The media type of {@code Content-Type}, lower case; null when there is none. */
    public String getMimeType() {
        return mimeType;
    }

    /** The {@code charset} of {@code Content-Type}; null when there is none. */
    public String getEncoding() {
        return encoding;
    }

    /**
     * Header names (lower case) and values, one value per name: repeated headers joined
     * with {@code ", "} ({@code Set-Cookie} with {@code "\n"}). Values are Latin-1 decoded.
     */
    public Map<String, String> getResponseHeaders() {
        return responseHeaders;
    }

    /** The body, pulled from the handler as it is read; close it (closing early cancels). */
    public BodyStream getData() {
        return data;
    }
}
