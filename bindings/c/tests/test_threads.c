/*
 * test_threads.c — one db handle shared by 4 threads doing puts, deletes, gets, scans and
 * batches at once, each on its own key range, while the main thread flushes and reads
 * stats; the threads also share one snapshot. Then everything is verified against each
 * thread's model, before and after a reopen. Separately (in a forked child), 4 threads fill
 * one shared batch at once.
 * The last line of output is "N passed, M failed"; the exit status is non-zero on failure.
 */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 700

#include <shale.h>

#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define KEYS 3000      /* per thread */
#define SHARED_OPS 500 /* per thread, into the shared batch */

static long passed, failed;
static char tmp_root[1024];

static int check_at(int ok, int line, const char *fmt, ...) {
    __atomic_fetch_add(ok ? &passed : &failed, 1, __ATOMIC_SEQ_CST);
    if (!ok) {
        va_list ap;
        va_start(ap, fmt);
        flockfile(stdout);
        printf("FAIL test_threads.c:%d: ", line);
        vprintf(fmt, ap);
        printf("\n");
        funlockfile(stdout);
        va_end(ap);
    }
    return ok;
}
#define CHECK(cond) check_at(!!(cond), __LINE__, "%s", #cond)
#define CHECK_MSG(cond, ...) check_at(!!(cond), __LINE__, __VA_ARGS__)
#define CHECK_RC(expr, want)                                                                  \
    do {                                                                                      \
        int rc_ = (expr);                                                                     \
        check_at(rc_ == (want), __LINE__, "%s -> %s, want %s: %s", #expr,                     \
                 shale_status_name(rc_), shale_status_name(want), shale_errmsg());            \
    } while (0)

/* A crash or a hang still ends with the summary line. */
static void on_fatal(int sig) {
    char buf[160];
    int n = snprintf(buf, sizeof buf, "FAIL: %s (signal %d)\n%ld passed, %ld failed\n",
                     sig == SIGALRM ? "timed out" : "crashed", sig, passed, failed + 1);
    if (write(1, buf, (size_t)n) < 0) _exit(3);
    _exit(1);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* Each thread's expected state of its own keys: version 0 = absent. */
struct worker {
    int id;
    shale_db *db;
    shale_snapshot *shared_snap;
    int version[KEYS];
    long errors;    /* unexpected statuses */
    long mismatch;  /* wrong data */
    long scans;
    long gets;
    int finished;
};

static int make_key(char *buf, size_t cap, int t, int i) {
    return snprintf(buf, cap, "t%d-%06d", t, i);
}

/* Values are long enough to push the memtable over its limit now and then. */
static int make_value(char *buf, size_t cap, int t, int i, int ver) {
    int n = snprintf(buf, cap, "t%d-%d-v%d|", t, i, ver);
    int pad = 40 + (i * 7 + ver) % 150;
    memset(buf + n, 'a' + (i + ver) % 26, (size_t)pad);
    return n + pad;
}

static int value_matches(const void *got, size_t gl, int t, int i, int ver) {
    char want[256];
    int n = make_value(want, sizeof want, t, i, ver);
    return gl == (size_t)n && memcmp(got, want, gl) == 0;
}

static void verify_get(struct worker *w, int i) {
    char k[32];
    int kl = make_key(k, sizeof k, w->id, i);
    void *v = NULL;
    size_t vl = 0;
    int rc = shale_get(w->db, k, (size_t)kl, &v, &vl);
    w->gets++;
    if (w->version[i] == 0) {
        if (rc != SHALE_NOT_FOUND) {
            if (rc == SHALE_OK) w->mismatch++;
            else w->errors++;
        }
    } else if (rc != SHALE_OK) {
        if (rc == SHALE_NOT_FOUND) w->mismatch++;
        else w->errors++;
    } else if (!value_matches(v, vl, w->id, i, w->version[i])) {
        w->mismatch++;
    }
    shale_free(v);
}

/* Scans [t<id>-<from>, t<id>-<to>) and compares with the model. */
static void verify_scan(struct worker *w, int from, int to) {
    char s[32], e[32];
    int sl = make_key(s, sizeof s, w->id, from), el = make_key(e, sizeof e, w->id, to);
    shale_iter *it = NULL;
    if (shale_scan(w->db, NULL, s, (size_t)sl, e, (size_t)el, &it) != SHALE_OK) {
        w->errors++;
        return;
    }
    w->scans++;
    int i = from;
    const void *kk, *vv;
    size_t kl, vl;
    int rc;
    while ((rc = shale_iter_next(it, &kk, &kl, &vv, &vl)) == SHALE_OK) {
        while (i < to && w->version[i] == 0) i++;
        char k[32];
        int n = i < to ? make_key(k, sizeof k, w->id, i) : 0;
        if (i >= to || kl != (size_t)n || memcmp(kk, k, kl) != 0 ||
            !value_matches(vv, vl, w->id, i, w->version[i])) {
            w->mismatch++;
            break;
        }
        i++;
    }
    if (rc != SHALE_OK && rc != SHALE_NOT_FOUND) w->errors++;
    if (rc == SHALE_NOT_FOUND) {
        while (i < to && w->version[i] == 0) i++;
        if (i != to) w->mismatch++; /* scan ended early */
    }
    shale_iter_free(it);
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    char k[32], v[256];
    unsigned seed = (unsigned)w->id * 2654435761u + 1;
    shale_batch *own = shale_batch_new();
    for (int i = 0; i < KEYS; i++) {
        int kl = make_key(k, sizeof k, w->id, i);
        int ver = 1;
        int vl = make_value(v, sizeof v, w->id, i, ver);
        if (i % 10 == 9) {
            /* every tenth key goes through a private batch, with a delete of an older one */
            shale_batch_clear(own);
            shale_batch_put(own, k, (size_t)kl, v, (size_t)vl);
            char dk[32];
            int victim = i - 4;
            int dkl = make_key(dk, sizeof dk, w->id, victim);
            shale_batch_delete(own, dk, (size_t)dkl);
            if (shale_write(w->db, own) == SHALE_OK) {
                w->version[i] = ver;
                w->version[victim] = 0;
            } else {
                w->errors++;
            }
        } else if (shale_put(w->db, k, (size_t)kl, v, (size_t)vl) == SHALE_OK) {
            w->version[i] = ver;
        } else {
            w->errors++;
        }
        /* overwrite an older key */
        if (i % 5 == 0 && i > 0) {
            int j = (int)(rand_r(&seed) % (unsigned)i);
            int nv = w->version[j] + 1;
            kl = make_key(k, sizeof k, w->id, j);
            vl = make_value(v, sizeof v, w->id, j, nv);
            if (shale_put(w->db, k, (size_t)kl, v, (size_t)vl) == SHALE_OK) w->version[j] = nv;
            else w->errors++;
        }
        /* delete an older key now and then */
        if (i % 13 == 0 && i > 0) {
            int j = (int)(rand_r(&seed) % (unsigned)i);
            kl = make_key(k, sizeof k, w->id, j);
            if (shale_delete(w->db, k, (size_t)kl) == SHALE_OK) w->version[j] = 0;
            else w->errors++;
        }
        /* read back */
        verify_get(w, i);
        verify_get(w, (int)(rand_r(&seed) % (unsigned)(i + 1)));
        if (i % 200 == 199) verify_scan(w, 0, i + 1);
        else if (i % 25 == 0) verify_scan(w, i / 2, i + 1);
        /* the shared snapshot */
        if (i % 50 == 0) {
            kl = snprintf(k, sizeof k, "pre-%d", (int)(rand_r(&seed) % 100));
            void *got = NULL;
            size_t gl = 0;
            int rc = shale_snapshot_get(w->shared_snap, k, (size_t)kl, &got, &gl);
            if (rc != SHALE_OK) w->errors++;
            else if (gl != (size_t)kl || memcmp(got, k, gl) != 0) w->mismatch++;
            shale_free(got);
        }
        /* errors are per thread: this thread's message names this thread's bad option */
        if (i % 500 == 0) {
            shale_options *o = shale_options_new();
            char opt[32];
            snprintf(opt, sizeof opt, "bogus_option_t%d", w->id);
            if (shale_options_set(o, opt, "1") != SHALE_INVALID_ARGUMENT) w->errors++;
            else if (strstr(shale_errmsg(), opt) == NULL) w->mismatch++;
            shale_options_free(o);
        }
    }
    shale_batch_free(own);
    __atomic_store_n(&w->finished, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void verify_all(shale_db *db, struct worker *ws, const char *when) {
    long wrong = 0, live = 0;
    for (int t = 0; t < THREADS; t++) {
        struct worker *w = &ws[t];
        long before = w->mismatch + w->errors;
        w->db = db;
        for (int i = 0; i < KEYS; i++) {
            verify_get(w, i);
            live += w->version[i] != 0;
        }
        verify_scan(w, 0, KEYS);
        wrong += w->mismatch + w->errors - before;
    }
    CHECK_MSG(wrong == 0, "%s: %ld keys or scans disagree with the model", when, wrong);
    /* one scan over everything counts all live keys in order */
    shale_iter *it = NULL;
    long n = 0, order = 0;
    char prev[32] = "";
    CHECK_RC(shale_scan(db, NULL, "t", 1, "u", 1, &it), SHALE_OK);
    const void *kk, *vv;
    size_t kl, vl;
    while (it && shale_iter_next(it, &kk, &kl, &vv, &vl) == SHALE_OK) {
        char cur[32];
        snprintf(cur, sizeof cur, "%.*s", (int)kl, (const char *)kk);
        if (n > 0 && strcmp(prev, cur) >= 0) order++;
        memcpy(prev, cur, sizeof cur);
        n++;
    }
    shale_iter_free(it);
    CHECK_MSG(n == live && order == 0, "%s: full scan saw %ld keys (want %ld), %ld out of order",
              when, n, live, order);
}

/* ---- One batch filled by all threads at once ---------------------------------------------
   Runs in a forked child so that a crash there is reported and the rest still runs.
   Child exit codes: 0 ok, 10 wrong count, 11 write failed, 12 wrong contents. */
static shale_batch *shared_batch;

static void *batch_filler(void *arg) {
    int t = (int)(long)arg;
    char k[32], v[32];
    for (int i = 0; i < SHARED_OPS; i++) {
        int kl = snprintf(k, sizeof k, "shared-t%d-%04d", t, i);
        int vl = snprintf(v, sizeof v, "s%d", i);
        if (shale_batch_put(shared_batch, k, (size_t)kl, v, (size_t)vl) != SHALE_OK) return (void *)1;
    }
    return NULL;
}

static int shared_batch_child(const char *path) {
    shale_db *db = NULL;
    if (shale_open(path, NULL, &db) != SHALE_OK) return 11;
    for (int round = 0; round < 5; round++) {
        shared_batch = shale_batch_new();
        pthread_t th[THREADS];
        for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, batch_filler, (void *)t);
        for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
        size_t n = shale_batch_count(shared_batch);
        if (n != (size_t)THREADS * SHARED_OPS) {
            printf("FAIL shared batch: %zu operations after %d concurrent puts\n", n,
                   THREADS * SHARED_OPS);
            return 10;
        }
        if (shale_write(db, shared_batch) != SHALE_OK) return 11;
        shale_batch_free(shared_batch);
    }
    long present = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < SHARED_OPS; i++) {
            char k[32], want[32];
            int klen = snprintf(k, sizeof k, "shared-t%d-%04d", t, i);
            int wl = snprintf(want, sizeof want, "s%d", i);
            void *v = NULL;
            size_t gl = 0;
            if (shale_get(db, k, (size_t)klen, &v, &gl) == SHALE_OK && gl == (size_t)wl &&
                memcmp(v, want, gl) == 0)
                present++;
            shale_free(v);
        }
    shale_close(db);
    if (present != THREADS * SHARED_OPS) {
        printf("FAIL shared batch: %ld of %d keys present after the write\n", present,
               THREADS * SHARED_OPS);
        return 12;
    }
    return 0;
}

static void test_shared_batch(void) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/shared-batch-db", tmp_root);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], SIG_DFL);
        alarm(120); /* SIGALRM keeps the summary handler: a hang reports itself */
        int rc = shared_batch_child(path);
        fflush(stdout);
        _exit(rc);
    }
    if (!CHECK(pid > 0)) return;
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        CHECK_MSG(0, "one batch filled from %d threads at once: crashed with signal %d (%s)",
                  THREADS, WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        CHECK_MSG(WEXITSTATUS(st) == 0, "one batch filled from %d threads at once: child status %d",
                  THREADS, WEXITSTATUS(st));
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const int fatal[] = {SIGALRM, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], on_fatal);
    alarm(300);
    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/shale-test-threads-XXXXXX",
             base && *base ? base : "/tmp");
    if (mkdtemp(tmp_root) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/db", tmp_root);

    /* first, while this process has no library threads, the forked shared-batch test */
    test_shared_batch();

    /* small memtables so flushes and compactions run while the threads work */
    shale_options *o = shale_options_new();
    CHECK_RC(shale_options_set(o, "memtable_bytes", "512KiB"), SHALE_OK);
    CHECK_RC(shale_options_set(o, "sst_target_bytes", "512KiB"), SHALE_OK);
    CHECK_RC(shale_options_set(o, "l0_compaction_trigger", "2"), SHALE_OK);
    shale_db *db = NULL;
    CHECK_RC(shale_open(path, o, &db), SHALE_OK);
    if (db == NULL) {
        printf("%ld passed, %ld failed\n", passed, failed);
        return 1;
    }

    /* a snapshot the threads share, over keys nobody changes ... until after it is taken */
    char k[32];
    for (int i = 0; i < 100; i++) {
        int kl = snprintf(k, sizeof k, "pre-%d", i);
        shale_put(db, k, (size_t)kl, k, (size_t)kl);
    }
    shale_snapshot *snap = NULL;
    CHECK_RC(shale_snapshot_create(db, &snap), SHALE_OK);
    for (int i = 0; i < 100; i++) {
        int kl = snprintf(k, sizeof k, "pre-%d", i);
        shale_put(db, k, (size_t)kl, "changed", 7);
    }

    static struct worker ws[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        ws[t].id = t;
        ws[t].db = db;
        ws[t].shared_snap = snap;
        CHECK(pthread_create(&th[t], NULL, worker_main, &ws[t]) == 0);
    }
    /* the main thread flushes and reads stats meanwhile */
    int flushes = 0, done = 0;
    while (!done) {
        usleep(20000);
        CHECK_RC(shale_flush(db), SHALE_OK);
        char *json = NULL;
        if (shale_stats_json(db, &json) == SHALE_OK) shale_free(json);
        else CHECK_MSG(0, "stats_json during load: %s", shale_errmsg());
        flushes++;
        done = 1;
        for (int t = 0; t < THREADS; t++)
            if (!__atomic_load_n(&ws[t].finished, __ATOMIC_SEQ_CST)) done = 0;
        if (flushes > 10000) break;
    }
    long errors = 0, mismatch = 0, scans = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        errors += ws[t].errors;
        mismatch += ws[t].mismatch;
        scans += ws[t].scans;
    }
    CHECK_MSG(errors == 0, "%ld unexpected statuses during the concurrent phase", errors);
    CHECK_MSG(mismatch == 0, "%ld wrong reads during the concurrent phase", mismatch);
    CHECK(scans > 0);
    printf("concurrent phase: %d threads x %d keys, %ld scans, %d flushes\n", THREADS, KEYS,
           scans, flushes);

    /* the shared snapshot still sees the old values */
    long snap_bad = 0;
    for (int i = 0; i < 100; i++) {
        int kl = snprintf(k, sizeof k, "pre-%d", i);
        void *v = NULL;
        size_t vl = 0;
        if (shale_snapshot_get(snap, k, (size_t)kl, &v, &vl) != SHALE_OK || vl != (size_t)kl ||
            memcmp(v, k, vl) != 0)
            snap_bad++;
        shale_free(v);
    }
    CHECK_MSG(snap_bad == 0, "%ld keys wrong through the shared snapshot", snap_bad);
    shale_snapshot_release(snap);

    verify_all(db, ws, "after the threads");
    CHECK_RC(shale_close(db), SHALE_OK);

    db = NULL;
    CHECK_RC(shale_open(path, o, &db), SHALE_OK);
    if (db) {
        verify_all(db, ws, "after reopen");
        CHECK_RC(shale_close(db), SHALE_OK);
    }
    shale_options_free(o);

    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
