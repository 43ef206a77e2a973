/*
 * loadgen: a native load generator for queue servers, so that the client is not the bottleneck
 * it measures. bench/lib/loadgen.ts builds it (cc -O2) and runs it; bench/throughput.ts reports.
 *
 * Protocols (one table, PROTOCOLS):
 *   memcache   Kestrel's dialect: `set q`; `get q` or `get q/t=<ms>`; reliable reads `get q/open`,
 *              then `get q/close/open` (confirm the last item, open the next), a final `get q/close`.
 *   redis      RESP: `LPUSH q <item>`; `RPOP q`, or `BRPOP q <seconds>` when waiting.
 *   beanstalk  `use q` + `put`; `watch q` + `ignore default`, then `reserve-with-timeout <s>`, and
 *              `delete <id>` sent with the next reserve (a reliable read, like Kestrel's close/open).
 *
 * Load: P producers and C consumers, each on its own connection, in a closed loop. A producer
 * writes a batch of --pipeline puts in one write and waits for all their replies; a consumer
 * sends one take and waits for its reply. Connection i of a side uses queue i mod Q. The
 * connections are spread over --threads threads, each an epoll loop over non-blocking sockets.
 *
 * Phases: warm-up (load runs, nothing is measured), measure (for --seconds, or until --items
 * items were produced and consumed), drain (producers stop; with --check queue the consumers
 * empty the queues, unmeasured, so that every acknowledged item can be accounted for), done.
 *
 * Invariants of what it reports:
 *  - Every reply is matched against what its request allows. Anything else is an error: counted,
 *    printed to stderr, and the connection closed (its byte stream can no longer be trusted).
 *  - Every item is `kq <producer> <seq> <size>\n` (fixed-width hex) and then a fixed a-z filler.
 *    A consumed item with another size, a bad header, an unsent sequence number or a changed
 *    filler is an error.
 *  - --check queue (a queue: each item is handed out once): a consumer sees each producer's items
 *    in increasing order, no item is handed out twice (over all consumers), and after a complete
 *    drain every acknowledged item has been consumed. --check cache (memcached, the Bun floor:
 *    a get returns the last item set): only the form of each item is checked.
 *  - Latency is from the write of a request to its complete reply, recorded in the measured
 *    window only: per put, and per take that returned an item (a miss is counted, not timed).
 *
 * Output: one JSON object on stdout (print_report); errors and notes on stderr. Exit status 0
 * for a run without errors, 1 for a run with errors, 2 for bad arguments or a failed connect.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- options ---------------------------------------------------------------------------- */

enum protocol_id { MEMCACHE, REDIS, BEANSTALK };
enum check_mode { CHECK_QUEUE, CHECK_CACHE };

static struct options {
    const char *host;
    int port;
    enum protocol_id protocol;
    int producers, consumers, queues, threads, pipeline;
    size_t item_size;
    bool reliable;
    int wait_ms;            /* a take waits up to this long for an item; 0: polls */
    double seconds;         /* measured window, when items == 0 */
    uint64_t items;         /* measured window: until this many were produced and consumed */
    double warmup_seconds, drain_seconds, max_seconds;
    int stall_ms;           /* a reply later than wait_ms + stall_ms is an error */
    enum check_mode check;
    const char *queue_prefix;
} opt = {
    .host = "127.0.0.1", .protocol = MEMCACHE, .producers = 1, .consumers = 1, .queues = 1,
    .threads = 1, .pipeline = 1, .item_size = 1024, .wait_ms = 500, .seconds = 3,
    .warmup_seconds = 1, .drain_seconds = 30, .max_seconds = 60, .stall_ms = 10000,
    .check = CHECK_QUEUE, .queue_prefix = "loadgen",
};

#define MAX_PIPELINE 1000
#define MAX_LINE 1024
#define READ_CHUNK 65536
#define HEADER_LEN 38 /* "kq %08x %016llx %08x\n" */
#define MAX_ERROR_SAMPLES 10
#define MAX_ERRORS_PRINTED 20

/* ---- small helpers ---------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static _Noreturn void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL) die("out of memory");
    return p;
}

/* A growable byte buffer; unread bytes are data[start, len). */
struct buf {
    uint8_t *data;
    size_t start, len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
    if (b->start > 0 && b->len + more > b->cap) {
        memmove(b->data, b->data + b->start, b->len - b->start);
        b->len -= b->start;
        b->start = 0;
    }
    if (b->len + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    b->data = realloc(b->data, cap);
    if (b->data == NULL) die("out of memory");
    b->cap = cap;
}

static void buf_append(struct buf *b, const void *bytes, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static size_t buf_unread(const struct buf *b) { return b->len - b->start; }
static const uint8_t *buf_head(const struct buf *b) { return b->data + b->start; }

static void buf_consume(struct buf *b, size_t n)
{
    b->start += n;
    if (b->start == b->len) b->start = b->len = 0;
}

/* The `n` bytes at `p` as printable text (others as \xNN, cut to fit `out`), for error messages. */
static void printable(char *out, size_t out_size, const uint8_t *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < out_size; i++) {
        if (p[i] >= 32 && p[i] < 127 && p[i] != '\\') out[o++] = (char)p[i];
        else o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", p[i]);
    }
    out[o] = '\0';
}

/* ---- latency histogram: log buckets, 64 per power of two (under 1.6% error), in ns ------ */

#define SUB_BITS 6
#define SUB (1 << SUB_BITS)
#define MAX_BITS 40 /* up to 2^40 ns, about 18 minutes */
#define HIST_BUCKETS ((MAX_BITS - SUB_BITS + 1) * SUB)

struct histogram {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total, max_ns;
};

static int bucket_of(uint64_t ns)
{
    if (ns < 2 * SUB) return (int)ns;
    int msb = 63 - __builtin_clzll(ns);
    int shift = msb - SUB_BITS;
    int index = (shift + 1) * SUB + (int)((ns >> shift) - SUB);
    return index < HIST_BUCKETS ? index : HIST_BUCKETS - 1;
}

/* The highest value that falls in bucket `index`. */
static uint64_t bucket_high(int index)
{
    if (index < 2 * SUB) return (uint64_t)index;
    int shift = index / SUB - 1;
    uint64_t low = (uint64_t)(index % SUB + SUB) << shift;
    return low + ((1ull << shift) - 1);
}

static void hist_record(struct histogram *h, uint64_t ns)
{
    h->counts[bucket_of(ns)]++;
    h->total++;
    if (ns > h->max_ns) h->max_ns = ns;
}

static void hist_merge(struct histogram *into, const struct histogram *h)
{
    for (int i = 0; i < HIST_BUCKETS; i++) into->counts[i] += h->counts[i];
    into->total += h->total;
    if (h->max_ns > into->max_ns) into->max_ns = h->max_ns;
}

/* The value at quantile q (0..1), in microseconds; 0 for an empty histogram. */
static double hist_quantile_us(const struct histogram *h, double q)
{
    if (h->total == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->total + 0.999999);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t high = bucket_high(i);
            return (double)(high < h->max_ns ? high : h->max_ns) / 1000.0;
        }
    }
    return (double)h->max_ns / 1000.0;
}

/* ---- shared run state ------------------------------------------------------------------- */

enum phase { WARMUP, MEASURE, DRAIN, STOP };

static atomic_int phase = WARMUP;
static atomic_int live_connections;
static atomic_int producers_active;
static atomic_int consumers_drained;  /* consumers that saw their queue empty after the last put */
static atomic_int failed_connections;
static atomic_uint_fast64_t measured_produced, measured_consumed, measured_misses;
static atomic_uint_fast64_t claimed;  /* --items: puts handed out in the measured window */
static atomic_uint_fast64_t errors;
static atomic_uint_fast64_t total_consumed;
static _Atomic uint64_t *sent_count;  /* per producer: items written so far */
static uint64_t *acked_count;         /* per producer: items acknowledged (its own thread writes) */
static uint8_t *filler;               /* an item without its header: a-z repeated */

static pthread_mutex_t error_lock = PTHREAD_MUTEX_INITIALIZER;
static char *error_samples[MAX_ERROR_SAMPLES];
static int error_sample_count;

static void record_error(const char *who, const char *fmt, va_list ap)
{
    char text[512];
    int n = snprintf(text, sizeof text, "%s: ", who);
    vsnprintf(text + n, sizeof text - (size_t)n, fmt, ap);
    uint64_t count = atomic_fetch_add(&errors, 1) + 1;
    pthread_mutex_lock(&error_lock);
    if (error_sample_count < MAX_ERROR_SAMPLES) error_samples[error_sample_count++] = strdup(text);
    pthread_mutex_unlock(&error_lock);
    if (count <= MAX_ERRORS_PRINTED) fprintf(stderr, "loadgen error: %s\n", text);
    if (count == MAX_ERRORS_PRINTED + 1) fprintf(stderr, "loadgen: more errors follow, not printed\n");
}

static void run_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record_error("run", fmt, ap);
    va_end(ap);
}

/* Which items were consumed, for --check queue: a bit per (producer, seq), in lazily made chunks. */
#define SEEN_CHUNK_BITS 20
#define SEEN_CHUNKS 1024 /* 2^30 items per producer */
typedef _Atomic uint64_t seen_word;
static _Atomic(seen_word *) *seen_chunks;

/* Marks an item consumed; false if it already was. */
static bool mark_seen(unsigned producer, uint64_t seq)
{
    _Atomic(seen_word *) *slot = &seen_chunks[(size_t)producer * SEEN_CHUNKS + (seq >> SEEN_CHUNK_BITS)];
    seen_word *words = atomic_load(slot);
    if (words == NULL) {
        seen_word *fresh = xcalloc((size_t)1 << (SEEN_CHUNK_BITS - 6), sizeof *fresh);
        if (atomic_compare_exchange_strong(slot, &words, fresh)) words = fresh;
        else free(fresh);
    }
    uint64_t bit = 1ull << (seq & 63);
    uint64_t offset = seq & ((1u << SEEN_CHUNK_BITS) - 1);
    return (atomic_fetch_or(&words[offset >> 6], bit) & bit) == 0;
}

static bool was_seen(unsigned producer, uint64_t seq)
{
    seen_word *words = atomic_load(&seen_chunks[(size_t)producer * SEEN_CHUNKS + (seq >> SEEN_CHUNK_BITS)]);
    uint64_t offset = seq & ((1u << SEEN_CHUNK_BITS) - 1);
    return words != NULL && (atomic_load(&words[offset >> 6]) >> (seq & 63) & 1);
}

/* ---- connections ------------------------------------------------------------------------ */

/* What a request in flight accepts as its reply. */
enum expect {
    EXPECT_LINE,    /* a set-up command: exactly `line` */
    EXPECT_STORED,  /* a put */
    EXPECT_TAKE,    /* an item or "empty" */
    EXPECT_CONFIRM, /* a confirm of an open item */
};

struct pending {
    enum expect kind;
    uint64_t sent_ns;
    char line[96];
};

struct worker;

struct conn {
    struct worker *worker;
    int fd;
    bool producer;
    int index;             /* producer or consumer number */
    char name[24];         /* "producer 3", for errors */
    char queue[64];
    struct buf in, out;
    struct pending *pending; /* a ring of what the requests in flight expect */
    int pending_head, pending_count, pending_cap;
    bool writing;          /* EPOLLOUT armed */
    bool done;
    /* producers */
    uint64_t next_seq;
    /* consumers */
    int64_t *last_seq;     /* --check queue: last sequence number seen per producer */
    bool has_open;         /* holds an item not yet confirmed */
    uint64_t open_job;     /* beanstalk: the reserved job's id */
    bool take_waits;       /* the take in flight waits for an item (BRPOP rather than RPOP) */
    bool empty_is_final;   /* the take in flight was sent after every producer had finished */
    bool drained;          /* such a take came back empty */
    char key[160];         /* memcache: the key of the take in flight, echoed in VALUE */
};

static bool conn_fail(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record_error(c->name, fmt, ap);
    va_end(ap);
    return false;
}

static void expect(struct conn *c, enum expect kind, const char *line, uint64_t sent_ns)
{
    if (c->pending_count == c->pending_cap) die("internal: pending ring full on %s", c->name);
    struct pending *p = &c->pending[(c->pending_head + c->pending_count++) % c->pending_cap];
    p->kind = kind;
    p->sent_ns = sent_ns;
    snprintf(p->line, sizeof p->line, "%s", line ? line : "");
}

static struct pending *pending_head(struct conn *c) { return &c->pending[c->pending_head]; }

static void pending_pop(struct conn *c)
{
    c->pending_head = (c->pending_head + 1) % c->pending_cap;
    c->pending_count--;
}

/* Writes the next item of producer `c` to its output: header, then the filler. */
static void append_item(struct conn *c)
{
    char header[HEADER_LEN + 1];
    snprintf(header, sizeof header, "kq %08x %016llx %08x\n", (unsigned)c->index,
             (unsigned long long)c->next_seq++, (unsigned)opt.item_size);
    buf_append(&c->out, header, HEADER_LEN);
    buf_append(&c->out, filler + HEADER_LEN, opt.item_size - HEADER_LEN);
}

static bool parse_hex(const uint8_t *p, int digits, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < digits; i++) {
        int d = p[i] >= '0' && p[i] <= '9' ? p[i] - '0' : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10 : -1;
        if (d < 0) return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

/* Checks a consumed item (see the header comment); false after recording the error. */
static bool check_item(struct conn *c, const uint8_t *item, size_t len)
{
    uint64_t producer, seq, size;
    char shown[80];
    if (len != opt.item_size) return conn_fail(c, "item of %zu bytes, expected %zu", len, opt.item_size);
    if (memcmp(item, "kq ", 3) != 0 || !parse_hex(item + 3, 8, &producer) || item[11] != ' ' ||
        !parse_hex(item + 12, 16, &seq) || item[28] != ' ' || !parse_hex(item + 29, 8, &size) || item[37] != '\n') {
        printable(shown, sizeof shown, item, HEADER_LEN);
        return conn_fail(c, "item with a malformed header \"%s\"", shown);
    }
    if (producer >= (uint64_t)opt.producers) return conn_fail(c, "item from producer %llu of %d", (unsigned long long)producer, opt.producers);
    if (size != opt.item_size) return conn_fail(c, "item header says %llu bytes, it has %zu", (unsigned long long)size, len);
    if (seq >= atomic_load(&sent_count[producer]))
        return conn_fail(c, "item %llu/%llu was never sent", (unsigned long long)producer, (unsigned long long)seq);
    if (memcmp(item + HEADER_LEN, filler + HEADER_LEN, len - HEADER_LEN) != 0) {
        size_t at = HEADER_LEN;
        while (item[at] == filler[at]) at++;
        return conn_fail(c, "item %llu/%llu differs from what was sent at byte %zu", (unsigned long long)producer, (unsigned long long)seq, at);
    }
    if (opt.check == CHECK_CACHE) return true;
    if ((int64_t)seq <= c->last_seq[producer])
        return conn_fail(c, "item %llu/%llu after %llu/%lld: out of order or repeated", (unsigned long long)producer,
                         (unsigned long long)seq, (unsigned long long)producer, (long long)c->last_seq[producer]);
    c->last_seq[producer] = (int64_t)seq;
    if (seq >> SEEN_CHUNK_BITS >= SEEN_CHUNKS) return conn_fail(c, "sequence number %llu too large to track", (unsigned long long)seq);
    if (!mark_seen((unsigned)producer, seq))
        return conn_fail(c, "item %llu/%llu handed out twice", (unsigned long long)producer, (unsigned long long)seq);
    return true;
}

/* ---- reply framing shared by the text protocols ----------------------------------------- */

enum parse { PARSE_MORE, PARSE_OK, PARSE_BAD };

enum reply_kind { REPLY_LINE, REPLY_STORED, REPLY_ITEM, REPLY_EMPTY, REPLY_CONFIRMED };

struct reply {
    enum reply_kind kind;
    size_t size;         /* bytes of input it took */
    const uint8_t *item; /* REPLY_ITEM */
    size_t item_len;
    uint64_t job;        /* beanstalk: the reserved job's id */
};

/* The line at offset `at` of the input, without its CRLF: PARSE_MORE if incomplete. */
static enum parse next_line(struct conn *c, size_t at, const char **line, size_t *len)
{
    const uint8_t *head = buf_head(&c->in) + at;
    size_t avail = buf_unread(&c->in) - at;
    const uint8_t *lf = memchr(head, '\n', avail < MAX_LINE ? avail : MAX_LINE);
    if (lf == NULL) {
        if (avail < MAX_LINE) return PARSE_MORE;
        return conn_fail(c, "a reply line of over %d bytes", MAX_LINE), PARSE_BAD;
    }
    if (lf == head || lf[-1] != '\r') {
        char shown[120];
        printable(shown, sizeof shown, head, (size_t)(lf - head) + 1);
        return conn_fail(c, "a reply line not ended by CRLF: \"%s\"", shown), PARSE_BAD;
    }
    *line = (const char *)head;
    *len = (size_t)(lf - head) - 1;
    return PARSE_OK;
}

static bool line_is(const char *line, size_t len, const char *text)
{
    return len == strlen(text) && memcmp(line, text, len) == 0;
}

static enum parse unexpected(struct conn *c, const char *line, size_t len, const char *wanted)
{
    char shown[120];
    printable(shown, sizeof shown, (const uint8_t *)line, len < 100 ? len : 100);
    conn_fail(c, "unexpected reply \"%s\" where %s was expected", shown, wanted);
    return PARSE_BAD;
}

/* A decimal number filling line[0, len); false if it isn't one. */
static bool parse_decimal(const char *p, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return true;
}

/* `size` data bytes at offset `at`, followed by CRLF: PARSE_MORE if not all here yet. */
static enum parse data_block(struct conn *c, size_t at, size_t size, struct reply *r)
{
    if (buf_unread(&c->in) < at + size + 2) return PARSE_MORE;
    const uint8_t *data = buf_head(&c->in) + at;
    if (data[size] != '\r' || data[size + 1] != '\n') return conn_fail(c, "a data block of %zu bytes not followed by CRLF", size), PARSE_BAD;
    r->kind = REPLY_ITEM;
    r->item = data;
    r->item_len = size;
    r->size = at + size + 2;
    return PARSE_OK;
}

/* A line reply that must be exactly `text`. */
static enum parse exact_line(struct conn *c, const char *text, enum reply_kind kind, struct reply *r)
{
    const char *line;
    size_t len;
    enum parse status = next_line(c, 0, &line, &len);
    if (status != PARSE_OK) return status;
    if (!line_is(line, len, text)) return unexpected(c, line, len, text);
    r->kind = kind;
    r->size = len + 2;
    return PARSE_OK;
}

/* ---- memcache (Kestrel) ----------------------------------------------------------------- */

static void mc_put(struct conn *c)
{
    buf_printf(&c->out, "set %s 0 0 %zu\r\n", c->queue, opt.item_size);
    append_item(c);
    buf_append(&c->out, "\r\n", 2);
}

static void mc_take(struct conn *c)
{
    const char *options = !opt.reliable ? "" : c->has_open ? "/close/open" : "/open";
    int n = snprintf(c->key, sizeof c->key, "%s%s", c->queue, options);
    if (c->take_waits) snprintf(c->key + n, sizeof c->key - (size_t)n, "/t=%d", opt.wait_ms);
    buf_printf(&c->out, "get %s\r\n", c->key);
}

static void mc_confirm(struct conn *c)
{
    buf_printf(&c->out, "get %s/close\r\n", c->queue);
}

/* `VALUE <key> <flags> <bytes>` + data + `END`, or `END` alone. */
static enum parse mc_take_reply(struct conn *c, struct reply *r)
{
    const char *line;
    size_t len;
    enum parse status = next_line(c, 0, &line, &len);
    if (status != PARSE_OK) return status;
    if (line_is(line, len, "END")) {
        r->kind = REPLY_EMPTY;
        r->size = 5;
        return PARSE_OK;
    }
    char expected[200];
    int n = snprintf(expected, sizeof expected, "VALUE %s 0 ", c->key);
    uint64_t bytes;
    if (len <= (size_t)n || memcmp(line, expected, (size_t)n) != 0 || !parse_decimal(line + n, len - (size_t)n, &bytes))
        return unexpected(c, line, len, "VALUE with the key as sent, flags 0 and a length, or END");
    if (bytes != opt.item_size) return conn_fail(c, "VALUE of %llu bytes, expected %zu", (unsigned long long)bytes, opt.item_size), PARSE_BAD;
    status = data_block(c, len + 2, bytes, r);
    if (status != PARSE_OK) return status;
    size_t end_at = r->size;
    status = next_line(c, end_at, &line, &len);
    if (status != PARSE_OK) return status;
    if (!line_is(line, len, "END")) return unexpected(c, line, len, "END after a VALUE block");
    r->size = end_at + 5;
    return PARSE_OK;
}

static enum parse mc_parse(struct conn *c, enum expect kind, struct reply *r)
{
    switch (kind) {
    case EXPECT_STORED: return exact_line(c, "STORED", REPLY_STORED, r);
    case EXPECT_CONFIRM: return exact_line(c, "END", REPLY_CONFIRMED, r);
    case EXPECT_TAKE: return mc_take_reply(c, r);
    default: return exact_line(c, pending_head(c)->line, REPLY_LINE, r);
    }
}

/* ---- Redis (RESP) ------------------------------------------------------------------------ */

static void resp_bulk_header(struct buf *b, size_t len) { buf_printf(b, "$%zu\r\n", len); }

static void redis_put(struct conn *c)
{
    buf_printf(&c->out, "*3\r\n$5\r\nLPUSH\r\n$%zu\r\n%s\r\n", strlen(c->queue), c->queue);
    resp_bulk_header(&c->out, opt.item_size);
    append_item(c);
    buf_append(&c->out, "\r\n", 2);
}

static void redis_take(struct conn *c)
{
    size_t qlen = strlen(c->queue);
    if (!c->take_waits) {
        buf_printf(&c->out, "*2\r\n$4\r\nRPOP\r\n$%zu\r\n%s\r\n", qlen, c->queue);
        return;
    }
    char seconds[32];
    snprintf(seconds, sizeof seconds, "%.3f", opt.wait_ms / 1000.0);
    buf_printf(&c->out, "*3\r\n$5\r\nBRPOP\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", qlen, c->queue, strlen(seconds), seconds);
}

/* A line `<prefix><number>` at `at`; PARSE_OK with *number (-1 for a nil), *after its end. */
static enum parse resp_counted(struct conn *c, size_t at, char prefix, int64_t *number, size_t *after)
{
    const char *line;
    size_t len;
    enum parse status = next_line(c, at, &line, &len);
    if (status != PARSE_OK) return status;
    uint64_t n;
    char wanted[40];
    snprintf(wanted, sizeof wanted, "a RESP '%c' reply", prefix);
    if (len < 2 || line[0] != prefix) return unexpected(c, line, len, wanted);
    if (line_is(line + 1, len - 1, "-1")) *number = -1;
    else if (parse_decimal(line + 1, len - 1, &n)) *number = (int64_t)n;
    else return unexpected(c, line, len, wanted);
    *after = at + len + 2;
    return PARSE_OK;
}

/* RPOP: `$<n>` + data, or `$-1`. BRPOP: `*2` + the key + the item, or `*-1`. */
static enum parse redis_take_reply(struct conn *c, struct reply *r)
{
    int64_t n;
    size_t at = 0;
    enum parse status;
    if (c->take_waits) {
        if ((status = resp_counted(c, at, '*', &n, &at)) != PARSE_OK) return status;
        if (n == -1) return r->kind = REPLY_EMPTY, r->size = at, PARSE_OK;
        if (n != 2) return conn_fail(c, "BRPOP reply of %lld elements, expected 2", (long long)n), PARSE_BAD;
        if ((status = resp_counted(c, at, '$', &n, &at)) != PARSE_OK) return status;
        if (n != (int64_t)strlen(c->queue)) return conn_fail(c, "BRPOP reply names a key of %lld bytes, not %s", (long long)n, c->queue), PARSE_BAD;
        if ((status = data_block(c, at, (size_t)n, r)) != PARSE_OK) return status;
        if (memcmp(r->item, c->queue, (size_t)n) != 0) return conn_fail(c, "BRPOP reply names another key than %s", c->queue), PARSE_BAD;
        at = r->size;
    }
    if ((status = resp_counted(c, at, '$', &n, &at)) != PARSE_OK) return status;
    if (n == -1) return c->take_waits ? (conn_fail(c, "BRPOP reply with a nil item"), PARSE_BAD) : (r->kind = REPLY_EMPTY, r->size = at, PARSE_OK);
    return data_block(c, at, (size_t)n, r);
}

static enum parse redis_parse(struct conn *c, enum expect kind, struct reply *r)
{
    if (kind == EXPECT_TAKE) return redis_take_reply(c, r);
    int64_t n;
    size_t at = 0;
    enum parse status = resp_counted(c, 0, ':', &n, &at);
    if (status != PARSE_OK) return status;
    if (n < 1) return conn_fail(c, "LPUSH reply :%lld, expected a length of 1 or more", (long long)n), PARSE_BAD;
    r->kind = REPLY_STORED;
    r->size = at;
    return PARSE_OK;
}

/* ---- beanstalkd --------------------------------------------------------------------------- */

static void bs_setup(struct conn *c, uint64_t now)
{
    char line[96];
    if (c->producer) {
        buf_printf(&c->out, "use %s\r\n", c->queue);
        snprintf(line, sizeof line, "USING %s", c->queue);
        expect(c, EXPECT_LINE, line, now);
        return;
    }
    buf_printf(&c->out, "watch %s\r\nignore default\r\n", c->queue);
    expect(c, EXPECT_LINE, "WATCHING 2", now);
    expect(c, EXPECT_LINE, "WATCHING 1", now);
}

static void bs_put(struct conn *c)
{
    buf_printf(&c->out, "put 0 0 120 %zu\r\n", opt.item_size);
    append_item(c);
    buf_append(&c->out, "\r\n", 2);
}

static void bs_confirm(struct conn *c)
{
    buf_printf(&c->out, "delete %llu\r\n", (unsigned long long)c->open_job);
}

static void bs_take(struct conn *c)
{
    int seconds = c->take_waits ? (opt.wait_ms + 999) / 1000 : 0;
    buf_printf(&c->out, "reserve-with-timeout %d\r\n", seconds);
}

/* `RESERVED <id> <bytes>` + data, or `TIMED_OUT`. */
static enum parse bs_take_reply(struct conn *c, struct reply *r)
{
    const char *line;
    size_t len;
    enum parse status = next_line(c, 0, &line, &len);
    if (status != PARSE_OK) return status;
    if (line_is(line, len, "TIMED_OUT")) return r->kind = REPLY_EMPTY, r->size = len + 2, PARSE_OK;
    const char *space = len > 9 ? memchr(line + 9, ' ', len - 9) : NULL;
    uint64_t bytes;
    if (len <= 9 || memcmp(line, "RESERVED ", 9) != 0 || space == NULL || !parse_decimal(line + 9, (size_t)(space - line) - 9, &r->job) ||
        !parse_decimal(space + 1, len - (size_t)(space + 1 - line), &bytes))
        return unexpected(c, line, len, "RESERVED <id> <bytes> or TIMED_OUT");
    if (bytes != opt.item_size) return conn_fail(c, "RESERVED a job of %llu bytes, expected %zu", (unsigned long long)bytes, opt.item_size), PARSE_BAD;
    return data_block(c, len + 2, bytes, r);
}

static enum parse bs_parse(struct conn *c, enum expect kind, struct reply *r)
{
    const char *line;
    size_t len;
    uint64_t id;
    enum parse status;
    switch (kind) {
    case EXPECT_TAKE: return bs_take_reply(c, r);
    case EXPECT_CONFIRM: return exact_line(c, "DELETED", REPLY_CONFIRMED, r);
    case EXPECT_LINE: return exact_line(c, pending_head(c)->line, REPLY_LINE, r);
    case EXPECT_STORED:
        if ((status = next_line(c, 0, &line, &len)) != PARSE_OK) return status;
        if (len <= 9 || memcmp(line, "INSERTED ", 9) != 0 || !parse_decimal(line + 9, len - 9, &id))
            return unexpected(c, line, len, "INSERTED <id>");
        r->kind = REPLY_STORED;
        r->size = len + 2;
        return PARSE_OK;
    }
    return PARSE_BAD;
}

/* ---- the protocol table ------------------------------------------------------------------- */

struct protocol {
    const char *name;
    void (*setup)(struct conn *c, uint64_t now);  /* set-up requests on connect, or NULL */
    void (*put)(struct conn *c);
    void (*take)(struct conn *c);                 /* uses c->take_waits, c->has_open */
    void (*confirm)(struct conn *c);              /* confirms the open item, or NULL */
    bool confirm_with_take;                       /* the take's own reply confirms (memcache close/open) */
    enum parse (*parse)(struct conn *c, enum expect kind, struct reply *r);
};

static const struct protocol PROTOCOLS[] = {
    [MEMCACHE] = { "memcache", NULL, mc_put, mc_take, mc_confirm, true, mc_parse },
    [REDIS] = { "redis", NULL, redis_put, redis_take, NULL, false, redis_parse },
    [BEANSTALK] = { "beanstalk", bs_setup, bs_put, bs_take, bs_confirm, false, bs_parse },
};

#define PROTO (&PROTOCOLS[opt.protocol])

/* ---- workers: one epoll loop each --------------------------------------------------------- */

struct worker {
    pthread_t thread;
    int epfd;
    struct conn **conns;
    int count, live;
    struct histogram put_latency, take_latency;
    uint64_t last_stall_check_ns, stop_seen_ns;
};

/* The connection is finished (or failed): its socket is closed, the counts of the living updated. */
static void conn_done(struct conn *c)
{
    if (c->done) return;
    c->done = true;
    close(c->fd);
    c->worker->live--;
    atomic_fetch_sub(&live_connections, 1);
    if (c->producer) atomic_fetch_sub(&producers_active, 1);
}

static void conn_close_failed(struct conn *c)
{
    if (c->done) return;
    atomic_fetch_add(&failed_connections, 1);
    conn_done(c);
}

static void set_writing(struct conn *c, bool on)
{
    if (c->writing == on) return;
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
    epoll_ctl(c->worker->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->writing = on;
}

static void flush_out(struct conn *c)
{
    while (buf_unread(&c->out) > 0) {
        ssize_t n = write(c->fd, buf_head(&c->out), buf_unread(&c->out));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_writing(c, true);
            return;
        }
        if (n < 0) {
            conn_fail(c, "write failed: %s", strerror(errno));
            conn_close_failed(c);
            return;
        }
        buf_consume(&c->out, (size_t)n);
    }
    set_writing(c, false);
}

/* --items: how many puts the next batch may hold (0: the measured quota is used up). */
static int claim_batch(void)
{
    if (opt.items == 0 || atomic_load(&phase) != MEASURE) return opt.pipeline;
    uint64_t before = atomic_fetch_add(&claimed, (uint64_t)opt.pipeline);
    if (before >= opt.items) return 0;
    return opt.items - before < (uint64_t)opt.pipeline ? (int)(opt.items - before) : opt.pipeline;
}

static void send_puts(struct conn *c, int batch)
{
    uint64_t now = now_ns();
    for (int i = 0; i < batch; i++) {
        PROTO->put(c);
        expect(c, EXPECT_STORED, NULL, now);
    }
    atomic_store(&sent_count[c->index], c->next_seq);
}

static void send_take(struct conn *c, int current_phase)
{
    uint64_t now = now_ns();
    bool producers_done = atomic_load(&producers_active) == 0;
    c->take_waits = opt.wait_ms > 0 && !(current_phase == DRAIN && producers_done);
    c->empty_is_final = current_phase == DRAIN && producers_done;
    if (c->has_open && !PROTO->confirm_with_take) {
        PROTO->confirm(c);
        expect(c, EXPECT_CONFIRM, NULL, now);
        c->has_open = false;
    }
    PROTO->take(c);
    expect(c, EXPECT_TAKE, NULL, now);
}

/* An idle connection (no request in flight): sends its next request, or finishes. */
static void advance(struct conn *c)
{
    int current = atomic_load(&phase);
    if (c->producer) {
        int batch = current >= DRAIN ? 0 : claim_batch();
        if (batch > 0) send_puts(c, batch);
        else if (current >= DRAIN) conn_done(c);
        return;
    }
    bool finished = current == STOP || (current == DRAIN && (opt.check == CHECK_CACHE || c->drained));
    if (!finished) send_take(c, current);
    else if (c->has_open && PROTO->confirm != NULL) {
        PROTO->confirm(c);
        expect(c, EXPECT_CONFIRM, NULL, now_ns());
    } else {
        conn_done(c);
    }
}

static bool measuring(void) { return atomic_load(&phase) == MEASURE; }

static bool on_reply(struct conn *c, const struct reply *r)
{
    struct pending *p = pending_head(c);
    uint64_t latency = now_ns() - p->sent_ns;
    switch (r->kind) {
    case REPLY_STORED:
        acked_count[c->index]++;
        if (measuring()) {
            atomic_fetch_add_explicit(&measured_produced, 1, memory_order_relaxed);
            hist_record(&c->worker->put_latency, latency);
        }
        break;
    case REPLY_ITEM:
        if (!check_item(c, r->item, r->item_len)) return false;
        atomic_fetch_add_explicit(&total_consumed, 1, memory_order_relaxed);
        c->has_open = opt.reliable || opt.protocol == BEANSTALK;
        c->open_job = r->job;
        if (measuring()) {
            atomic_fetch_add_explicit(&measured_consumed, 1, memory_order_relaxed);
            hist_record(&c->worker->take_latency, latency);
        }
        break;
    case REPLY_EMPTY:
        if (PROTO->confirm_with_take) c->has_open = false;
        if (measuring()) atomic_fetch_add_explicit(&measured_misses, 1, memory_order_relaxed);
        if (c->empty_is_final && !c->drained) {
            c->drained = true;
            atomic_fetch_add(&consumers_drained, 1);
        }
        break;
    case REPLY_CONFIRMED:
        c->has_open = false;
        break;
    case REPLY_LINE:
        break;
    }
    pending_pop(c);
    return true;
}

/* Reads what the socket has; false (after closing the connection) if it failed or closed. */
static bool read_input(struct conn *c)
{
    buf_reserve(&c->in, READ_CHUNK > opt.item_size + 4096 ? READ_CHUNK : opt.item_size + 4096);
    ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
    if (n <= 0) {
        conn_fail(c, n == 0 ? "server closed the connection with %d requests unanswered" : "read failed (%d requests unanswered)", c->pending_count);
        conn_close_failed(c);
        return false;
    }
    c->in.len += (size_t)n;
    return true;
}

/* Takes every complete reply from the input; false (after closing the connection) on a wrong one. */
static bool take_replies(struct conn *c)
{
    while (c->pending_count > 0) {
        struct reply r = { 0 };
        enum parse status = PROTO->parse(c, pending_head(c)->kind, &r);
        if (status == PARSE_MORE) return true;
        if (status == PARSE_BAD || !on_reply(c, &r)) {
            conn_close_failed(c);
            return false;
        }
        buf_consume(&c->in, r.size);
    }
    if (buf_unread(&c->in) == 0) return true;
    char shown[120];
    size_t extra = buf_unread(&c->in);
    printable(shown, sizeof shown, buf_head(&c->in), extra < 100 ? extra : 100);
    conn_fail(c, "%zu bytes nobody asked for: \"%s\"", extra, shown);
    conn_close_failed(c);
    return false;
}

static void on_readable(struct conn *c)
{
    if (!read_input(c) || !take_replies(c)) return;
    if (c->pending_count == 0) advance(c);
    if (!c->done) flush_out(c);
}

/* A request unanswered for too long is an error; so is one still unanswered well after STOP. */
static void check_stalls(struct worker *w, uint64_t now)
{
    uint64_t limit = (uint64_t)(opt.wait_ms + opt.stall_ms) * 1000000u;
    for (int i = 0; i < w->count; i++) {
        struct conn *c = w->conns[i];
        if (c->done || c->pending_count == 0) continue;
        uint64_t waited = now - pending_head(c)->sent_ns;
        bool stopped_long_ago = w->stop_seen_ns > 0 && now - w->stop_seen_ns > (uint64_t)(opt.wait_ms + 2000) * 1000000u;
        if (waited > limit || stopped_long_ago) {
            conn_fail(c, "no reply in %llu ms (%d requests unanswered)", (unsigned long long)(waited / 1000000u), c->pending_count);
            conn_close_failed(c);
        }
    }
}

/* After a phase change, idle connections (a producer whose quota ran out) move on. */
static void on_phase_change(struct worker *w, int current, uint64_t now)
{
    if (current == STOP) w->stop_seen_ns = now;
    for (int i = 0; i < w->count; i++) {
        struct conn *c = w->conns[i];
        if (c->done || c->pending_count > 0) continue;
        advance(c);
        if (!c->done) flush_out(c);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->count; i++) {
        struct conn *c = w->conns[i];
        if (PROTO->setup != NULL) PROTO->setup(c, now_ns());
        else advance(c);
        flush_out(c);
    }
    int seen_phase = WARMUP;
    struct epoll_event events[64];
    while (w->live > 0) {
        int n = epoll_wait(w->epfd, events, 64, 10);
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (!c->done && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(c);
            if (!c->done && (events[i].events & EPOLLOUT)) flush_out(c);
        }
        uint64_t now = now_ns();
        int current = atomic_load(&phase);
        if (current != seen_phase) on_phase_change(w, seen_phase = current, now);
        if (now - w->last_stall_check_ns > 100000000u) {
            w->last_stall_check_ns = now;
            check_stalls(w, now);
        }
    }
    return NULL;
}

/* ---- setting up ---------------------------------------------------------------------------- */

static int connect_to_server(void)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port) };
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) die("--host: not an IPv4 address: %s", opt.host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect to %s:%d: %s", opt.host, opt.port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) die("fcntl: %s", strerror(errno));
    return fd;
}

static struct conn *make_conn(bool producer, int index, struct worker *w)
{
    struct conn *c = xcalloc(1, sizeof *c);
    c->worker = w;
    c->producer = producer;
    c->index = index;
    snprintf(c->name, sizeof c->name, "%s %d", producer ? "producer" : "consumer", index);
    int queue = index % opt.queues;
    if (opt.queues == 1) snprintf(c->queue, sizeof c->queue, "%s", opt.queue_prefix);
    else snprintf(c->queue, sizeof c->queue, "%s_%d", opt.queue_prefix, queue);
    c->pending_cap = opt.pipeline + 4;
    c->pending = xcalloc((size_t)c->pending_cap, sizeof *c->pending);
    if (!producer && opt.check == CHECK_QUEUE) {
        c->last_seq = xcalloc((size_t)opt.producers + 1, sizeof *c->last_seq);
        for (int i = 0; i < opt.producers; i++) c->last_seq[i] = -1;
    }
    c->fd = connect_to_server();
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
    w->conns[w->count++] = c;
    w->live++;
    return c;
}

/* Connections alternate producer, consumer, ... and go round-robin to the workers. */
static struct worker *make_workers(void)
{
    struct worker *workers = xcalloc((size_t)opt.threads, sizeof *workers);
    int total = opt.producers + opt.consumers;
    for (int t = 0; t < opt.threads; t++) {
        workers[t].epfd = epoll_create1(EPOLL_CLOEXEC);
        if (workers[t].epfd < 0) die("epoll_create1: %s", strerror(errno));
        workers[t].conns = xcalloc((size_t)total, sizeof *workers[t].conns);
    }
    int next = 0;
    for (int i = 0; i < opt.producers || i < opt.consumers; i++) {
        if (i < opt.producers) make_conn(true, i, &workers[next++ % opt.threads]);
        if (i < opt.consumers) make_conn(false, i, &workers[next++ % opt.threads]);
    }
    atomic_store(&live_connections, total);
    atomic_store(&producers_active, opt.producers);
    return workers;
}

static void usage(void)
{
    fputs("usage: loadgen --port N [--host 127.0.0.1] [--protocol memcache|redis|beanstalk]\n"
          "  [--producers 1] [--consumers 1] [--queues 1] [--queue-prefix loadgen] [--size 1024]\n"
          "  [--pipeline 1] [--reliable] [--wait-ms 500] [--seconds 3 | --items N] [--warmup 1]\n"
          "  [--drain-seconds 30] [--max-seconds 60] [--stall-ms 10000] [--check queue|cache] [--threads 1]\n",
          stderr);
    exit(2);
}

static long long int_arg(const char *name, const char *text, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text || v < min || v > max) die("--%s: expected an integer from %lld to %lld, got \"%s\"", name, min, max, text);
    return v;
}

static double seconds_arg(const char *name, const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (*end != '\0' || end == text || !(v >= 0) || v > 86400) die("--%s: expected seconds, got \"%s\"", name, text);
    return v;
}

static void parse_options(int argc, char **argv)
{
    static const struct option longs[] = {
        { "host", 1, 0, 'h' }, { "port", 1, 0, 'p' }, { "protocol", 1, 0, 'P' }, { "producers", 1, 0, 'n' },
        { "consumers", 1, 0, 'c' }, { "queues", 1, 0, 'q' }, { "queue-prefix", 1, 0, 'x' }, { "size", 1, 0, 's' },
        { "pipeline", 1, 0, 'l' }, { "reliable", 0, 0, 'r' }, { "wait-ms", 1, 0, 'w' }, { "seconds", 1, 0, 'd' },
        { "items", 1, 0, 'i' }, { "warmup", 1, 0, 'u' }, { "drain-seconds", 1, 0, 'D' }, { "max-seconds", 1, 0, 'M' },
        { "stall-ms", 1, 0, 'S' }, { "check", 1, 0, 'k' }, { "threads", 1, 0, 't' }, { 0, 0, 0, 0 },
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = (int)int_arg("port", optarg, 1, 65535); break;
        case 'P':
            if (strcmp(optarg, "memcache") == 0) opt.protocol = MEMCACHE;
            else if (strcmp(optarg, "redis") == 0) opt.protocol = REDIS;
            else if (strcmp(optarg, "beanstalk") == 0) opt.protocol = BEANSTALK;
            else die("--protocol: expected memcache, redis or beanstalk, got \"%s\"", optarg);
            break;
        case 'n': opt.producers = (int)int_arg("producers", optarg, 0, 10000); break;
        case 'c': opt.consumers = (int)int_arg("consumers", optarg, 0, 10000); break;
        case 'q': opt.queues = (int)int_arg("queues", optarg, 1, 10000); break;
        case 'x': opt.queue_prefix = optarg; break;
        case 's': opt.item_size = (size_t)int_arg("size", optarg, HEADER_LEN, 64 << 20); break;
        case 'l': opt.pipeline = (int)int_arg("pipeline", optarg, 1, MAX_PIPELINE); break;
        case 'r': opt.reliable = true; break;
        case 'w': opt.wait_ms = (int)int_arg("wait-ms", optarg, 0, 60000); break;
        case 'd': opt.seconds = seconds_arg("seconds", optarg); break;
        case 'i': opt.items = (uint64_t)int_arg("items", optarg, 1, 1ll << 40); break;
        case 'u': opt.warmup_seconds = seconds_arg("warmup", optarg); break;
        case 'D': opt.drain_seconds = seconds_arg("drain-seconds", optarg); break;
        case 'M': opt.max_seconds = seconds_arg("max-seconds", optarg); break;
        case 'S': opt.stall_ms = (int)int_arg("stall-ms", optarg, 1, 3600000); break;
        case 'k':
            if (strcmp(optarg, "queue") == 0) opt.check = CHECK_QUEUE;
            else if (strcmp(optarg, "cache") == 0) opt.check = CHECK_CACHE;
            else die("--check: expected queue or cache, got \"%s\"", optarg);
            break;
        case 't': opt.threads = (int)int_arg("threads", optarg, 1, 64); break;
        default: usage();
        }
    }
    if (optind != argc || opt.port == 0) usage();
    if (opt.producers + opt.consumers == 0) die("--producers and --consumers: at least one connection is needed");
    if (opt.reliable && opt.protocol != MEMCACHE) die("--reliable: only for memcache (beanstalk's reserve/delete always is one; redis has none here)");
    if (strlen(opt.queue_prefix) == 0 || strlen(opt.queue_prefix) > 40 || strspn(opt.queue_prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(opt.queue_prefix))
        die("--queue-prefix: expected 1 to 40 letters, digits or _, got \"%s\"", opt.queue_prefix);
}

/* ---- the run and its report ---------------------------------------------------------------- */

struct window {
    double seconds, user_seconds, system_seconds;
};

static double rusage_seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

/* Waits until `done` or `deadline_ns`; false on the deadline. */
static bool wait_until(bool (*done)(void), uint64_t deadline_ns)
{
    while (!done()) {
        if (now_ns() >= deadline_ns) return false;
        sleep_ms(1);
    }
    return true;
}

static bool nobody_left(void) { return atomic_load(&live_connections) == 0; }

static bool count_reached(void)
{
    bool produced = opt.producers == 0 || atomic_load(&measured_produced) >= opt.items;
    bool consumed = opt.consumers == 0 || atomic_load(&measured_consumed) >= opt.items;
    return nobody_left() || (produced && consumed);
}

static uint64_t window_end_ns;
static bool window_over(void) { return nobody_left() || now_ns() >= window_end_ns; }

/* Warm-up, the measured window, then the drain; returns the window's wall and CPU time. */
static struct window run_phases(void)
{
    sleep_ms((int)(opt.warmup_seconds * 1000));
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    uint64_t start = now_ns();
    atomic_store(&phase, MEASURE);
    if (opt.items > 0) {
        if (!wait_until(count_reached, start + (uint64_t)(opt.max_seconds * 1e9)))
            run_error("only %llu items produced and %llu consumed of %llu in %.0f s (--max-seconds)",
                      (unsigned long long)atomic_load(&measured_produced), (unsigned long long)atomic_load(&measured_consumed),
                      (unsigned long long)opt.items, opt.max_seconds);
    } else {
        window_end_ns = start + (uint64_t)(opt.seconds * 1e9);
        wait_until(window_over, UINT64_MAX);
    }
    atomic_store(&phase, DRAIN);
    uint64_t end = now_ns();
    getrusage(RUSAGE_SELF, &after);
    if (!wait_until(nobody_left, end + (uint64_t)(opt.drain_seconds * 1e9))) {
        fprintf(stderr, "loadgen: the drain took over %.0f s; stopping\n", opt.drain_seconds);
        atomic_store(&phase, STOP);
    }
    return (struct window){
        .seconds = (double)(end - start) / 1e9,
        .user_seconds = rusage_seconds(after.ru_utime) - rusage_seconds(before.ru_utime),
        .system_seconds = rusage_seconds(after.ru_stime) - rusage_seconds(before.ru_stime),
    };
}

/* --check queue after a complete drain: every acknowledged item was consumed. */
static uint64_t count_lost(void)
{
    uint64_t lost = 0;
    for (int p = 0; p < opt.producers; p++)
        for (uint64_t seq = 0; seq < acked_count[p]; seq++)
            if (seq >> SEEN_CHUNK_BITS >= SEEN_CHUNKS || !was_seen((unsigned)p, seq)) lost++;
    return lost;
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 32 || ch >= 127) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

static void print_latency(const char *name, const struct histogram *h)
{
    printf("\"%s\":{\"count\":%llu,\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}", name, (unsigned long long)h->total,
           hist_quantile_us(h, 0.5), hist_quantile_us(h, 0.99), hist_quantile_us(h, 0.999), (double)h->max_ns / 1000.0);
}

static void print_report(const struct window *w, const struct histogram *put, const struct histogram *take)
{
    uint64_t produced = atomic_load(&measured_produced), consumed = atomic_load(&measured_consumed);
    uint64_t acked = 0, sent = 0;
    for (int p = 0; p < opt.producers; p++) {
        acked += acked_count[p];
        sent += atomic_load(&sent_count[p]);
    }
    bool drained = opt.check == CHECK_QUEUE && opt.consumers > 0 && atomic_load(&consumers_drained) == opt.consumers;
    bool accountable = drained && atomic_load(&failed_connections) == 0;
    uint64_t lost = accountable ? count_lost() : 0;
    if (lost > 0) run_error("%llu acknowledged items were never consumed", (unsigned long long)lost);

    printf("{\"protocol\":\"%s\",\"producers\":%d,\"consumers\":%d,\"queues\":%d,\"item_size\":%zu,\"pipeline\":%d,", PROTO->name,
           opt.producers, opt.consumers, opt.queues, opt.item_size, opt.pipeline);
    printf("\"reliable\":%s,\"wait_ms\":%d,\"check\":\"%s\",\"threads\":%d,", opt.reliable ? "true" : "false", opt.wait_ms,
           opt.check == CHECK_QUEUE ? "queue" : "cache", opt.threads);
    printf("\"warmup_seconds\":%.3f,\"wall_seconds\":%.6f,\"cpu_user_seconds\":%.6f,\"cpu_system_seconds\":%.6f,", opt.warmup_seconds,
           w->seconds, w->user_seconds, w->system_seconds);
    printf("\"produced\":%llu,\"consumed\":%llu,\"misses\":%llu,\"produced_per_second\":%.1f,\"consumed_per_second\":%.1f,",
           (unsigned long long)produced, (unsigned long long)consumed, (unsigned long long)atomic_load(&measured_misses),
           w->seconds > 0 ? (double)produced / w->seconds : 0, w->seconds > 0 ? (double)consumed / w->seconds : 0);
    print_latency("put_latency_us", put);
    putchar(',');
    print_latency("take_latency_us", take);
    printf(",\"total_acknowledged\":%llu,\"total_unacknowledged\":%llu,\"total_consumed\":%llu,", (unsigned long long)acked,
           (unsigned long long)(sent - acked), (unsigned long long)atomic_load(&total_consumed));
    printf("\"drained\":%s,\"lost\":", drained ? "true" : "false");
    if (accountable) printf("%llu", (unsigned long long)lost);
    else printf("null");
    printf(",\"failed_connections\":%d,\"errors\":%llu,\"error_samples\":[", atomic_load(&failed_connections),
           (unsigned long long)atomic_load(&errors));
    for (int i = 0; i < error_sample_count; i++) {
        if (i > 0) putchar(',');
        print_json_string(error_samples[i]);
    }
    printf("]}\n");
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    filler = xcalloc(opt.item_size, 1);
    for (size_t i = 0; i < opt.item_size; i++) filler[i] = (uint8_t)('a' + i % 26);
    sent_count = xcalloc((size_t)opt.producers + 1, sizeof *sent_count);
    acked_count = xcalloc((size_t)opt.producers + 1, sizeof *acked_count);
    if (opt.check == CHECK_QUEUE) seen_chunks = xcalloc((size_t)opt.producers * SEEN_CHUNKS + 1, sizeof *seen_chunks);

    struct worker *workers = make_workers();
    for (int t = 0; t < opt.threads; t++)
        if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]) != 0) die("pthread_create failed");
    struct window window = run_phases();
    struct histogram *put = xcalloc(1, sizeof *put), *take = xcalloc(1, sizeof *take);
    for (int t = 0; t < opt.threads; t++) {
        pthread_join(workers[t].thread, NULL);
        hist_merge(put, &workers[t].put_latency);
        hist_merge(take, &workers[t].take_latency);
    }
    print_report(&window, put, take);
    return atomic_load(&errors) > 0 ? 1 : 0;
}
