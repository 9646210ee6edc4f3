package dev.inprocbus;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.File;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.junit.Test;

/**
 * The test codec ({@link Frame}) against {@code protocol/vectors}: every valid vector
 * decodes to its frame and re-encodes to the same bytes; every invalid one is refused
 * with its code. So the frames the session tests send are the protocol's, not merely what
 * this codec and the Rust one agree on.
 */
public class GoldenVectorsTest {
    @Test
    public void everyVectorDecodesAndReencodes() throws Exception {
        File dir = new File(System.getProperty("inprocbus.vectors", "../../protocol/vectors"));
        JsonObject index;
        try (Reader r = new InputStreamReader(Files.newInputStream(new File(dir, "index.json").toPath()), StandardCharsets.UTF_8)) {
            index = JsonParser.parseReader(r).getAsJsonObject();
        }
        JsonArray vectors = index.getAsJsonArray("vectors");
        assertTrue(vectors.size() >= 20);
        int valid = 0;
        for (JsonElement e : vectors) {
            JsonObject v = e.getAsJsonObject();
            String file = v.get("file").getAsString();
            byte[] bytes = Files.readAllBytes(new File(dir, file).toPath());
            if (v.has("error")) {
                try {
                    Frame.decode(bytes);
                    fail(file + " decoded");
                } catch (Frame.DecodeException ex) {
                    assertEquals(file, v.get("error").getAsInt(), ex.code);
                }
                continue;
            }
            JsonObject want = v.getAsJsonObject("frame");
            Frame f = Frame.decode(bytes);
            assertEquals(file, want.get("type").getAsString(), Frame.NAMES[f.type]);
            assertEquals(file, want.get("stream").getAsLong(), f.stream);
            if (want.has("method")) {
                assertEquals(file, want.get("method").getAsString(), f.method);
                assertEquals(file, want.get("uri").getAsString(), f.uri);
                assertEquals(file, want.get("end_stream").getAsBoolean(), f.endStream);
                assertEquals(file, want.get("window").getAsLong(), f.window);
            }
            if (want.has("headers")) {
                JsonArray headers = want.getAsJsonArray("headers");
                assertEquals(file, headers.size(), f.headers.size());
                for (int i = 0; i < headers.size(); i++) {
                    JsonArray h = headers.get(i).getAsJsonArray();
                    assertEquals(file, h.get(0).getAsString(), f.headers.get(i).name);
                    assertArrayEquals(file, hex(h.get(1).getAsString()), f.headers.get(i).value);
                }
            }
            if (want.has("status")) {
                assertEquals(file, want.get("status").getAsInt(), f.status);
            }
            if (want.has("data")) {
                assertArrayEquals(file, hex(want.get("data").getAsString()), f.data);
            }
            if (want.has("bytes")) {
                assertEquals(file, want.get("bytes").getAsLong(), f.bytes);
            }
            if (want.has("code")) {
                assertEquals(file, want.get("code").getAsInt(), f.code);
                assertEquals(file, want.get("message").getAsString(), f.message);
            }
            assertArrayEquals(file + " re-encodes", bytes, f.encode());
            valid++;
        }
        assertTrue(valid >= 16);
    }

    static byte[] hex(String s) {
        byte[] out = new byte[s.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }
}
