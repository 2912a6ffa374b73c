/*
 * checkpoint.c — checkpoint, reader, restore and clone timings at a given database size, and
 * the longest write stall while checkpoints are taken. 16-byte keys, 100-byte values.
 * Usage: checkpoint DIR [ENTRIES]
 */
#include <shale.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void check(int rc, const char *what) {
    if (rc != SHALE_OK) {
        fprintf(stderr, "%s: %s: %s\n", what, shale_status_name(rc), shale_errmsg());
        exit(1);
    }
}

static void key(char *k, uint64_t n) { snprintf(k, 17, "%016llu", (unsigned long long)n); }

static atomic_int stop;
static double worst_put_ms;
static long stall_puts;

static void *writer(void *p) {
    shale_db *db = p;
    char k[17], v[100];
    memset(v, 'w', sizeof v);
    uint64_t n = 5000000000ull;
    while (!atomic_load(&stop)) {
        key(k, n++);
        double t = now_ms();
        check(shale_put(db, k, 16, v, sizeof v), "put");
        double d = now_ms() - t;
        if (d > worst_put_ms) worst_put_ms = d;
        stall_puts++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: checkpoint DIR [ENTRIES]\n"); return 2; }
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    char path[4096], clone_path[4096], k[17], v[100], id[37];
    snprintf(path, sizeof path, "%s/db-%ld", argv[1], n);
    snprintf(clone_path, sizeof clone_path, "%s/clone-%ld", argv[1], n);
    memset(v, 'v', sizeof v);

    shale_options *o = shale_options_new();
    check(shale_options_set(o, "wal_sync", "none"), "options");
    shale_db *db;
    check(shale_open(path, o, &db), "open");
    uint64_t x = 88172645463325252ull;
    for (long i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        key(k, x % (uint64_t)(n * 10));
        check(shale_put(db, k, 16, v, sizeof v), "put");
    }
    check(shale_flush(db), "flush");

    /* Checkpoints with a full memtable's worth of unflushed data, then back to back. */
    double t = now_ms();
    check(shale_checkpoint_create(db, "first", 0, 1, id), "checkpoint");
    double first = now_ms() - t;
    double total = 0, worst = 0;
    int rounds = 50;
    for (int i = 0; i < rounds; i++) {
        key(k, (uint64_t)i);
        check(shale_put(db, k, 16, v, sizeof v), "put");
        t = now_ms();
        check(shale_checkpoint_create(db, NULL, 0, 1, id), "checkpoint");
        double d = now_ms() - t;
        total += d;
        if (d > worst) worst = d;
    }
    printf("entries %ld\n", n);
    printf("checkpoint create (wait durable): first %.3f ms, mean %.3f ms, worst %.3f ms over %d\n",
           first, total / rounds, worst, rounds);

    /* The longest put while checkpoints are taken from another thread. */
    pthread_t th;
    atomic_store(&stop, 0);
    pthread_create(&th, NULL, writer, db);
    for (int i = 0; i < 20; i++) check(shale_checkpoint_create(db, NULL, 0, 1, id), "checkpoint");
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    printf("write stall during 20 checkpoints: longest put %.3f ms (%ld puts)\n", worst_put_ms, stall_puts);

    t = now_ms();
    shale_reader *r;
    check(shale_reader_open(path, id, &r), "reader open");
    double ropen = now_ms() - t;
    check(shale_reader_close(r), "reader close");
    printf("reader open at a checkpoint: %.3f ms\n", ropen);
    check(shale_close(db), "close");

    t = now_ms();
    check(shale_clone(path, id, clone_path), "clone");
    printf("clone: %.3f ms\n", now_ms() - t);
    t = now_ms();
    check(shale_restore(path, id), "restore");
    printf("restore: %.3f ms\n", now_ms() - t);
    t = now_ms();
    check(shale_open(path, o, &db), "open");
    printf("open after restore: %.3f ms\n", now_ms() - t);
    check(shale_close(db), "close");
    shale_options_free(o);
    return 0;
}
