/*
 * test_checkpoint.c — checks the checkpoint part of the C ABI (include/shale.h):
 * shale_checkpoint_create/list/refresh/delete, shale_checkpoint_info, readers, restore and
 * clone, with NULL arguments and the documented statuses.
 *
 * Each group runs in a forked child so that a crash in one group is reported as a failure of
 * that group and the others still run (SHALE_TEST_NOFORK=1 runs everything in one process).
 * Pass group names as arguments to run only those.
 * The last line of output is "N passed, M failed"; the exit status is non-zero on failure.
 */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700

#define HARNESS_FILE "test_checkpoint.c"
#define HARNESS_TMP_PREFIX "shale-test-cp"
#include "harness.h"

#include <sys/time.h>

static int64_t unix_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

#define OPEN(loc) open_at((loc), NULL, __LINE__)

/* exp == NULL means "expect NOT_FOUND". Frees the value. */
static void check_value_at(int line, const char *what, int rc, void *val, size_t vlen,
                           const char *exp) {
    if (exp == NULL) {
        check_at(rc == SHALE_NOT_FOUND, line, "%s: want NOT_FOUND, got %s (%s)", what,
                 shale_status_name(rc), shale_errmsg());
        check_at(val == NULL && vlen == 0, line, "%s: NOT_FOUND must zero out-params", what);
        if (rc == SHALE_OK) shale_free(val);
        return;
    }
    if (!check_at(rc == SHALE_OK, line, "%s: want OK, got %s (%s)", what, shale_status_name(rc),
                  shale_errmsg()))
        return;
    size_t explen = strlen(exp);
    check_at(val != NULL && val != SENT && vlen == explen && memcmp(val, exp, explen) == 0, line,
             "%s: got \"%.*s\", want \"%s\"", what, (int)(vlen < 60 ? vlen : 60),
             val && val != SENT ? (const char *)val : "", exp);
    shale_free(val);
}

#define EXPECT_GET(db, k, exp)                                                  \
    do {                                                                        \
        void *v_ = SENT;                                                        \
        size_t vl_ = 777;                                                       \
        int rc_ = shale_get((db), (k), strlen(k), &v_, &vl_);                   \
        check_value_at(__LINE__, "shale_get(" k ")", rc_, v_, vl_, (exp));      \
    } while (0)

#define EXPECT_READER_GET(r, k, exp)                                            \
    do {                                                                        \
        void *v_ = SENT;                                                        \
        size_t vl_ = 777;                                                       \
        int rc_ = shale_reader_get((r), (k), strlen(k), &v_, &vl_);             \
        check_value_at(__LINE__, "shale_reader_get(" k ")", rc_, v_, vl_, (exp)); \
    } while (0)

/* Renders an iterator as "k1=v1,k2=v2,..." and frees it; returns the status that ended it. */
static int render_iter(shale_iter *it, char *buf, size_t cap) {
    buf[0] = '\0';
    const void *k, *v;
    size_t kl, vl;
    int rc, first = 1;
    while ((rc = shale_iter_next(it, &k, &kl, &v, &vl)) == SHALE_OK) {
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%.*s=%.*s", first ? "" : ",", (int)kl, (const char *)k,
                 (int)vl, (const char *)v);
        first = 0;
    }
    shale_iter_free(it);
    return rc;
}

static int reader_scan_render(shale_reader *r, const char *start, const char *end, char *buf,
                              size_t cap) {
    shale_iter *it = NULL;
    buf[0] = '\0';
    int rc = shale_reader_scan(r, start, slen0(start), end, slen0(end), &it);
    if (rc != SHALE_OK) return rc;
    return render_iter(it, buf, cap);
}

#define CHECK_READER_SCAN(r, start, end, want)                                                 \
    do {                                                                                       \
        char b_[8192];                                                                         \
        int rc_ = reader_scan_render((r), (start), (end), b_, sizeof b_);                      \
        check_at(rc_ == SHALE_NOT_FOUND, __LINE__, "reader scan ended with %s (%s)",           \
                 shale_status_name(rc_), shale_errmsg());                                      \
        check_at(strcmp(b_, (want)) == 0, __LINE__, "reader scan: got \"%s\", want \"%s\"", b_, \
                 (want));                                                                      \
    } while (0)

static int db_scan_render(shale_db *db, char *buf, size_t cap) {
    shale_iter *it = NULL;
    buf[0] = '\0';
    int rc = shale_scan(db, NULL, NULL, 0, NULL, 0, &it);
    if (rc != SHALE_OK) return rc;
    return render_iter(it, buf, cap);
}

#define CHECK_DB_SCAN(db, want)                                                                 \
    do {                                                                                        \
        char b_[8192];                                                                          \
        int rc_ = db_scan_render((db), b_, sizeof b_);                                          \
        check_at(rc_ == SHALE_NOT_FOUND, __LINE__, "db scan ended with %s (%s)",                \
                 shale_status_name(rc_), shale_errmsg());                                       \
        check_at(strcmp(b_, (want)) == 0, __LINE__, "db scan: got \"%s\", want \"%s\"", b_, (want)); \
    } while (0)

/* Lists checkpoints; returns the count (the array in *out, to free with shale_free). */
static size_t list_at(const char *loc, shale_checkpoint_info **out, int line) {
    *out = SENT;
    size_t n = 12345;
    int rc = shale_checkpoint_list(loc, out, &n);
    if (!check_at(rc == SHALE_OK, line, "shale_checkpoint_list(%s) -> %s (%s)", loc,
                  shale_status_name(rc), shale_errmsg())) {
        *out = NULL;
        return 0;
    }
    check_at(n == 0 ? *out == NULL : *out != NULL, line, "list: %zu entries but array %p", n,
             (void *)*out);
    return n;
}
#define LIST(loc, out) list_at((loc), (out), __LINE__)

static const shale_checkpoint_info *find_info(const shale_checkpoint_info *a, size_t n,
                                              const char *id) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].id, id) == 0) return &a[i];
    return NULL;
}

static int is_uuid(const char *s) {
    if (strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
                     (s[i] >= 'A' && s[i] <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

static const char *UNKNOWN_ID = "0f8fad5b-d9cb-469f-a165-70867728950e";

/* ---- Groups -------------------------------------------------------------------------------- */

static void test_null_arguments(void) {
    char p[PATH_MAX];
    path_for(p, sizeof p, "nulls");
    shale_db *db = OPEN(p);
    if (!db) return;
    CHECK_RC(put_s(db, "k", "v"), SHALE_OK);

    char id[37];
    memset(id, 'x', sizeof id);
    CHECK_INVALID(shale_checkpoint_create(NULL, "n", 0, 1, id));
    CHECK_MSG(id[0] == '\0', "id_out must be \"\" on failure, got \"%.36s\"", id);
    CHECK_INVALID(shale_checkpoint_create(db, NULL, 0, 1, NULL));
    memset(id, 'x', sizeof id);
    char longname[80];
    memset(longname, 'n', 64);
    longname[64] = '\0';
    CHECK_INVALID(shale_checkpoint_create(db, longname, 0, 1, id));
    CHECK_MSG(id[0] == '\0', "id_out must be \"\" after a 64-byte name, got \"%.36s\"", id);
    memset(id, 'x', sizeof id);
    CHECK_INVALID(shale_checkpoint_create(db, "neg", -1, 1, id));
    CHECK(id[0] == '\0');
    memset(id, 'x', sizeof id);
    CHECK_INVALID(shale_checkpoint_create(db, "neg", -1, 0, id));
    CHECK(id[0] == '\0');
    longname[63] = '\0';
    CHECK_RC(shale_checkpoint_create(db, longname, 0, 1, id), SHALE_OK);
    CHECK(is_uuid(id));

    shale_checkpoint_info *infos = SENT;
    size_t n = 99;
    CHECK_INVALID(shale_checkpoint_list(NULL, &infos, &n));
    CHECK_MSG(infos == NULL && n == 0, "list failure must zero out params (%p, %zu)", (void *)infos, n);
    n = 99;
    CHECK_INVALID(shale_checkpoint_list(p, NULL, &n));
    CHECK_MSG(n == 0, "list failure must zero count, got %zu", n);
    infos = SENT;
    CHECK_INVALID(shale_checkpoint_list(p, &infos, NULL));
    CHECK_MSG(infos == NULL, "list failure must zero the array");

    CHECK_INVALID(shale_checkpoint_refresh(NULL, id, 0));
    CHECK_INVALID(shale_checkpoint_refresh(p, NULL, 0));
    CHECK_INVALID(shale_checkpoint_refresh(p, id, -1));
    CHECK_INVALID(shale_checkpoint_refresh(p, "not-an-id", 0));
    CHECK_INVALID(shale_checkpoint_delete(NULL, id));
    CHECK_INVALID(shale_checkpoint_delete(p, NULL));
    CHECK_INVALID(shale_checkpoint_delete(p, "not-an-id"));
    CHECK_INVALID(shale_restore(NULL, id));
    CHECK_INVALID(shale_restore(p, NULL));
    CHECK_INVALID(shale_restore(p, "not-an-id"));
    char dest[PATH_MAX];
    path_for(dest, sizeof dest, "nulls-clone");
    CHECK_INVALID(shale_clone(NULL, id, dest));
    CHECK_INVALID(shale_clone(p, id, NULL));
    CHECK_INVALID(shale_clone(p, "not-an-id", dest));
    CHECK_MSG(access(dest, F_OK) != 0, "a failed clone created %s", dest);

    shale_reader *r = SENT;
    CHECK_INVALID(shale_reader_open(NULL, id, &r));
    CHECK_MSG(r == NULL, "reader_open failure must set *out to NULL");
    CHECK_INVALID(shale_reader_open(p, id, NULL));
    r = SENT;
    CHECK_INVALID(shale_reader_open(p, "not-an-id", &r));
    CHECK(r == NULL);
    void *v = SENT;
    size_t vl = 5;
    CHECK_INVALID(shale_reader_get(NULL, "k", 1, &v, &vl));
    CHECK(v == NULL && vl == 0);
    shale_iter *it = SENT;
    CHECK_INVALID(shale_reader_scan(NULL, NULL, 0, NULL, 0, &it));
    CHECK(it == NULL);
    CHECK_RC(shale_reader_close(NULL), SHALE_OK);

    /* The one good checkpoint is all there is. */
    size_t cnt = LIST(p, &infos);
    CHECK_MSG(cnt == 1, "want 1 checkpoint, got %zu", cnt);
    if (cnt == 1) CHECK(strcmp(infos[0].id, id) == 0 && strcmp(infos[0].name, longname) == 0);
    shale_free(infos);

    /* Reader argument checks on a real reader. */
    r = NULL;
    CHECK_RC(shale_reader_open(p, id, &r), SHALE_OK);
    if (r) {
        v = SENT;
        vl = 5;
        CHECK_INVALID(shale_reader_get(r, NULL, 1, &v, &vl));
        CHECK_INVALID(shale_reader_get(r, "k", 0, &v, &vl));
        CHECK(v == NULL && vl == 0);
        CHECK_INVALID(shale_reader_get(r, "k", 1, NULL, &vl));
        CHECK_INVALID(shale_reader_scan(r, NULL, 0, NULL, 0, NULL));
        CHECK_RC(shale_reader_close(r), SHALE_OK);
    }
    CHECK_RC(shale_close(db), SHALE_OK);
}

static void test_info_fields(void) {
    char p[PATH_MAX];
    path_for(p, sizeof p, "info");
    shale_db *db = OPEN(p);
    if (!db) return;
    char ids[4][37];
    const char *names[4] = {"first", NULL, "third", "fourth"};
    int64_t lifetimes[4] = {0, 600000, 0, 3600000};
    int64_t before[4], after[4];
    for (int i = 0; i < 4; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        CHECK_RC(put_s(db, k, "v"), SHALE_OK);
        before[i] = unix_ms();
        CHECK_RC(shale_checkpoint_create(db, names[i], lifetimes[i], i != 2, ids[i]), SHALE_OK);
        after[i] = unix_ms();
        CHECK_MSG(is_uuid(ids[i]) && ids[i][36] == '\0', "id \"%s\" is not 36 characters + NUL", ids[i]);
        sleep_ms(3);
    }
    CHECK(strcmp(ids[0], ids[1]) != 0 && strcmp(ids[1], ids[2]) != 0);
    CHECK_RC(shale_flush(db), SHALE_OK);

    shale_checkpoint_info *infos = NULL;
    size_t n = LIST(p, &infos);
    CHECK_MSG(n == 4, "want 4 checkpoints, got %zu", n);
    uint64_t last_seq = 0;
    for (size_t i = 0; i < n && i < 4; i++) {
        const shale_checkpoint_info *c = &infos[i];
        CHECK_MSG(strcmp(c->id, ids[i]) == 0, "entry %zu is %s, want %s (creation order)", i, c->id, ids[i]);
        CHECK_MSG(strlen(c->id) == 36, "id length %zu", strlen(c->id));
        CHECK_MSG(strcmp(c->name, names[i] ? names[i] : "") == 0, "entry %zu name \"%s\"", i, c->name);
        CHECK_MSG(c->sequence > last_seq, "entry %zu sequence %llu not after %llu", i,
                  (unsigned long long)c->sequence, (unsigned long long)last_seq);
        last_seq = c->sequence;
        CHECK_MSG(c->manifest_id > 0, "entry %zu manifest id 0", i);
        CHECK_MSG(c->create_time_ms >= before[i] - 1 && c->create_time_ms <= after[i] + 1,
                  "entry %zu create time %lld outside [%lld, %lld]", i, (long long)c->create_time_ms,
                  (long long)before[i], (long long)after[i]);
        if (lifetimes[i] == 0)
            CHECK_MSG(c->expire_time_ms == 0, "entry %zu expires at %lld, want 0", i, (long long)c->expire_time_ms);
        else
            CHECK_MSG(c->expire_time_ms == c->create_time_ms + lifetimes[i],
                      "entry %zu expires at %lld, want create %lld + %lld", i,
                      (long long)c->expire_time_ms, (long long)c->create_time_ms, (long long)lifetimes[i]);
    }
    shale_free(infos);

    /* Refresh: lifetime from now; 0 = never. */
    int64_t t0 = unix_ms();
    CHECK_RC(shale_checkpoint_refresh(p, ids[0], 120000), SHALE_OK);
    int64_t t1 = unix_ms();
    CHECK_RC(shale_checkpoint_refresh(p, ids[1], 0), SHALE_OK);
    CHECK_RC(shale_checkpoint_refresh(p, UNKNOWN_ID, 0), SHALE_NOT_FOUND);
    n = LIST(p, &infos);
    if (n == 4) {
        const shale_checkpoint_info *a = find_info(infos, n, ids[0]), *b = find_info(infos, n, ids[1]);
        CHECK(a && a->expire_time_ms >= t0 + 120000 && a->expire_time_ms <= t1 + 120000);
        CHECK(b && b->expire_time_ms == 0);
    }
    shale_free(infos);

    /* Delete. */
    CHECK_RC(shale_checkpoint_delete(p, ids[2]), SHALE_OK);
    CHECK_RC(shale_checkpoint_delete(p, ids[2]), SHALE_NOT_FOUND);
    CHECK_RC(shale_checkpoint_delete(p, UNKNOWN_ID), SHALE_NOT_FOUND);
    n = LIST(p, &infos);
    CHECK_MSG(n == 3 && !find_info(infos, n, ids[2]), "after delete: %zu entries", n);
    shale_free(infos);
    shale_reader *r = SENT;
    CHECK_RC(shale_reader_open(p, ids[2], &r), SHALE_NOT_FOUND);
    CHECK(r == NULL);
    CHECK_RC(shale_close(db), SHALE_OK);

    /* The list works on a closed database too, and after reopen. */
    n = LIST(p, &infos);
    CHECK(n == 3);
    shale_free(infos);

    /* Expired: lifetime 1 ms. */
    db = OPEN(p);
    if (!db) return;
    char shortid[37];
    CHECK_RC(shale_checkpoint_create(db, "short", 1, 1, shortid), SHALE_OK);
    sleep_ms(20);
    r = SENT;
    CHECK_RC(shale_reader_open(p, shortid, &r), SHALE_NOT_FOUND);
    CHECK(r == NULL);
    CHECK_RC(shale_checkpoint_refresh(p, shortid, 0), SHALE_NOT_FOUND);
    CHECK_RC(shale_close(db), SHALE_OK);
}

static void test_readers(void) {
    char p[PATH_MAX];
    path_for(p, sizeof p, "readers");
    shale_db *db = OPEN(p);
    if (!db) return;
    CHECK_RC(put_s(db, "a", "1"), SHALE_OK);
    CHECK_RC(put_s(db, "b", "2"), SHALE_OK);
    CHECK_RC(shale_put(db, "z\0bin", 5, "", 0), SHALE_OK);
    char c1[37];
    CHECK_RC(shale_checkpoint_create(db, "one", 0, 1, c1), SHALE_OK);
    CHECK_RC(put_s(db, "a", "changed"), SHALE_OK);
    CHECK_RC(shale_delete(db, "b", 1), SHALE_OK);
    CHECK_RC(put_s(db, "c", "3"), SHALE_OK);
    char c2[37];
    CHECK_RC(shale_checkpoint_create(db, "two", 0, 0, c2), SHALE_OK);
    CHECK_RC(put_s(db, "d", "after"), SHALE_OK);
    CHECK_RC(shale_flush(db), SHALE_OK);

    shale_reader *r1 = NULL, *r2 = NULL, *rl = NULL;
    CHECK_RC(shale_reader_open(p, c1, &r1), SHALE_OK);
    CHECK_RC(shale_reader_open(p, c2, &r2), SHALE_OK);
    CHECK_RC(shale_reader_open(p, NULL, &rl), SHALE_OK);
    if (!r1 || !r2 || !rl) return;

    /* Writes after the readers opened change nothing they see. */
    for (int i = 0; i < 3000; i++) {
        char k[32], v[64];
        snprintf(k, sizeof k, "churn%05d", i);
        snprintf(v, sizeof v, "value-%d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", i);
        if (put_s(db, k, v) != SHALE_OK) break;
    }
    CHECK_RC(put_s(db, "a", "latest"), SHALE_OK);
    CHECK_RC(shale_flush(db), SHALE_OK);

    EXPECT_READER_GET(r1, "a", "1");
    EXPECT_READER_GET(r1, "b", "2");
    EXPECT_READER_GET(r1, "c", NULL);
    EXPECT_READER_GET(r1, "d", NULL);
    {
        void *v = SENT;
        size_t vl = 9;
        CHECK_RC(shale_reader_get(r1, "z\0bin", 5, &v, &vl), SHALE_OK);
        CHECK_MSG(v != NULL && v != SENT && vl == 0, "empty value: %p %zu", v, vl);
        if (v != SENT) shale_free(v);
    }
    EXPECT_READER_GET(r2, "a", "changed");
    EXPECT_READER_GET(r2, "b", NULL);
    EXPECT_READER_GET(r2, "c", "3");
    EXPECT_READER_GET(r2, "d", NULL);
    EXPECT_READER_GET(rl, "d", "after");
    EXPECT_READER_GET(rl, "churn00000", NULL);

    CHECK_READER_SCAN(r1, NULL, NULL, "a=1,b=2,z="); /* %.*s stops at the key's NUL */
    CHECK_READER_SCAN(r2, NULL, NULL, "a=changed,c=3,z=");
    CHECK_READER_SCAN(r2, "b", "z", "c=3");
    CHECK_READER_SCAN(r1, "a", "b", "a=1");
    CHECK_READER_SCAN(rl, NULL, "churn", "a=changed,c=3");

    /* Iterators answer SHALE_CLOSED after the reader closes; they stay valid memory. */
    shale_iter *it1 = NULL, *it2 = NULL;
    CHECK_RC(shale_reader_scan(r1, NULL, 0, NULL, 0, &it1), SHALE_OK);
    CHECK_RC(shale_reader_scan(r1, NULL, 0, NULL, 0, &it2), SHALE_OK);
    const void *k, *v;
    size_t kl, vl;
    if (it1) CHECK_RC(shale_iter_next(it1, &k, &kl, &v, &vl), SHALE_OK);
    CHECK_RC(shale_reader_close(r1), SHALE_OK);
    if (it1) {
        k = SENT;
        kl = 3;
        CHECK_RC(shale_iter_next(it1, &k, &kl, &v, &vl), SHALE_CLOSED);
        CHECK(k == NULL && kl == 0);
        shale_iter_free(it1);
    }
    if (it2) {
        CHECK_RC(shale_iter_next(it2, &k, &kl, &v, &vl), SHALE_CLOSED);
        shale_iter_free(it2);
    }
    CHECK_RC(shale_reader_close(r2), SHALE_OK);
    CHECK_RC(shale_reader_close(rl), SHALE_OK);
    CHECK_RC(shale_reader_close(NULL), SHALE_OK);

    /* Unknown checkpoint; no database. */
    shale_reader *r = SENT;
    CHECK_RC(shale_reader_open(p, UNKNOWN_ID, &r), SHALE_NOT_FOUND);
    CHECK(r == NULL);
    char nodb[PATH_MAX];
    path_for(nodb, sizeof nodb, "no-db-here");
    r = SENT;
    CHECK_RC(shale_reader_open(nodb, NULL, &r), SHALE_NOT_FOUND);
    CHECK(r == NULL);
    CHECK_RC(shale_close(db), SHALE_OK);
}

static void test_restore(void) {
    char p[PATH_MAX];
    path_for(p, sizeof p, "restore");
    shale_db *db = OPEN(p);
    if (!db) return;
    CHECK_RC(put_s(db, "a", "1"), SHALE_OK);
    char c1[37];
    CHECK_RC(shale_checkpoint_create(db, "c1", 0, 1, c1), SHALE_OK);
    CHECK_RC(put_s(db, "a", "2"), SHALE_OK);
    CHECK_RC(put_s(db, "b", "3"), SHALE_OK);

    /* BUSY while the database is open in this process; nothing changes. */
    CHECK_RC(shale_restore(p, c1), SHALE_BUSY);
    CHECK_RC(put_s(db, "c", "4"), SHALE_OK);
    CHECK_DB_SCAN(db, "a=2,b=3,c=4");
    shale_checkpoint_info *infos = NULL;
    size_t n = LIST(p, &infos);
    CHECK_MSG(n == 1, "BUSY restore changed the list: %zu entries", n);
    shale_free(infos);
    CHECK_RC(shale_close(db), SHALE_OK);

    CHECK_RC(shale_restore(p, UNKNOWN_ID), SHALE_NOT_FOUND);
    int64_t t0 = unix_ms();
    CHECK_RC(shale_restore(p, c1), SHALE_OK);
    int64_t t1 = unix_ms();
    n = LIST(p, &infos);
    CHECK_MSG(n == 2, "after restore: %zu checkpoints, want 2", n);
    char pre[37] = "";
    for (size_t i = 0; i < n; i++) {
        if (strncmp(infos[i].name, "pre-restore-", 12) == 0) {
            snprintf(pre, sizeof pre, "%s", infos[i].id);
            long long ms = atoll(infos[i].name + 12);
            CHECK_MSG(ms >= t0 - 1 && ms <= t1 + 1, "pre-restore name %s outside [%lld, %lld]",
                      infos[i].name, (long long)t0, (long long)t1);
            CHECK(infos[i].expire_time_ms == 0);
        }
    }
    shale_free(infos);
    CHECK_MSG(pre[0] != '\0', "no pre-restore checkpoint");

    db = OPEN(p);
    if (!db) return;
    CHECK_DB_SCAN(db, "a=1");
    CHECK_RC(put_s(db, "x", "9"), SHALE_OK);
    CHECK_RC(shale_close(db), SHALE_OK);

    /* Undo. */
    if (pre[0]) {
        CHECK_RC(shale_restore(p, pre), SHALE_OK);
        db = OPEN(p);
        if (!db) return;
        CHECK_DB_SCAN(db, "a=2,b=3,c=4");
        CHECK_RC(shale_close(db), SHALE_OK);
    }
}

static void test_clone(void) {
    char p[PATH_MAX], d1[PATH_MAX], d2[PATH_MAX], inside[PATH_MAX + 16];
    path_for(p, sizeof p, "clone-src");
    path_for(d1, sizeof d1, "clone-1");
    path_for(d2, sizeof d2, "clone-2");
    snprintf(inside, sizeof inside, "%s/inner", p);
    shale_db *db = OPEN(p);
    if (!db) return;
    CHECK_RC(put_s(db, "a", "1"), SHALE_OK);
    CHECK_RC(put_s(db, "b", "2"), SHALE_OK);
    char c1[37];
    CHECK_RC(shale_checkpoint_create(db, "c1", 0, 1, c1), SHALE_OK);
    CHECK_RC(put_s(db, "a", "changed"), SHALE_OK);
    CHECK_RC(shale_flush(db), SHALE_OK);

    /* Clone from an open source, by checkpoint and the latest durable state. */
    CHECK_RC(shale_clone(p, c1, d1), SHALE_OK);
    CHECK_RC(shale_clone(p, NULL, d2), SHALE_OK);
    CHECK_RC(shale_clone(p, c1, d1), SHALE_INVALID_ARGUMENT); /* exists */
    CHECK_RC(shale_clone(p, c1, p), SHALE_INVALID_ARGUMENT);  /* the source */
    CHECK_RC(shale_clone(p, c1, inside), SHALE_INVALID_ARGUMENT);
    CHECK_MSG(access(inside, F_OK) != 0, "a refused clone created %s", inside);
    char d3[PATH_MAX];
    path_for(d3, sizeof d3, "clone-3");
    CHECK_RC(shale_clone(p, UNKNOWN_ID, d3), SHALE_NOT_FOUND);
    CHECK_MSG(access(d3, F_OK) != 0, "a failed clone created %s", d3);

    /* The source keeps changing; the clones do not. */
    CHECK_RC(put_s(db, "b", "gone"), SHALE_OK);
    CHECK_RC(shale_close(db), SHALE_OK);
    CHECK_RC(shale_restore(p, c1), SHALE_OK);

    shale_checkpoint_info *infos = SENT;
    size_t n = LIST(d1, &infos);
    CHECK_MSG(n == 0, "a clone has no checkpoints, got %zu", n);
    shale_free(infos);

    shale_db *c = OPEN(d1);
    if (c) {
        CHECK_DB_SCAN(c, "a=1,b=2");
        CHECK_RC(put_s(c, "only-in-clone", "y"), SHALE_OK);
        CHECK_RC(shale_close(c), SHALE_OK);
    }
    c = OPEN(d2);
    if (c) {
        CHECK_DB_SCAN(c, "a=changed,b=2");
        CHECK_RC(shale_close(c), SHALE_OK);
    }
    db = OPEN(p);
    if (db) {
        EXPECT_GET(db, "only-in-clone", NULL);
        CHECK_RC(shale_close(db), SHALE_OK);
    }

    /* memory:// to memory://. */
    char msrc[64], mdst[64];
    snprintf(msrc, sizeof msrc, "memory://cp-c-src-%d", (int)getpid());
    snprintf(mdst, sizeof mdst, "memory://cp-c-dst-%d", (int)getpid());
    shale_db *m = OPEN(msrc);
    if (!m) return;
    CHECK_RC(put_s(m, "m", "1"), SHALE_OK);
    char mc[37];
    CHECK_RC(shale_checkpoint_create(m, NULL, 0, 1, mc), SHALE_OK);
    CHECK_RC(put_s(m, "m", "2"), SHALE_OK);
    CHECK_RC(shale_clone(msrc, mc, mdst), SHALE_OK);
    CHECK_RC(shale_close(m), SHALE_OK);
    shale_reader *r = NULL;
    CHECK_RC(shale_reader_open(mdst, NULL, &r), SHALE_OK);
    if (r) {
        EXPECT_READER_GET(r, "m", "1");
        CHECK_RC(shale_reader_close(r), SHALE_OK);
    }
}

static void test_no_database(void) {
    char p[PATH_MAX];
    path_for(p, sizeof p, "nothing-here");
    shale_checkpoint_info *infos = SENT;
    size_t n = 77;
    CHECK_RC(shale_checkpoint_list(p, &infos, &n), SHALE_NOT_FOUND);
    CHECK_MSG(infos == NULL && n == 0, "NOT_FOUND must zero out params (%p, %zu)", (void *)infos, n);
    CHECK_MSG(access(p, F_OK) != 0, "listing %s created it", p);
    infos = SENT;
    n = 77;
    CHECK_RC(shale_checkpoint_list("memory://cp-c-never-opened", &infos, &n), SHALE_NOT_FOUND);
    CHECK(infos == NULL && n == 0);
    CHECK_RC(shale_checkpoint_refresh(p, UNKNOWN_ID, 0), SHALE_NOT_FOUND);
    CHECK_RC(shale_checkpoint_delete(p, UNKNOWN_ID), SHALE_NOT_FOUND);
    CHECK_RC(shale_restore(p, UNKNOWN_ID), SHALE_NOT_FOUND);
    char d[PATH_MAX];
    path_for(d, sizeof d, "nothing-clone");
    CHECK_RC(shale_clone(p, NULL, d), SHALE_NOT_FOUND);
    CHECK(access(d, F_OK) != 0);

    /* A database without checkpoints lists none: OK, NULL, 0. */
    char e[PATH_MAX];
    path_for(e, sizeof e, "empty");
    shale_db *db = OPEN(e);
    if (!db) return;
    infos = SENT;
    n = 77;
    CHECK_RC(shale_checkpoint_list(e, &infos, &n), SHALE_OK);
    CHECK(infos == NULL && n == 0);
    CHECK_RC(shale_close(db), SHALE_OK);
}

/* ---- Runner ------------------------------------------------------------------------------- */

static const struct test_group groups[] = {
    {"null_arguments", test_null_arguments, 60},
    {"info_fields", test_info_fields, 60},
    {"readers", test_readers, 120},
    {"restore", test_restore, 60},
    {"clone", test_clone, 60},
    {"no_database", test_no_database, 60},
};

int main(int argc, char **argv) {
    return harness_main(argc, argv, groups, sizeof groups / sizeof groups[0]);
}
