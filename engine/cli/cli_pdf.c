/*
 * cli_pdf.c -- PDF output: an invoice's HTML printed by headless Chromium.
 *
 * Provides: cli_pdf_find() and cli_pdf_write() (cli_pdf.h), for `--format pdf`.
 * Uses: POSIX only (mkdtemp, fork, execv, waitid, kill, nftw); the browser named by
 * $REBILL_CHROMIUM or found in PATH.
 * Must never: run a shell (paths reach the browser as argv entries, never as command text);
 * let the browser reach the network (the HTML is self-contained); wait for the browser
 * forever (it is killed, with its whole process group, after CLI_PDF_TIMEOUT seconds);
 * outlive rebill (SIGINT, SIGTERM or SIGHUP kill its group first); leave a temporary file
 * behind, or a partial PDF at the caller's path. It allocates nothing on the heap (fixed
 * PATH_MAX buffers), so it needs no allocator.
 */
#include "cli_pdf.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NEED "pdf output needs headless Chromium: "

static const char *const browsers[] = {"chromium", "chromium-browser", "google-chrome"};

static int fail(char *msg, size_t msgsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *msg, size_t msgsz, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, msgsz, fmt, ap);
    va_end(ap);
    return -1;
}

/* {===================================================================================
 * Finding the browser
 * =================================================================================== */

static bool is_exec(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Look `name` up in PATH as execvp would (an empty entry is the current directory). */
static bool in_path(const char *name, char *out, size_t outsz)
{
    const char *p = getenv("PATH");

    if (!p)
        p = "/usr/local/bin:/usr/bin:/bin";
    for (;;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        int w = n ? snprintf(out, outsz, "%.*s/%s", (int)n, p, name)
                  : snprintf(out, outsz, "./%s", name);

        if (w > 0 && (size_t)w < outsz && is_exec(out))
            return true;
        if (!end)
            return false;
        p = end + 1;
    }
}

int cli_pdf_find(char *bin, size_t binsz, char *msg, size_t msgsz)
{
    const char *env = getenv("REBILL_CHROMIUM");

    if (env && *env) {
        if (strchr(env, '/')) {
            if (strlen(env) < binsz && is_exec(env)) {
                memcpy(bin, env, strlen(env) + 1);
                return 0;
            }
        } else if (in_path(env, bin, binsz)) {
            return 0;
        }
        return fail(msg, msgsz,
                    NEED "REBILL_CHROMIUM=\"%s\" is not an executable file%s (set it to the "
                         "browser's path, or unset it to look for chromium in PATH)",
                    env, strchr(env, '/') ? "" : " in PATH");
    }
    for (size_t i = 0; i < sizeof(browsers) / sizeof(browsers[0]); i++)
        if (in_path(browsers[i], bin, binsz))
            return 0;
    return fail(msg, msgsz,
                NEED "no \"chromium\", \"chromium-browser\" or \"google-chrome\" in PATH "
                     "(install the chromium package, or set REBILL_CHROMIUM)");
}

/* {===================================================================================
 * The private directory
 * =================================================================================== */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* file://<path>, percent-encoding everything but unreserved characters and '/'. */
static bool file_url(const char *path, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    if (outsz < 8)
        return false;
    memcpy(out, "file://", 7);
    o = 7;
    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        bool plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                     (*s >= '0' && *s <= '9') || strchr("/-._~", *s);
        if (o + 4 > outsz)
            return false;
        if (plain) {
            out[o++] = (char)*s;
        } else {
            out[o++] = '%';
            out[o++] = hex[*s >> 4];
            out[o++] = hex[*s & 15];
        }
    }
    out[o] = 0;
    return true;
}

static int write_all(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    bool bad;

    if (!f)
        return -1;
    bad = fwrite(data, 1, len, f) != len;
    if (fclose(f) != 0)
        bad = true;
    return bad ? -1 : 0;
}

/* The last non-empty line the browser printed (into `log`), for error messages. */
static void last_line(const char *log, char *out, size_t outsz)
{
    char buf[4096];
    size_t n = 0, end, start;
    FILE *f = fopen(log, "rb");

    out[0] = 0;
    if (!f)
        return;
    if (fseek(f, -(long)(sizeof(buf) - 1), SEEK_END) != 0)
        rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    end = n;
    while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r' || buf[end - 1] == ' '))
        end--;
    start = end;
    while (start > 0 && buf[start - 1] != '\n')
        start--;
    snprintf(out, outsz, "%.*s", (int)(end - start > 300 ? 300 : end - start), buf + start);
}

/* {===================================================================================
 * Running the browser
 * =================================================================================== */

static int timeout_secs(char *msg, size_t msgsz, int *secs)
{
    const char *s = getenv("REBILL_PDF_TIMEOUT");
    char *end;
    long v;

    *secs = CLI_PDF_TIMEOUT;
    if (!s || !*s)
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > 3600)
        return fail(msg, msgsz, "invalid REBILL_PDF_TIMEOUT \"%s\": want whole seconds 1..3600",
                    s);
    *secs = (int)v;
    return 0;
}

static double since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* In the child: its own process group (so a timeout kills every process the browser
 * started), HOME and caches inside the private directory, output to `log`. */
static void child(const char *bin, const char *const *argv, const char *dir, const char *log)
{
    int in = open("/dev/null", O_RDONLY);
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    setpgid(0, 0);
    if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
        _exit(126);
    setenv("HOME", dir, 1);
    setenv("XDG_CONFIG_HOME", dir, 1);
    setenv("XDG_CACHE_HOME", dir, 1);
    execv(bin, (char *const *)argv);
    dprintf(2, "cannot run %s: %s\n", bin, strerror(errno));
    _exit(127);
}

/* Run argv; 0 when it exited with status 0 within `secs`, else -1 with msg. */
/* A SIGINT, SIGTERM or SIGHUP that arrives while the browser runs: the browser is in its own
 * process group, out of reach of the terminal's Ctrl-C, so we kill it, remove the private
 * directory, and only then die of the signal (cli_pdf_write). */
static volatile sig_atomic_t interrupted;
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void on_stop(int sig)
{
    interrupted = sig;
}

static int run_browser(const char *bin, const char *const *argv, const char *dir,
                       const char *log, int secs, char *msg, size_t msgsz)
{
    struct timespec t0, nap = {0, 20 * 1000 * 1000};
    struct sigaction dfl, old, stop, old_stop[3];
    bool timed_out = false;
    siginfo_t si;
    int status = 0;
    char tail[320];
    pid_t pid;

    /* An inherited SIGCHLD = SIG_IGN would reap the browser behind our back. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGCHLD, &dfl, &old);
    memset(&stop, 0, sizeof(stop));
    stop.sa_handler = on_stop;
    sigemptyset(&stop.sa_mask);
    interrupted = 0;
    for (int i = 0; i < 3; i++)
        sigaction(stop_signals[i], &stop, &old_stop[i]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        sigaction(SIGCHLD, &old, NULL);
        for (int i = 0; i < 3; i++)
            sigaction(stop_signals[i], &old_stop[i], NULL);
        return fail(msg, msgsz, "cannot run %s: fork: %s", bin, strerror(errno));
    }
    if (pid == 0) {
        for (int i = 0; i < 3; i++)
            sigaction(stop_signals[i], &old_stop[i], NULL);
        child(bin, argv, dir, log);
    }
    setpgid(pid, pid); /* also here: no race with the kill below */
    /* Wait without reaping (WNOWAIT): while the leader is a zombie its pid, and so its
     * process group id, cannot be reused, so killing the group cannot hit a stranger. */
    for (;;) {
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (si.si_pid == pid || interrupted)
            break;
        if (since(&t0) >= secs) {
            timed_out = true;
            break;
        }
        nanosleep(&nap, NULL);
    }
    kill(-pid, SIGKILL); /* the timeout, or helpers the browser left behind */
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    sigaction(SIGCHLD, &old, NULL);
    for (int i = 0; i < 3; i++)
        sigaction(stop_signals[i], &old_stop[i], NULL);
    if (interrupted)
        return fail(msg, msgsz, "interrupted by signal %d: %s killed", (int)interrupted, bin);
    if (timed_out)
        return fail(msg, msgsz, "%s did not finish within %d s: killed (REBILL_PDF_TIMEOUT "
                                "sets the limit)", bin, secs);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    last_line(log, tail, sizeof(tail));
    if (WIFSIGNALED(status))
        return fail(msg, msgsz, "%s was killed by signal %d%s%s", bin, WTERMSIG(status),
                    tail[0] ? ": " : "", tail);
    return fail(msg, msgsz, "%s failed (exit %d)%s%s", bin, WEXITSTATUS(status),
                tail[0] ? ": " : "", tail);
}

/* Copy the browser's PDF to the caller's path, once it is known to be a PDF. */
static int copy_pdf(const char *from, const char *to, const char *bin, const char *log,
                    char *msg, size_t msgsz)
{
    char buf[16384], tail[320];
    FILE *in = fopen(from, "rb"), *out;
    size_t n;
    bool bad = false;

    if (!in) {
        last_line(log, tail, sizeof(tail));
        return fail(msg, msgsz, "%s wrote no PDF%s%s", bin, tail[0] ? ": " : "", tail);
    }
    n = fread(buf, 1, sizeof(buf), in);
    if (n < 5 || memcmp(buf, "%PDF-", 5) != 0) {
        fclose(in);
        return fail(msg, msgsz, "%s wrote a file that is not a PDF (no %%PDF- header)", bin);
    }
    out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return fail(msg, msgsz, "cannot write %s: %s", to, strerror(errno));
    }
    while (n > 0 && !bad) {
        bad = fwrite(buf, 1, n, out) != n;
        n = fread(buf, 1, sizeof(buf), in);
    }
    bad = bad || ferror(in);
    fclose(in);
    if (fclose(out) != 0)
        bad = true;
    if (bad) {
        int e = errno;
        unlink(to);
        return fail(msg, msgsz, "cannot write %s: %s", to, strerror(e));
    }
    return 0;
}

int cli_pdf_write(const char *html, size_t len, const char *pdf_path, char *msg, size_t msgsz)
{
    char bin[PATH_MAX], dir[PATH_MAX - 64], page[PATH_MAX], log[PATH_MAX], pdf[PATH_MAX];
    char profile[PATH_MAX], url[3 * PATH_MAX + 8];
    char a_profile[PATH_MAX + 32], a_pdf[PATH_MAX + 32];
    const char *tmp = getenv("TMPDIR");
    int secs, rc = -1;

    if (cli_pdf_find(bin, sizeof(bin), msg, msgsz) != 0 || timeout_secs(msg, msgsz, &secs))
        return -1;
    if (!tmp || !*tmp)
        tmp = "/tmp";
    if (snprintf(dir, sizeof(dir), "%s/rebill-pdf.XXXXXX", tmp) >= (int)sizeof(dir))
        return fail(msg, msgsz, "cannot make a temporary directory: TMPDIR too long");
    if (!mkdtemp(dir))
        return fail(msg, msgsz, "cannot make a temporary directory in %s: %s", tmp,
                    strerror(errno));
    snprintf(page, sizeof(page), "%s/invoice.html", dir);
    snprintf(log, sizeof(log), "%s/browser.log", dir);
    snprintf(pdf, sizeof(pdf), "%s/invoice.pdf", dir);
    snprintf(profile, sizeof(profile), "%s/profile", dir);
    snprintf(a_profile, sizeof(a_profile), "--user-data-dir=%s", profile);
    snprintf(a_pdf, sizeof(a_pdf), "--print-to-pdf=%s", pdf);
    if (!file_url(page, url, sizeof(url))) {
        fail(msg, msgsz, "cannot print: temporary path too long");
        goto out_rm_dir;
    }
    if (mkdir(profile, 0700) != 0 || write_all(page, html, len) != 0) {
        fail(msg, msgsz, "cannot write %s: %s", page, strerror(errno));
        goto out_rm_dir;
    }
    {
        /* Offline: no host name resolves, and every background service that would call
         * home (updates, sync, metrics, safe browsing lists) is off. */
        const char *const argv[] = {
            bin,
            "--headless",
            "--no-sandbox", /* root in containers; the page is our own, scripts are off */
            "--disable-gpu",
            "--disable-dev-shm-usage", /* containers with a 64 MB /dev/shm crash it otherwise */
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-domain-reliability",
            "--disable-breakpad",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            /* Not --blink-settings=scriptEnabled=false: it stops --print-to-pdf (Chromium
             * 156); the page's own Content-Security-Policy already allows no script. */
            a_profile,
            "--no-pdf-header-footer", /* Chromium >= 110; --print-to-pdf-no-header is gone */
            a_pdf,
            url,
            NULL,
        };
        if (run_browser(bin, argv, dir, log, secs, msg, msgsz) != 0)
            goto out_rm_dir;
    }
    if (copy_pdf(pdf, pdf_path, bin, log, msg, msgsz) != 0)
        goto out_rm_dir;
    rc = 0;
out_rm_dir:
    rm_tree(dir);
    if (interrupted)
        raise(interrupted); /* the caller's handler, or death by the signal, as asked */
    return rc;
}
