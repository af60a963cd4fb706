/*
 * usage.h -- private interface between csv.c (reading CSV fast) and usage.c (what the
 * columns mean), and the hooks the unit tests use.
 *
 * Provides: a 64-bit content hash (XXH64), a byte source that reads a file plain or
 * gzip-compressed while hashing its bytes as stored, a single-record CSV parser (headers,
 * tests), a chunk scanner that finds the fields of whole records 64 bytes at a time, a
 * simple streaming record reader, and a parallel driver that splits a file into chunks of
 * whole records and scans them on several threads.
 * Uses: zlib, POSIX threads, the allocation seam.
 * Must never: load a whole file in memory (memory is bounded by the chunk buffers and the
 * longest record). Threads allocate through the seam directly: alloc.c is thread-safe.
 */
#ifndef RB_USAGE_H
#define RB_USAGE_H

#include "rb_int.h"

#include <stdint.h>

/* {===================================================================================
 * XXH64 (Yann Collet's public algorithm), streaming, seed 0.
 * =================================================================================== */
struct rbi_hash64 {
    uint64_t v[4];
    uint64_t total;
    unsigned char mem[32];
    unsigned memlen;
};
RBI_FUNC void rbi_hash64_init(struct rbi_hash64 *h);
RBI_FUNC void rbi_hash64_update(struct rbi_hash64 *h, const void *p, size_t n);
RBI_FUNC uint64_t rbi_hash64_final(const struct rbi_hash64 *h);
RBI_FUNC uint64_t rbi_hash64(const void *p, size_t n);

/* {===================================================================================
 * Byte source: a file read in order, gunzipped when it starts with the gzip magic bytes
 * (concatenated members are read in turn). 'hash' covers the bytes as stored on disk.
 * =================================================================================== */
struct rbi_src;
RBI_FUNC rb_status rbi_src_open(struct rbi_src **out, const char *path, rb_error *err);
/* Read up to cap decompressed bytes; *got == 0 means the end. Errors: RB_IO, RB_SYNTAX
 * (corrupt or truncated gzip), RB_NOMEM; the message starts with the path. */
RBI_FUNC rb_status rbi_src_read(struct rbi_src *s, char *buf, size_t cap, size_t *got,
                                rb_error *err);
RBI_FUNC bool rbi_src_is_gzip(const struct rbi_src *s);
RBI_FUNC uint64_t rbi_src_bytes_in(const struct rbi_src *s); /* stored bytes read so far */
RBI_FUNC uint64_t rbi_src_size(const struct rbi_src *s);     /* stored size (fstat) */
RBI_FUNC uint64_t rbi_src_hash(const struct rbi_src *s);     /* hash of the stored bytes */
RBI_FUNC void rbi_src_close(struct rbi_src *s);

/* {===================================================================================
 * Fields and records
 * =================================================================================== */

/* A field as it appears in the file: still quoted if it was ("a""b" is 6 bytes). */
struct rbi_csv_span {
    const char *p;
    size_t len;
};

/*
 * The value of a raw field: quotes removed and doubled quotes undoubled. A field that does
 * not start with a quote is returned as is, unless it holds a quote (false). A quoted field
 * must end with the closing quote and double every quote inside (false otherwise). When
 * there is nothing to undouble *out points into the field; else the value is written to
 * scratch (at least f->len bytes).
 */
RBI_FUNC bool rbi_csv_unquote(const struct rbi_csv_span *f, char *scratch,
                              struct rbi_csv_span *out);

/*
 * Parse one record of RFC 4180 CSV from p[0..n): fields separated by ',', ended by LF or
 * CRLF (or the end of the data). Fields are unquoted into 'vals' (each NUL-terminated) and
 * *nf gets their count; *used gets the bytes consumed including the line end; *nl the
 * line ends inside the record (quoted newlines) plus its own. RB_OK, RB_NOTFOUND (n == 0),
 * RB_SYNTAX with 'err' set ("unterminated quoted field", "bad quoting").
 */
struct rbi_csv_fields {
    struct rb_buf text; /* the values, each NUL-terminated */
    size_t *off;        /* offsets of the values in text */
    size_t n, cap;
};
RBI_FUNC rb_status rbi_csv_parse_record(const char *p, size_t n, struct rbi_csv_fields *out,
                                        size_t *used, uint64_t *nl, rb_error *err);
RBI_FUNC const char *rbi_csv_field(const struct rbi_csv_fields *f, size_t i);
RBI_FUNC void rbi_csv_fields_release(struct rbi_csv_fields *f);

/* A streaming reader of whole records over a byte source (a UTF-8 BOM is skipped). */
struct rbi_csv_reader;
RBI_FUNC rb_status rbi_csv_open(struct rbi_csv_reader **out, const char *path, rb_error *err);
/* Next record into *f; RB_NOTFOUND at the end. *line is the record's first line. */
RBI_FUNC rb_status rbi_csv_next(struct rbi_csv_reader *r, struct rbi_csv_fields *f, uint64_t *line,
                                rb_error *err);
RBI_FUNC void rbi_csv_close(struct rbi_csv_reader *r);

/* {===================================================================================
 * The chunk scanner: the fields of whole records, found 64 bytes at a time.
 * =================================================================================== */

/* Which columns a caller wants: colmap[i] is the slot of column i, or -1. */
struct rbi_csv_layout {
    int ncols;             /* fields the header has */
    const int16_t *colmap; /* ncols + 1 entries; colmap[ncols] must be -1 */
    int nslots;            /* slots in a row */
};

struct rbi_csv_row {
    const struct rbi_csv_span *f; /* f[slot]: raw field; p == NULL for an unmapped slot */
    uint64_t quoted;              /* bit slot: the field holds a '"' (quoted, or bad) */
    int nfields;                  /* fields the record has */
    uint64_t line;                /* the record's first line in the file (1-based) */
    const char *raw;              /* the whole record without its line end */
    size_t rawlen;
};

/* Called for each record; on failure fill err->msg (without file or line) and return a
 * status: the scan stops there. *line is the record's line; a callback that works a few
 * records behind may set it to the line of the record that failed. */
typedef rb_status (*rbi_csv_row_fn)(void *ctx, const struct rbi_csv_row *row, uint64_t *line,
                                    rb_error *err);
/* Called after the records of a chunk (even after a failure in it): a callback that works
 * behind finishes here, while the chunk's bytes are still valid. Same contract. */
typedef rb_status (*rbi_csv_flush_fn)(void *ctx, uint64_t *line, rb_error *err);

struct rbi_csv_scan_result {
    uint64_t records;   /* records passed to the callback (blank lines are skipped) */
    uint64_t fail_line; /* line of the failing record or byte */
};

/*
 * Scan p[0..n), which holds whole records (the last one may lack its line end), the first
 * of which starts on line first_line. RB_OK; the callback's status; RB_SYNTAX for an
 * unterminated quoted field or a NUL byte (err->msg set, no file or line in it).
 */
RBI_FUNC rb_status rbi_csv_scan(const char *p, size_t n, uint64_t first_line,
                                const struct rbi_csv_layout *lay, rbi_csv_row_fn fn, void *ctx,
                                struct rbi_csv_scan_result *res, rb_error *err);

/*
 * The SIMD level of the scanner, the cut and the hash: 0 portable C, 1 SSE2, 2 AVX2 (with
 * PCLMUL, POPCNT, BMI1), 3 the same and BMI2's PDEP (where it is fast). The best the machine
 * has is used; 'want' caps it (a test knob, for a run in which no scan is under way;
 * negative: no cap). Returns the level now in use.
 */
RBI_FUNC int rbi_csv_simd(int want);

/*
 * Where the last whole record in p[0..n) ends (p[0] starts a record): *cut is the byte
 * after its LF, 0 if there is none; *nl the LFs in p[0..*cut); *open whether p[n-1] lies
 * inside a quoted field.
 */
RBI_FUNC void rbi_csv_cut(const char *p, size_t n, size_t *cut, uint64_t *nl, bool *open);

/* {===================================================================================
 * The parallel driver
 * =================================================================================== */

/* Called once, in the calling thread, with the header's field values; fills *lay (whose
 * colmap must stay valid until the run ends). Non-RB_OK stops the run; err->msg is used
 * as it is (the callback names the file). */
typedef rb_status (*rbi_csv_header_fn)(void *ctx, const struct rbi_csv_fields *names,
                                       struct rbi_csv_layout *lay, rb_error *err);
typedef void (*rbi_csv_progress_fn)(void *ctx, uint64_t done, uint64_t total, uint64_t rows);

struct rbi_csv_job {
    /* in */
    const char *path;
    int nthreads; /* scanning threads; 0: scan in the calling thread */
    size_t chunk; /* bytes per chunk; 0: 1 MiB (tests use tiny ones) */
    rbi_csv_header_fn header;
    void *ctx;
    rbi_csv_row_fn row;
    rbi_csv_flush_fn flush;       /* may be NULL */
    void *const *wctx;            /* one context per thread (one if nthreads is 0) */
    rbi_csv_progress_fn progress; /* may be NULL; called in the calling thread */
    void *pctx;
    /* out */
    uint64_t records; /* data records (after the header) */
    uint64_t bytes;   /* bytes as stored */
    uint64_t hash;    /* rbi_hash64 of the bytes as stored */
    bool gzip;
};

/*
 * Read job->path and scan it. The first failure in file order wins: its message reads
 * "PATH:LINE: ..." for a record, "PATH: ..." for the file as a whole. Returns RB_OK, the
 * header or row callback's status, RB_SYNTAX, RB_IO, RB_NOMEM, RB_TOOBIG (a record over
 * 256 MiB), RB_INVALID (empty file, binary header).
 */
RBI_FUNC rb_status rbi_csv_run(struct rbi_csv_job *job, rb_error *err);

/* An amount as rb_dec_parse() reads it ("" is 0), with a fast path for plain decimals. */
RBI_FUNC rb_status rbi_usage_parse_amount(rb_dec *out, const char *p, size_t n);

/* a + b as aggregation adds them: rb_dec_add()'s result, inline in the common case. */
RBI_FUNC rb_status rbi_usage_dec_add(rb_dec *r, const rb_dec *a, const rb_dec *b);

/* Test knob: the chunk size rb_usage_import_file() hands the driver (0: its default). */
RBI_FUNC void rbi_usage_import_set_chunk(rb_usage_import *imp, size_t chunk);

/* One scan of the month for `rebill close`: rb_usage_unmapped()'s rows to `unmapped`, and the
 * amounts of every aggregate whose organization has a payer in force, per currency in code
 * order, to `mapped`. With the same attribution as rb_usage_summary(), so the sum of `mapped`
 * equals that of rb_usage_summary() over every organization with a payer. */
RBI_FUNC rb_status rbi_usage_reconcile(rb_txn *txn, int month, rb_usage_unmapped_cb unmapped,
                                       rb_status (*mapped)(const rb_usage_amounts *a, void *ctx),
                                       void *ctx);

/* Bytes a record may span at most. */
#define RBI_CSV_MAX_RECORD ((size_t)256 << 20)

#endif /* RB_USAGE_H */
