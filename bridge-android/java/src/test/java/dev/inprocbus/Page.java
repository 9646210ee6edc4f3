package dev.inprocbus;

import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.fail;

import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The page side of a frame session, as the tests see it (the Java twin of {@code Page} in
 * {@code bridge-android/tests/host.rs}): sends base64 frames, takes what the bus sends when
 * told to ({@link FrameListener}) or by polling, grants credit.
 */
final class Page implements FrameListener {
    final FrameSession session;
    final LinkedBlockingQueue<Thread> woken = new LinkedBlockingQueue<Thread>();
    /** Every thread {@link #framesReady()} was called on. */
    final Set<Thread> wokenBy = ConcurrentHashMap.newKeySet();
    private final Deque<Frame> waiting = new ArrayDeque<Frame>();
    private final boolean polling;
    private long next = 1;

    /** A session told through this listener, or polled when {@code polling}. */
    Page(BusHost host, boolean polling) {
        this.polling = polling;
        this.session = host.openSession(Fixture.ORIGIN, true, polling ? null : this);
    }

    @Override
    public void framesReady() {
        woken.add(Thread.currentThread());
        wokenBy.add(Thread.currentThread());
    }

    void send(Frame frame) {
        session.receive(frame.base64());
    }

    /** The next frame from the bus. */
    Frame next() throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (true) {
            Frame f = waiting.poll();
            if (f != null) {
                return f;
            }
            for (String b64 : session.takeOutbound()) {
                waiting.add(Frame.decodeBase64(b64));
            }
            if (waiting.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    fail("no frame from the bus within 20 s");
                }
                if (polling) {
                    Thread.sleep(2);
                } else {
                    woken.poll(50, TimeUnit.MILLISECONDS);
                }
            }
        }
    }

    long open(String method, String uri, byte[] body, String... headers) throws Exception {
        long stream = next;
        next += 2;
        send(Frame.requestHead(stream, method, uri, body == null, 1 << 20, headers));
        if (body == null) {
            return stream;
        }
        // Within the bus's credit: the initial window, then its Credit frames.
        long credit = Frame.INITIAL_UPLOAD_WINDOW;
        int sent = 0;
        List<Frame> held = new ArrayList<Frame>();
        while (sent < body.length) {
            if (credit == 0) {
                Frame f = next();
                if (f.type == Frame.CREDIT && f.stream == stream) {
                    credit += f.bytes;
                } else {
                    held.add(f);
                    if (f.stream == stream
                            && (f.type == Frame.RESPONSE_END || f.type == Frame.RESPONSE || f.type == Frame.ERROR)) {
                        break;
                    }
                }
                continue;
            }
            int n = (int) Math.min(Math.min(credit, body.length - sent), 256 * 1024);
            byte[] chunk = new byte[n];
            System.arraycopy(body, sent, chunk, 0, n);
            send(Frame.requestData(stream, chunk));
            sent += n;
            credit -= n;
        }
        send(Frame.simple(Frame.REQUEST_END, stream));
        waiting.addAll(held);
        return stream;
    }

    /** A complete answer on {@code stream}; its body read with credit granted as it comes. */
    Answer answer(long stream) throws Exception {
        Answer answer = null;
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        List<Frame> others = new ArrayList<Frame>();
        try {
            while (true) {
                Frame f = next();
                if (f.stream != stream) {
                    others.add(f);
                    continue;
                }
                switch (f.type) {
                    case Frame.RESPONSE_HEAD:
                        answer = new Answer(f);
                        break;
                    case Frame.RESPONSE_DATA:
                        body.write(f.data, 0, f.data.length);
                        send(Frame.credit(stream, f.data.length));
                        break;
                    case Frame.RESPONSE_END:
                        assertNotNull("a head first", answer);
                        answer.body = body.toByteArray();
                        return answer;
                    case Frame.RESPONSE:
                        // A whole response in one frame (the host's sessions ask for them).
                        assertNull("no head before a whole Response", answer);
                        answer = new Answer(f);
                        answer.body = f.data;
                        return answer;
                    case Frame.ERROR:
                        throw new AssertionError("stream " + stream + " failed: " + f);
                    default:
                        break; // Credit for our upload
                }
            }
        } finally {
            waiting.addAll(others);
        }
    }

    Answer request(String method, String uri, byte[] body, String... headers) throws Exception {
        return answer(open(method, uri, body, headers));
    }

    static final class Answer {
        final Frame head;
        byte[] body;

        Answer(Frame head) {
            this.head = head;
        }

        int status() {
            return head.status;
        }

        String header(String name) {
            return head.header(name);
        }

        String text() throws Exception {
            return new String(body, "UTF-8");
        }
    }
}
