/*
 * harness.h — the small test framework shared by test_abi.c and test_checkpoint.c.
 *
 * Each group runs in a forked child with a timeout, so that a crash or hang in one group is
 * reported as a failure of that group and the others still run (SHALE_TEST_NOFORK=1 runs
 * everything in one process, for a debugger). Group names given as arguments run only those.
 * The last line of output is "N passed, M failed"; the exit status is non-zero on failure.
 *
 * Include it once per test program, after defining:
 *   HARNESS_FILE        the file name shown in failure lines, e.g. "test_abi.c"
 *   HARNESS_TMP_PREFIX  the temp directory's name prefix, e.g. "shale-test-abi"
 * and end the program with
 *   int main(int argc, char **argv) { return harness_main(argc, argv, groups, N); }
 */
#ifndef SHALE_TEST_HARNESS_H
#define SHALE_TEST_HARNESS_H

#ifndef HARNESS_FILE
#error "define HARNESS_FILE before including harness.h"
#endif
#ifndef HARNESS_TMP_PREFIX
#error "define HARNESS_TMP_PREFIX before including harness.h"
#endif

#include <shale.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HARNESS_UNUSED __attribute__((unused))

struct counters {
    long passed;
    long failed;
};
static struct counters *counts; /* shared with forked children */
static char tmp_root[1024];
static const char *current_group = "";
static char sentinel_byte;
#define SENT ((void *)&sentinel_byte)

static void record(int ok) {
    __atomic_fetch_add(ok ? &counts->passed : &counts->failed, 1, __ATOMIC_SEQ_CST);
}

static int check_at(int ok, int line, const char *fmt, ...) {
    record(ok);
    if (!ok) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stdout, "FAIL [%s] " HARNESS_FILE ":%d: ", current_group, line);
        vfprintf(stdout, fmt, ap);
        fprintf(stdout, "\n");
        fflush(stdout);
        va_end(ap);
    }
    return ok;
}

#define CHECK(cond) check_at(!!(cond), __LINE__, "%s", #cond)
#define CHECK_MSG(cond, ...) check_at(!!(cond), __LINE__, __VA_ARGS__)

/* Checks a status; on mismatch prints both names and the error message. */
static int check_rc_at(int got, int want, int line, const char *expr) {
    const char *msg = shale_errmsg();
    return check_at(got == want, line, "%s -> %s (%d), want %s; errmsg \"%s\"", expr,
                    shale_status_name(got), got, shale_status_name(want), msg ? msg : "(NULL)");
}
#define CHECK_RC(expr, want) check_rc_at((expr), (want), __LINE__, #expr)

/* A failure status must come with a non-empty message. */
static int check_msg_at(int line, const char *expr) {
    const char *m = shale_errmsg();
    return check_at(m != NULL && m[0] != '\0', line, "%s: expected a non-empty shale_errmsg()",
                    expr);
}
#define CHECK_INVALID(expr)                                              \
    do {                                                                 \
        if (check_rc_at((expr), SHALE_INVALID_ARGUMENT, __LINE__, #expr)) \
            check_msg_at(__LINE__, #expr);                               \
    } while (0)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A path named `name` under the temp root. */
static HARNESS_UNUSED void path_for(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmp_root, name);
}

static HARNESS_UNUSED shale_db *open_at(const char *location, const shale_options *opts,
                                        int line) {
    shale_db *db = NULL;
    int rc = shale_open(location, opts, &db);
    check_at(rc == SHALE_OK && db != NULL, line, "shale_open(%s) -> %s: %s", location,
             shale_status_name(rc), shale_errmsg());
    return rc == SHALE_OK ? db : NULL;
}

static HARNESS_UNUSED size_t slen0(const char *s) { return s ? strlen(s) : 0; }

static HARNESS_UNUSED int put_s(shale_db *db, const char *k, const char *v) {
    return shale_put(db, k, strlen(k), v, strlen(v));
}

/* ---- Runner ------------------------------------------------------------------------------- */

struct test_group {
    const char *name;
    void (*fn)(void);
    unsigned timeout_s;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static int selected(int argc, char **argv, const char *name) {
    if (argc < 2) return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0) return 1;
    return 0;
}

/* Runs one group in a forked child (or in this process) and records a crash or timeout.
   Returns 0 if the child could not be started. */
static int run_group(const struct test_group *g, int nofork) {
    if (nofork) {
        g->fn();
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        record(0);
        return 0;
    }
    if (pid == 0) {
        alarm(g->timeout_s);
        g->fn();
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        CHECK_MSG(0, "group crashed with signal %d (%s)%s", sig, strsignal(sig),
                  sig == SIGALRM ? " — timed out" : "");
    } else if (WEXITSTATUS(st) != 0) {
        CHECK_MSG(0, "group exited with status %d", WEXITSTATUS(st));
    }
    return 1;
}

static int harness_main(int argc, char **argv, const struct test_group *groups, size_t ngroups) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    counts = mmap(NULL, sizeof *counts, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counts == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/" HARNESS_TMP_PREFIX "-XXXXXX",
             base && *base ? base : "/tmp");
    if (mkdtemp(tmp_root) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    const char *nf = getenv("SHALE_TEST_NOFORK");
    int nofork = nf != NULL && nf[0] != '\0' && strcmp(nf, "0") != 0;

    for (size_t g = 0; g < ngroups; g++) {
        if (!selected(argc, argv, groups[g].name)) continue;
        long p0 = counts->passed, f0 = counts->failed;
        current_group = groups[g].name;
        double t0 = now_s();
        if (!run_group(&groups[g], nofork)) continue;
        printf("%-26s %4ld passed, %ld failed (%.2fs)\n", groups[g].name, counts->passed - p0,
               counts->failed - f0, now_s() - t0);
    }

    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%ld passed, %ld failed\n", counts->passed, counts->failed);
    return counts->failed == 0 ? 0 : 1;
}

#endif /* SHALE_TEST_HARNESS_H */
