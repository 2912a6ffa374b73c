/*
 * test_abi.c — checks the whole C ABI declared in include/shale.h against its documented
 * contract: statuses, options, NULL handling, key/value limits, batches, snapshots, scans,
 * use after close, reopen, memory:// databases.
 *
 * Each group runs in a forked child so that a crash or hang in one group is reported as a
 * failure of that group and the others still run (SHALE_TEST_NOFORK=1 runs everything in
 * one process, for a debugger). Pass group names as arguments to run only those.
 * The last line of output is "N passed, M failed"; the exit status is non-zero on failure.
 */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700

#define HARNESS_FILE "test_abi.c"
#define HARNESS_TMP_PREFIX "shale-test-abi"
#include "harness.h"

#include <pthread.h>

#define OPEN(loc, opts) open_at((loc), (opts), __LINE__)

/* Opens a fresh directory db under the temp root. */
static shale_db *open_new_at(const char *name, const shale_options *opts, int line) {
    char p[PATH_MAX];
    path_for(p, sizeof p, name);
    return open_at(p, opts, line);
}
#define OPEN_NEW(name, opts) open_new_at((name), (opts), __LINE__)

/* Verifies the result of a get-like call: exp == NULL means "expect NOT_FOUND". Frees val. */
static void check_get_at(int line, const char *what, int rc, void *val, size_t vlen,
                         const void *exp, size_t explen) {
    if (exp == NULL) {
        check_at(rc == SHALE_NOT_FOUND, line, "%s: want NOT_FOUND, got %s (%s)", what,
                 shale_status_name(rc), shale_errmsg());
        check_at(val == NULL && vlen == 0, line, "%s: NOT_FOUND must zero out-params", what);
        if (rc == SHALE_OK) shale_free(val);
        return;
    }
    if (!check_at(rc == SHALE_OK, line, "%s: want OK, got %s (%s)", what, shale_status_name(rc),
                  shale_errmsg())) {
        check_at(val == NULL && vlen == 0, line, "%s: failure must zero out-params", what);
        return;
    }
    check_at(val != NULL && val != SENT, line, "%s: OK must give a non-NULL buffer", what);
    check_at(vlen == explen && (explen == 0 || (val && memcmp(val, exp, explen) == 0)), line,
             "%s: value mismatch (got %zu bytes \"%.*s\", want %zu bytes \"%.*s\")", what, vlen,
             (int)(vlen < 60 ? vlen : 60), val && val != SENT ? (const char *)val : "",
             explen, (int)(explen < 60 ? explen : 60), (const char *)exp);
    shale_free(val);
}

#define EXPECT_GET_N(db, k, klen, exp, explen)                                    \
    do {                                                                          \
        void *v_ = SENT;                                                          \
        size_t vl_ = 777;                                                         \
        int rc_ = shale_get((db), (k), (klen), &v_, &vl_);                        \
        check_get_at(__LINE__, "shale_get", rc_, v_, vl_, (exp), (explen));       \
    } while (0)
#define EXPECT_GET(db, k, exp) EXPECT_GET_N(db, k, strlen(k), (exp), slen0(exp))

#define EXPECT_SNAP_GET(snap, k, exp)                                                   \
    do {                                                                                \
        void *v_ = SENT;                                                                \
        size_t vl_ = 777;                                                               \
        const char *e_ = (exp);                                                         \
        int rc_ = shale_snapshot_get((snap), (k), strlen(k), &v_, &vl_);                \
        check_get_at(__LINE__, "shale_snapshot_get", rc_, v_, vl_, e_, slen0(e_));         \
    } while (0)

/* Appends a byte string to buf, escaping non-printable bytes as \xHH. */
static void append_escaped(char *buf, size_t cap, const void *p, size_t n) {
    size_t len = strlen(buf);
    const unsigned char *b = p;
    for (size_t i = 0; i < n && len + 5 < cap; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\' && b[i] != ',' && b[i] != '=')
            buf[len++] = (char)b[i];
        else
            len += (size_t)snprintf(buf + len, cap - len, "\\x%02x", b[i]);
    }
    buf[len] = '\0';
}

/* Runs a scan and renders it as "k1,k2,..." (with_values: "k1=v1,k2=v2,..."). Returns the
   status that ended the scan (SHALE_NOT_FOUND for a normal end) or the scan's own failure. */
static int scan_render(shale_db *db, shale_snapshot *snap, const char *start, const char *end,
                       int with_values, char *buf, size_t cap) {
    buf[0] = '\0';
    shale_iter *it = NULL;
    int rc = shale_scan(db, snap, start, start ? strlen(start) : 0, end, end ? strlen(end) : 0,
                        &it);
    if (rc != SHALE_OK) return rc;
    const void *k, *v;
    size_t kl, vl;
    int first = 1;
    while ((rc = shale_iter_next(it, &k, &kl, &v, &vl)) == SHALE_OK) {
        if (!first) strncat(buf, ",", cap - strlen(buf) - 1);
        first = 0;
        append_escaped(buf, cap, k, kl);
        if (with_values) {
            strncat(buf, "=", cap - strlen(buf) - 1);
            append_escaped(buf, cap, v, vl);
        }
    }
    shale_iter_free(it);
    return rc;
}

#define CHECK_SCAN(db, snap, start, end, with_values, want)                                   \
    do {                                                                                      \
        char b_[8192];                                                                        \
        int rc_ = scan_render((db), (snap), (start), (end), (with_values), b_, sizeof b_);    \
        check_at(rc_ == SHALE_NOT_FOUND, __LINE__, "scan ended with %s (%s)",                 \
                 shale_status_name(rc_), shale_errmsg());                                     \
        check_at(strcmp(b_, (want)) == 0, __LINE__, "scan [%s, %s): got \"%s\", want \"%s\"", \
                 (start) ? (start) : "NULL", (end) ? (end) : "NULL", b_, (want));             \
    } while (0)

/* ---- Version and statuses ----------------------------------------------------------------- */

static void test_version(void) {
    const char *v = shale_version();
    if (!CHECK(v != NULL)) return;
    CHECK_MSG(strcmp(v, SHALE_VERSION) == 0, "shale_version() \"%s\" != SHALE_VERSION \"%s\"", v,
              SHALE_VERSION);
    unsigned x, y, z;
    char extra;
    CHECK_MSG(sscanf(v, "%u.%u.%u%c", &x, &y, &z, &extra) == 3, "\"%s\" is not X.Y.Z", v);
    if (sscanf(v, "%u.%u.%u", &x, &y, &z) == 3) {
        long n = (long)x * 1000000L + (long)y * 1000L + (long)z;
        CHECK_MSG(n == SHALE_VERSION_NUMBER, "shale_version() %s is %ld, SHALE_VERSION_NUMBER %d",
                  v, n, SHALE_VERSION_NUMBER);
    }
    if (sscanf(SHALE_VERSION, "%u.%u.%u", &x, &y, &z) == 3)
        CHECK((long)x * 1000000L + (long)y * 1000L + (long)z == SHALE_VERSION_NUMBER);
    CHECK(shale_version() == v || strcmp(shale_version(), v) == 0);
}

static void test_status_names(void) {
    static const struct {
        int code;
        const char *name;
    } names[] = {
        {SHALE_OK, "OK"},
        {SHALE_NOT_FOUND, "NOT_FOUND"},
        {SHALE_INVALID_ARGUMENT, "INVALID_ARGUMENT"},
        {SHALE_IO_ERROR, "IO_ERROR"},
        {SHALE_CORRUPTION, "CORRUPTION"},
        {SHALE_CLOSED, "CLOSED"},
        {SHALE_FENCED, "FENCED"},
        {SHALE_BUSY, "BUSY"},
        {SHALE_NOT_SUPPORTED, "NOT_SUPPORTED"},
        {SHALE_INTERNAL, "INTERNAL"},
    };
    /* The numbers are part of the ABI. */
    CHECK(SHALE_OK == 0 && SHALE_NOT_FOUND == 1 && SHALE_INVALID_ARGUMENT == 2);
    CHECK(SHALE_IO_ERROR == 3 && SHALE_CORRUPTION == 4 && SHALE_CLOSED == 5);
    CHECK(SHALE_FENCED == 6 && SHALE_BUSY == 7 && SHALE_NOT_SUPPORTED == 8);
    CHECK(SHALE_INTERNAL == 9);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *n = shale_status_name(names[i].code);
        CHECK_MSG(n != NULL && strcmp(n, names[i].name) == 0, "shale_status_name(%d) = \"%s\", want \"%s\"",
                  names[i].code, n ? n : "(NULL)", names[i].name);
    }
    const int unknown[] = {-1, 10, 11, 100, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *n = shale_status_name(unknown[i]);
        CHECK_MSG(n != NULL && strcmp(n, "UNKNOWN") == 0, "shale_status_name(%d) = \"%s\"",
                  unknown[i], n ? n : "(NULL)");
    }
    /* Static strings: the same pointer every time is fine, the contents must not change. */
    const char *a = shale_status_name(SHALE_BUSY);
    (void)shale_status_name(SHALE_CLOSED);
    CHECK(strcmp(a, "BUSY") == 0);
    CHECK(shale_errmsg() != NULL);
}

/* ---- Errors are per thread ---------------------------------------------------------------- */

struct err_thread_result {
    int initial_not_null;
    int initial_empty;
    int rc;
    int msg_non_empty;
};

static void *err_thread(void *arg) {
    struct err_thread_result *r = arg;
    const char *m = shale_errmsg();
    r->initial_not_null = m != NULL;
    r->initial_empty = m != NULL && m[0] == '\0';
    shale_options *o = shale_options_new();
    r->rc = shale_options_set(o, "thread_bogus_option", "1");
    m = shale_errmsg();
    r->msg_non_empty = m != NULL && m[0] != '\0';
    shale_options_free(o);
    return NULL;
}

static void test_errmsg_thread_local(void) {
    shale_options *o = shale_options_new();
    if (!CHECK(o != NULL)) return;
    CHECK_INVALID(shale_options_set(o, "main_bogus_option", "1"));
    char mine[512];
    snprintf(mine, sizeof mine, "%s", shale_errmsg());
    struct err_thread_result r;
    memset(&r, 0, sizeof r);
    pthread_t t;
    if (!CHECK(pthread_create(&t, NULL, err_thread, &r) == 0)) {
        shale_options_free(o);
        return;
    }
    pthread_join(t, NULL);
    CHECK_MSG(r.initial_not_null, "shale_errmsg() on a fresh thread is NULL");
    CHECK_MSG(r.initial_empty, "shale_errmsg() on a fresh thread should be \"\"");
    CHECK_RC(r.rc, SHALE_INVALID_ARGUMENT);
    CHECK(r.msg_non_empty);
    CHECK_MSG(strcmp(mine, shale_errmsg()) == 0,
              "another thread's failure changed this thread's message: \"%s\" -> \"%s\"", mine,
              shale_errmsg());
    CHECK_MSG(strstr(mine, "main_bogus_option") != NULL,
              "message for an unknown option should name it: \"%s\"", mine);
    shale_options_free(o);
}

/* ---- Options ------------------------------------------------------------------------------ */

static const char *const valid_options[][2] = {
    {"create_if_missing", "true"},
    {"create_if_missing", "false"},
    {"read_only", "false"},
    {"read_only", "true"},
    {"wal_sync", "always"},
    {"wal_sync", "interval"},
    {"wal_sync", "none"},
    {"wal_flush_interval_ms", "100"},
    {"wal_flush_interval_ms", "5"},
    {"memtable_bytes", "67108864"},
    {"memtable_bytes", "64MiB"},
    {"memtable_bytes", "4MiB"},
    {"memtable_bytes", "1024KiB"},
    {"sst_target_bytes", "64MiB"},
    {"sst_target_bytes", "1GiB"},
    {"block_bytes", "4096"},
    {"block_bytes", "16KiB"},
    {"compression", "none"},
    {"compression", "zstd"},
    {"compression", "lz4"},
    {"bloom_bits_per_key", "10"},
    {"max_value_bytes", "64MiB"},
    {"max_value_bytes", "1024"},
    {"checkpoint_interval_ms", "0"},
    {"checkpoint_interval_ms", "60000"},
    {"wal_retention_ms", "0"},
    {"wal_retention_ms", "3600000"},
    {"gc_interval_ms", "60000"},
    {"gc_min_age_ms", "300000"},
    {"l0_compaction_trigger", "4"},
};

static const char *const invalid_options[][2] = {
    {"no_such_option", "1"},
    {"", "1"},
    {"wal_sync", "sometimes"},
    {"wal_sync", ""},
    {"memtable_bytes", "-1"},
    {"memtable_bytes", "lots"},
    {"memtable_bytes", "64XiB"},
    {"compression", "brotli"},
    {"create_if_missing", "maybe"},
    {"read_only", "2"},
    {"block_bytes", "abc"},
    {"bloom_bits_per_key", "-5"},
    {"l0_compaction_trigger", "-3"},
    {"wal_flush_interval_ms", "soon"},
    {"gc_interval_ms", "99999999999999999999999999"},
};

static void test_options(void) {
    shale_options *o = shale_options_new();
    if (!CHECK(o != NULL)) return;
    for (size_t i = 0; i < sizeof valid_options / sizeof valid_options[0]; i++) {
        int rc = shale_options_set(o, valid_options[i][0], valid_options[i][1]);
        CHECK_MSG(rc == SHALE_OK, "shale_options_set(%s=%s) -> %s: %s", valid_options[i][0],
                  valid_options[i][1], shale_status_name(rc), shale_errmsg());
    }
    for (size_t i = 0; i < sizeof invalid_options / sizeof invalid_options[0]; i++) {
        const char *k = invalid_options[i][0], *v = invalid_options[i][1];
        int rc = shale_options_set(o, k, v);
        const char *m = shale_errmsg();
        CHECK_MSG(rc == SHALE_INVALID_ARGUMENT, "shale_options_set(%s=%s) -> %s, want INVALID_ARGUMENT",
                  k, v, shale_status_name(rc));
        CHECK_MSG(m != NULL && m[0] != '\0', "shale_options_set(%s=%s): empty errmsg", k, v);
        if (k[0] != '\0' && rc == SHALE_INVALID_ARGUMENT && m != NULL)
            CHECK_MSG(strstr(m, k) != NULL || (v[0] && strstr(m, v) != NULL),
                      "message for %s=%s should name the key or value: \"%s\"", k, v, m);
    }
    /* NULL arguments */
    CHECK_INVALID(shale_options_set(NULL, "wal_sync", "always"));
    CHECK_INVALID(shale_options_set(o, NULL, "always"));
    CHECK_INVALID(shale_options_set(o, "wal_sync", NULL));
    shale_options_free(o);
    shale_options_free(NULL);

    /* A db opens and works with every option set to a valid non-default value; the options
       object is copied by shale_open and may be freed right after. */
    o = shale_options_new();
    const char *const set[][2] = {
        {"create_if_missing", "true"}, {"read_only", "false"},       {"wal_sync", "always"},
        {"wal_flush_interval_ms", "20"}, {"memtable_bytes", "1MiB"},   {"sst_target_bytes", "2MiB"},
        {"block_bytes", "8KiB"},        {"compression", "zstd"},      {"bloom_bits_per_key", "12"},
        {"max_value_bytes", "1MiB"},    {"checkpoint_interval_ms", "0"}, {"wal_retention_ms", "1000"},
        {"gc_interval_ms", "30000"},    {"gc_min_age_ms", "60000"},   {"l0_compaction_trigger", "3"},
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        CHECK_RC(shale_options_set(o, set[i][0], set[i][1]), SHALE_OK);
    /* A later set of the same key wins. */
    CHECK_RC(shale_options_set(o, "compression", "lz4"), SHALE_OK);
    shale_db *db = OPEN_NEW("options-db", o);
    shale_options_free(o);
    if (db) {
        CHECK_RC(put_s(db, "k", "v"), SHALE_OK);
        EXPECT_GET(db, "k", "v");
        CHECK_RC(shale_close(db), SHALE_OK);
    }

    /* create_if_missing=false on a missing database -> NOT_FOUND, *out NULL. */
    o = shale_options_new();
    CHECK_RC(shale_options_set(o, "create_if_missing", "false"), SHALE_OK);
    char p[PATH_MAX];
    path_for(p, sizeof p, "does-not-exist");
    db = SENT;
    CHECK_RC(shale_open(p, o, &db), SHALE_NOT_FOUND);
    CHECK_MSG(db == NULL, "failed shale_open must set *out = NULL");
    /* ... and works on an existing one. */
    path_for(p, sizeof p, "options-db");
    db = OPEN(p, o);
    if (db) {
        EXPECT_GET(db, "k", "v");
        CHECK_RC(shale_close(db), SHALE_OK);
    }
    shale_options_free(o);

    /* max_value_bytes is enforced by put and write. */
    o = shale_options_new();
    CHECK_RC(shale_options_set(o, "max_value_bytes", "1KiB"), SHALE_OK);
    db = OPEN_NEW("max-value-db", o);
    shale_options_free(o);
    if (db) {
        char big[1025];
        memset(big, 'v', sizeof big);
        CHECK_RC(shale_put(db, "ok", 2, big, 1024), SHALE_OK);
        CHECK_INVALID(shale_put(db, "big", 3, big, 1025));
        EXPECT_GET(db, "big", NULL);
        shale_batch *b = shale_batch_new();
        CHECK_RC(shale_batch_put(b, "small", 5, "x", 1), SHALE_OK);
        CHECK_RC(shale_batch_put(b, "big", 3, big, 1025), SHALE_OK);
        CHECK_INVALID(shale_write(db, b));
        EXPECT_GET(db, "small", NULL); /* all or nothing */
        EXPECT_GET(db, "big", NULL);
        shale_batch_free(b);
        CHECK_RC(shale_close(db), SHALE_OK);
    }
}

/* ---- NULL handles and out-pointers -------------------------------------------------------- */

static void test_null_arguments(void) {
    char p[PATH_MAX];
    path_for(p, sizeof p, "null-db");
    shale_db *db = SENT;
    CHECK_INVALID(shale_open(NULL, NULL, &db));
    CHECK(db == NULL);
    CHECK_INVALID(shale_open(p, NULL, NULL));
    db = SENT;
    CHECK_INVALID(shale_open("", NULL, &db));
    CHECK(db == NULL);

    db = OPEN(p, NULL);
    if (!db) return;
    CHECK_RC(put_s(db, "k", "v"), SHALE_OK);

    void *val = SENT;
    size_t vlen = 99;
    char *json = SENT;

    CHECK_INVALID(shale_put(NULL, "k", 1, "v", 1));
    CHECK_INVALID(shale_put(db, NULL, 1, "v", 1));
    CHECK_INVALID(shale_put(db, "k", 1, NULL, 1));
    CHECK_INVALID(shale_delete(NULL, "k", 1));
    CHECK_INVALID(shale_delete(db, NULL, 1));

    CHECK_INVALID(shale_get(NULL, "k", 1, &val, &vlen));
    CHECK(val == NULL && vlen == 0);
    val = SENT, vlen = 99;
    CHECK_INVALID(shale_get(db, NULL, 1, &val, &vlen));
    CHECK(val == NULL && vlen == 0);
    vlen = 99;
    CHECK_INVALID(shale_get(db, "k", 1, NULL, &vlen));
    CHECK(vlen == 0);
    val = SENT;
    CHECK_INVALID(shale_get(db, "k", 1, &val, NULL));
    CHECK(val == NULL);

    CHECK_INVALID(shale_flush(NULL));
    CHECK_INVALID(shale_stats_json(NULL, &json));
    CHECK(json == NULL);
    CHECK_INVALID(shale_stats_json(db, NULL));

    /* Batches */
    shale_batch *b = shale_batch_new();
    if (CHECK(b != NULL)) {
        CHECK_INVALID(shale_batch_put(NULL, "k", 1, "v", 1));
        CHECK_INVALID(shale_batch_put(b, NULL, 1, "v", 1));
        CHECK_INVALID(shale_batch_put(b, "k", 1, NULL, 1));
        CHECK_INVALID(shale_batch_delete(NULL, "k", 1));
        CHECK_INVALID(shale_batch_delete(b, NULL, 1));
        CHECK(shale_batch_count(b) == 0);
        CHECK(shale_batch_count(NULL) == 0);
        shale_batch_clear(NULL);
        CHECK_INVALID(shale_write(NULL, b));
        CHECK_INVALID(shale_write(db, NULL));
        shale_batch_free(b);
    }
    shale_batch_free(NULL);

    /* Snapshots */
    shale_snapshot *snap = SENT;
    CHECK_INVALID(shale_snapshot_create(NULL, &snap));
    CHECK(snap == NULL);
    CHECK_INVALID(shale_snapshot_create(db, NULL));
    val = SENT, vlen = 99;
    CHECK_INVALID(shale_snapshot_get(NULL, "k", 1, &val, &vlen));
    CHECK(val == NULL && vlen == 0);
    snap = NULL;
    CHECK_RC(shale_snapshot_create(db, &snap), SHALE_OK);
    if (snap) {
        val = SENT, vlen = 99;
        CHECK_INVALID(shale_snapshot_get(snap, NULL, 1, &val, &vlen));
        CHECK(val == NULL && vlen == 0);
        vlen = 99;
        CHECK_INVALID(shale_snapshot_get(snap, "k", 1, NULL, &vlen));
        CHECK(vlen == 0);
        val = SENT;
        CHECK_INVALID(shale_snapshot_get(snap, "k", 1, &val, NULL));
        CHECK(val == NULL);
        shale_snapshot_release(snap);
    }
    shale_snapshot_release(NULL);

    /* Scans and iterators */
    shale_iter *it = SENT;
    CHECK_INVALID(shale_scan(NULL, NULL, NULL, 0, NULL, 0, &it));
    CHECK(it == NULL);
    CHECK_INVALID(shale_scan(db, NULL, NULL, 0, NULL, 0, NULL));
    const void *k = SENT, *v = SENT;
    size_t kl = 99, vl = 99;
    CHECK_INVALID(shale_iter_next(NULL, &k, &kl, &v, &vl));
    CHECK(k == NULL && kl == 0 && v == NULL && vl == 0);
    it = NULL;
    CHECK_RC(shale_scan(db, NULL, NULL, 0, NULL, 0, &it), SHALE_OK);
    if (it) {
        kl = 99, v = SENT, vl = 99;
        CHECK_INVALID(shale_iter_next(it, NULL, &kl, &v, &vl));
        CHECK(kl == 0 && v == NULL && vl == 0);
        k = SENT, v = SENT, vl = 99;
        CHECK_INVALID(shale_iter_next(it, &k, NULL, &v, &vl));
        CHECK(k == NULL && v == NULL && vl == 0);
        k = SENT, kl = 99, vl = 99;
        CHECK_INVALID(shale_iter_next(it, &k, &kl, NULL, &vl));
        CHECK(k == NULL && kl == 0 && vl == 0);
        k = SENT, kl = 99, v = SENT;
        CHECK_INVALID(shale_iter_next(it, &k, &kl, &v, NULL));
        CHECK(k == NULL && kl == 0 && v == NULL);
        shale_iter_free(it);
    }
    shale_iter_free(NULL);

    /* No-ops */
    CHECK_RC(shale_close(NULL), SHALE_OK);
    shale_free(NULL);
    shale_options_free(NULL);

    /* The db still works after all that. */
    EXPECT_GET(db, "k", "v");
    CHECK_RC(shale_close(db), SHALE_OK);
}

/* ---- Keys and values ---------------------------------------------------------------------- */

#define KEY_MAX (64u * 1024u)

static void test_keys_and_values(void) {
    shale_db *db = OPEN_NEW("keys-db", NULL);
    if (!db) return;

    /* Empty keys are rejected everywhere. */
    CHECK_INVALID(shale_put(db, "", 0, "v", 1));
    CHECK_INVALID(shale_delete(db, "", 0));
    void *val = SENT;
    size_t vlen = 99;
    CHECK_INVALID(shale_get(db, "", 0, &val, &vlen));
    CHECK(val == NULL && vlen == 0);
    shale_batch *b = shale_batch_new();
    CHECK_INVALID(shale_batch_put(b, "", 0, "v", 1));
    CHECK_INVALID(shale_batch_delete(b, "", 0));
    CHECK(shale_batch_count(b) == 0);

    /* 64 KiB keys are accepted, one byte more is not. */
    unsigned char *key = malloc(KEY_MAX + 1);
    if (!CHECK(key != NULL)) return;
    for (size_t i = 0; i <= KEY_MAX; i++) key[i] = (unsigned char)('a' + i % 26);
    CHECK_RC(shale_put(db, key, KEY_MAX, "big-key", 7), SHALE_OK);
    EXPECT_GET_N(db, key, KEY_MAX, "big-key", 7);
    CHECK_INVALID(shale_put(db, key, KEY_MAX + 1, "v", 1));
    val = SENT, vlen = 99;
    CHECK_INVALID(shale_get(db, key, KEY_MAX + 1, &val, &vlen));
    CHECK(val == NULL && vlen == 0);
    CHECK_INVALID(shale_delete(db, key, KEY_MAX + 1));
    CHECK_INVALID(shale_batch_put(b, key, KEY_MAX + 1, "v", 1));
    CHECK_INVALID(shale_batch_delete(b, key, KEY_MAX + 1));
    CHECK_RC(shale_batch_put(b, key, KEY_MAX, "v2", 2), SHALE_OK);
    CHECK(shale_batch_count(b) == 1);
    CHECK_RC(shale_write(db, b), SHALE_OK);
    EXPECT_GET_N(db, key, KEY_MAX, "v2", 2);
    shale_snapshot *snap = NULL;
    CHECK_RC(shale_snapshot_create(db, &snap), SHALE_OK);
    if (snap) {
        val = SENT, vlen = 99;
        CHECK_INVALID(shale_snapshot_get(snap, key, KEY_MAX + 1, &val, &vlen));
        CHECK(val == NULL && vlen == 0);
        val = SENT, vlen = 99;
        CHECK_INVALID(shale_snapshot_get(snap, "", 0, &val, &vlen));
        CHECK(val == NULL && vlen == 0);
        val = SENT, vlen = 99;
        int rc = shale_snapshot_get(snap, key, KEY_MAX, &val, &vlen);
        check_get_at(__LINE__, "snapshot_get 64KiB key", rc, val, vlen, "v2", 2);
        shale_snapshot_release(snap);
    }
    CHECK_RC(shale_delete(db, key, KEY_MAX), SHALE_OK);
    EXPECT_GET_N(db, key, KEY_MAX, NULL, 0);

    /* Absurd lengths (a negative Int on the Swift side) are rejected, not read. */
    CHECK_INVALID(shale_put(db, "k", SIZE_MAX, "v", 1));
    CHECK_INVALID(shale_put(db, "k", 1, "v", SIZE_MAX));
    CHECK_INVALID(shale_put(db, "k", (size_t)INT64_MAX + 1, "v", 1));
    CHECK_INVALID(shale_delete(db, "k", SIZE_MAX));
    val = SENT, vlen = 99;
    CHECK_INVALID(shale_get(db, "k", SIZE_MAX, &val, &vlen));
    CHECK(val == NULL && vlen == 0);
    CHECK_INVALID(shale_batch_put(b, "k", SIZE_MAX, "v", 1));
    CHECK_INVALID(shale_batch_put(b, "k", 1, "v", SIZE_MAX));
    CHECK_INVALID(shale_batch_delete(b, "k", SIZE_MAX));
    shale_iter *it = SENT;
    CHECK_INVALID(shale_scan(db, NULL, "a", SIZE_MAX, NULL, 0, &it));
    CHECK(it == NULL);
    it = SENT;
    CHECK_INVALID(shale_scan(db, NULL, NULL, 0, "z", SIZE_MAX, &it));
    CHECK(it == NULL);
    shale_batch_free(b);
    free(key);

    /* Empty values: OK, and get gives a non-NULL buffer with length 0. */
    static const char empty_src[1] = {'x'};
    CHECK_RC(shale_put(db, "empty", 5, empty_src, 0), SHALE_OK);
    val = NULL, vlen = 99;
    int rc = shale_get(db, "empty", 5, &val, &vlen);
    CHECK_RC(rc, SHALE_OK);
    CHECK_MSG(val != NULL, "empty value: *val must be non-NULL");
    CHECK(vlen == 0);
    if (rc == SHALE_OK) shale_free(val);
    CHECK_RC(shale_put(db, "empty-null", 10, NULL, 0), SHALE_OK);
    EXPECT_GET_N(db, "empty-null", 10, "", 0);

    /* Keys and values with NUL bytes are distinct, exact byte strings. */
    static const char k1[] = {'a'}, k2[] = {'a', 0}, k3[] = {'a', 0, 'b'}, k4[] = {0},
                      k5[] = {0, 0};
    static const char v1[] = {'1'}, v2[] = {'2', 0}, v3[] = {0, '3', 0}, v4[] = {0},
                      v5[] = {0, 0, 0};
    CHECK_RC(shale_put(db, k1, sizeof k1, v1, sizeof v1), SHALE_OK);
    CHECK_RC(shale_put(db, k2, sizeof k2, v2, sizeof v2), SHALE_OK);
    CHECK_RC(shale_put(db, k3, sizeof k3, v3, sizeof v3), SHALE_OK);
    CHECK_RC(shale_put(db, k4, sizeof k4, v4, sizeof v4), SHALE_OK);
    CHECK_RC(shale_put(db, k5, sizeof k5, v5, sizeof v5), SHALE_OK);
    EXPECT_GET_N(db, k1, sizeof k1, v1, sizeof v1);
    EXPECT_GET_N(db, k2, sizeof k2, v2, sizeof v2);
    EXPECT_GET_N(db, k3, sizeof k3, v3, sizeof v3);
    EXPECT_GET_N(db, k4, sizeof k4, v4, sizeof v4);
    EXPECT_GET_N(db, k5, sizeof k5, v5, sizeof v5);
    static const char k6[] = {'a', 0, 'c'};
    EXPECT_GET_N(db, k6, sizeof k6, NULL, 0);
    CHECK_RC(shale_delete(db, k2, sizeof k2), SHALE_OK);
    EXPECT_GET_N(db, k2, sizeof k2, NULL, 0);
    EXPECT_GET_N(db, k1, sizeof k1, v1, sizeof v1);
    EXPECT_GET_N(db, k3, sizeof k3, v3, sizeof v3);

    /* Byte order is unsigned: 0x00 < 'a' < 0x7f < 0x80 < 0xff; scan order proves it. */
    CHECK_RC(shale_put(db, "\x7f", 1, "7f", 2), SHALE_OK);
    CHECK_RC(shale_put(db, "\x80", 1, "80", 2), SHALE_OK);
    CHECK_RC(shale_put(db, "\xff", 1, "ff", 2), SHALE_OK);
    CHECK_RC(shale_put(db, "\xff\xff", 2, "ffff", 4), SHALE_OK);
    CHECK_SCAN(db, NULL, "a", NULL, 0, "a,a\\x00b,empty,empty-null,\\x7f,\\x80,\\xff,\\xff\\xff");
    CHECK_SCAN(db, NULL, NULL, "a", 0, "\\x00,\\x00\\x00");

    /* Absent keys: NOT_FOUND, out params NULL/0, and deleting an absent key is OK. */
    EXPECT_GET(db, "never-written", NULL);
    CHECK_RC(shale_delete(db, "never-written", 13), SHALE_OK);
    EXPECT_GET(db, "never-written", NULL);

    /* Overwrites: the latest value wins. */
    CHECK_RC(put_s(db, "ow", "one"), SHALE_OK);
    CHECK_RC(put_s(db, "ow", "two"), SHALE_OK);
    EXPECT_GET(db, "ow", "two");
    CHECK_RC(shale_delete(db, "ow", 2), SHALE_OK);
    CHECK_RC(put_s(db, "ow", "three"), SHALE_OK);
    EXPECT_GET(db, "ow", "three");

    /* A 1 MiB value round trip, with every byte value. */
    size_t n = 1u << 20;
    unsigned char *big = malloc(n);
    if (CHECK(big != NULL)) {
        for (size_t i = 0; i < n; i++) big[i] = (unsigned char)(i * 131 + (i >> 9));
        CHECK_RC(shale_put(db, "big", 3, big, n), SHALE_OK);
        EXPECT_GET_N(db, "big", 3, big, n);
        free(big);
    }
    /* Values returned by get are the caller's: modifying and freeing them is fine. */
    val = NULL;
    if (shale_get(db, "ow", 2, &val, &vlen) == SHALE_OK) {
        memset(val, 'X', vlen);
        shale_free(val);
    }
    EXPECT_GET(db, "ow", "three");
    CHECK_RC(shale_close(db), SHALE_OK);
}

/* The documented 64 MiB default value limit, on a memory db to keep it off the disk. */
static void test_value_limit(void) {
    char loc[64];
    snprintf(loc, sizeof loc, "memory://value-limit-%ld", (long)getpid());
    shale_db *db = OPEN(loc, NULL);
    if (!db) return;
    size_t max = 64u << 20;
    unsigned char *v = malloc(max + 1);
    if (CHECK(v != NULL)) {
        memset(v, 'v', max + 1);
        CHECK_INVALID(shale_put(db, "too-big", 7, v, max + 1));
        EXPECT_GET(db, "too-big", NULL);
        CHECK_RC(shale_put(db, "max", 3, v, max), SHALE_OK);
        void *out = NULL;
        size_t olen = 0;
        int rc = shale_get(db, "max", 3, &out, &olen);
        CHECK_RC(rc, SHALE_OK);
        CHECK(olen == max);
        if (rc == SHALE_OK) {
            CHECK(memcmp(out, v, max) == 0);
            shale_free(out);
        }
        free(v);
    }
    CHECK_RC(shale_close(db), SHALE_OK);
}

/* ---- Batches ------------------------------------------------------------------------------ */

static void test_batches(void) {
    shale_db *db = OPEN_NEW("batch-db", NULL);
    if (!db) return;
    shale_batch *b = shale_batch_new();
    if (!CHECK(b != NULL)) return;
    CHECK(shale_batch_count(b) == 0);

    CHECK_RC(put_s(db, "gone", "soon"), SHALE_OK);
    CHECK_RC(shale_batch_put(b, "a", 1, "1", 1), SHALE_OK);
    CHECK_RC(shale_batch_put(b, "b", 1, "2", 1), SHALE_OK);
    CHECK_RC(shale_batch_delete(b, "gone", 4), SHALE_OK);
    CHECK_RC(shale_batch_put(b, "e", 1, "", 0), SHALE_OK);
    /* later operations on the same key win */
    CHECK_RC(shale_batch_put(b, "dup", 3, "first", 5), SHALE_OK);
    CHECK_RC(shale_batch_put(b, "dup", 3, "second", 6), SHALE_OK);
    CHECK_RC(shale_batch_put(b, "pd", 2, "x", 1), SHALE_OK);
    CHECK_RC(shale_batch_delete(b, "pd", 2), SHALE_OK);
    CHECK_RC(shale_batch_delete(b, "dp", 2), SHALE_OK);
    CHECK_RC(shale_batch_put(b, "dp", 2, "back", 4), SHALE_OK);
    CHECK_MSG(shale_batch_count(b) == 10, "batch count %zu, want 10", shale_batch_count(b));

    /* Nothing is visible before the write. */
    EXPECT_GET(db, "a", NULL);
    EXPECT_GET(db, "gone", "soon");

    CHECK_RC(shale_write(db, b), SHALE_OK);
    EXPECT_GET(db, "a", "1");
    EXPECT_GET(db, "b", "2");
    EXPECT_GET(db, "gone", NULL);
    EXPECT_GET_N(db, "e", 1, "", 0);
    EXPECT_GET(db, "dup", "second");
    EXPECT_GET(db, "pd", NULL);
    EXPECT_GET(db, "dp", "back");

    /* The batch is unchanged by the write and can be written again. */
    CHECK(shale_batch_count(b) == 10);
    CHECK_RC(shale_delete(db, "a", 1), SHALE_OK);
    CHECK_RC(put_s(db, "dup", "changed"), SHALE_OK);
    CHECK_RC(shale_write(db, b), SHALE_OK);
    EXPECT_GET(db, "a", "1");
    EXPECT_GET(db, "dup", "second");

    /* Clear empties it for reuse. */
    shale_batch_clear(b);
    CHECK(shale_batch_count(b) == 0);
    CHECK_RC(shale_write(db, b), SHALE_OK); /* an empty batch is a no-op */
    EXPECT_GET(db, "a", "1");
    CHECK_RC(shale_batch_put(b, "c", 1, "3", 1), SHALE_OK);
    CHECK(shale_batch_count(b) == 1);
    CHECK_RC(shale_write(db, b), SHALE_OK);
    EXPECT_GET(db, "c", "3");
    EXPECT_GET(db, "b", "2");

    /* A batch is not tied to a db: the same batch goes to a second one. */
    char loc[64];
    snprintf(loc, sizeof loc, "memory://batch-%ld", (long)getpid());
    shale_db *mem = OPEN(loc, NULL);
    if (mem) {
        CHECK_RC(shale_write(mem, b), SHALE_OK);
        EXPECT_GET(mem, "c", "3");
        EXPECT_GET(mem, "a", NULL);
        CHECK_RC(shale_close(mem), SHALE_OK);
    }

    /* A large batch, then everything survives a reopen. */
    shale_batch_clear(b);
    char k[32], v[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "big%05d", i);
        snprintf(v, sizeof v, "val%d", i * 7);
        if (shale_batch_put(b, k, strlen(k), v, strlen(v)) != SHALE_OK) {
            CHECK_MSG(0, "batch_put %d failed", i);
            break;
        }
    }
    CHECK(shale_batch_count(b) == 5000);
    CHECK_RC(shale_write(db, b), SHALE_OK);
    shale_batch_free(b);
    CHECK_RC(shale_close(db), SHALE_OK);

    char p[PATH_MAX];
    path_for(p, sizeof p, "batch-db");
    db = OPEN(p, NULL);
    if (!db) return;
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(k, sizeof k, "big%05d", i);
        snprintf(v, sizeof v, "val%d", i * 7);
        void *got = NULL;
        size_t gl = 0;
        if (shale_get(db, k, strlen(k), &got, &gl) != SHALE_OK || gl != strlen(v) ||
            memcmp(got, v, gl) != 0)
            bad++;
        shale_free(got);
    }
    CHECK_MSG(bad == 0, "%d of 5000 batch keys wrong after reopen", bad);
    EXPECT_GET(db, "dp", "back");
    EXPECT_GET(db, "gone", NULL);
    CHECK_RC(shale_close(db), SHALE_OK);
}

/* Readers never see half a batch: every batch writes the same generation to 16 keys. */
#define ATOM_KEYS 16
struct atom_reader {
    shale_db *db;
    volatile int stop;
    long rounds, torn, errors;
};

static void *atom_reader_main(void *arg) {
    struct atom_reader *r = arg;
    char k[32];
    while (!__atomic_load_n(&r->stop, __ATOMIC_SEQ_CST)) {
        shale_snapshot *s = NULL;
        if (shale_snapshot_create(r->db, &s) != SHALE_OK) {
            r->errors++;
            continue;
        }
        char first[32] = "";
        int have_first = 0;
        for (int i = 0; i < ATOM_KEYS; i++) {
            snprintf(k, sizeof k, "atom%02d", i);
            void *v = NULL;
            size_t vl = 0;
            int rc = shale_snapshot_get(s, k, strlen(k), &v, &vl);
            char cur[32] = "(absent)";
            if (rc == SHALE_OK) snprintf(cur, sizeof cur, "%.*s", (int)vl, (char *)v);
            else if (rc != SHALE_NOT_FOUND) r->errors++;
            shale_free(v);
            if (!have_first) snprintf(first, sizeof first, "%s", cur), have_first = 1;
            else if (strcmp(first, cur) != 0) r->torn++;
        }
        /* The same through a scan at "now": an iterator reads one state. */
        shale_iter *it = NULL;
        if (shale_scan(r->db, NULL, "atom", 4, "atom~", 5, &it) == SHALE_OK) {
            const void *kk, *vv;
            size_t kl, vl;
            char f[32] = "";
            int n = 0;
            while (shale_iter_next(it, &kk, &kl, &vv, &vl) == SHALE_OK) {
                char cur[32];
                snprintf(cur, sizeof cur, "%.*s", (int)vl, (const char *)vv);
                if (n++ == 0) snprintf(f, sizeof f, "%s", cur);
                else if (strcmp(f, cur) != 0) r->torn++;
            }
            if (n != 0 && n != ATOM_KEYS) r->torn++;
            shale_iter_free(it);
        } else {
            r->errors++;
        }
        shale_snapshot_release(s);
        r->rounds++;
    }
    return NULL;
}

static void test_batch_atomic_visibility(void) {
    shale_db *db = OPEN_NEW("atomic-db", NULL);
    if (!db) return;
    struct atom_reader r = {.db = db};
    pthread_t t;
    if (!CHECK(pthread_create(&t, NULL, atom_reader_main, &r) == 0)) return;
    shale_batch *b = shale_batch_new();
    char k[32], v[32];
    double until = now_s() + 1.5;
    int gen = 0;
    while (now_s() < until || r.rounds < 20) {
        gen++;
        shale_batch_clear(b);
        for (int i = 0; i < ATOM_KEYS; i++) {
            snprintf(k, sizeof k, "atom%02d", i);
            snprintf(v, sizeof v, "gen%08d", gen);
            shale_batch_put(b, k, strlen(k), v, strlen(v));
        }
        if (shale_write(db, b) != SHALE_OK) {
            CHECK_MSG(0, "shale_write gen %d: %s", gen, shale_errmsg());
            break;
        }
        if (now_s() > until + 10) break;
    }
    __atomic_store_n(&r.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(t, NULL);
    shale_batch_free(b);
    CHECK_MSG(r.rounds > 0, "reader made no progress");
    CHECK_MSG(r.torn == 0, "%ld torn reads of a batch in %ld rounds (%d batches)", r.torn,
              r.rounds, gen);
    CHECK_MSG(r.errors == 0, "%ld reader errors", r.errors);
    CHECK_RC(shale_close(db), SHALE_OK);
}

/* A batch is all or nothing across a crash; with wal_sync=always an acknowledged write
   survives it. A child writes batches until SIGKILL. Runs before this process opens
   anything, so the fork happens with no library threads around. */
#define CRASH_KEYS 20
static void test_crash_atomicity(void) {
    char p[PATH_MAX];
    path_for(p, sizeof p, "crash-db");
    volatile long *acked = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!CHECK(acked != MAP_FAILED)) return;
    *acked = 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        shale_options *o = shale_options_new();
        shale_options_set(o, "wal_sync", "always");
        shale_db *db = NULL;
        if (shale_open(p, o, &db) != SHALE_OK) _exit(3);
        shale_batch *b = shale_batch_new();
        char k[32], v[4096];
        for (long gen = 1;; gen++) {
            shale_batch_clear(b);
            for (int i = 0; i < CRASH_KEYS; i++) {
                snprintf(k, sizeof k, "crash%02d", i);
                int n = snprintf(v, 64, "gen%08ld:", gen);
                memset(v + n, 'a' + i, 1000); /* ~20 KB per batch */
                shale_batch_put(b, k, strlen(k), v, (size_t)n + 1000);
            }
            if (shale_write(db, b) != SHALE_OK) _exit(4);
            __atomic_store_n(acked, gen, __ATOMIC_SEQ_CST);
        }
    }
    if (!CHECK(pid > 0)) return;
    double until = now_s() + 20;
    while (__atomic_load_n(acked, __ATOMIC_SEQ_CST) < 30 && now_s() < until) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            CHECK_MSG(0, "writer child exited early with status %d", st);
            return;
        }
        usleep(1000);
    }
    usleep(20000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    long acked_at_kill = __atomic_load_n(acked, __ATOMIC_SEQ_CST);
    CHECK_MSG(acked_at_kill >= 30, "writer acknowledged only %ld batches", acked_at_kill);

    shale_db *db = OPEN(p, NULL);
    if (!db) return;
    long gens[CRASH_KEYS];
    int absent = 0;
    char k[32];
    for (int i = 0; i < CRASH_KEYS; i++) {
        snprintf(k, sizeof k, "crash%02d", i);
        void *v = NULL;
        size_t vl = 0;
        int rc = shale_get(db, k, strlen(k), &v, &vl);
        gens[i] = -1;
        if (rc == SHALE_OK) {
            if (vl != 1012 || sscanf((char *)v, "gen%ld:", &gens[i]) != 1) gens[i] = -2;
            else
                for (size_t j = 12; j < vl; j++)
                    if (((char *)v)[j] != 'a' + i) gens[i] = -3;
            shale_free(v);
        } else if (rc == SHALE_NOT_FOUND) {
            absent++;
        } else {
            CHECK_MSG(0, "get %s after crash: %s %s", k, shale_status_name(rc), shale_errmsg());
        }
    }
    int same = 1;
    for (int i = 1; i < CRASH_KEYS; i++) same &= gens[i] == gens[0];
    CHECK_MSG(absent == 0, "%d keys missing after crash", absent);
    CHECK_MSG(same, "batch torn by a crash: key 0 at gen %ld, key %d at gen %ld", gens[0],
              CRASH_KEYS - 1, gens[CRASH_KEYS - 1]);
    CHECK_MSG(gens[0] >= acked_at_kill,
              "wal_sync=always lost acknowledged batches: recovered gen %ld < acked %ld", gens[0],
              acked_at_kill);
    CHECK_RC(put_s(db, "after-crash", "ok"), SHALE_OK);
    CHECK_RC(shale_close(db), SHALE_OK);
    db = OPEN(p, NULL);
    if (db) {
        EXPECT_GET(db, "after-crash", "ok");
        CHECK_RC(shale_close(db), SHALE_OK);
    }
    munmap((void *)acked, sizeof(long));
}

/* ---- Snapshots ---------------------------------------------------------------------------- */

static void test_snapshots(void) {
    shale_db *db = OPEN_NEW("snap-db", NULL);
    if (!db) return;
    CHECK_RC(put_s(db, "k", "v1"), SHALE_OK);
    CHECK_RC(put_s(db, "d", "doomed"), SHALE_OK);
    CHECK_RC(put_s(db, "m", "m1"), SHALE_OK);

    shale_snapshot *s1 = SENT;
    CHECK_RC(shale_snapshot_create(db, &s1), SHALE_OK);
    if (!CHECK(s1 != NULL && s1 != SENT)) return;

    CHECK_RC(put_s(db, "k", "v2"), SHALE_OK);
    CHECK_RC(put_s(db, "new", "x"), SHALE_OK);
    CHECK_RC(shale_delete(db, "d", 1), SHALE_OK);
    shale_batch *b = shale_batch_new();
    shale_batch_put(b, "m", 1, "m2", 2);
    shale_batch_put(b, "n", 1, "n2", 2);
    CHECK_RC(shale_write(db, b), SHALE_OK);
    shale_batch_free(b);

    /* The snapshot sees the old state ... */
    EXPECT_SNAP_GET(s1, "k", "v1");
    EXPECT_SNAP_GET(s1, "d", "doomed");
    EXPECT_SNAP_GET(s1, "m", "m1");
    EXPECT_SNAP_GET(s1, "new", NULL);
    EXPECT_SNAP_GET(s1, "n", NULL);
    EXPECT_SNAP_GET(s1, "never", NULL);
    /* ... the db the new one. */
    EXPECT_GET(db, "k", "v2");
    EXPECT_GET(db, "d", NULL);
    EXPECT_GET(db, "new", "x");
    EXPECT_GET(db, "m", "m2");

    /* Scans at the snapshot and at now. */
    CHECK_SCAN(db, s1, NULL, NULL, 1, "d=doomed,k=v1,m=m1");
    CHECK_SCAN(db, NULL, NULL, NULL, 1, "k=v2,m=m2,n=n2,new=x");
    CHECK_SCAN(db, s1, "e", "z", 1, "k=v1,m=m1");

    /* A second snapshot sees the second state; the first is unchanged. */
    shale_snapshot *s2 = NULL;
    CHECK_RC(shale_snapshot_create(db, &s2), SHALE_OK);
    CHECK_RC(put_s(db, "k", "v3"), SHALE_OK);
    if (s2) EXPECT_SNAP_GET(s2, "k", "v2");
    EXPECT_SNAP_GET(s1, "k", "v1");

    /* Flushing does not change what snapshots see. */
    CHECK_RC(shale_flush(db), SHALE_OK);
    EXPECT_SNAP_GET(s1, "k", "v1");
    EXPECT_SNAP_GET(s1, "d", "doomed");
    CHECK_SCAN(db, s1, NULL, NULL, 1, "d=doomed,k=v1,m=m1");
    if (s2) {
        EXPECT_SNAP_GET(s2, "k", "v2");
        CHECK_SCAN(db, s2, NULL, NULL, 1, "k=v2,m=m2,n=n2,new=x");
        shale_snapshot_release(s2);
    }
    /* Releasing one snapshot leaves the others working. */
    EXPECT_SNAP_GET(s1, "m", "m1");
    shale_snapshot_release(s1);
    EXPECT_GET(db, "k", "v3");
    CHECK_RC(shale_close(db), SHALE_OK);
}

/* Snapshots and iterators keep their state through memtable flushes and compactions. */
static void test_levels(void) {
    static const char *const comps[] = {"none", "zstd", "lz4"};
    for (size_t c = 0; c < 3; c++) {
        shale_options *o = shale_options_new();
        CHECK_RC(shale_options_set(o, "memtable_bytes", "256KiB"), SHALE_OK);
        CHECK_RC(shale_options_set(o, "sst_target_bytes", "256KiB"), SHALE_OK);
        CHECK_RC(shale_options_set(o, "l0_compaction_trigger", "2"), SHALE_OK);
        CHECK_RC(shale_options_set(o, "block_bytes", "1KiB"), SHALE_OK);
        CHECK_RC(shale_options_set(o, "wal_sync", "none"), SHALE_OK);
        CHECK_RC(shale_options_set(o, "compression", comps[c]), SHALE_OK);
        char name[64];
        snprintf(name, sizeof name, "levels-%s", comps[c]);
        shale_db *db = OPEN_NEW(name, o);
        if (!db) {
            shale_options_free(o);
            continue;
        }
        enum { N = 4000 };
        char k[32], v[300];
        int errs = 0;
        for (int i = 0; i < N; i++) {
            snprintf(k, sizeof k, "key%06d", i);
            int n = snprintf(v, sizeof v, "first-%d-", i);
            memset(v + n, 'a' + i % 26, 250);
            errs += shale_put(db, k, strlen(k), v, (size_t)n + 250) != SHALE_OK;
        }
        CHECK_MSG(errs == 0, "%s: %d puts failed", comps[c], errs);
        shale_snapshot *snap = NULL;
        CHECK_RC(shale_snapshot_create(db, &snap), SHALE_OK);
        shale_iter *early = NULL;
        CHECK_RC(shale_scan(db, NULL, "key000100", 9, "key000200", 9, &early), SHALE_OK);
        errs = 0;
        for (int i = 0; i < N; i++) {
            snprintf(k, sizeof k, "key%06d", i);
            if (i % 5 == 0) {
                errs += shale_delete(db, k, strlen(k)) != SHALE_OK;
            } else if (i % 3 == 0) {
                int n = snprintf(v, sizeof v, "second-%d-", i);
                memset(v + n, 'A' + i % 26, 250);
                errs += shale_put(db, k, strlen(k), v, (size_t)n + 250) != SHALE_OK;
            }
        }
        for (int i = N; i < N + 1000; i++) {
            snprintf(k, sizeof k, "key%06d", i);
            errs += shale_put(db, k, strlen(k), "late", 4) != SHALE_OK;
        }
        CHECK_MSG(errs == 0, "%s: %d updates failed", comps[c], errs);
        CHECK_RC(shale_flush(db), SHALE_OK);

        /* the early iterator still reads the state at its creation */
        if (early) {
            const void *kk, *vv;
            size_t kl, vl;
            int n = 0, wrong = 0, rc;
            while ((rc = shale_iter_next(early, &kk, &kl, &vv, &vl)) == SHALE_OK) {
                snprintf(k, sizeof k, "key%06d", 100 + n);
                char pre[32];
                int pl = snprintf(pre, sizeof pre, "first-%d-", 100 + n);
                if (kl != strlen(k) || memcmp(kk, k, kl) != 0 || vl != (size_t)pl + 250 ||
                    memcmp(vv, pre, (size_t)pl) != 0)
                    wrong++;
                n++;
            }
            CHECK_RC(rc, SHALE_NOT_FOUND);
            CHECK_MSG(n == 100 && wrong == 0,
                      "%s: iterator made before writes saw %d entries, %d wrong (want 100, 0)",
                      comps[c], n, wrong);
            shale_iter_free(early);
        }

        /* verification: now, through the snapshot, and after reopen */
        for (int pass = 0; pass < 3; pass++) {
            int wrong = 0;
            for (int i = 0; i < N + 1000; i++) {
                snprintf(k, sizeof k, "key%06d", i);
                const char *want_prefix;
                char pre[32];
                int at_snap = pass == 1;
                if (i >= N) want_prefix = at_snap ? NULL : "late";
                else if (!at_snap && i % 5 == 0) want_prefix = NULL;
                else {
                    snprintf(pre, sizeof pre, "%s-%d-", (!at_snap && i % 3 == 0) ? "second" : "first", i);
                    want_prefix = pre;
                }
                void *got = NULL;
                size_t gl = 0;
                int rc = at_snap ? shale_snapshot_get(snap, k, strlen(k), &got, &gl)
                                 : shale_get(db, k, strlen(k), &got, &gl);
                if (want_prefix == NULL) {
                    wrong += rc != SHALE_NOT_FOUND;
                } else {
                    size_t pl = strlen(want_prefix);
                    wrong += rc != SHALE_OK || gl < pl || memcmp(got, want_prefix, pl) != 0;
                }
                shale_free(got);
            }
            CHECK_MSG(wrong == 0, "%s pass %d: %d keys wrong", comps[c], pass, wrong);
            /* a full scan agrees with the point reads */
            shale_iter *it = NULL;
            int rc = shale_scan(db, pass == 1 ? snap : NULL, NULL, 0, NULL, 0, &it);
            CHECK_RC(rc, SHALE_OK);
            if (rc == SHALE_OK) {
                const void *kk, *vv;
                size_t kl, vl;
                int n = 0, order = 0;
                char prev[32] = "";
                while (shale_iter_next(it, &kk, &kl, &vv, &vl) == SHALE_OK) {
                    char cur[32];
                    snprintf(cur, sizeof cur, "%.*s", (int)kl, (const char *)kk);
                    if (n > 0 && strcmp(prev, cur) >= 0) order++;
                    memcpy(prev, cur, sizeof cur);
                    n++;
                }
                int want = pass == 1 ? N : N - N / 5 + 1000;
                CHECK_MSG(n == want && order == 0, "%s pass %d: scan saw %d keys (want %d), %d out of order",
                          comps[c], pass, n, want, order);
                shale_iter_free(it);
            }
            if (pass == 1) {
                shale_snapshot_release(snap);
                snap = NULL;
                CHECK_RC(shale_close(db), SHALE_OK);
                char p[PATH_MAX];
                path_for(p, sizeof p, name);
                db = OPEN(p, o);
                if (!db) break;
            }
        }
        if (db) {
            char *json = NULL;
            if (shale_stats_json(db, &json) == SHALE_OK) shale_free(json);
            CHECK_RC(shale_close(db), SHALE_OK);
        }
        shale_options_free(o);
    }
}

/* ---- Scans -------------------------------------------------------------------------------- */

static void test_scans(void) {
    shale_db *db = OPEN_NEW("scan-db", NULL);
    if (!db) return;
    char k[32], v[32];
    for (int i = 0; i < 20; i++) {
        snprintf(k, sizeof k, "k%02d", i);
        snprintf(v, sizeof v, "v%d", i);
        CHECK_RC(put_s(db, k, v), SHALE_OK);
    }
    /* empty db range and full */
    CHECK_SCAN(db, NULL, "a", "b", 0, "");
    CHECK_SCAN(db, NULL, "k05", "k10", 0, "k05,k06,k07,k08,k09");
    CHECK_SCAN(db, NULL, "k05", "k10", 1, "k05=v5,k06=v6,k07=v7,k08=v8,k09=v9");
    CHECK_SCAN(db, NULL, NULL, "k03", 0, "k00,k01,k02");
    CHECK_SCAN(db, NULL, "k17", NULL, 0, "k17,k18,k19");
    CHECK_SCAN(db, NULL, "k05a", "k08", 0, "k06,k07");
    CHECK_SCAN(db, NULL, "k05", "k05", 0, "");
    CHECK_SCAN(db, NULL, "k05", "k06", 0, "k05");
    CHECK_SCAN(db, NULL, "k", "l", 0,
               "k00,k01,k02,k03,k04,k05,k06,k07,k08,k09,k10,k11,k12,k13,k14,k15,k16,k17,k18,k19");
    CHECK_SCAN(db, NULL, NULL, NULL, 0,
               "k00,k01,k02,k03,k04,k05,k06,k07,k08,k09,k10,k11,k12,k13,k14,k15,k16,k17,k18,k19");
    CHECK_SCAN(db, NULL, "z", NULL, 0, "");
    CHECK_SCAN(db, NULL, NULL, "a", 0, "");

    /* Deletes, overwrites and new keys show up. */
    CHECK_RC(shale_delete(db, "k06", 3), SHALE_OK);
    CHECK_RC(put_s(db, "k07", "new7"), SHALE_OK);
    CHECK_RC(put_s(db, "k065", "mid"), SHALE_OK);
    CHECK_SCAN(db, NULL, "k05", "k08", 1, "k05=v5,k065=mid,k07=new7");

    /* The end is sticky: NOT_FOUND again, with zeroed out params. */
    shale_iter *it = NULL;
    CHECK_RC(shale_scan(db, NULL, "k18", 3, NULL, 0, &it), SHALE_OK);
    if (it) {
        const void *kk = SENT, *vv = SENT;
        size_t kl = 9, vl = 9;
        CHECK_RC(shale_iter_next(it, &kk, &kl, &vv, &vl), SHALE_OK);
        CHECK(kl == 3 && memcmp(kk, "k18", 3) == 0 && vl == 3 && memcmp(vv, "v18", 3) == 0);
        CHECK_RC(shale_iter_next(it, &kk, &kl, &vv, &vl), SHALE_OK);
        CHECK(kl == 3 && memcmp(kk, "k19", 3) == 0);
        kk = SENT, vv = SENT, kl = 9, vl = 9;
        CHECK_RC(shale_iter_next(it, &kk, &kl, &vv, &vl), SHALE_NOT_FOUND);
        CHECK(kk == NULL && kl == 0 && vv == NULL && vl == 0);
        kk = SENT, vv = SENT, kl = 9, vl = 9;
        CHECK_RC(shale_iter_next(it, &kk, &kl, &vv, &vl), SHALE_NOT_FOUND);
        CHECK(kk == NULL && kl == 0 && vv == NULL && vl == 0);
        shale_iter_free(it);
    }

    /* Pointers stay valid until the next call on the iterator: other db calls, other
       iterators and writes in between do not disturb them. */
    it = NULL;
    CHECK_RC(shale_scan(db, NULL, "k10", 3, "k13", 3, &it), SHALE_OK);
    if (it) {
        const void *kk, *vv;
        size_t kl, vl;
        CHECK_RC(shale_iter_next(it, &kk, &kl, &vv, &vl), SHALE_OK);
        char keep_k[32], keep_v[32];
        snprintf(keep_k, sizeof keep_k, "%.*s", (int)kl, (const char *)kk);
        snprintf(keep_v, sizeof keep_v, "%.*s", (int)vl, (const char *)vv);
        CHECK(strcmp(keep_k, "k10") == 0 && strcmp(keep_v, "v10") == 0);
        /* unrelated activity */
        for (int i = 0; i < 200; i++) {
            snprintf(k, sizeof k, "noise%03d", i);
            put_s(db, k, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        }
        CHECK_RC(put_s(db, "k10", "changed"), SHALE_OK);
        EXPECT_GET(db, "k10", "changed");
        char other[4096];
        scan_render(db, NULL, NULL, NULL, 0, other, sizeof other);
        CHECK_RC(shale_flush(db), SHALE_OK);
        CHECK_MSG(kl == 3 && memcmp(kk, "k10", 3) == 0 && vl == 3 && memcmp(vv, "v10", 3) == 0,
                  "iterator key/value changed before the next call on it");
        /* the iterator reads its own state: the overwrite above is not seen, neither by the
           already-returned entry nor later ones */
        CHECK_RC(shale_iter_next(it, &kk, &kl, &vv, &vl), SHALE_OK);
        CHECK(kl == 3 && memcmp(kk, "k11", 3) == 0 && vl == 3 && memcmp(vv, "v11", 3) == 0);
        CHECK_RC(shale_iter_next(it, &kk, &kl, &vv, &vl), SHALE_OK);
        CHECK(kl == 3 && memcmp(kk, "k12", 3) == 0);
        CHECK_RC(shale_iter_next(it, &kk, &kl, &vv, &vl), SHALE_NOT_FOUND);
        shale_iter_free(it);
    }

    /* An iterator at "now" ignores writes made after it was created. */
    it = NULL;
    CHECK_RC(shale_scan(db, NULL, "k00", 3, "k03", 3, &it), SHALE_OK);
    CHECK_RC(put_s(db, "k005", "inserted"), SHALE_OK);
    CHECK_RC(shale_delete(db, "k01", 3), SHALE_OK);
    if (it) {
        char buf[256] = "";
        const void *kk, *vv;
        size_t kl, vl;
        while (shale_iter_next(it, &kk, &kl, &vv, &vl) == SHALE_OK) {
            if (buf[0]) strcat(buf, ",");
            append_escaped(buf, sizeof buf, kk, kl);
        }
        CHECK_MSG(strcmp(buf, "k00,k01,k02") == 0, "iterator saw later writes: \"%s\"", buf);
        shale_iter_free(it);
    }
    CHECK_SCAN(db, NULL, "k00", "k03", 0, "k00,k005,k02");

    /* Several iterators at once, interleaved. */
    shale_iter *a = NULL, *b = NULL;
    CHECK_RC(shale_scan(db, NULL, "k15", 3, NULL, 0, &a), SHALE_OK);
    CHECK_RC(shale_scan(db, NULL, "k16", 3, NULL, 0, &b), SHALE_OK);
    if (a && b) {
        const void *ka, *va, *kb, *vb;
        size_t kla, vla, klb, vlb;
        CHECK_RC(shale_iter_next(a, &ka, &kla, &va, &vla), SHALE_OK);
        CHECK_RC(shale_iter_next(b, &kb, &klb, &vb, &vlb), SHALE_OK);
        CHECK(kla == 3 && memcmp(ka, "k15", 3) == 0);
        CHECK(klb == 3 && memcmp(kb, "k16", 3) == 0);
        CHECK_RC(shale_iter_next(a, &ka, &kla, &va, &vla), SHALE_OK);
        CHECK(kla == 3 && memcmp(ka, "k16", 3) == 0);
        CHECK(klb == 3 && memcmp(kb, "k16", 3) == 0);
    }
    shale_iter_free(a);
    shale_iter_free(b);
    /* An iterator freed before the end is fine; so is one never advanced. */
    it = NULL;
    CHECK_RC(shale_scan(db, NULL, NULL, 0, NULL, 0, &it), SHALE_OK);
    shale_iter_free(it);
    CHECK_RC(shale_close(db), SHALE_OK);
}

/* ---- Close, use after close, reopen ------------------------------------------------------- */

static void test_use_after_close(void) {
    char p[PATH_MAX];
    path_for(p, sizeof p, "close-db");
    shale_db *db = OPEN(p, NULL);
    if (!db) return;
    CHECK_RC(put_s(db, "a", "1"), SHALE_OK);
    CHECK_RC(put_s(db, "b", "2"), SHALE_OK);
    CHECK_RC(put_s(db, "c", "3"), SHALE_OK);
    shale_snapshot *snap = NULL, *snap2 = NULL;
    shale_iter *it = NULL, *it_snap = NULL, *it_fresh = NULL;
    CHECK_RC(shale_snapshot_create(db, &snap), SHALE_OK);
    CHECK_RC(shale_snapshot_create(db, &snap2), SHALE_OK);
    CHECK_RC(shale_scan(db, NULL, NULL, 0, NULL, 0, &it), SHALE_OK);
    CHECK_RC(shale_scan(db, snap, NULL, 0, NULL, 0, &it_snap), SHALE_OK);
    CHECK_RC(shale_scan(db, NULL, NULL, 0, NULL, 0, &it_fresh), SHALE_OK);
    const void *k = SENT, *v = SENT;
    size_t kl = 9, vl = 9;
    if (it) CHECK_RC(shale_iter_next(it, &k, &kl, &v, &vl), SHALE_OK);

    CHECK_RC(shale_close(db), SHALE_OK);
    db = NULL;

    if (snap) {
        void *val = SENT;
        size_t vlen = 9;
        CHECK_RC(shale_snapshot_get(snap, "a", 1, &val, &vlen), SHALE_CLOSED);
        CHECK(val == NULL && vlen == 0);
        CHECK(shale_errmsg()[0] != '\0');
        val = SENT, vlen = 9;
        CHECK_RC(shale_snapshot_get(snap, "zz", 2, &val, &vlen), SHALE_CLOSED);
        CHECK(val == NULL && vlen == 0);
    }
    k = SENT, v = SENT, kl = 9, vl = 9;
    if (it) {
        CHECK_RC(shale_iter_next(it, &k, &kl, &v, &vl), SHALE_CLOSED);
        CHECK(k == NULL && kl == 0 && v == NULL && vl == 0);
        CHECK_RC(shale_iter_next(it, &k, &kl, &v, &vl), SHALE_CLOSED);
    }
    k = SENT, v = SENT, kl = 9, vl = 9;
    if (it_snap) {
        CHECK_RC(shale_iter_next(it_snap, &k, &kl, &v, &vl), SHALE_CLOSED);
        CHECK(k == NULL && kl == 0 && v == NULL && vl == 0);
    }
    k = SENT, v = SENT, kl = 9, vl = 9;
    if (it_fresh) {
        CHECK_RC(shale_iter_next(it_fresh, &k, &kl, &v, &vl), SHALE_CLOSED);
        CHECK(k == NULL && kl == 0 && v == NULL && vl == 0);
    }
    /* Freeing after close is fine, in either order relative to what they depend on. */
    shale_snapshot_release(snap); /* it_snap was made from it and is still alive */
    if (it_snap) CHECK_RC(shale_iter_next(it_snap, &k, &kl, &v, &vl), SHALE_CLOSED);
    shale_iter_free(it_snap);
    shale_iter_free(it);
    shale_iter_free(it_fresh);
    if (snap2) {
        void *val = SENT;
        size_t vlen = 9;
        CHECK_RC(shale_snapshot_get(snap2, "b", 1, &val, &vlen), SHALE_CLOSED);
        CHECK(val == NULL && vlen == 0);
    }
    shale_snapshot_release(snap2);

    /* Reopen keeps the data. */
    db = OPEN(p, NULL);
    if (!db) return;
    EXPECT_GET(db, "a", "1");
    EXPECT_GET(db, "b", "2");
    EXPECT_GET(db, "c", "3");
    CHECK_SCAN(db, NULL, NULL, NULL, 1, "a=1,b=2,c=3");
    CHECK_RC(shale_close(db), SHALE_OK);

    /* Reopen while a zombie snapshot of the previous handle is still alive. */
    db = OPEN(p, NULL);
    if (!db) return;
    snap = NULL;
    CHECK_RC(shale_snapshot_create(db, &snap), SHALE_OK);
    CHECK_RC(shale_close(db), SHALE_OK);
    db = OPEN(p, NULL);
    if (db) {
        CHECK_RC(put_s(db, "d", "4"), SHALE_OK);
        EXPECT_GET(db, "a", "1");
        CHECK_RC(shale_close(db), SHALE_OK);
    }
    if (snap) {
        void *val = SENT;
        size_t vlen = 9;
        CHECK_RC(shale_snapshot_get(snap, "a", 1, &val, &vlen), SHALE_CLOSED);
    }
    shale_snapshot_release(snap);
}

static void test_reopen(void) {
    char p[PATH_MAX];
    path_for(p, sizeof p, "reopen-db");
    /* default options (wal_sync=interval): close makes acknowledged writes durable */
    shale_db *db = OPEN(p, NULL);
    if (!db) return;
    CHECK_RC(put_s(db, "keep", "yes"), SHALE_OK);
    CHECK_RC(put_s(db, "del", "no"), SHALE_OK);
    CHECK_RC(shale_delete(db, "del", 3), SHALE_OK);
    CHECK_RC(shale_put(db, "empty", 5, "", 0), SHALE_OK);
    static const char nk[] = {'n', 0, 'k'}, nv[] = {0, 1, 2, 0};
    CHECK_RC(shale_put(db, nk, sizeof nk, nv, sizeof nv), SHALE_OK);
    CHECK_RC(shale_close(db), SHALE_OK);

    for (int round = 0; round < 3; round++) {
        db = OPEN(p, NULL);
        if (!db) return;
        EXPECT_GET(db, "keep", "yes");
        EXPECT_GET(db, "del", NULL);
        EXPECT_GET_N(db, "empty", 5, "", 0);
        EXPECT_GET_N(db, nk, sizeof nk, nv, sizeof nv);
        char k[32];
        snprintf(k, sizeof k, "round%d", round);
        CHECK_RC(put_s(db, k, "done"), SHALE_OK);
        for (int r = 0; r < round; r++) {
            snprintf(k, sizeof k, "round%d", r);
            EXPECT_GET(db, k, "done");
        }
        if (round == 1) CHECK_RC(shale_flush(db), SHALE_OK);
        CHECK_RC(shale_close(db), SHALE_OK);
    }

    /* "file:///dir" names the same directory. */
    char loc[PATH_MAX + 16];
    snprintf(loc, sizeof loc, "file://%s", p);
    db = OPEN(loc, NULL);
    if (db) {
        EXPECT_GET(db, "keep", "yes");
        CHECK_RC(put_s(db, "via-url", "1"), SHALE_OK);
        CHECK_RC(shale_close(db), SHALE_OK);
    }
    db = OPEN(p, NULL);
    if (db) {
        EXPECT_GET(db, "via-url", "1");
        CHECK_RC(shale_close(db), SHALE_OK);
    }

    /* read_only=true opens an existing db for reading; writes are refused. */
    shale_options *o = shale_options_new();
    CHECK_RC(shale_options_set(o, "read_only", "true"), SHALE_OK);
    db = OPEN(p, o);
    if (db) {
        EXPECT_GET(db, "keep", "yes");
        int rc = put_s(db, "ro", "x");
        CHECK_MSG(rc != SHALE_OK, "put on a read_only db succeeded");
        CHECK(shale_errmsg()[0] != '\0');
        EXPECT_GET(db, "ro", NULL);
        CHECK_RC(shale_close(db), SHALE_OK);
    }
    shale_options_free(o);
}

/* ---- memory://, flush, stats -------------------------------------------------------------- */

static void test_memory_flush_stats(void) {
    char loc1[64], loc2[64];
    snprintf(loc1, sizeof loc1, "memory://abi-one-%ld", (long)getpid());
    snprintf(loc2, sizeof loc2, "memory://abi-two-%ld", (long)getpid());
    shale_db *m1 = OPEN(loc1, NULL);
    shale_db *m2 = OPEN(loc2, NULL);
    if (m1 && m2) {
        CHECK_RC(put_s(m1, "k", "one"), SHALE_OK);
        CHECK_RC(put_s(m2, "k", "two"), SHALE_OK);
        EXPECT_GET(m1, "k", "one");
        EXPECT_GET(m2, "k", "two");
        CHECK_RC(put_s(m1, "only1", "x"), SHALE_OK);
        EXPECT_GET(m2, "only1", NULL);
        shale_batch *b = shale_batch_new();
        shale_batch_put(b, "b1", 2, "x", 1);
        shale_batch_delete(b, "k", 1);
        CHECK_RC(shale_write(m1, b), SHALE_OK);
        shale_batch_free(b);
        CHECK_SCAN(m1, NULL, NULL, NULL, 1, "b1=x,only1=x");
        shale_snapshot *s = NULL;
        CHECK_RC(shale_snapshot_create(m1, &s), SHALE_OK);
        CHECK_RC(put_s(m1, "b1", "y"), SHALE_OK);
        if (s) {
            EXPECT_SNAP_GET(s, "b1", "x");
            shale_snapshot_release(s);
        }
        CHECK_RC(shale_flush(m1), SHALE_OK);
        EXPECT_GET(m1, "b1", "y");
        char *json = SENT;
        int rc = shale_stats_json(m1, &json);
        CHECK_RC(rc, SHALE_OK);
        if (rc == SHALE_OK && CHECK(json != NULL && json != SENT)) {
            CHECK_MSG(json[0] == '{', "stats json does not start with '{': %.80s", json);
            size_t n = strlen(json);
            while (n > 0 && (json[n - 1] == '\n' || json[n - 1] == ' ')) n--;
            CHECK_MSG(n >= 2 && json[n - 1] == '}', "stats json does not end with '}'");
            shale_free(json);
        }
    }
    if (m1) CHECK_RC(shale_close(m1), SHALE_OK);
    if (m2) CHECK_RC(shale_close(m2), SHALE_OK);

    /* flush and stats on a directory db */
    shale_db *db = OPEN_NEW("stats-db", NULL);
    if (!db) return;
    CHECK_RC(shale_flush(db), SHALE_OK); /* nothing to flush is fine */
    CHECK_RC(put_s(db, "k", "v"), SHALE_OK);
    CHECK_RC(shale_flush(db), SHALE_OK);
    char *json = NULL;
    int rc = shale_stats_json(db, &json);
    CHECK_RC(rc, SHALE_OK);
    if (rc == SHALE_OK && json) {
        CHECK_MSG(json[0] == '{', "stats json does not start with '{': %.80s", json);
        CHECK(strchr(json, '}') != NULL);
        shale_free(json);
    }
    CHECK_RC(shale_close(db), SHALE_OK);
}

/* ---- Runner ------------------------------------------------------------------------------- */

static const struct test_group groups[] = {
    {"crash_atomicity", test_crash_atomicity, 120}, /* forks: run first in its process */
    {"version", test_version, 30},
    {"status_names", test_status_names, 30},
    {"errmsg_thread_local", test_errmsg_thread_local, 30},
    {"options", test_options, 60},
    {"null_arguments", test_null_arguments, 60},
    {"keys_and_values", test_keys_and_values, 60},
    {"value_limit", test_value_limit, 120},
    {"batches", test_batches, 60},
    {"batch_atomic_visibility", test_batch_atomic_visibility, 60},
    {"snapshots", test_snapshots, 60},
    {"scans", test_scans, 60},
    {"levels", test_levels, 300},
    {"use_after_close", test_use_after_close, 60},
    {"reopen", test_reopen, 60},
    {"memory_flush_stats", test_memory_flush_stats, 60},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, groups, sizeof groups / sizeof groups[0]);
}
