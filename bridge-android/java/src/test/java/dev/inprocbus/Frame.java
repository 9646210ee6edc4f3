package dev.inprocbus;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * The bus wire protocol (docs/PROTOCOL.md, version 1) in Java, for the tests: the page's
 * side of a frame session. Checked against the golden vectors in {@code protocol/vectors}
 * by {@link GoldenVectorsTest}, so the frames the tests send are the frames every other
 * implementation sends.
 */
final class Frame {
    static final int REQUEST_HEAD = 0;
    static final int REQUEST_DATA = 1;
    static final int REQUEST_END = 2;
    static final int RESPONSE_HEAD = 3;
    static final int RESPONSE_DATA = 4;
    static final int RESPONSE_END = 5;
    static final int CANCEL = 6;
    static final int CREDIT = 7;
    static final int ERROR = 8;
    static final int RESPONSE = 9;

    static final int MAX_FRAME = 1_114_112;
    static final int MAX_DATA = 1_048_576;
    static final int INITIAL_UPLOAD_WINDOW = 262_144;

    static final String[] NAMES = {
        "RequestHead", "RequestData", "RequestEnd", "ResponseHead", "ResponseData", "ResponseEnd", "Cancel", "Credit",
        "Error", "Response"
    };

    /** A header: a name and raw value bytes. */
    static final class Header {
        final String name;
        final byte[] value;

        Header(String name, byte[] value) {
            this.name = name;
            this.value = value;
        }

        String text() {
            return new String(value, StandardCharsets.ISO_8859_1);
        }
    }

    /** A frame that does not decode, with the protocol's error code. */
    static final class DecodeException extends Exception {
        private static final long serialVersionUID = 1L;
        final int code;

        DecodeException(int code, String message) {
            super(message + " (code " + code + ")");
            this.code = code;
        }
    }

    int type;
    long stream;
    String method;
    String uri;
    List<Header> headers = new ArrayList<Header>();
    boolean endStream;
    long window;
    byte[] data;
    int status;
    int code;
    String message;
    long bytes;

    static Frame requestHead(long stream, String method, String uri, boolean endStream, long window, String... headers) {
        Frame f = new Frame();
        f.type = REQUEST_HEAD;
        f.stream = stream;
        f.method = method;
        f.uri = uri;
        f.endStream = endStream;
        f.window = window;
        for (int i = 0; i + 1 < headers.length; i += 2) {
            f.headers.add(new Header(headers[i], headers[i + 1].getBytes(StandardCharsets.ISO_8859_1)));
        }
        return f;
    }

    static Frame requestData(long stream, byte[] data) {
        Frame f = new Frame();
        f.type = REQUEST_DATA;
        f.stream = stream;
        f.data = data;
        return f;
    }

    static Frame simple(int type, long stream) {
        Frame f = new Frame();
        f.type = type;
        f.stream = stream;
        return f;
    }

    static Frame credit(long stream, long bytes) {
        Frame f = simple(CREDIT, stream);
        f.bytes = bytes;
        return f;
    }

    String header(String name) {
        for (Header h : headers) {
            if (h.name.equals(name)) {
                return h.text();
            }
        }
        return null;
    }

    String base64() {
        return Base64.getEncoder().encodeToString(encode());
    }

    @Override
    public String toString() {
        String what = NAMES[type] + "{stream " + stream;
        switch (type) {
            case RESPONSE_HEAD:
                return what + ", status " + status + "}";
            case RESPONSE:
                return what + ", status " + status + ", " + data.length + " bytes}";
            case RESPONSE_DATA:
            case REQUEST_DATA:
                return what + ", " + data.length + " bytes}";
            case ERROR:
                return what + ", code " + code + ", " + message + "}";
            case CREDIT:
                return what + ", " + bytes + "}";
            default:
                return what + "}";
        }
    }

    // -------------------------------------------------------------------------------------
    // Encoding: a version byte, then bincode (legacy: little-endian, fixed-width integers).

    byte[] encode() {
        Out out = new Out();
        out.u8(1);
        out.u32(type);
        out.u32(stream);
        switch (type) {
            case REQUEST_HEAD:
                out.string(method);
                out.string(uri);
                out.headers(headers);
                out.u8(endStream ? 1 : 0);
                out.u32(window);
                break;
            case RESPONSE_HEAD:
                out.u16(status);
                out.headers(headers);
                break;
            case RESPONSE:
                out.u16(status);
                out.headers(headers);
                out.bytes(data);
                break;
            case REQUEST_DATA:
            case RESPONSE_DATA:
                out.bytes(data);
                break;
            case CREDIT:
                out.u32(bytes);
                break;
            case ERROR:
                out.u16(code);
                out.string(message);
                break;
            default:
                break; // RequestEnd, ResponseEnd, Cancel: the stream only
        }
        return out.toByteArray();
    }

    static Frame decodeBase64(String b64) throws DecodeException {
        return decode(Base64.getDecoder().decode(b64));
    }

    /** Decodes, reporting the first fault in the order PROTOCOL.md §2 gives. */
    static Frame decode(byte[] bytes) throws DecodeException {
        if (bytes.length == 0) {
            throw new DecodeException(1, "empty");
        }
        if (bytes.length > MAX_FRAME) {
            throw new DecodeException(3, "frame too large");
        }
        if (bytes[0] != 1) {
            throw new DecodeException(2, "version " + (bytes[0] & 0xff));
        }
        In in = new In(bytes);
        in.pos = 1;
        Frame f = new Frame();
        f.type = (int) in.u32();
        f.stream = in.u32();
        switch (f.type) {
            case REQUEST_HEAD:
                f.method = in.string();
                f.uri = in.string();
                f.headers = in.headers();
                f.endStream = in.bool();
                f.window = in.u32();
                break;
            case RESPONSE_HEAD:
                f.status = in.u16();
                f.headers = in.headers();
                break;
            case RESPONSE:
                f.status = in.u16();
                f.headers = in.headers();
                f.data = in.bytes();
                break;
            case REQUEST_DATA:
            case RESPONSE_DATA:
                f.data = in.bytes();
                break;
            case CREDIT:
                f.bytes = in.u32();
                break;
            case ERROR:
                f.code = in.u16();
                f.message = in.string();
                break;
            case REQUEST_END:
            case RESPONSE_END:
            case CANCEL:
                break;
            default:
                throw new DecodeException(1, "unknown variant " + f.type);
        }
        if (in.pos != bytes.length) {
            throw new DecodeException(1, "trailing bytes");
        }
        if (f.data != null && f.data.length > MAX_DATA) {
            throw new DecodeException(3, "data too large");
        }
        return f;
    }

    private static final class Out extends ByteArrayOutputStream {
        void u8(int v) {
            write(v);
        }

        void u16(int v) {
            write(v & 0xff);
            write((v >>> 8) & 0xff);
        }

        void u32(long v) {
            for (int i = 0; i < 4; i++) {
                write((int) (v >>> (8 * i)) & 0xff);
            }
        }

        void u64(long v) {
            for (int i = 0; i < 8; i++) {
                write((int) (v >>> (8 * i)) & 0xff);
            }
        }

        void bytes(byte[] b) {
            u64(b.length);
            write(b, 0, b.length);
        }

        void string(String s) {
            bytes(s.getBytes(StandardCharsets.UTF_8));
        }

        void headers(List<Header> headers) {
            u64(headers.size());
            for (Header h : headers) {
                string(h.name);
                bytes(h.value);
            }
        }
    }

    private static final class In {
        final ByteBuffer buf;
        int pos;

        In(byte[] bytes) {
            buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        }

        private void need(long n) throws DecodeException {
            if (n < 0 || n > buf.limit() - pos) {
                throw new DecodeException(1, "truncated");
            }
        }

        int u8() throws DecodeException {
            need(1);
            return buf.get(pos++) & 0xff;
        }

        int u16() throws DecodeException {
            need(2);
            int v = buf.getShort(pos) & 0xffff;
            pos += 2;
            return v;
        }

        long u32() throws DecodeException {
            need(4);
            long v = buf.getInt(pos) & 0xffffffffL;
            pos += 4;
            return v;
        }

        long u64() throws DecodeException {
            need(8);
            long v = buf.getLong(pos);
            pos += 8;
            return v;
        }

        boolean bool() throws DecodeException {
            int v = u8();
            if (v > 1) {
                throw new DecodeException(1, "bad bool " + v);
            }
            return v == 1;
        }

        byte[] bytes() throws DecodeException {
            long n = u64();
            need(n);
            byte[] out = Arrays.copyOfRange(buf.array(), pos, pos + (int) n);
            pos += (int) n;
            return out;
        }

        String string() throws DecodeException {
            byte[] raw = bytes();
            try {
                return StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(raw))
                        .toString();
            } catch (CharacterCodingException e) {
                throw new DecodeException(1, "bad UTF-8");
            }
        }

        List<Header> headers() throws DecodeException {
            long n = u64();
            // Each header takes at least 16 bytes: refuse counts the bytes cannot hold.
            need(n * 16);
            List<Header> out = new ArrayList<Header>();
            for (long i = 0; i < n; i++) {
                String name = string();
                out.add(new Header(name, bytes()));
            }
            return out;
        }
    }
}
