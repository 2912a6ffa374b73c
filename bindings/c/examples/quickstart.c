/*
 * quickstart.c — a tour of the Shale C API: open, put/get/delete, an atomic batch,
 * a snapshot, a scan, stats, close and reopen, then a checkpoint, a reader at it, a clone
 * and a restore.
 *
 *   make -C bindings/c && ./bindings/c/build/quickstart [DIR]
 *
 * DIR defaults to ./demo-c-db. Copy freely.
 */
#include <shale.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every fallible Shale call returns a status. Anything but OK (or NOT_FOUND where absence is
   an expected outcome) is reported with its name and the per-thread error message. */
static void check(int status, const char *what) {
    if (status == SHALE_OK) return;
    fprintf(stderr, "%s failed: %s: %s\n", what, shale_status_name(status), shale_errmsg());
    exit(1);
}

/* Keys and values are bytes; these examples use C strings, passed without the NUL. */
static void put_str(shale_db *db, const char *key, const char *val) {
    check(shale_put(db, key, strlen(key), val, strlen(val)), "shale_put");
}

static void print_key(shale_db *db, const char *key) {
    void *val = NULL;
    size_t vlen = 0;
    int rc = shale_get(db, key, strlen(key), &val, &vlen);
    if (rc == SHALE_NOT_FOUND) {
        printf("  %s -> (not found)\n", key);
        return;
    }
    check(rc, "shale_get");
    printf("  %s -> %.*s\n", key, (int)vlen, (const char *)val);
    shale_free(val); /* values returned by shale_get belong to the caller */
}

/* Prints every key in [start, end) at the snapshot (NULL = current state). */
static void print_scan(shale_db *db, shale_snapshot *snap, const char *start, const char *end) {
    shale_iter *it = NULL;
    check(shale_scan(db, snap, start, start ? strlen(start) : 0, end, end ? strlen(end) : 0, &it),
          "shale_scan");
    const void *k, *v;
    size_t klen, vlen;
    int rc;
    while ((rc = shale_iter_next(it, &k, &klen, &v, &vlen)) == SHALE_OK) {
        /* k and v belong to the iterator and stay valid until the next call on it */
        printf("  %.*s = %.*s\n", (int)klen, (const char *)k, (int)vlen, (const char *)v);
    }
    if (rc != SHALE_NOT_FOUND) check(rc, "shale_iter_next"); /* NOT_FOUND marks the end */
    shale_iter_free(it);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "./demo-c-db";
    printf("Shale %s (header %s) at %s\n", shale_version(), SHALE_VERSION, path);

    /* Options are string pairs; wal_sync=always makes every write durable on return. */
    shale_options *opts = shale_options_new();
    if (opts == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    check(shale_options_set(opts, "create_if_missing", "true"), "shale_options_set");
    check(shale_options_set(opts, "wal_sync", "always"), "shale_options_set");

    shale_db *db = NULL;
    check(shale_open(path, opts, &db), "shale_open");

    /* Single-key writes, a read, a delete. */
    printf("put/get/delete:\n");
    put_str(db, "fruit:apple", "red");
    put_str(db, "fruit:banana", "yellow");
    put_str(db, "fruit:cherry", "dark red");
    put_str(db, "tmp", "scratch");
    print_key(db, "fruit:apple");
    check(shale_delete(db, "tmp", 3), "shale_delete");
    print_key(db, "tmp");

    /* A batch applies all of its operations or none. */
    printf("batch:\n");
    shale_batch *batch = shale_batch_new();
    if (batch == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    check(shale_batch_put(batch, "fruit:date", 10, "brown", 5), "shale_batch_put");
    check(shale_batch_put(batch, "fruit:elderberry", 16, "purple", 6), "shale_batch_put");
    check(shale_batch_delete(batch, "fruit:banana", 12), "shale_batch_delete");
    check(shale_write(db, batch), "shale_write");
    printf("  wrote %zu operations atomically\n", shale_batch_count(batch));
    shale_batch_free(batch);

    /* A snapshot pins the current state; later writes are invisible through it. */
    printf("snapshot:\n");
    shale_snapshot *snap = NULL;
    check(shale_snapshot_create(db, &snap), "shale_snapshot_create");
    put_str(db, "fruit:apple", "green");
    void *val = NULL;
    size_t vlen = 0;
    check(shale_snapshot_get(snap, "fruit:apple", 11, &val, &vlen), "shale_snapshot_get");
    printf("  fruit:apple at the snapshot -> %.*s\n", (int)vlen, (const char *)val);
    shale_free(val);
    print_key(db, "fruit:apple");

    /* Scans cover [start, end) in byte order; a NULL bound is open. */
    printf("scan [fruit:, fruit;) now:\n");
    print_scan(db, NULL, "fruit:", "fruit;");
    printf("scan everything at the snapshot:\n");
    print_scan(db, snap, NULL, NULL);
    shale_snapshot_release(snap);

    /* Counters as JSON text, owned by the caller. */
    char *json = NULL;
    check(shale_stats_json(db, &json), "shale_stats_json");
    printf("stats: %s\n", json);
    shale_free(json);

    check(shale_flush(db), "shale_flush");
    check(shale_close(db), "shale_close");
    db = NULL;

    /* Reopen: everything acknowledged before close is still there. */
    printf("after reopen:\n");
    check(shale_open(path, opts, &db), "shale_open (reopen)");
    print_scan(db, NULL, NULL, NULL);

    /* A checkpoint names this state. It copies nothing, so it is cheap at any size. */
    char checkpoint[37];
    check(shale_checkpoint_create(db, "before-cleanup", 0, 1, checkpoint), "shale_checkpoint_create");
    printf("checkpoint %s taken\n", checkpoint);
    check(shale_delete(db, "fruit:apple", 11), "shale_delete");
    put_str(db, "fruit:fig", "violet");

    /* A reader opens the checkpoint (here, or in another process) beside the writer. */
    shale_reader *reader = NULL;
    check(shale_reader_open(path, checkpoint, &reader), "shale_reader_open");
    check(shale_reader_get(reader, "fruit:apple", 11, &val, &vlen), "shale_reader_get");
    printf("  reader at the checkpoint: fruit:apple -> %.*s\n", (int)vlen, (const char *)val);
    shale_free(val);
    check(shale_reader_close(reader), "shale_reader_close");

    shale_checkpoint_info *infos = NULL;
    size_t count = 0;
    check(shale_checkpoint_list(path, &infos, &count), "shale_checkpoint_list");
    for (size_t i = 0; i < count; i++)
        printf("  checkpoint %s \"%s\" sequence %llu\n", infos[i].id, infos[i].name,
               (unsigned long long)infos[i].sequence);
    shale_free(infos);
    check(shale_close(db), "shale_close");

    /* Clone the checkpoint into a new, independent database. */
    char clone_path[4096];
    snprintf(clone_path, sizeof clone_path, "%s-clone", path);
    check(shale_clone(path, checkpoint, clone_path), "shale_clone");
    printf("cloned the checkpoint to %s\n", clone_path);

    /* Restore rolls the closed database back to the checkpoint (undoable: the state before
       is kept as a "pre-restore-..." checkpoint). */
    check(shale_restore(path, checkpoint), "shale_restore");
    check(shale_open(path, opts, &db), "shale_open (after restore)");
    printf("after restore:\n");
    print_scan(db, NULL, NULL, NULL);
    check(shale_close(db), "shale_close");
    shale_options_free(opts);
    return 0;
}
