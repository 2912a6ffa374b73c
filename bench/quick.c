/*
 * quick.c — a first throughput measurement of libshale: fillrandom, readrandom and
 * fillsync (wal_sync=always from several threads, showing group commit).
 * 16-byte keys, 100-byte values. Usage: quick DIR [ENTRIES]
 */
#include <shale.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(int rc, const char *what) {
    if (rc != SHALE_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, shale_status_name(rc), shale_errmsg());
        exit(1);
    }
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void make_key(char *k, uint64_t n) { snprintf(k, 17, "%016llu", (unsigned long long)n); }

static shale_db *open_db(const char *path, const char *sync) {
    shale_options *o = shale_options_new();
    check(shale_options_set(o, "wal_sync", sync), "options");
    shale_db *db;
    check(shale_open(path, o, &db), "open");
    shale_options_free(o);
    return db;
}

struct sync_arg { shale_db *db; int thread; int count; };

static void *sync_writer(void *p) {
    struct sync_arg *a = p;
    char k[17], v[100];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < a->count; i++) {
        make_key(k, (uint64_t)a->thread * 1000000000ull + i);
        check(shale_put(a->db, k, 16, v, sizeof v), "put");
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: quick DIR [ENTRIES]\n"); return 2; }
    const char *dir = argv[1];
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    char path[4096];
    char k[17], v[100];
    for (int i = 0; i < 100; i++) v[i] = (char)('a' + i % 26);

    snprintf(path, sizeof path, "%s/fill", dir);
    shale_db *db = open_db(path, "none");
    uint64_t *keys = malloc(sizeof(uint64_t) * n);
    for (long i = 0; i < n; i++) keys[i] = next_random() % (uint64_t)(n * 10);
    double t0 = now();
    for (long i = 0; i < n; i++) {
        make_key(k, keys[i]);
        check(shale_put(db, k, 16, v, sizeof v), "put");
    }
    double fill = now() - t0;
    printf("fillrandom   %8.0f ops/s  (%ld puts, %.2f s)\n", n / fill, n, fill);

    t0 = now();
    long found = 0;
    for (long i = 0; i < n; i++) {
        make_key(k, keys[next_random() % (uint64_t)n]);
        void *val; size_t vlen;
        int rc = shale_get(db, k, 16, &val, &vlen);
        if (rc == SHALE_OK) { found++; shale_free(val); }
        else if (rc != SHALE_NOT_FOUND) check(rc, "get");
    }
    double read = now() - t0;
    printf("readrandom   %8.0f ops/s  (%ld gets, %ld found, %.2f s, memtable + tables)\n", n / read, n, found, read);
    check(shale_close(db), "close");

    t0 = now();
    db = open_db(path, "none");
    printf("reopen       %8.2f ms\n", (now() - t0) * 1000);
    t0 = now();
    for (long i = 0; i < n; i++) {
        make_key(k, keys[next_random() % (uint64_t)n]);
        void *val; size_t vlen;
        int rc = shale_get(db, k, 16, &val, &vlen);
        if (rc == SHALE_OK) shale_free(val);
        else if (rc != SHALE_NOT_FOUND) check(rc, "get");
    }
    read = now() - t0;
    printf("readrandom   %8.0f ops/s  (after reopen: all in tables)\n", n / read);
    check(shale_close(db), "close");

    snprintf(path, sizeof path, "%s/sync", dir);
    int threads = 8, per = 2000;
    db = open_db(path, "always");
    pthread_t tid[8];
    struct sync_arg args[8];
    t0 = now();
    for (int t = 0; t < threads; t++) {
        args[t] = (struct sync_arg){db, t, per};
        pthread_create(&tid[t], NULL, sync_writer, &args[t]);
    }
    for (int t = 0; t < threads; t++) pthread_join(tid[t], NULL);
    double sync = now() - t0;
    char *js;
    check(shale_stats_json(db, &js), "stats");
    char *g = strstr(js, "\"wal_syncs\":");
    printf("fillsync     %8.0f ops/s  (%d threads, wal_sync=always, %.2f s; %.24s)\n",
           threads * per / sync, threads, sync, g ? g : "");
    shale_free(js);
    check(shale_close(db), "close");
    free(keys);
    return 0;
}
