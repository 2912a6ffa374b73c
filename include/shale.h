/*
 * shale.h — the C interface of Shale, an embedded LSM-tree key-value store with
 * first-class checkpoints. This header is the whole API: what is not declared here is not
 * part of it.
 *
 * Conventions
 *  1. Handles (shale_db, shale_batch, shale_snapshot, shale_iter, shale_options) are opaque
 *     pointers. Every handle may be used from several threads at once.
 *  2. Keys and values are arbitrary bytes passed as (pointer, length); they may contain NUL.
 *     Empty keys are rejected; empty values are allowed. A key is at most 64 KiB, a value at
 *     most 64 MiB (lower with the `max_value_bytes` option).
 *  3. Every fallible function returns an int status (SHALE_OK == 0). On any other status, out
 *     pointers are set to NULL and out lengths to 0, and shale_errmsg() describes the failure.
 *     SHALE_NOT_FOUND is an outcome, not a failure: it sets no message.
 *  4. Memory returned to the caller (values, JSON text) is the caller's: free it with
 *     shale_free(). Key/value pointers from shale_iter_next() belong to the iterator.
 *  5. NULL where a handle or out pointer is required is SHALE_INVALID_ARGUMENT, never a crash.
 *     shale_close(NULL) and the *_free(NULL) / *_release(NULL) functions do nothing.
 *  6. shale_close() ends the db handle like free() ends a pointer. Snapshots and iterators
 *     made from it stay valid memory until freed; calls on them return SHALE_CLOSED.
 *  7. No function aborts the process on bad input or on damaged files.
 */
#ifndef SHALE_H
#define SHALE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHALE_VERSION "0.1.0"
#define SHALE_VERSION_NUMBER 1000 /* X*1000000 + Y*1000 + Z */

/* Status codes. Their numbers never change. */
#define SHALE_OK               0 /* success */
#define SHALE_NOT_FOUND        1 /* key (or checkpoint) absent; not an error */
#define SHALE_INVALID_ARGUMENT 2 /* fix the call: NULL, empty or oversized key, bad option */
#define SHALE_IO_ERROR         3 /* storage failed (disk full, EIO); retry later or reopen */
#define SHALE_CORRUPTION       4 /* a file failed its checksums; stop and investigate */
#define SHALE_CLOSED           5 /* the handle was closed; reopen */
#define SHALE_FENCED           6 /* another writer took over this database; reopen */
#define SHALE_BUSY             7 /* the resource is in use; retry */
#define SHALE_NOT_SUPPORTED    8 /* not available in this build or for this location */
#define SHALE_INTERNAL         9 /* a bug in Shale; please report it */

/* Message of the last failed call on this thread; never NULL ("" when none). Valid until the
   next Shale call on this thread. */
const char *shale_errmsg(void);
/* "OK", "NOT_FOUND", ... for a status code; "UNKNOWN" for other numbers. Static string. */
const char *shale_status_name(int status);
/* Run-time library version, "X.Y.Z"; compare with SHALE_VERSION. Static string. */
const char *shale_version(void);
/* Frees memory Shale returned to the caller. NULL is a no-op. */
void shale_free(void *ptr);

/* ---- Options: string key/value pairs ------------------------------------------------------
   Keys: create_if_missing (true|false, default true), read_only (false),
   wal_sync ("always" | "interval" | "none", default "interval"), wal_flush_interval_ms (100),
   memtable_bytes (64 MiB), sst_target_bytes (64 MiB), block_bytes (4096),
   compression ("none" | "zstd" | "lz4", default "none"), bloom_bits_per_key (10),
   max_value_bytes (64 MiB), checkpoint_interval_ms (0 = off), wal_retention_ms (0),
   gc_interval_ms (60000), gc_min_age_ms (300000), l0_compaction_trigger (4).
   checkpoint_interval_ms, wal_retention_ms, gc_interval_ms and gc_min_age_ms are validated
   but not acted on yet (they belong to the garbage collector, which is still to come).
   Sizes accept a plain byte count or a KiB/MiB/GiB suffix ("64MiB").                       */
typedef struct shale_options shale_options;
/* A new set of options with every default. NULL only when out of memory. */
shale_options *shale_options_new(void);
/* SHALE_INVALID_ARGUMENT for an unknown key or a value out of range; the message names it. */
int shale_options_set(shale_options *opts, const char *key, const char *value);
void shale_options_free(shale_options *opts);

/* ---- Database ---------------------------------------------------------------------------- */
typedef struct shale_db shale_db;

/* Opens (creating if allowed) the database at `location`: a directory path, "file:///dir" or
   "memory://name". opts may be NULL (defaults). Recovery replays the write-ahead log.
   SHALE_NOT_FOUND: no database and create_if_missing is false. SHALE_CORRUPTION: a file the
   database needs failed its checksums (the message names it). */
int shale_open(const char *location, const shale_options *opts, shale_db **out);

/* Makes every acknowledged write durable, stops background work and frees the handle.
   Returns the first error met while doing so; the handle is gone either way. */
int shale_close(shale_db *db);

/* Writes one key. Durable on return with wal_sync=always. SHALE_FENCED: another writer
   opened the database; this handle can no longer write. */
int shale_put(shale_db *db, const void *key, size_t klen, const void *val, size_t vlen);
/* Deletes a key (deleting an absent key is OK). */
int shale_delete(shale_db *db, const void *key, size_t klen);
/* Reads a key into a new buffer (*val, *vlen), freed with shale_free. An empty value gives a
   non-NULL *val and *vlen == 0. SHALE_NOT_FOUND when absent. */
int shale_get(shale_db *db, const void *key, size_t klen, void **val, size_t *vlen);
/* Makes everything acknowledged so far durable on storage now. */
int shale_flush(shale_db *db);
/* Counters and state as a JSON object in a new string (free with shale_free). */
int shale_stats_json(shale_db *db, char **json_out);

/* ---- Batches: atomic multi-key writes ---------------------------------------------------- */
typedef struct shale_batch shale_batch;
shale_batch *shale_batch_new(void);
int shale_batch_put(shale_batch *b, const void *key, size_t klen, const void *val, size_t vlen);
int shale_batch_delete(shale_batch *b, const void *key, size_t klen);
/* Number of operations in the batch (0 for NULL). */
size_t shale_batch_count(const shale_batch *b);
/* Empties the batch so it can be reused. */
void shale_batch_clear(shale_batch *b);
void shale_batch_free(shale_batch *b);
/* Applies every operation of the batch or none, also across a crash. Later operations on the
   same key win. The batch is left unchanged and may be written again. */
int shale_write(shale_db *db, shale_batch *b);

/* ---- Snapshots (MVCC) and scans ---------------------------------------------------------- */
typedef struct shale_snapshot shale_snapshot;
typedef struct shale_iter shale_iter;

/* Pins the current state: reads through the snapshot ignore later writes. */
int shale_snapshot_create(shale_db *db, shale_snapshot **out);
int shale_snapshot_get(shale_snapshot *snap, const void *key, size_t klen, void **val, size_t *vlen);
void shale_snapshot_release(shale_snapshot *snap);

/* Iterates keys in [start, end) in byte order, at the snapshot (NULL = now). A NULL bound is
   open. The iterator keeps reading its state while writes, flushes and compactions go on. */
int shale_scan(shale_db *db, shale_snapshot *snap, const void *start, size_t slen,
               const void *end, size_t elen, shale_iter **out);
/* Next entry; SHALE_NOT_FOUND at the end. The pointers stay valid until the next call on this
   iterator or its free. */
int shale_iter_next(shale_iter *it, const void **key, size_t *klen, const void **val, size_t *vlen);
void shale_iter_free(shale_iter *it);

/* ---- Checkpoints, restore, clone -------------------------------------------------------
   A checkpoint is a durable, named reference to one state of the database. It copies
   nothing: it pins the tables of a manifest version and the WAL range holding the writes not
   yet in tables, so taking one costs a WAL fsync and a manifest write, whatever the size. */
typedef struct {
    char     id[37];          /* UUID text, NUL-terminated */
    char     name[64];        /* "" when unnamed; at most 63 bytes */
    uint64_t manifest_id;     /* manifest version the checkpoint pins */
    uint64_t sequence;        /* last sequence number included */
    int64_t  create_time_ms;  /* unix ms */
    int64_t  expire_time_ms;  /* 0 = never expires */
} shale_checkpoint_info;

/* Creates a checkpoint holding every write acknowledged before the call. name may be NULL
   (names need not be unique; longer than 63 bytes -> SHALE_INVALID_ARGUMENT). lifetime_ms 0
   = never expires. wait_durable 1: returns once the checkpoint is on storage; 0: returns at
   once and the checkpoint is durable by the next shale_flush or shale_close. Writes the id
   into id_out (37 bytes, NUL-terminated); id_out is set to "" on failure. */
int shale_checkpoint_create(shale_db *db, const char *name, int64_t lifetime_ms, int wait_durable,
                            char id_out[37]);
/* Lists the checkpoints of the database at `location`, open or closed, in creation order, as
   a new array of *count entries (free with shale_free; NULL when there are none). */
int shale_checkpoint_list(const char *location, shale_checkpoint_info **out, size_t *count);
/* Sets a checkpoint's lifetime to lifetime_ms from now (0 = never expires).
   SHALE_NOT_FOUND for an unknown or expired id. Works beside a live writer. */
int shale_checkpoint_refresh(const char *location, const char *id, int64_t lifetime_ms);
/* Deletes a checkpoint (its files become garbage). SHALE_NOT_FOUND for an unknown id. */
int shale_checkpoint_delete(const char *location, const char *id);
/* Rolls the database at `location` back to the checkpoint, atomically, as a new manifest
   version. The state before it is kept as a checkpoint named "pre-restore-<unix ms>" and
   every other checkpoint survives, so a restore can be undone. SHALE_BUSY when the database
   is open in this process; a writer in another process is fenced. */
int shale_restore(const char *location, const char *checkpoint_id);
/* Makes a new, independent database at dest_location from the checkpoint (NULL = the latest
   durable state): hard links on the same filesystem, copies otherwise, published atomically.
   The destination must not exist and must not be inside the source. */
int shale_clone(const char *src_location, const char *checkpoint_id, const char *dest_location);

/* A read-only view of a checkpoint (NULL = the latest durable state) that can run in another
   process beside a live writer; it reads exactly the checkpoint's data. */
typedef struct shale_reader shale_reader;
int shale_reader_open(const char *location, const char *checkpoint_id, shale_reader **out);
int shale_reader_get(shale_reader *r, const void *key, size_t klen, void **val, size_t *vlen);
/* Iterators from a reader work as shale_scan's; free them with shale_iter_free. */
int shale_reader_scan(shale_reader *r, const void *start, size_t slen, const void *end, size_t elen,
                      shale_iter **out);
/* Closes the reader; its iterators then answer SHALE_CLOSED. NULL is a no-op. */
int shale_reader_close(shale_reader *r);

#ifdef __cplusplus
}
#endif
#endif /* SHALE_H */
