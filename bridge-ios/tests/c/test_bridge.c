/* The C ABI of bridge-ios (include/bus_ios.h), driven from C11 + pthreads the way the Swift
 * host drives it, against the test app in tests/c/app (libtest_app.a).
 *
 * Run it with bridge-ios/scripts/test-c.sh, which builds the library, compiles this file,
 * and runs it under AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer on) and
 * under valgrind. Every check counts; any failed check makes the exit status non-zero.
 *
 * Environment: TEST_LARGE_BYTES (size of the paused stream, default 8 MiB),
 * TEST_THREADS (default 24), TEST_TIMEOUT_SCALE (multiplies every wait; valgrind is slow).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus_ios.h"

/* The test app's exports (tests/c/app/lib.rs). */
uint64_t test_app_start(void);
uint64_t test_app_start_owned(void);
void test_app_shutdown(void);
uint64_t test_app_produced_bytes(void);
uint64_t test_app_hang_started(void);
uint64_t test_app_hang_dropped(void);
uint64_t test_app_drip_dropped(void);

/* ------------------------------------------------------------------------------------ */
/* Checks */

static atomic_long checks_passed;
static atomic_long checks_failed;
static double timeout_scale = 1.0;

static void failf(const char *file, int line, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    atomic_fetch_add(&checks_failed, 1);
}

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (cond) {                                                                        \
            atomic_fetch_add(&checks_passed, 1);                                           \
        } else {                                                                           \
            failf(__FILE__, __LINE__, "(" #cond ") " __VA_ARGS__);                         \
        }                                                                                  \
    } while (0)

static const char *status_name(BusIosStatus s) {
    switch (s) {
    case BUS_IOS_OK: return "BUS_IOS_OK";
    case BUS_IOS_NULL_POINTER: return "BUS_IOS_NULL_POINTER";
    case BUS_IOS_BAD_HANDLE: return "BUS_IOS_BAD_HANDLE";
    case BUS_IOS_INVALID_ARGUMENT: return "BUS_IOS_INVALID_ARGUMENT";
    case BUS_IOS_TOO_LARGE: return "BUS_IOS_TOO_LARGE";
    case BUS_IOS_CLOSED: return "BUS_IOS_CLOSED";
    case BUS_IOS_WOULD_BLOCK: return "BUS_IOS_WOULD_BLOCK";
    case BUS_IOS_INVALID_STATE: return "BUS_IOS_INVALID_STATE";
    case BUS_IOS_REJECTED: return "BUS_IOS_REJECTED";
    case BUS_IOS_BODY_FAILED: return "BUS_IOS_BODY_FAILED";
    case BUS_IOS_PANIC: return "BUS_IOS_PANIC";
    default: return "(unknown status)";
    }
}

/* The calling thread's last error, copied into `out` (and the library's buffer freed). */
static void last_error(char *out, size_t cap) {
    BusIosBytes bytes = {0};
    out[0] = '\0';
    if (bus_ios_last_error(&bytes) != BUS_IOS_OK) return;
    size_t n = bytes.len < cap - 1 ? bytes.len : cap - 1;
    memcpy(out, bytes.ptr, n);
    out[n] = '\0';
    bus_ios_bytes_free(&bytes);
}

#define CHECK_STATUS(expr, expected)                                                       \
    do {                                                                                   \
        BusIosStatus got_ = (expr);                                                        \
        if (got_ == (expected)) {                                                          \
            atomic_fetch_add(&checks_passed, 1);                                           \
        } else {                                                                           \
            char why_[512];                                                                \
            last_error(why_, sizeof why_);                                                 \
            failf(__FILE__, __LINE__, "%s returned %s, expected %s (last error: %s)",      \
                  #expr, status_name(got_), status_name(expected), why_);                  \
        }                                                                                  \
    } while (0)

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static long scaled(long ms) { return (long)(ms * timeout_scale); }

/* Waits until `poll()` is true, up to `ms` (scaled); returns whether it became true. */
static int wait_for(int (*poll)(void), long ms) {
    int64_t deadline = now_ms() + scaled(ms);
    while (!poll()) {
        if (now_ms() > deadline) return 0;
        sleep_ms(2);
    }
    return 1;
}

/* ------------------------------------------------------------------------------------ */
/* A response collector: the context of one request's callbacks. */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t handle;          /* written by bus_ios_request_start before any callback */
    int status;               /* 0 until on_head */
    char headers[4096];       /* "name: value\n"... */
    unsigned char *body;      /* the first `keep` bytes of the body */
    size_t keep;
    uint64_t received;        /* body bytes, all of them */
    uint64_t pattern_errors;  /* bytes where body[i] != i % 251, when check_pattern */
    int check_pattern;
    int auto_credit;          /* grant each chunk back from inside on_data */
    uint64_t cancel_after;    /* cancel from inside on_data once this much arrived (0: no) */
    BusIosStatus cancel_status;
    int cancelled_inside;
    int ended, errored;
    BusIosStatus error_status;
    char error_message[256];
    int released;
    int callbacks_after_close; /* callbacks seen after the test closed the request */
    atomic_int closed;         /* set by the test once cancel/free returned */
} Resp;

static void resp_init(Resp *r, size_t keep) {
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->keep = keep;
    if (keep) r->body = malloc(keep);
}

/* Call only after on_release: nothing refers to `r` any more. */
static void resp_destroy(Resp *r) {
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->body);
}

static void note_late(Resp *r) {
    if (atomic_load(&r->closed)) r->callbacks_after_close++;
}

static void on_head(void *ctx, uint16_t status, const BusIosHeader *headers, size_t count) {
    Resp *r = ctx;
    pthread_mutex_lock(&r->mu);
    note_late(r);
    r->status = status;
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        int n = snprintf(r->headers + used, sizeof r->headers - used, "%.*s: %.*s\n",
                         (int)headers[i].name_len, (const char *)headers[i].name,
                         (int)headers[i].value_len, (const char *)headers[i].value);
        if (n < 0 || (size_t)n >= sizeof r->headers - used) break;
        used += (size_t)n;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_data(void *ctx, const uint8_t *data, size_t len) {
    Resp *r = ctx;
    pthread_mutex_lock(&r->mu);
    note_late(r);
    if (len == 0) r->pattern_errors++; /* never empty, says the header */
    for (size_t i = 0; i < len; i++) {
        uint64_t at = r->received + i;
        if (at < r->keep) r->body[at] = data[i];
        if (r->check_pattern && data[i] != (uint8_t)(at % 251)) r->pattern_errors++;
    }
    r->received += len;
    if (r->auto_credit) bus_ios_request_credit(r->handle, (uint32_t)len);
    if (r->cancel_after && r->received >= r->cancel_after && !r->cancelled_inside) {
        r->cancelled_inside = 1;
        r->cancel_status = bus_ios_request_cancel(r->handle);
        atomic_store(&r->closed, 1);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_end(void *ctx) {
    Resp *r = ctx;
    pthread_mutex_lock(&r->mu);
    note_late(r);
    r->ended++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_error(void *ctx, BusIosStatus status, const uint8_t *message, size_t len) {
    Resp *r = ctx;
    pthread_mutex_lock(&r->mu);
    note_late(r);
    r->errored++;
    r->error_status = status;
    snprintf(r->error_message, sizeof r->error_message, "%.*s", (int)len, (const char *)message);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void on_release(void *ctx) {
    Resp *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->released++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static BusIosResponseCallbacks callbacks_for(Resp *r) {
    BusIosResponseCallbacks cb = {r, on_head, on_data, on_end, on_error, on_release};
    return cb;
}

typedef int (*ResponsePredicate)(const Resp *);
static int done(const Resp *r) { return r->ended || r->errored; }
static int has_head(const Resp *r) { return r->status != 0 || r->errored; }
static int released(const Resp *r) { return r->released > 0; }

static uint64_t want_bytes;
static int got_bytes(const Resp *r) { return r->received >= want_bytes || done(r); }

/* Waits (scaled `ms`) until `pred` holds for `r`; returns whether it did. */
static int resp_wait(Resp *r, ResponsePredicate pred, long ms) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    long total = scaled(ms);
    deadline.tv_sec += total / 1000;
    deadline.tv_nsec += (total % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    int ok = 1;
    while (!pred(r)) {
        if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == ETIMEDOUT) {
            ok = pred(r);
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return ok;
}

static int has_header(Resp *r, const char *line) {
    pthread_mutex_lock(&r->mu);
    int found = strstr(r->headers, line) != NULL;
    pthread_mutex_unlock(&r->mu);
    return found;
}

/* ------------------------------------------------------------------------------------ */
/* Starting requests */

static const char *APP = "app://localhost";

static BusIosCaller verified(const char *origin, uint32_t frame) {
    BusIosCaller c = {BUS_IOS_CALLER_VERIFIED, (const uint8_t *)origin, origin ? strlen(origin) : 0,
                      frame};
    return c;
}

static BusIosCaller scheme_caller(void) {
    BusIosCaller c = {BUS_IOS_CALLER_SCHEME_HEADERS, (const uint8_t *)APP, strlen(APP),
                      BUS_IOS_FRAME_UNKNOWN};
    return c;
}

static BusIosRequest make_request(const char *method, const char *url, const BusIosHeader *headers,
                                  size_t header_count, BusIosCaller caller, bool has_body,
                                  uint32_t window) {
    BusIosRequest req = {(const uint8_t *)method, strlen(method), (const uint8_t *)url, strlen(url),
                         headers, header_count, caller, has_body, window};
    return req;
}

static BusIosStatus start(uint64_t bus, const char *method, const char *url, BusIosCaller caller,
                          bool has_body, uint32_t window, Resp *r) {
    BusIosRequest req = make_request(method, url, NULL, 0, caller, has_body, window);
    BusIosResponseCallbacks cb = callbacks_for(r);
    return bus_ios_request_start(bus, &req, &cb, &r->handle);
}

static BusIosHeader header(const char *name, const char *value) {
    BusIosHeader h = {(const uint8_t *)name, strlen(name), (const uint8_t *)value, strlen(value)};
    return h;
}

/* Frees the request and waits for its release; then `r` may be destroyed. */
static void finish(Resp *r) {
    CHECK_STATUS(bus_ios_request_free(r->handle), BUS_IOS_OK);
    atomic_store(&r->closed, 1);
    CHECK(resp_wait(r, released, 10000), "on_release after free");
    CHECK(r->released == 1, "on_release exactly once (got %d)", r->released);
    CHECK(r->callbacks_after_close == 0, "%d callbacks after free", r->callbacks_after_close);
    resp_destroy(r);
}

static uint64_t app_bus;

/* ------------------------------------------------------------------------------------ */
/* Tests */

static void test_get(void) {
    Resp r;
    resp_init(&r, 256);
    CHECK_STATUS(start(app_bus, "GET", "app://localhost/hello", verified(APP, BUS_IOS_FRAME_MAIN),
                       false, BUS_IOS_DEFAULT_WINDOW, &r),
                 BUS_IOS_OK);
    CHECK(r.handle != 0, "a request handle");
    CHECK(resp_wait(&r, done, 10000), "response");
    CHECK(r.status == 200, "status %d", r.status);
    CHECK(r.ended == 1 && r.errored == 0, "ended %d errored %d", r.ended, r.errored);
    CHECK(r.received == 18 && memcmp(r.body, "hello from the bus", 18) == 0, "body");
    CHECK(has_header(&r, "x-caller-origin: app://localhost\n"), "caller origin: %s", r.headers);
    CHECK(has_header(&r, "x-caller-frame: Main\n"), "caller frame: %s", r.headers);
    CHECK(has_header(&r, "x-caller-transport: Scheme\n"), "transport: %s", r.headers);
    CHECK(has_header(&r, "content-length: 18\n"), "content-length added: %s", r.headers);
    CHECK(r.released == 0, "no release before free");
    finish(&r);

    /* A scheme task: the caller comes from what the engine attached, not from the host. */
    Resp s;
    resp_init(&s, 256);
    BusIosHeader referer = header("Referer", "evil://x/page.html");
    BusIosRequest req = make_request("GET", "/hello", &referer, 1, scheme_caller(), false, 65536);
    BusIosResponseCallbacks cb = callbacks_for(&s);
    CHECK_STATUS(bus_ios_request_start(app_bus, &req, &cb, &s.handle), BUS_IOS_OK);
    CHECK(resp_wait(&s, done, 10000), "response");
    CHECK(s.status == 403, "a foreign referer is refused by the app-origin policy: %d", s.status);
    finish(&s);

    /* Nothing attached proves anything: anonymous, refused by an API mount (it used to count
       as the app's own: any page's <img> looks like this). */
    resp_init(&s, 256);
    CHECK_STATUS(start(app_bus, "GET", "/hello", scheme_caller(), false, 65536, &s), BUS_IOS_OK);
    CHECK(resp_wait(&s, done, 10000), "response");
    CHECK(s.status == 403, "a header-less GET is anonymous: %d", s.status);
    CHECK(s.received > 0 && strstr((const char *)s.body, "anonymous request") != NULL,
          "the 403 says why");
    finish(&s);

    /* The app's own Referer proves the app; the frame stays unknown on the scheme. */
    resp_init(&s, 256);
    BusIosHeader own = header("Referer", "app://localhost/index.html");
    BusIosRequest own_req = make_request("GET", "app://localhost/hello", &own, 1, scheme_caller(), false, 65536);
    BusIosResponseCallbacks own_cb = callbacks_for(&s);
    CHECK_STATUS(bus_ios_request_start(app_bus, &own_req, &own_cb, &s.handle), BUS_IOS_OK);
    CHECK(resp_wait(&s, done, 10000), "response");
    CHECK(s.status == 200, "the app's Referer: %d", s.status);
    CHECK(has_header(&s, "x-caller-frame: Unknown\n"), "frame unknown: %s", s.headers);
    finish(&s);

    /* Another host on the app scheme is misdirected: 421, no handler. */
    resp_init(&s, 256);
    BusIosRequest other_req = make_request("GET", "app://other/hello", &own, 1, scheme_caller(), false, 65536);
    BusIosResponseCallbacks other_cb = callbacks_for(&s);
    CHECK_STATUS(bus_ios_request_start(app_bus, &other_req, &other_cb, &s.handle), BUS_IOS_OK);
    CHECK(resp_wait(&s, done, 10000), "response");
    CHECK(s.status == 421, "another host: %d", s.status);
    finish(&s);

    /* Policies see the caller the host verified. */
    struct {
        const char *origin;
        uint32_t frame;
        const char *url;
        int status;
    } cases[] = {
        {APP, BUS_IOS_FRAME_MAIN, "/main-only", 200},
        {APP, BUS_IOS_FRAME_SUB, "/main-only", 403},
        {"https://evil.example", BUS_IOS_FRAME_MAIN, "/hello", 403},
        {NULL, BUS_IOS_FRAME_MAIN, "/hello", 403},
        {"app://localhost.evil", BUS_IOS_FRAME_MAIN, "/hello", 403},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        resp_init(&s, 0);
        CHECK_STATUS(start(app_bus, "GET", cases[i].url, verified(cases[i].origin, cases[i].frame),
                           false, 65536, &s),
                     BUS_IOS_OK);
        CHECK(resp_wait(&s, done, 10000), "response");
        CHECK(s.status == cases[i].status, "case %zu: status %d, expected %d", i, s.status,
              cases[i].status);
        finish(&s);
    }
}

static void test_not_found(void) {
    Resp r;
    resp_init(&r, 256);
    CHECK_STATUS(start(app_bus, "GET", "/nope", verified(APP, BUS_IOS_FRAME_MAIN), false, 65536, &r),
                 BUS_IOS_OK);
    CHECK(resp_wait(&r, done, 10000), "response");
    CHECK(r.status == 404, "status %d", r.status);
    CHECK(r.received > 0 && strstr((const char *)r.body, "no route") != NULL, "a body naming it");
    finish(&r);
}

static void test_body_failure(void) {
    Resp r;
    resp_init(&r, 64);
    CHECK_STATUS(start(app_bus, "GET", "/fail", verified(APP, BUS_IOS_FRAME_MAIN), false, 65536, &r),
                 BUS_IOS_OK);
    CHECK(resp_wait(&r, done, 10000), "response");
    CHECK(r.status == 200 && r.received == 7, "head and the first chunk first");
    CHECK(r.errored == 1 && r.error_status == BUS_IOS_BODY_FAILED, "on_error(BODY_FAILED): %s",
          status_name(r.error_status));
    CHECK(strstr(r.error_message, "disk on fire") != NULL, "message: %s", r.error_message);
    finish(&r);
}

static uint64_t large_bytes = 8u << 20;

static void test_stream_paused_then_resumed(void) {
    const uint32_t window = 256 * 1024;
    char url[64];
    snprintf(url, sizeof url, "/large?bytes=%llu", (unsigned long long)large_bytes);
    uint64_t produced_before = test_app_produced_bytes();
    Resp r;
    resp_init(&r, 0);
    r.check_pattern = 1;
    CHECK_STATUS(start(app_bus, "GET", url, verified(APP, BUS_IOS_FRAME_MAIN), false, window, &r),
                 BUS_IOS_OK);
    want_bytes = window;
    CHECK(resp_wait(&r, got_bytes, 20000), "the first window");
    char length[64];
    snprintf(length, sizeof length, "content-length: %llu\n", (unsigned long long)large_bytes);
    CHECK(has_header(&r, length), "the length is announced: %s", r.headers);

    /* The reader pauses: no credit. Nothing beyond the window arrives, and the producer
     * is held back within a few chunks of it. */
    sleep_ms(scaled(300));
    pthread_mutex_lock(&r.mu);
    uint64_t received = r.received;
    pthread_mutex_unlock(&r.mu);
    uint64_t produced = test_app_produced_bytes() - produced_before;
    CHECK(received == window, "received %llu while paused, window %u",
          (unsigned long long)received, window);
    CHECK(produced <= window + 3 * 64 * 1024, "the producer ran ahead to %llu bytes of %llu",
          (unsigned long long)produced, (unsigned long long)large_bytes);
    CHECK(produced < large_bytes, "the producer is held back");
    printf("  paused: %llu bytes received, producer at %llu of %llu\n",
           (unsigned long long)received, (unsigned long long)produced,
           (unsigned long long)large_bytes);

    /* Resume: grant what was consumed, then keep granting from inside on_data. */
    pthread_mutex_lock(&r.mu);
    r.auto_credit = 1;
    pthread_mutex_unlock(&r.mu);
    CHECK_STATUS(bus_ios_request_credit(r.handle, window), BUS_IOS_OK);
    CHECK(resp_wait(&r, done, 120000), "the rest of the stream");
    CHECK(r.ended == 1 && r.errored == 0, "ended");
    CHECK(r.received == large_bytes, "received %llu of %llu", (unsigned long long)r.received,
          (unsigned long long)large_bytes);
    CHECK(r.pattern_errors == 0, "%llu bytes differ", (unsigned long long)r.pattern_errors);
    CHECK(test_app_produced_bytes() - produced_before == large_bytes, "all produced");
    finish(&r);
}

static void test_upload_echo(void) {
    const size_t total = 4u << 20;
    unsigned char *sent = malloc(total);
    for (size_t i = 0; i < total; i++) sent[i] = (unsigned char)(i * 7 + (i >> 12));
    Resp r;
    resp_init(&r, total);
    r.auto_credit = 1;
    BusIosHeader type = header("content-type", "application/octet-stream");
    BusIosRequest req =
        make_request("POST", "/echo", &type, 1, verified(APP, BUS_IOS_FRAME_MAIN), true, 65536);
    BusIosResponseCallbacks cb = callbacks_for(&r);
    CHECK_STATUS(bus_ios_request_start(app_bus, &req, &cb, &r.handle), BUS_IOS_OK);
    size_t offset = 0, chunk = 1, would_block = 0;
    int ok = 1;
    while (offset < total && ok) {
        size_t n = chunk < total - offset ? chunk : total - offset;
        BusIosStatus s = bus_ios_request_write(r.handle, sent + offset, n, 1000);
        if (s == BUS_IOS_OK) {
            offset += n;
            chunk = chunk * 3 + 1; /* 1, 4, 13, ... odd sizes up to 256 KiB */
            if (chunk > 256 * 1024) chunk = 7;
        } else if (s == BUS_IOS_WOULD_BLOCK) {
            would_block++;
        } else {
            CHECK_STATUS(s, BUS_IOS_OK);
            ok = 0;
        }
    }
    CHECK_STATUS(bus_ios_request_end(r.handle), BUS_IOS_OK);
    CHECK_STATUS(bus_ios_request_end(r.handle), BUS_IOS_INVALID_STATE); /* double end */
    CHECK_STATUS(bus_ios_request_write(r.handle, sent, 1, 0), BUS_IOS_INVALID_STATE);
    CHECK(resp_wait(&r, done, 60000), "the echo");
    CHECK(r.status == 200 && r.ended == 1, "status %d ended %d", r.status, r.ended);
    CHECK(has_header(&r, "x-method: POST\n"), "method");
    CHECK(r.received == total && memcmp(r.body, sent, total) == 0, "echoed %llu bytes intact",
          (unsigned long long)r.received);
    printf("  upload: %zu bytes echoed (%zu would-block retries)\n", total, would_block);
    finish(&r);
    free(sent);

    /* A request without a body refuses body calls. */
    resp_init(&r, 0);
    CHECK_STATUS(start(app_bus, "GET", "/hello", verified(APP, BUS_IOS_FRAME_MAIN), false, 65536, &r),
                 BUS_IOS_OK);
    CHECK_STATUS(bus_ios_request_write(r.handle, (const uint8_t *)"x", 1, 0), BUS_IOS_INVALID_STATE);
    CHECK_STATUS(bus_ios_request_end(r.handle), BUS_IOS_INVALID_STATE);
    CHECK(resp_wait(&r, done, 10000), "response");
    finish(&r);
}

typedef struct {
    uint64_t handle;
    BusIosStatus status;
    int64_t elapsed_ms;
} BlockedWrite;

static void *blocked_writer(void *arg) {
    BlockedWrite *w = arg;
    static const uint8_t chunk[4096];
    int64_t t0 = now_ms();
    w->status = bus_ios_request_write(w->handle, chunk, sizeof chunk, 20000);
    w->elapsed_ms = now_ms() - t0;
    return NULL;
}

static uint64_t hang_target;
static int hang_started_reached(void) { return test_app_hang_started() >= hang_target; }
static int hang_dropped_reached(void) { return test_app_hang_dropped() >= hang_target; }

static void test_upload_backpressure_and_cancel(void) {
    /* /hang holds its body without reading: the queue fills, then writes wait. */
    uint64_t started = test_app_hang_started(), dropped = test_app_hang_dropped();
    Resp r;
    resp_init(&r, 0);
    CHECK_STATUS(start(app_bus, "PUT", "/hang", verified(APP, BUS_IOS_FRAME_MAIN), true, 65536, &r),
                 BUS_IOS_OK);
    hang_target = started + 1;
    CHECK(wait_for(hang_started_reached, 10000), "the handler runs");
    static uint8_t chunk[64 * 1024];
    size_t accepted = 0;
    BusIosStatus s;
    while ((s = bus_ios_request_write(r.handle, chunk, sizeof chunk, 0)) == BUS_IOS_OK) {
        accepted += sizeof chunk;
        if (accepted > 16u << 20) break;
    }
    CHECK(s == BUS_IOS_WOULD_BLOCK, "a full queue says would-block: %s", status_name(s));
    CHECK(accepted == BUS_IOS_UPLOAD_QUEUE_BYTES, "accepted %zu before blocking", accepted);
    int64_t t0 = now_ms();
    CHECK_STATUS(bus_ios_request_write(r.handle, chunk, sizeof chunk, 100), BUS_IOS_WOULD_BLOCK);
    CHECK(now_ms() - t0 >= 90, "waited for its timeout (%lld ms)", (long long)(now_ms() - t0));

    /* A writer blocked on the full queue is released by a cancel. */
    BlockedWrite w = {r.handle, -1, 0};
    pthread_t writer;
    pthread_create(&writer, NULL, blocked_writer, &w);
    sleep_ms(100);
    CHECK_STATUS(bus_ios_request_cancel(r.handle), BUS_IOS_OK);
    atomic_store(&r.closed, 1);
    pthread_join(writer, NULL);
    CHECK(w.status == BUS_IOS_CLOSED, "the blocked writer got %s", status_name(w.status));
    CHECK(w.elapsed_ms < 10000, "and at once (%lld ms)", (long long)w.elapsed_ms);
    CHECK_STATUS(bus_ios_request_write(r.handle, chunk, 1, 0), BUS_IOS_CLOSED);
    CHECK_STATUS(bus_ios_request_cancel(r.handle), BUS_IOS_INVALID_STATE); /* double cancel */
    CHECK_STATUS(bus_ios_request_credit(r.handle, 100), BUS_IOS_OK);      /* ignored */
    hang_target = dropped + 1;
    CHECK(wait_for(hang_dropped_reached, 10000), "cancel dropped the handler");
    CHECK(r.status == 0 && !r.ended && !r.errored, "no callback after cancel");
    finish(&r);

    /* A handler that answers without reading: writes then say CLOSED. */
    resp_init(&r, 64);
    CHECK_STATUS(start(app_bus, "POST", "/drop-body", verified(APP, BUS_IOS_FRAME_MAIN), true, 65536,
                       &r),
                 BUS_IOS_OK);
    CHECK(resp_wait(&r, done, 10000), "answered before the body");
    int64_t deadline = now_ms() + scaled(10000);
    while ((s = bus_ios_request_write(r.handle, chunk, 1024, 100)) == BUS_IOS_OK &&
           now_ms() < deadline) {
    }
    CHECK(s == BUS_IOS_CLOSED, "writes to a body nobody reads: %s", status_name(s));
    CHECK_STATUS(bus_ios_request_end(r.handle), BUS_IOS_OK); /* races, not a bug */
    CHECK(r.status == 200 && r.received == 7, "the answer");
    CHECK_STATUS(bus_ios_request_cancel(r.handle), BUS_IOS_OK); /* after the end: fine */
    finish(&r);
}

static uint64_t drip_target;
static int drip_dropped_reached(void) { return test_app_drip_dropped() >= drip_target; }

static void test_cancel_midstream(void) {
    uint64_t dropped = test_app_drip_dropped();
    Resp r;
    resp_init(&r, 16);
    CHECK_STATUS(start(app_bus, "GET", "/drip", verified(APP, BUS_IOS_FRAME_MAIN), false, 65536, &r),
                 BUS_IOS_OK);
    want_bytes = 4;
    CHECK(resp_wait(&r, got_bytes, 10000), "the first chunk");
    CHECK(r.status == 200 && memcmp(r.body, "tick", 4) == 0, "head and tick");
    CHECK_STATUS(bus_ios_request_cancel(r.handle), BUS_IOS_OK);
    atomic_store(&r.closed, 1);
    drip_target = dropped + 1;
    CHECK(wait_for(drip_dropped_reached, 10000), "the producer saw its body dropped");
    CHECK(!r.ended && !r.errored, "no end after cancel");
    finish(&r);

    /* Cancelling from inside on_data: no data callback after that one. */
    resp_init(&r, 0);
    r.auto_credit = 1;
    r.cancel_after = 1u << 20;
    CHECK_STATUS(start(app_bus, "GET", "/large?bytes=67108864", verified(APP, BUS_IOS_FRAME_MAIN),
                       false, 128 * 1024, &r),
                 BUS_IOS_OK);
    want_bytes = 1u << 20;
    CHECK(resp_wait(&r, got_bytes, 20000), "a MiB");
    sleep_ms(scaled(100));
    CHECK(r.cancelled_inside && r.cancel_status == BUS_IOS_OK, "cancel inside on_data: %s",
          status_name(r.cancel_status));
    CHECK(r.callbacks_after_close == 0, "%d callbacks after the cancel inside on_data",
          r.callbacks_after_close);
    CHECK(!r.ended && !r.errored, "no end");
    finish(&r);
}

/* Many threads at once. */

typedef struct {
    int id;
    int requests;
    atomic_long *failures;
} Worker;

static void *worker(void *arg) {
    Worker *w = arg;
    for (int i = 0; i < w->requests; i++) {
        Resp r;
        int kind = (w->id + i) % 4;
        resp_init(&r, 8192);
        r.auto_credit = 1;
        BusIosStatus s;
        const char *url = kind == 0 ? "/hello" : kind == 1 ? "/echo" : kind == 2 ? "/nope" : "/drip";
        s = start(app_bus, kind == 1 ? "POST" : "GET", url, verified(APP, BUS_IOS_FRAME_MAIN),
                  kind == 1, 4096, &r);
        int bad = s != BUS_IOS_OK;
        if (!bad && kind == 1) {
            char body[5000];
            for (size_t j = 0; j < sizeof body; j++) body[j] = (char)('a' + (w->id + j) % 26);
            for (size_t off = 0; off < sizeof body && !bad; off += 1000)
                bad |= bus_ios_request_write(r.handle, (const uint8_t *)body + off, 1000, 5000) !=
                       BUS_IOS_OK;
            bad |= bus_ios_request_end(r.handle) != BUS_IOS_OK;
            bad |= !resp_wait(&r, done, 20000);
            bad |= r.status != 200 || r.received != sizeof body || memcmp(r.body, body, sizeof body);
        } else if (!bad && kind == 3) {
            bad |= !resp_wait(&r, has_head, 20000);
            bad |= bus_ios_request_cancel(r.handle) != BUS_IOS_OK;
        } else if (!bad) {
            bad |= !resp_wait(&r, done, 20000);
            bad |= kind == 0 ? (r.status != 200 || r.received != 18) : r.status != 404;
        }
        if (s == BUS_IOS_OK) {
            bad |= bus_ios_request_free(r.handle) != BUS_IOS_OK;
            atomic_store(&r.closed, 1);
            bad |= !resp_wait(&r, released, 20000);
            bad |= r.released != 1 || r.callbacks_after_close != 0;
        }
        if (bad) {
            fprintf(stderr, "thread %d request %d (%s) failed: status %d\n", w->id, i, url, r.status);
            atomic_fetch_add(w->failures, 1);
        }
        resp_destroy(&r);
    }
    return NULL;
}

static void test_many_threads(int threads) {
    enum { PER_THREAD = 12 };
    atomic_long failures = 0;
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    Worker *workers = calloc((size_t)threads, sizeof *workers);
    int64_t t0 = now_ms();
    for (int i = 0; i < threads; i++) {
        workers[i] = (Worker){i, PER_THREAD, &failures};
        CHECK(pthread_create(&ids[i], NULL, worker, &workers[i]) == 0, "thread %d", i);
    }
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    CHECK(atomic_load(&failures) == 0, "%ld of %d requests failed", atomic_load(&failures),
          threads * PER_THREAD);
    printf("  %d threads x %d requests in %lld ms\n", threads, PER_THREAD,
           (long long)(now_ms() - t0));
    free(ids);
    free(workers);
}

/* Frames: a few encoders and a decoder for PROTOCOL.md's fixed-width format. */

typedef struct {
    uint8_t buf[4096];
    size_t len;
} Enc;

static void put(Enc *e, const void *p, size_t n) {
    memcpy(e->buf + e->len, p, n);
    e->len += n;
}
static void put_u32(Enc *e, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(e, b, 4);
}
static void put_u64(Enc *e, uint64_t v) {
    put_u32(e, (uint32_t)v);
    put_u32(e, (uint32_t)(v >> 32));
}
static void put_str(Enc *e, const char *s) {
    put_u64(e, strlen(s));
    put(e, s, strlen(s));
}

static Enc request_head(uint32_t stream, const char *method, const char *uri, uint32_t window) {
    Enc e = {.len = 0};
    uint8_t version = 1, end_stream = 1;
    put(&e, &version, 1);
    put_u32(&e, 0); /* RequestHead */
    put_u32(&e, stream);
    put_str(&e, method);
    put_str(&e, uri);
    put_u64(&e, 0); /* no headers */
    put(&e, &end_stream, 1);
    put_u32(&e, window);
    return e;
}

static Enc credit_frame(uint32_t stream, uint32_t bytes) {
    Enc e = {.len = 0};
    uint8_t version = 1;
    put(&e, &version, 1);
    put_u32(&e, 7); /* Credit */
    put_u32(&e, stream);
    put_u32(&e, bytes);
    return e;
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int heads, ends, errors, released;
    int last_status;        /* of the last ResponseHead */
    int last_error_code;    /* of the last Error */
    uint32_t last_error_stream;
    uint64_t data_bytes;
    int frames_after_close;
    atomic_int closed;
    char last_head[2048];   /* "name: value\n" of the last ResponseHead */
} Frames;

static void on_frame(void *ctx, const uint8_t *f, size_t len) {
    Frames *fr = ctx;
    pthread_mutex_lock(&fr->mu);
    if (atomic_load(&fr->closed)) fr->frames_after_close++;
    if (len >= 9 && f[0] == 1) {
        uint32_t variant = get_u32(f + 1);
        /* ResponseHead: stream, status u16, headers; Response: the same, then data bytes */
        if (variant == 3 || variant == 9) {
            fr->heads++;
            fr->last_status = f[9] | f[10] << 8;
            uint64_t count = get_u64(f + 11);
            size_t at = 19, used = 0;
            fr->last_head[0] = '\0';
            for (uint64_t i = 0; i < count && at + 8 <= len; i++) {
                uint64_t nl = get_u64(f + at);
                const uint8_t *name = f + at + 8;
                at += 8 + nl;
                uint64_t vl = get_u64(f + at);
                const uint8_t *value = f + at + 8;
                at += 8 + vl;
                int n = snprintf(fr->last_head + used, sizeof fr->last_head - used, "%.*s: %.*s\n",
                                 (int)nl, (const char *)name, (int)vl, (const char *)value);
                if (n > 0 && (size_t)n < sizeof fr->last_head - used) used += (size_t)n;
            }
            if (variant == 9 && at + 8 <= len) { /* a whole response: its data, and the end */
                fr->data_bytes += get_u64(f + at);
                fr->ends++;
            }
        } else if (variant == 4) { /* ResponseData: stream, bytes */
            fr->data_bytes += get_u64(f + 9);
        } else if (variant == 5) {
            fr->ends++;
        } else if (variant == 8) { /* Error: stream, code u16, message */
            fr->errors++;
            fr->last_error_stream = get_u32(f + 5);
            fr->last_error_code = f[9] | f[10] << 8;
        }
    }
    pthread_cond_broadcast(&fr->cv);
    pthread_mutex_unlock(&fr->mu);
}

static void on_frames_release(void *ctx) {
    Frames *fr = ctx;
    pthread_mutex_lock(&fr->mu);
    fr->released++;
    pthread_cond_broadcast(&fr->cv);
    pthread_mutex_unlock(&fr->mu);
}

static int frames_wait(Frames *fr, int (*pred)(const Frames *), long ms) {
    int64_t deadline = now_ms() + scaled(ms);
    for (;;) {
        pthread_mutex_lock(&fr->mu);
        int ok = pred(fr);
        pthread_mutex_unlock(&fr->mu);
        if (ok) return 1;
        if (now_ms() > deadline) return 0;
        sleep_ms(2);
    }
}

static int want_ends, want_errors;
static uint64_t want_data;
static int frames_ends(const Frames *f) { return f->ends >= want_ends; }
static int frames_errors(const Frames *f) { return f->errors >= want_errors; }
static int frames_data(const Frames *f) { return f->data_bytes >= want_data; }
static int frames_released(const Frames *f) { return f->released > 0; }

static void frames_init(Frames *fr) {
    memset(fr, 0, sizeof *fr);
    pthread_mutex_init(&fr->mu, NULL);
    pthread_cond_init(&fr->cv, NULL);
}

static void frames_close(Frames *fr, uint64_t session) {
    CHECK_STATUS(bus_ios_session_close(session), BUS_IOS_OK);
    atomic_store(&fr->closed, 1);
    CHECK(frames_wait(fr, frames_released, 10000), "session released");
    CHECK(fr->released == 1, "released once");
    CHECK(fr->frames_after_close == 0, "%d frames after close", fr->frames_after_close);
    pthread_mutex_destroy(&fr->mu);
    pthread_cond_destroy(&fr->cv);
}

static void test_session(void) {
    Frames fr;
    frames_init(&fr);
    BusIosFrameCallbacks cb = {&fr, on_frame, on_frames_release};
    BusIosCaller page = verified(APP, BUS_IOS_FRAME_MAIN);
    uint64_t session = 0;
    CHECK_STATUS(bus_ios_session_open(app_bus, &page, &cb, &session), BUS_IOS_OK);
    CHECK(session != 0, "a session handle");

    Enc head = request_head(1, "GET", "/hello", 65536);
    CHECK_STATUS(bus_ios_session_receive(session, head.buf, head.len), BUS_IOS_OK);
    want_ends = 1;
    CHECK(frames_wait(&fr, frames_ends, 10000), "ResponseEnd");
    CHECK(fr.last_status == 200 && fr.data_bytes == 18, "head %d, %llu bytes", fr.last_status,
          (unsigned long long)fr.data_bytes);
    CHECK(strstr(fr.last_head, "x-caller-transport: Frames\n") != NULL, "over frames: %s",
          fr.last_head);
    CHECK(strstr(fr.last_head, "x-caller-frame: Main\n") != NULL, "main frame: %s", fr.last_head);

    /* Garbage: refused, reported to the page on stream 0, and the session goes on. */
    const uint8_t garbage[] = {1, 0xff, 0xff, 0xff, 0xff};
    CHECK_STATUS(bus_ios_session_receive(session, garbage, sizeof garbage), BUS_IOS_REJECTED);
    want_errors = 1;
    CHECK(frames_wait(&fr, frames_errors, 10000), "an Error frame");
    CHECK(fr.last_error_stream == 0 && fr.last_error_code == 1, "Error 1 on stream 0 (got %d on %u)",
          fr.last_error_code, fr.last_error_stream);
    CHECK_STATUS(bus_ios_session_receive(session, garbage, SIZE_MAX), BUS_IOS_TOO_LARGE);
    CHECK_STATUS(bus_ios_session_receive(session, garbage, BUS_IOS_MAX_FRAME + 1), BUS_IOS_TOO_LARGE);
    CHECK_STATUS(bus_ios_session_receive(session, NULL, 5), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_session_receive(session, NULL, 0), BUS_IOS_REJECTED); /* empty frame */

    /* Credit over frames: the page's window holds the producer back. */
    uint64_t produced_before = test_app_produced_bytes();
    Enc big = request_head(3, "GET", "/large?bytes=2097152", 65536);
    CHECK_STATUS(bus_ios_session_receive(session, big.buf, big.len), BUS_IOS_OK);
    want_data = 18 + 65536;
    CHECK(frames_wait(&fr, frames_data, 10000), "the first window");
    sleep_ms(scaled(200));
    CHECK(fr.data_bytes == 18 + 65536, "nothing past the window: %llu",
          (unsigned long long)fr.data_bytes);
    uint64_t produced = test_app_produced_bytes() - produced_before;
    CHECK(produced <= 65536 + 3 * 65536, "producer at %llu", (unsigned long long)produced);
    Enc credit = credit_frame(3, 4u << 20);
    CHECK_STATUS(bus_ios_session_receive(session, credit.buf, credit.len), BUS_IOS_OK);
    want_ends = 2;
    CHECK(frames_wait(&fr, frames_ends, 60000), "the rest");
    CHECK(fr.data_bytes == 18 + 2097152, "all of it: %llu", (unsigned long long)fr.data_bytes);

    /* Policies see the session's caller. */
    Frames sub;
    frames_init(&sub);
    BusIosFrameCallbacks sub_cb = {&sub, on_frame, on_frames_release};
    BusIosCaller iframe = verified(APP, BUS_IOS_FRAME_SUB);
    uint64_t sub_session = 0;
    CHECK_STATUS(bus_ios_session_open(app_bus, &iframe, &sub_cb, &sub_session), BUS_IOS_OK);
    Enc main_only = request_head(1, "GET", "/main-only", 65536);
    CHECK_STATUS(bus_ios_session_receive(sub_session, main_only.buf, main_only.len), BUS_IOS_OK);
    want_ends = 1;
    CHECK(frames_wait(&sub, frames_ends, 10000), "answered");
    CHECK(sub.last_status == 403, "an iframe is refused: %d", sub.last_status);
    frames_close(&sub, sub_session);

    /* A stream left open is cancelled by close; nothing arrives afterwards. */
    Enc drip = request_head(5, "GET", "/drip", 65536);
    CHECK_STATUS(bus_ios_session_receive(session, drip.buf, drip.len), BUS_IOS_OK);
    want_data = 18 + 2097152 + 4;
    CHECK(frames_wait(&fr, frames_data, 10000), "tick");
    frames_close(&fr, session);
    CHECK_STATUS(bus_ios_session_close(session), BUS_IOS_BAD_HANDLE);
    CHECK_STATUS(bus_ios_session_receive(session, head.buf, head.len), BUS_IOS_BAD_HANDLE);

    /* Argument errors. */
    Frames unused;
    BusIosFrameCallbacks no_frame = {&unused, NULL, NULL};
    BusIosCaller scheme = scheme_caller();
    CHECK_STATUS(bus_ios_session_open(app_bus, &page, &no_frame, &session), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_session_open(app_bus, NULL, &cb, &session), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_session_open(app_bus, &page, NULL, &session), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_session_open(app_bus, &page, &cb, NULL), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_session_open(app_bus, &scheme, &cb, &session), BUS_IOS_INVALID_ARGUMENT);
    CHECK_STATUS(bus_ios_session_open(0, &page, &cb, &session), BUS_IOS_BAD_HANDLE);
}

static void test_errors(void) {
    Resp r;
    resp_init(&r, 0);
    BusIosResponseCallbacks cb = callbacks_for(&r);
    BusIosCaller page = verified(APP, BUS_IOS_FRAME_MAIN);
    BusIosRequest ok = make_request("GET", "/hello", NULL, 0, page, false, 0);
    uint64_t handle = 0;

    /* Null pointers. */
    CHECK_STATUS(bus_ios_request_start(app_bus, NULL, &cb, &handle), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_request_start(app_bus, &ok, NULL, &handle), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_request_start(app_bus, &ok, &cb, NULL), BUS_IOS_NULL_POINTER);
    BusIosResponseCallbacks missing = cb;
    missing.on_data = NULL;
    CHECK_STATUS(bus_ios_request_start(app_bus, &ok, &missing, &handle), BUS_IOS_NULL_POINTER);
    BusIosRequest null_method = ok;
    null_method.method = NULL;
    CHECK_STATUS(bus_ios_request_start(app_bus, &null_method, &cb, &handle), BUS_IOS_NULL_POINTER);
    BusIosRequest null_headers = ok;
    null_headers.header_count = 2;
    CHECK_STATUS(bus_ios_request_start(app_bus, &null_headers, &cb, &handle), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_last_error(NULL), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_bytes_free(NULL), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_script(BUS_IOS_SCRIPT_PAGE, (const uint8_t *)APP, strlen(APP), NULL),
                 BUS_IOS_NULL_POINTER);
    CHECK(handle == 0, "no handle written on failure");

    /* Handle 0, unknown handles, handles of another kind. */
    CHECK_STATUS(bus_ios_request_start(0, &ok, &cb, &handle), BUS_IOS_BAD_HANDLE);
    CHECK_STATUS(bus_ios_request_start(0xdeadbeefULL, &ok, &cb, &handle), BUS_IOS_BAD_HANDLE);
    uint64_t handles[] = {0, 0xdeadbeefULL, UINT64_MAX, app_bus};
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++) {
        uint64_t h = handles[i];
        CHECK_STATUS(bus_ios_request_write(h, (const uint8_t *)"x", 1, 0), BUS_IOS_BAD_HANDLE);
        CHECK_STATUS(bus_ios_request_end(h), BUS_IOS_BAD_HANDLE);
        CHECK_STATUS(bus_ios_request_credit(h, 1), BUS_IOS_BAD_HANDLE);
        CHECK_STATUS(bus_ios_request_cancel(h), BUS_IOS_BAD_HANDLE);
        CHECK_STATUS(bus_ios_request_free(h), BUS_IOS_BAD_HANDLE);
        CHECK_STATUS(bus_ios_session_receive(h, (const uint8_t *)"x", 1), BUS_IOS_BAD_HANDLE);
        CHECK_STATUS(bus_ios_session_close(h), BUS_IOS_BAD_HANDLE);
        if (h != app_bus) CHECK_STATUS(bus_ios_bus_release(h), BUS_IOS_BAD_HANDLE);
    }

    /* Invalid bytes. */
    const char *bad_methods[] = {"G ET", "", "GET\n", "GÉT"};
    for (size_t i = 0; i < sizeof bad_methods / sizeof bad_methods[0]; i++) {
        BusIosRequest req = make_request(bad_methods[i], "/hello", NULL, 0, page, false, 0);
        CHECK_STATUS(bus_ios_request_start(app_bus, &req, &cb, &handle), BUS_IOS_INVALID_ARGUMENT);
    }
    const char *bad_urls[] = {"", "http://[::1", "/a b", "/\x01", "app://local host/"};
    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        BusIosRequest req = make_request("GET", bad_urls[i], NULL, 0, page, false, 0);
        CHECK_STATUS(bus_ios_request_start(app_bus, &req, &cb, &handle), BUS_IOS_INVALID_ARGUMENT);
    }
    BusIosHeader bad_headers[][1] = {{header("bad name", "v")},
                                     {header("", "v")},
                                     {header("x", "line\nbreak")},
                                     {header("x", "nul\0")},
                                     {header("n\xe9", "v")}};
    bad_headers[3][0].value_len = 4; /* include the NUL byte */
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        BusIosRequest req = make_request("GET", "/hello", bad_headers[i], 1, page, false, 0);
        CHECK_STATUS(bus_ios_request_start(app_bus, &req, &cb, &handle), BUS_IOS_INVALID_ARGUMENT);
    }
    BusIosRequest bad_caller = ok;
    bad_caller.caller.frame = 7;
    CHECK_STATUS(bus_ios_request_start(app_bus, &bad_caller, &cb, &handle), BUS_IOS_INVALID_ARGUMENT);
    bad_caller = ok;
    bad_caller.caller.source = 9;
    CHECK_STATUS(bus_ios_request_start(app_bus, &bad_caller, &cb, &handle), BUS_IOS_INVALID_ARGUMENT);
    bad_caller = ok;
    bad_caller.caller.origin = (const uint8_t *)"app://\xff\xfe";
    bad_caller.caller.origin_len = 8;
    CHECK_STATUS(bus_ios_request_start(app_bus, &bad_caller, &cb, &handle), BUS_IOS_INVALID_ARGUMENT);
    bad_caller = ok;
    bad_caller.caller = scheme_caller();
    bad_caller.caller.origin = (const uint8_t *)"not an origin";
    bad_caller.caller.origin_len = 13;
    CHECK_STATUS(bus_ios_request_start(app_bus, &bad_caller, &cb, &handle), BUS_IOS_INVALID_ARGUMENT);
    CHECK(handle == 0, "no handle written on failure");

    /* Huge sizes: refused before anything is read (the pointers here are far too short). */
    BusIosRequest huge = ok;
    huge.url_len = SIZE_MAX;
    CHECK_STATUS(bus_ios_request_start(app_bus, &huge, &cb, &handle), BUS_IOS_TOO_LARGE);
    huge = ok;
    huge.header_count = SIZE_MAX;
    CHECK_STATUS(bus_ios_request_start(app_bus, &huge, &cb, &handle), BUS_IOS_TOO_LARGE);
    huge = ok;
    huge.header_count = BUS_IOS_MAX_HEADERS + 1;
    CHECK_STATUS(bus_ios_request_start(app_bus, &huge, &cb, &handle), BUS_IOS_TOO_LARGE);
    BusIosHeader long_values[2] = {header("a", "x"), header("b", "y")};
    long_values[0].value_len = SIZE_MAX - 2; /* the sum overflows */
    huge = make_request("GET", "/hello", long_values, 2, page, false, 0);
    CHECK_STATUS(bus_ios_request_start(app_bus, &huge, &cb, &handle), BUS_IOS_TOO_LARGE);
    huge = ok;
    huge.caller.origin_len = (size_t)1 << 40;
    CHECK_STATUS(bus_ios_request_start(app_bus, &huge, &cb, &handle), BUS_IOS_TOO_LARGE);
    CHECK(handle == 0, "no handle written on failure");
    CHECK(r.status == 0 && r.released == 0, "no callback for a refused start");

    /* Lifecycle misuse on a live request: double free, use after free, huge writes. */
    resp_destroy(&r);
    resp_init(&r, 0);
    CHECK_STATUS(start(app_bus, "POST", "/echo", page, true, 0, &r), BUS_IOS_OK);
    CHECK_STATUS(bus_ios_request_write(r.handle, (const uint8_t *)"x", SIZE_MAX, 0), BUS_IOS_TOO_LARGE);
    CHECK_STATUS(bus_ios_request_write(r.handle, (const uint8_t *)"x", BUS_IOS_MAX_CHUNK + 1, 0),
                 BUS_IOS_TOO_LARGE);
    CHECK_STATUS(bus_ios_request_write(r.handle, NULL, 1, 0), BUS_IOS_NULL_POINTER);
    CHECK_STATUS(bus_ios_request_write(r.handle, NULL, 0, 0), BUS_IOS_OK); /* empty: no-op */
    uint64_t h = r.handle;
    finish(&r); /* free + release */
    CHECK_STATUS(bus_ios_request_free(h), BUS_IOS_BAD_HANDLE); /* double free */
    CHECK_STATUS(bus_ios_request_write(h, (const uint8_t *)"x", 1, 0), BUS_IOS_BAD_HANDLE);
    CHECK_STATUS(bus_ios_request_end(h), BUS_IOS_BAD_HANDLE);
    CHECK_STATUS(bus_ios_request_cancel(h), BUS_IOS_BAD_HANDLE);
    CHECK_STATUS(bus_ios_request_credit(h, 1), BUS_IOS_BAD_HANDLE);

    /* The last error: a Rust-owned buffer, per thread, freed exactly once. */
    CHECK_STATUS(bus_ios_request_end(0), BUS_IOS_BAD_HANDLE);
    BusIosBytes message = {0};
    CHECK_STATUS(bus_ios_last_error(&message), BUS_IOS_OK);
    CHECK(message.ptr != NULL && message.ptr[message.len] == '\0', "NUL-terminated");
    CHECK(strstr((const char *)message.ptr, "BUS_IOS_BAD_HANDLE: request handle 0") != NULL,
          "message: %s", (const char *)message.ptr);
    BusIosBytes copy = message;
    CHECK_STATUS(bus_ios_bytes_free(&message), BUS_IOS_OK);
    CHECK(message.ptr == NULL && message.len == 0, "zeroed after free");
    CHECK_STATUS(bus_ios_bytes_free(&message), BUS_IOS_OK);        /* a zeroed one: no-op */
    CHECK_STATUS(bus_ios_bytes_free(&copy), BUS_IOS_BAD_HANDLE);   /* double free via a copy */
    uint8_t local[8] = {0};
    BusIosBytes foreign = {local, sizeof local};
    CHECK_STATUS(bus_ios_bytes_free(&foreign), BUS_IOS_BAD_HANDLE); /* never ours */

    /* Scripts for the host. */
    BusIosBytes script = {0};
    CHECK_STATUS(bus_ios_script(BUS_IOS_SCRIPT_PAGE, (const uint8_t *)APP, strlen(APP), &script),
                 BUS_IOS_OK);
    CHECK(script.len > 1000 && strstr((const char *)script.ptr, "InprocBusBridge"), "page script");
    CHECK_STATUS(bus_ios_bytes_free(&script), BUS_IOS_OK);
    CHECK_STATUS(bus_ios_script(BUS_IOS_SCRIPT_RELAY, (const uint8_t *)APP, strlen(APP), &script),
                 BUS_IOS_OK);
    CHECK(strstr((const char *)script.ptr, "\"inprocBus\"") != NULL, "relay script");
    CHECK_STATUS(bus_ios_bytes_free(&script), BUS_IOS_OK);
    CHECK_STATUS(bus_ios_script(9, (const uint8_t *)APP, strlen(APP), &script),
                 BUS_IOS_INVALID_ARGUMENT);
    CHECK_STATUS(bus_ios_script(BUS_IOS_SCRIPT_PAGE, (const uint8_t *)"app://x/\"", 10, &script),
                 BUS_IOS_INVALID_ARGUMENT);
    CHECK_STATUS(bus_ios_script(BUS_IOS_SCRIPT_PAGE, (const uint8_t *)APP, SIZE_MAX, &script),
                 BUS_IOS_TOO_LARGE);
    CHECK(bus_ios_abi_version() == BUS_IOS_ABI_VERSION, "ABI version");
}

static void *read_last_error(void *arg) {
    char *out = arg;
    last_error(out, 256);
    return NULL;
}

static void test_last_error_is_per_thread(void) {
    CHECK_STATUS(bus_ios_request_cancel(0), BUS_IOS_BAD_HANDLE);
    char other[256] = "unset";
    pthread_t t;
    pthread_create(&t, NULL, read_last_error, other);
    pthread_join(t, NULL);
    CHECK(other[0] == '\0', "a new thread has no last error: %s", other);
    char mine[256];
    last_error(mine, sizeof mine);
    CHECK(strstr(mine, "request handle 0") != NULL, "this thread's: %s", mine);
}

/* Threads of this process, from /proc (Linux); -1 where there is no /proc. */
static int thread_count(void) {
    DIR *dir = opendir("/proc/self/task");
    if (!dir) return -1;
    int n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (entry->d_name[0] != '.') n++;
    closedir(dir);
    return n;
}
static int only_this_thread(void) { return thread_count() <= 1; }

static void test_shutdown(void) {
    /* A bus handed over whole: releasing its handle shuts it down. */
    uint64_t owned = test_app_start_owned();
    CHECK(owned != 0 && owned != app_bus, "another bus");
    uint64_t started = test_app_hang_started();
    Resp r;
    resp_init(&r, 256);
    CHECK_STATUS(start(owned, "GET", "/hang", verified(APP, BUS_IOS_FRAME_MAIN), false, 65536, &r),
                 BUS_IOS_OK);
    hang_target = started + 1;
    CHECK(wait_for(hang_started_reached, 10000), "the handler runs");
    CHECK_STATUS(bus_ios_bus_release(owned), BUS_IOS_OK);
    CHECK(resp_wait(&r, done, 10000), "the in-flight request ends");
    CHECK((r.errored && r.error_status == BUS_IOS_CLOSED) || r.status == 503,
          "with CLOSED or 503: status %d error %s", r.status, status_name(r.error_status));
    finish(&r);
    Resp unused;
    resp_init(&unused, 0);
    CHECK_STATUS(start(owned, "GET", "/hello", verified(APP, BUS_IOS_FRAME_MAIN), false, 0, &unused),
                 BUS_IOS_BAD_HANDLE);
    CHECK_STATUS(bus_ios_bus_release(owned), BUS_IOS_BAD_HANDLE); /* double release */

    /* The app's own bus shut down under live requests and a session. */
    resp_init(&r, 16);
    CHECK_STATUS(start(app_bus, "GET", "/drip", verified(APP, BUS_IOS_FRAME_MAIN), false, 65536, &r),
                 BUS_IOS_OK);
    want_bytes = 4;
    CHECK(resp_wait(&r, got_bytes, 10000), "tick");
    Frames fr;
    frames_init(&fr);
    BusIosFrameCallbacks fcb = {&fr, on_frame, on_frames_release};
    BusIosCaller page = verified(APP, BUS_IOS_FRAME_MAIN);
    uint64_t session = 0;
    CHECK_STATUS(bus_ios_session_open(app_bus, &page, &fcb, &session), BUS_IOS_OK);

    test_app_shutdown();
    CHECK(resp_wait(&r, done, 10000), "the streaming response ends");
    CHECK(r.errored == 1 && r.error_status == BUS_IOS_CLOSED, "with on_error(CLOSED): %s",
          status_name(r.error_status));
    CHECK(strstr(r.error_message, "shut down") != NULL, "saying so: %s", r.error_message);
    finish(&r);

    CHECK_STATUS(start(app_bus, "GET", "/hello", page, false, 0, &unused), BUS_IOS_CLOSED);
    BusIosFrameCallbacks ucb = {&unused, on_frame, on_frames_release};
    uint64_t s2 = 0;
    CHECK_STATUS(bus_ios_session_open(app_bus, &page, &ucb, &s2), BUS_IOS_CLOSED);
    CHECK(s2 == 0, "no session on a shut-down bus");
    Enc head = request_head(1, "GET", "/hello", 65536);
    CHECK_STATUS(bus_ios_session_receive(session, head.buf, head.len), BUS_IOS_REJECTED);
    want_errors = 1;
    CHECK(frames_wait(&fr, frames_errors, 10000), "the page is told");
    CHECK(fr.last_error_code == 11 && fr.last_error_stream == 1, "Error Shutdown (11): %d",
          fr.last_error_code);
    frames_close(&fr, session);
    CHECK_STATUS(bus_ios_bus_release(app_bus), BUS_IOS_OK); /* a borrowed bus: forgotten */
    CHECK_STATUS(bus_ios_bus_release(app_bus), BUS_IOS_BAD_HANDLE);
    CHECK_STATUS(start(app_bus, "GET", "/hello", page, false, 0, &unused), BUS_IOS_BAD_HANDLE);
    CHECK(unused.status == 0 && unused.released == 0 && unused.handle == 0,
          "no callback and no handle for refused calls");
    resp_destroy(&unused);

    /* Both buses are shut down: their worker threads go away (none is left running at
     * exit, which valgrind would also report as lost thread memory). */
    if (thread_count() >= 0) {
        CHECK(wait_for(only_this_thread, 10000), "%d threads still running after shutdown",
              thread_count());
    }
}

/* ------------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    void (*run)(void);
} Test;

static int threads = 24;
static void test_threads(void) { test_many_threads(threads); }

int main(void) {
    const char *env;
    if ((env = getenv("TEST_LARGE_BYTES"))) large_bytes = strtoull(env, NULL, 10);
    if ((env = getenv("TEST_THREADS"))) threads = atoi(env);
    if ((env = getenv("TEST_TIMEOUT_SCALE"))) timeout_scale = atof(env);
    if (threads < 16) threads = 16;
    setvbuf(stdout, NULL, _IONBF, 0);

    app_bus = test_app_start();
    Test tests[] = {
        {"GET, callers and policies", test_get},
        {"404", test_not_found},
        {"response body failing midway", test_body_failure},
        {"multi-MiB stream: paused reader holds the producer, then resumes", test_stream_paused_then_resumed},
        {"streamed upload echoed", test_upload_echo},
        {"upload backpressure, cancel releases a blocked writer and drops the handler",
         test_upload_backpressure_and_cancel},
        {"cancel mid-stream, and from inside a callback", test_cancel_midstream},
        {"many threads at once", test_threads},
        {"frames session", test_session},
        {"error paths", test_errors},
        {"last error is per thread", test_last_error_is_per_thread},
        {"calls after shutdown", test_shutdown},
    };
    size_t count = sizeof tests / sizeof tests[0];
    int passed = 0, failed = 0;
    for (size_t i = 0; i < count; i++) {
        long before = atomic_load(&checks_failed);
        int64_t t0 = now_ms();
        printf("- %s\n", tests[i].name);
        tests[i].run();
        int ok = atomic_load(&checks_failed) == before;
        printf("  %s (%lld ms)\n", ok ? "ok" : "FAILED", (long long)(now_ms() - t0));
        if (ok) passed++;
        else failed++;
    }
    printf("(%ld checks, %ld failed)\n", atomic_load(&checks_passed) + atomic_load(&checks_failed),
           atomic_load(&checks_failed));
    printf("bridge-ios: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
