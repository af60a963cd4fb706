/*
 * test_csv.c -- engine/csv.c: the XXH64 hash (published vectors, streaming), field
 * unquoting, the single-record parser, the streaming reader (BOM, CRLF, quoted commas,
 * newlines and doubled quotes, plain and gzip, truncated and corrupt gzip), the chunk
 * scanner against the record parser on random CSV, the reader's cut, and the parallel
 * driver (any chunk size and thread count gives the same records; the first failure in
 * file order wins; empty and binary files).
 */
#include "harness.h"
#include "usage.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[64];

static const char *tmp_path(const char *name)
{
    static char path[4][160];
    static int k;

    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
    return path[k];
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static size_t gzip_bytes(const void *data, size_t n, unsigned char *out, size_t cap)
{
    z_stream z;
    size_t got;

    memset(&z, 0, sizeof(z));
    deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    got = cap - z.avail_out;
    deflateEnd(&z);
    return got;
}

/* {===================================================================================
 * Hash
 * =================================================================================== */

static void test_hash64_vectors(void)
{
    static const struct {
        const char *text;
        uint64_t want;
    } v[] = {
        {"", 0xEF46DB3751D8E999ULL},
        {"a", 0xD24EC4F1A98C6E5BULL},
        {"abc", 0x44BC2CF5AD770999ULL},
        {"Nobody inspects the spammish repetition", 0xFBCEA83C8A378BF1ULL},
        {"0123456789abcdef0123456789abcdef", 0x642A94958E71E6C5ULL},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        OK(rbi_hash64(v[i].text, strlen(v[i].text)) == v[i].want, "XXH64(\"%s\")", v[i].text);
}

static void test_hash64_streaming(void)
{
    unsigned char data[1000];
    uint64_t whole;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 131 + 7);
    whole = rbi_hash64(data, sizeof(data));
    for (size_t step = 1; step <= 97; step += 6) {
        struct rbi_hash64 h;
        rbi_hash64_init(&h);
        for (size_t off = 0; off < sizeof(data); off += step)
            rbi_hash64_update(&h, data + off,
                              off + step > sizeof(data) ? sizeof(data) - off : step);
        OK(rbi_hash64_final(&h) == whole, "pieces of %zu bytes give the one-shot hash", step);
    }
    OK(rbi_hash64(data, 999) != whole, "one byte less changes the hash");
}

/* {===================================================================================
 * Unquoting and the record parser
 * =================================================================================== */

static bool unq(const char *raw, const char *want)
{
    struct rbi_csv_span f = {raw, strlen(raw)}, out;
    char scratch[64];

    if (!rbi_csv_unquote(&f, scratch, &out))
        return want == NULL;
    return want && out.len == strlen(want) && memcmp(out.p, want, out.len) == 0;
}

static void test_unquote(void)
{
    OK(unq("plain", "plain"), "an unquoted field is itself");
    OK(unq("", ""), "an empty field");
    OK(unq("\"a,b\"", "a,b"), "quotes removed");
    OK(unq("\"\"", ""), "an empty quoted field");
    OK(unq("\"say \"\"hi\"\"\"", "say \"hi\""), "doubled quotes undoubled");
    OK(unq("\"line\nbreak\"", "line\nbreak"), "a line break inside quotes");
    OK(unq("ab\"c", NULL), "a quote inside an unquoted field is refused");
    OK(unq("\"abc", NULL), "no closing quote is refused");
    OK(unq("\"a\"b\"", NULL), "a lone quote inside is refused");
    OK(unq("\"", NULL), "a lone quote is refused");
    OK(unq("\"abc\"x", NULL), "text after the closing quote is refused");
}

static void test_parse_record(void)
{
    struct rbi_csv_fields f = {{NULL, 0, 0}, NULL, 0, 0};
    const char *in = "a,\"b,c\",\"d\"\"e\",,\"x\r\ny\"\r\nnext";
    size_t used;
    uint64_t nl;
    rb_error err;

    INT_EQ(rbi_csv_parse_record(in, strlen(in), &f, &used, &nl, &err), RB_OK);
    INT_EQ(f.n, 5);
    STR_EQ(rbi_csv_field(&f, 0), "a");
    STR_EQ(rbi_csv_field(&f, 1), "b,c");
    STR_EQ(rbi_csv_field(&f, 2), "d\"e");
    STR_EQ(rbi_csv_field(&f, 3), "");
    STR_EQ(rbi_csv_field(&f, 4), "x\r\ny");
    OK(rbi_csv_field(&f, 5) == NULL, "no sixth field");
    INT_EQ(used, strlen(in) - 4); /* up to and including the CRLF */
    INT_EQ(nl, 2);                /* one quoted, one ending the record */

    INT_EQ(rbi_csv_parse_record("x,", 2, &f, &used, &nl, &err), RB_OK);
    INT_EQ(f.n, 2);
    STR_EQ(rbi_csv_field(&f, 1), "");
    INT_EQ(nl, 0);

    INT_EQ(rbi_csv_parse_record("", 0, &f, &used, &nl, &err), RB_NOTFOUND);
    INT_EQ(rbi_csv_parse_record("a,\"open\n", 8, &f, &used, &nl, &err), RB_SYNTAX);
    STR_HAS(err.msg, "unterminated quoted field");
    INT_EQ(rbi_csv_parse_record("\"a\"b,c\n", 7, &f, &used, &nl, &err), RB_SYNTAX);
    STR_HAS(err.msg, "text after a closing quote");
    INT_EQ(rbi_csv_parse_record("a\"b,c\n", 6, &f, &used, &nl, &err), RB_SYNTAX);
    STR_HAS(err.msg, "a quote inside an unquoted field");
    rbi_csv_fields_release(&f);
}

/* {===================================================================================
 * The streaming reader
 * =================================================================================== */

static const char quirky[] = "\xEF\xBB\xBFh1,h2,h3\r\n"
                             "1,\"a, b\",\"say \"\"x\"\"\"\r\n"
                             "2,\"multi\nline\",z\r\n"
                             "\r\n"
                             "3,last,\"no newline at the end\"";

static void check_quirky(const char *path, const char *what)
{
    struct rbi_csv_reader *r;
    struct rbi_csv_fields f = {{NULL, 0, 0}, NULL, 0, 0};
    uint64_t line = 0;
    rb_error err;

    INT_EQ(rbi_csv_open(&r, path, &err), RB_OK);
    INT_EQ(rbi_csv_next(r, &f, &line, &err), RB_OK);
    STR_EQ(rbi_csv_field(&f, 0), "h1"); /* the BOM is not part of the first name */
    STR_EQ(rbi_csv_field(&f, 2), "h3"); /* nor is the CR */
    INT_EQ(line, 1);
    INT_EQ(rbi_csv_next(r, &f, &line, &err), RB_OK);
    STR_EQ(rbi_csv_field(&f, 1), "a, b");
    STR_EQ(rbi_csv_field(&f, 2), "say \"x\"");
    INT_EQ(line, 2);
    INT_EQ(rbi_csv_next(r, &f, &line, &err), RB_OK);
    STR_EQ(rbi_csv_field(&f, 1), "multi\nline");
    INT_EQ(line, 3);
    INT_EQ(rbi_csv_next(r, &f, &line, &err), RB_OK); /* the blank line is skipped */
    STR_EQ(rbi_csv_field(&f, 0), "3");
    STR_EQ(rbi_csv_field(&f, 2), "no newline at the end");
    OK(line == 6, "%s: the last record is on line 6, got %llu", what, (unsigned long long)line);
    INT_EQ(rbi_csv_next(r, &f, &line, &err), RB_NOTFOUND);
    rbi_csv_close(r);
    rbi_csv_fields_release(&f);
}

static void test_reader_plain_and_gzip(void)
{
    unsigned char gz[1024], two[2048];
    size_t n = gzip_bytes(quirky, sizeof(quirky) - 1, gz, sizeof(gz));
    size_t half = 40;
    size_t n1, n2;

    write_file(tmp_path("q.csv"), quirky, sizeof(quirky) - 1);
    check_quirky(tmp_path("q.csv"), "plain");
    write_file(tmp_path("q.csv.gz"), gz, n);
    check_quirky(tmp_path("q.csv.gz"), "gzip");
    /* two gzip members one after the other are one stream of bytes */
    n1 = gzip_bytes(quirky, half, two, sizeof(two));
    n2 = gzip_bytes(quirky + half, sizeof(quirky) - 1 - half, two + n1, sizeof(two) - n1);
    write_file(tmp_path("q2.csv.gz"), two, n1 + n2);
    check_quirky(tmp_path("q2.csv.gz"), "two gzip members");
}

static rb_status read_all(const char *path, rb_error *err)
{
    struct rbi_csv_reader *r;
    struct rbi_csv_fields f = {{NULL, 0, 0}, NULL, 0, 0};
    uint64_t line;
    rb_status rc = rbi_csv_open(&r, path, err);

    if (rc != RB_OK)
        return rc;
    while ((rc = rbi_csv_next(r, &f, &line, err)) == RB_OK)
        ;
    rbi_csv_close(r);
    rbi_csv_fields_release(&f);
    return rc == RB_NOTFOUND ? RB_OK : rc;
}

static void test_reader_bad_gzip(void)
{
    unsigned char gz[1024];
    size_t n = gzip_bytes(quirky, sizeof(quirky) - 1, gz, sizeof(gz));
    rb_error err;

    write_file(tmp_path("t.csv.gz"), gz, n - 12);
    INT_EQ(read_all(tmp_path("t.csv.gz"), &err), RB_SYNTAX);
    STR_HAS(err.msg, "truncated gzip file");
    STR_HAS(err.msg, "t.csv.gz");
    gz[n / 2] ^= 0x55;
    gz[n / 2 + 1] ^= 0xAA;
    write_file(tmp_path("c.csv.gz"), gz, n);
    INT_EQ(read_all(tmp_path("c.csv.gz"), &err), RB_SYNTAX);
    STR_HAS(err.msg, "gzip");
    INT_EQ(read_all(tmp_path("nosuch.csv"), &err), RB_NOTFOUND);
    STR_HAS(err.msg, "nosuch.csv: cannot open");
    INT_EQ(read_all(dir, &err), RB_IO);
    STR_HAS(err.msg, "is a directory");
}

/* {===================================================================================
 * The scanner, the cut and the driver
 * =================================================================================== */

#define NCOL 5

/* Random CSV of n records of NCOL fields: quotes, commas, CR, LF, empty fields. */
static size_t random_csv(char *out, size_t cap, int nrec, unsigned seed)
{
    static const char *const pieces[] = {"a", "xyz", "", "12.5", "\"", ",", "\n", "\r\n", " ",
                                         "é", "NULL"};
    size_t n = 0;

    srand(seed);
    for (int r = 0; r < nrec; r++) {
        for (int c = 0; c < NCOL; c++) {
            char field[64];
            size_t fl = 0;
            bool quote;
            int k = rand() % 4;
            for (int i = 0; i < k; i++) {
                const char *p = pieces[rand() % (int)(sizeof(pieces) / sizeof(pieces[0]))];
                size_t pl = strlen(p);
                memcpy(field + fl, p, pl);
                fl += pl;
            }
            field[fl] = '\0';
            quote = strpbrk(field, "\",\r\n") != NULL || rand() % 3 == 0;
            if (n + 2 * fl + 8 >= cap)
                return n;
            if (quote) {
                out[n++] = '"';
                for (size_t i = 0; i < fl; i++) {
                    if (field[i] == '"')
                        out[n++] = '"';
                    out[n++] = field[i];
                }
                out[n++] = '"';
            } else {
                memcpy(out + n, field, fl);
                n += fl;
            }
            out[n++] = c + 1 < NCOL ? ',' : '\n';
        }
        if (rand() % 5 == 0 && n >= 1 && out[n - 1] == '\n') { /* CRLF instead */
            out[n - 1] = '\r';
            out[n++] = '\n';
        }
    }
    return n;
}

/* What a scan saw: each record's line and its fields joined with '|', in a buffer. */
struct seen {
    struct rb_buf text;
    uint64_t records;
    uint64_t lines_sum;
    uint64_t digest; /* order-free: sum of per-record hashes */
    const char *fail_on; /* fail on a record whose first field is this */
    int quote_flag_wrong; /* records whose 'quoted' bits disagree with their fields */
    bool keep_text;       /* keep the records' text (single-threaded scans only) */
};

static rb_status seen_row(void *ctx, const struct rbi_csv_row *row, uint64_t *line,
                          rb_error *err)
{
    struct seen *s = ctx;
    char scratch[1024], rec[4096];
    size_t n;

    (void)line;
    n = (size_t)snprintf(rec, sizeof(rec), "%llu:%d:", (unsigned long long)row->line,
                         row->nfields);
    for (int i = 0; i < NCOL && row->nfields == NCOL; i++) {
        struct rbi_csv_span v;
        bool has = memchr(row->f[i].p, '"', row->f[i].len) != NULL;
        if (has != (((row->quoted >> i) & 1) != 0))
            s->quote_flag_wrong++;
        if (!rbi_csv_unquote(&row->f[i], scratch, &v))
            return rbi_error_set(err, RB_INVALID, "bad quoting");
        if (i == 0 && s->fail_on && v.len == strlen(s->fail_on) &&
            memcmp(v.p, s->fail_on, v.len) == 0)
            return rbi_error_set(err, RB_INVALID, "failing record");
        if (n + v.len + 2 < sizeof(rec)) {
            memcpy(rec + n, v.p, v.len);
            n += v.len;
            rec[n++] = '|';
        }
    }
    rec[n++] = '\n';
    /* worker threads must not allocate through the unlocked seam: text only when asked */
    if (s->keep_text)
        rbi_buf_append(&s->text, rec, n);
    s->records++;
    s->lines_sum += row->line;
    s->digest += rbi_hash64(rec, n);
    return RB_OK;
}

/* The same with the record parser, record by record. */
static void reference(const char *p, size_t n, uint64_t first_line, struct seen *s)
{
    struct rbi_csv_fields f = {{NULL, 0, 0}, NULL, 0, 0};
    uint64_t line = first_line;
    size_t off = 0;

    while (off < n) {
        size_t used;
        uint64_t nl;
        rb_error err;
        struct rb_buf rec = {NULL, 0, 0};
        if (rbi_csv_parse_record(p + off, n - off, &f, &used, &nl, &err) != RB_OK)
            break;
        if (!(f.n == 1 && rbi_csv_field(&f, 0)[0] == '\0')) {
            rbi_buf_printf(&rec, "%llu:%zu:", (unsigned long long)line, f.n);
            for (size_t i = 0; i < f.n && f.n == NCOL; i++) {
                rbi_buf_puts(&rec, rbi_csv_field(&f, i));
                rbi_buf_append(&rec, "|", 1);
            }
            rbi_buf_append(&rec, "\n", 1);
            rbi_buf_append(&s->text, rec.data, rec.len);
            s->records++;
            s->lines_sum += line;
            s->digest += rbi_hash64(rec.data, rec.len);
            rbi_buf_release(&rec);
        }
        line += nl;
        off += used;
    }
    rbi_csv_fields_release(&f);
}

static const int16_t map5[NCOL + 1] = {0, 1, 2, 3, 4, -1};
static const struct rbi_csv_layout lay5 = {NCOL, map5, NCOL};

static void test_scan_matches_parser(void)
{
    static char buf[1 << 16];

    for (unsigned seed = 1; seed <= 40; seed++) {
        size_t n = random_csv(buf, sizeof(buf), 200, seed);
        struct seen b = {{NULL, 0, 0}, 0, 0, 0, NULL, 0, true};

        reference(buf, n, 7, &b);
        for (int lv = 0, best = rbi_csv_simd(-1); lv <= best; lv++) { /* every SIMD level */
            struct seen a = {{NULL, 0, 0}, 0, 0, 0, NULL, 0, true};
            struct rbi_csv_scan_result res;
            rb_error err;
            rb_status rc;
            rbi_csv_simd(lv);
            rc = rbi_csv_scan(buf, n, 7, &lay5, seen_row, &a, &res, &err);
            OK(rc == RB_OK, "seed %u level %d: scan: %s", seed, lv, err.msg);
            INT_EQ(a.quote_flag_wrong, 0); /* the scanner flags exactly the fields with quotes */
            OK(a.records == b.records && a.text.len == b.text.len &&
                   memcmp(a.text.data, b.text.data, a.text.len) == 0,
               "seed %u level %d: the scanner and the record parser see the same records", seed,
               lv);
            INT_EQ(res.records, a.records);
            rbi_buf_release(&a.text);
        }
        rbi_csv_simd(-1);
        rbi_buf_release(&b.text);
    }
}

static void test_scan_errors(void)
{
    struct seen s = {{NULL, 0, 0}, 0, 0, 0, NULL, 0, true};
    struct rbi_csv_scan_result res;
    rb_error err;
    const char nul[] = "a,b,c,d,e\nf,g,\0,i,j\n";
    const char open[] = "a,b,c,d,e\n1,2,\"three\n4,5\n";
    const char blank[] = "\n\r\na,b,c,d,e\r\n\n";

    INT_EQ(rbi_csv_scan(nul, sizeof(nul) - 1, 10, &lay5, seen_row, &s, &res, &err), RB_SYNTAX);
    STR_HAS(err.msg, "NUL byte");
    INT_EQ(res.fail_line, 11);
    INT_EQ(rbi_csv_scan(open, sizeof(open) - 1, 1, &lay5, seen_row, &s, &res, &err), RB_SYNTAX);
    STR_HAS(err.msg, "unterminated quoted field");
    INT_EQ(res.fail_line, 2); /* where the record starts */
    rbi_buf_reset(&s.text);
    s.records = 0;
    INT_EQ(rbi_csv_scan(blank, sizeof(blank) - 1, 1, &lay5, seen_row, &s, &res, &err), RB_OK);
    INT_EQ(s.records, 1); /* blank lines, with or without CR, are no records */
    STR_HAS(s.text.data, "3:5:a|b|c|d|e|"); /* and no CR in the last field */
    rbi_buf_release(&s.text);
}

static void test_cut(void)
{
    size_t cut;
    uint64_t nl;
    bool open;
    const char *a = "x,y\n\"in\nside\",z\npartial";
    const char *b = "\"open\nstill open\n";
    const char *c = "no line end";

    rbi_csv_cut(a, strlen(a), &cut, &nl, &open);
    INT_EQ(cut, strlen(a) - strlen("partial"));
    INT_EQ(nl, 3); /* all the LFs before the cut, quoted ones too */
    OK(!open, "outside quotes at the end");
    rbi_csv_cut(b, strlen(b), &cut, &nl, &open);
    INT_EQ(cut, 0);
    OK(open, "inside quotes at the end");
    rbi_csv_cut(c, strlen(c), &cut, &nl, &open);
    INT_EQ(cut, 0);
}

/* {===================================================================================
 * The SIMD levels: each gives what the record parser gives
 * =================================================================================== */

#define WCOL 72 /* a wide file: wanted columns past 63 take another path */

/* The columns a scan wants: some past 63 (the general walk over the separators), or all
 * below 64 (the walk by bit masks, with PDEP at the top level). */
static const int wanted_far[] = {0, 1, 5, 62, 63, 64, 70, 71};
static const int wanted_near[] = {0, 1, 5, 33, 62, 63};
static const int *wanted = wanted_far;
static int nwant = (int)(sizeof(wanted_far) / sizeof(wanted_far[0]));

/* Random CSV of WCOL columns: short and long fields (past 64 bytes), quotes, commas, CR,
 * LF; every 'huge'-th record has a 70 KiB field (longer than the quote masks kept). */
static size_t random_wide(char *out, size_t cap, int nrec, unsigned seed, int huge)
{
    static const char *const pieces[] = {"a", "xyz", "", "12.5", "\"", ",", "\n", "\r\n",
                                         " ", "é", "NULL", "0123456789abcdefghij"};
    size_t n = 0;

    srand(seed);
    for (int r = 0; r < nrec; r++) {
        for (int c = 0; c < WCOL; c++) {
            static char field[80000];
            size_t fl = 0;
            bool quote;
            int k = rand() % 4;
            if (rand() % 50 == 0)
                k = 10 + rand() % 20; /* past a block */
            for (int i = 0; i < k; i++) {
                const char *p = pieces[rand() % (int)(sizeof(pieces) / sizeof(pieces[0]))];
                size_t pl = strlen(p);
                memcpy(field + fl, p, pl);
                fl += pl;
            }
            if (huge && r % huge == huge - 1 && (c == 1 || c == 70)) {
                memset(field + fl, 'h', 70000);
                fl += 70000;
                field[fl++] = c == 70 ? '"' : ',';
            }
            quote = memchr(field, '"', fl) || memchr(field, ',', fl) || memchr(field, '\n', fl) ||
                    memchr(field, '\r', fl) || rand() % 3 == 0;
            if (n + 2 * fl + 8 >= cap)
                return n;
            if (quote) {
                out[n++] = '"';
                for (size_t i = 0; i < fl; i++) {
                    if (field[i] == '"')
                        out[n++] = '"';
                    out[n++] = field[i];
                }
                out[n++] = '"';
            } else {
                memcpy(out + n, field, fl);
                n += fl;
            }
            out[n++] = c + 1 < WCOL ? ',' : '\n';
        }
        if (rand() % 5 == 0 && out[n - 1] == '\n') { /* CRLF instead */
            out[n - 1] = '\r';
            out[n++] = '\n';
        }
    }
    return n;
}

/* The wanted fields of each record, unquoted, and whether each 'quoted' bit was right. */
struct wide_seen {
    struct rb_buf text;
    int flag_wrong;
};

static rb_status wide_row(void *ctx, const struct rbi_csv_row *row, uint64_t *line, rb_error *err)
{
    struct wide_seen *s = ctx;
    static char scratch[200000];

    (void)line;
    rbi_buf_printf(&s->text, "%llu:%d:", (unsigned long long)row->line, row->nfields);
    for (int i = 0; i < nwant && row->nfields == WCOL; i++) {
        struct rbi_csv_span v;
        bool has = memchr(row->f[i].p, '"', row->f[i].len) != NULL;
        if (has != (((row->quoted >> i) & 1) != 0))
            s->flag_wrong++;
        if (!rbi_csv_unquote(&row->f[i], scratch, &v))
            return rbi_error_set(err, RB_INVALID, "bad quoting");
        rbi_buf_append(&s->text, v.p, v.len);
        rbi_buf_append(&s->text, "|", 1);
    }
    rbi_buf_append(&s->text, "\n", 1);
    return RB_OK;
}

/* The same with the record parser. */
static void wide_reference(const char *p, size_t n, uint64_t first_line, struct rb_buf *out)
{
    struct rbi_csv_fields f = {{NULL, 0, 0}, NULL, 0, 0};
    uint64_t line = first_line;
    size_t off = 0;

    while (off < n) {
        size_t used;
        uint64_t nl;
        rb_error err;
        if (rbi_csv_parse_record(p + off, n - off, &f, &used, &nl, &err) != RB_OK)
            break;
        if (!(f.n == 1 && rbi_csv_field(&f, 0)[0] == '\0')) {
            rbi_buf_printf(out, "%llu:%zu:", (unsigned long long)line, f.n);
            for (int i = 0; i < nwant && f.n == WCOL; i++) {
                rbi_buf_puts(out, rbi_csv_field(&f, (size_t)wanted[i]));
                rbi_buf_append(out, "|", 1);
            }
            rbi_buf_append(out, "\n", 1);
        }
        line += nl;
        off += used;
    }
    rbi_csv_fields_release(&f);
}

static int16_t wmap[WCOL + 1];
static struct rbi_csv_layout wlay = {WCOL, wmap, 0};

static void wide_layout(const int *cols, int n)
{
    wanted = cols;
    nwant = n;
    wlay.nslots = n;
    for (int i = 0; i <= WCOL; i++)
        wmap[i] = -1;
    for (int i = 0; i < nwant; i++)
        wmap[wanted[i]] = (int16_t)i;
}

#define WIDE_FAR wide_layout(wanted_far, (int)(sizeof(wanted_far) / sizeof(wanted_far[0])))
#define WIDE_NEAR wide_layout(wanted_near, (int)(sizeof(wanted_near) / sizeof(wanted_near[0])))

/* Scan p[0..n) at a level; the text seen (caller frees) or NULL on failure. */
static char *scan_at(int level, const char *p, size_t n, rb_status *rc, int *flag_wrong)
{
    struct wide_seen s = {{NULL, 0, 0}, 0};
    struct rbi_csv_scan_result res;
    rb_error err;

    rbi_csv_simd(level);
    *rc = rbi_csv_scan(p, n, 3, &wlay, wide_row, &s, &res, &err);
    rbi_csv_simd(-1);
    *flag_wrong = s.flag_wrong;
    rbi_buf_append(&s.text, "", 1);
    return s.text.data;
}

static void test_scan_levels(void)
{
    static char buf[1 << 20];
    int best = rbi_csv_simd(-1);

    OK(best >= 0 && best <= 3, "a level: %d", best);
    for (unsigned seed = 1; seed <= 24; seed++) {
        size_t n = random_wide(buf, sizeof(buf), seed <= 4 ? 20 : 120, seed, seed <= 4 ? 4 : 0);
        char *copy = malloc(n); /* exactly n bytes: reading past them is caught under ASan */
        struct rb_buf ref = {NULL, 0, 0};
        if (seed % 2)
            WIDE_FAR;
        else
            WIDE_NEAR;
        memcpy(copy, buf, n);
        wide_reference(copy, n, 3, &ref);
        rbi_buf_append(&ref, "", 1);
        for (int lv = 0; lv <= best; lv++) {
            rb_status rc;
            int wrong;
            char *got = scan_at(lv, copy, n, &rc, &wrong);
            OK(rc == RB_OK, "seed %u level %d: status %d", seed, lv, rc);
            OK(strcmp(got, ref.data) == 0,
               "seed %u level %d: the scanner sees the record parser's records", seed, lv);
            INT_EQ(wrong, 0);
            rbi_buf_release(&(struct rb_buf){got, 0, 0});
        }
        rbi_buf_release(&ref);
        free(copy);
    }
    INT_EQ(rbi_csv_simd(0), 0); /* the knob caps the level, and lifts again */
    INT_EQ(rbi_csv_simd(-1), best);
}

/* Sizes around the block (64) and pass (8 KiB) sizes, with and without a last LF, in
 * buffers of exactly that size; every level, against the record parser. */
static void test_scan_sizes(void)
{
    static const size_t sizes[] = {1, 2, 63, 64, 65, 127, 128, 129, 8191, 8192, 8193, 65536};
    int best = rbi_csv_simd(-1);

    for (size_t k = 0; k < 2 * sizeof(sizes) / sizeof(sizes[0]); k++) {
        if (k % 2)
            WIDE_FAR;
        else
            WIDE_NEAR;
        for (int lf = 0; lf < 2; lf++) {
            size_t n = sizes[k / 2], w = 0;
            char *p = malloc(n);
            struct rb_buf ref = {NULL, 0, 0};
            char rec[WCOL * 8];
            size_t rl = 0;
            for (int c = 0; c < WCOL; c++)
                rl += (size_t)snprintf(rec + rl, sizeof(rec) - rl, "%s%c",
                                       c % 7 == 3 ? "\"q,\"\"\"" : c % 5 == 0 ? "" : "v",
                                       c + 1 < WCOL ? ',' : '\n');
            /* whole records of WCOL fields, some quoted, then plain ones cut to n bytes */
            while (w < n) {
                bool whole = n - w >= rl;
                for (size_t i = 0; i < rl && w < n; i++)
                    p[w++] = whole ? rec[i] : rec[i] == '"' ? 'v' : rec[i];
            }
            p[n - 1] = lf ? '\n' : 'x';
            wide_reference(p, n, 3, &ref);
            rbi_buf_append(&ref, "", 1);
            for (int lv = 0; lv <= best; lv++) {
                rb_status rc;
                int wrong;
                char *got = scan_at(lv, p, n, &rc, &wrong);
                OK(rc == RB_OK, "size %zu lf %d level %d: status %d", n, lf, lv, rc);
                OK(strcmp(got, ref.data) == 0, "size %zu lf %d level %d: same records", n, lf, lv);
                INT_EQ(wrong, 0);
                rbi_buf_release(&(struct rb_buf){got, 0, 0});
            }
            rbi_buf_release(&ref);
            free(p);
        }
    }
}

struct header_ctx {
    int calls;
    size_t ncols;
    char first[32];
};

static rb_status take_header(void *ctx, const struct rbi_csv_fields *names,
                             struct rbi_csv_layout *lay, rb_error *err)
{
    struct header_ctx *h = ctx;

    (void)err;
    h->calls++;
    h->ncols = names->n;
    snprintf(h->first, sizeof(h->first), "%s", rbi_csv_field(names, 0));
    *lay = lay5;
    return RB_OK;
}

static uint64_t progress_done, progress_total;

static void on_progress(void *ctx, uint64_t done, uint64_t total, uint64_t rows)
{
    (void)ctx;
    (void)rows;
    progress_done = done;
    progress_total = total;
}

/* Run the driver over a file with a thread count and chunk size; sum what workers saw. */
static rb_status drive(const char *path, int threads, size_t chunk, const char *fail_on,
                       struct seen *total, struct rbi_csv_job *out, rb_error *err)
{
    struct seen w[4];
    void *wctx[4];
    struct header_ctx h = {0, 0, ""};
    struct rbi_csv_job job;
    rb_status rc;

    memset(w, 0, sizeof(w));
    for (int i = 0; i < 4; i++) {
        w[i].fail_on = fail_on;
        wctx[i] = &w[i];
    }
    memset(&job, 0, sizeof(job));
    job.path = path;
    job.nthreads = threads;
    job.chunk = chunk;
    job.header = take_header;
    job.ctx = &h;
    job.row = seen_row;
    job.wctx = wctx;
    job.progress = on_progress;
    rc = rbi_csv_run(&job, err);
    memset(total, 0, sizeof(*total));
    for (int i = 0; i < 4; i++) {
        total->records += w[i].records;
        total->lines_sum += w[i].lines_sum;
        total->digest += w[i].digest;
        total->quote_flag_wrong += w[i].quote_flag_wrong;
        rbi_buf_release(&w[i].text);
    }
    if (out)
        *out = job;
    return rc;
}

static void test_driver_any_split(void)
{
    static char buf[1 << 17];
    const char header[] = "\xEF\xBB\xBF" "c1,c2,c3,c4,c5\r\n";
    size_t hl = sizeof(header) - 1;
    size_t n = hl + random_csv(buf + hl, sizeof(buf) - hl, 1500, 99);
    struct seen ref = {{NULL, 0, 0}, 0, 0, 0, NULL, 0, true}, got;
    struct rbi_csv_job job;
    static unsigned char gz[1 << 18];
    static const size_t chunks[] = {64, 100, 1000, 4096, 0};
    static const int threads[] = {0, 1, 3};
    rb_error err;
    size_t gn;

    memcpy(buf, header, hl);
    write_file(tmp_path("r.csv"), buf, n);
    gn = gzip_bytes(buf, n, gz, sizeof(gz));
    write_file(tmp_path("r.csv.gz"), gz, gn);
    reference(buf + hl, n - hl, 2, &ref);
    OK(ref.records > 1000, "the reference saw %llu records", (unsigned long long)ref.records);
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
            for (int z = 0; z < 2; z++) {
                rb_status rc = drive(tmp_path(z ? "r.csv.gz" : "r.csv"), threads[t], chunks[c],
                                     NULL, &got, &job, &err);
                OK(rc == RB_OK, "chunk %zu threads %d gzip %d: %s", chunks[c], threads[t], z,
                   rc == RB_OK ? "" : err.msg);
                OK(got.records == ref.records && got.lines_sum == ref.lines_sum &&
                       got.digest == ref.digest,
                   "chunk %zu threads %d gzip %d: the same records on the same lines",
                   chunks[c], threads[t], z);
                INT_EQ(job.records, ref.records);
                INT_EQ(got.quote_flag_wrong, 0);
                OK(job.hash == (z ? rbi_hash64(gz, gn) : rbi_hash64(buf, n)),
                   "the hash is of the bytes as stored");
                INT_EQ(job.bytes, z ? gn : n);
                OK(job.gzip == (z == 1), "gzip detected from the magic bytes");
            }
        }
    }
    INT_EQ(progress_done, progress_total);
    for (int lv = 0, best = rbi_csv_simd(-1); lv <= best; lv++) { /* the cut and the hash too */
        rbi_csv_simd(lv);
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
            rb_status rc = drive(tmp_path("r.csv"), 2, chunks[c], NULL, &got, &job, &err);
            OK(rc == RB_OK && got.records == ref.records && got.lines_sum == ref.lines_sum &&
                   got.digest == ref.digest && job.hash == rbi_hash64(buf, n),
               "level %d chunk %zu: the same records, lines and hash", lv, chunks[c]);
        }
    }
    rbi_csv_simd(-1);
    rbi_buf_release(&ref.text);
}

/* Files of a page's size and of two (the mapping ends at a page boundary), with and
 * without a last LF: every chunk size and thread count reads the same records. */
static void test_driver_exact_sizes(void)
{
    static const size_t sizes[] = {4096, 8192, 4096 * 3 + 1};
    static const size_t chunks[] = {64, 4096, 0};
    const char header[] = "c1,c2,c3,c4,c5\n";

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        for (int lf = 0; lf < 2; lf++) {
            size_t n = sizes[k], hl = sizeof(header) - 1, w = hl;
            char *buf = malloc(n);
            struct seen ref = {{NULL, 0, 0}, 0, 0, 0, NULL, 0, true}, got;
            int r = 0;
            memcpy(buf, header, hl);
            for (;; r++) { /* whole records of 5 fields, a quoted one now and then */
                char rec[64];
                int rl = snprintf(rec, sizeof(rec), r % 3 ? "%d,b,c,d,e\n" : "%d,\"b\n,\",c,d,e\n",
                                  r);
                if (w + (size_t)rl > n)
                    break;
                memcpy(buf + w, rec, (size_t)rl);
                w += (size_t)rl;
            }
            for (; w < n; w++) /* then plain bytes up to n */
                buf[w] = (w - hl) % 2 ? ',' : 'z';
            buf[n - 1] = lf ? '\n' : 'z';
            write_file(tmp_path("x.csv"), buf, n);
            reference(buf + hl, n - hl, 2, &ref);
            for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                for (int t = 0; t <= 2; t += 2) {
                    rb_error err;
                    rb_status rc = drive(tmp_path("x.csv"), t, chunks[c], NULL, &got, NULL, &err);
                    OK(rc == RB_OK, "size %zu lf %d chunk %zu threads %d: %s", n, lf, chunks[c], t,
                       rc == RB_OK ? "" : err.msg);
                    OK(got.records == ref.records && got.lines_sum == ref.lines_sum &&
                           got.digest == ref.digest,
                       "size %zu lf %d chunk %zu threads %d: the same records", n, lf, chunks[c],
                       t);
                }
            }
            rbi_buf_release(&ref.text);
            free(buf);
        }
    }
}

static void test_driver_first_failure_wins(void)
{
    static char buf[1 << 16];
    size_t n = 0;
    struct seen got;
    rb_error err;

    n += (size_t)snprintf(buf, sizeof(buf), "c1,c2,c3,c4,c5\n");
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s,b,c,d,e\n",
                              i == 1500 || i == 1900 ? "BAD" : "ok");
    write_file(tmp_path("f.csv"), buf, n);
    for (int t = 0; t <= 3; t++) {
        INT_EQ(drive(tmp_path("f.csv"), t, 64, "BAD", &got, NULL, &err), RB_INVALID);
        STR_HAS(err.msg, "f.csv:1502: failing record"); /* record 1500 is on line 1502 */
    }
}

static void test_driver_file_errors(void)
{
    struct seen got;
    rb_error err;
    const char bin[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    write_file(tmp_path("empty.csv"), "", 0);
    INT_EQ(drive(tmp_path("empty.csv"), 1, 0, NULL, &got, NULL, &err), RB_INVALID);
    STR_HAS(err.msg, "empty.csv: empty file");
    write_file(tmp_path("bom.csv"), "\xEF\xBB\xBF", 3);
    INT_EQ(drive(tmp_path("bom.csv"), 1, 0, NULL, &got, NULL, &err), RB_INVALID);
    STR_HAS(err.msg, "empty file");
    write_file(tmp_path("bin.png"), bin, sizeof(bin) - 1);
    INT_EQ(drive(tmp_path("bin.png"), 1, 0, NULL, &got, NULL, &err), RB_INVALID);
    STR_HAS(err.msg, "not a CSV text file");
    write_file(tmp_path("latin1.csv"), "caf\xe9,b\n1,2\n", 11);
    INT_EQ(drive(tmp_path("latin1.csv"), 1, 0, NULL, &got, NULL, &err), RB_INVALID);
    STR_HAS(err.msg, "not UTF-8 text");
    write_file(tmp_path("nul.csv"), "c1,c2,c3,c4,c5\n1,2,3,4,5\n1,\0,3,4,5\n", 36);
    INT_EQ(drive(tmp_path("nul.csv"), 2, 0, NULL, &got, NULL, &err), RB_SYNTAX);
    STR_HAS(err.msg, "nul.csv:3: NUL byte");
    write_file(tmp_path("open.csv"), "c1,c2,c3,c4,c5\n1,2,3,4,5\n\"1,2,3,4,5\n6,7,8,9,0\n", 46);
    INT_EQ(drive(tmp_path("open.csv"), 2, 64, NULL, &got, NULL, &err), RB_SYNTAX);
    STR_HAS(err.msg, "open.csv:3: unterminated quoted field");
    write_file(tmp_path("hdr.csv"), "c1,c2,c3,c4,c5\n", 15);
    INT_EQ(drive(tmp_path("hdr.csv"), 2, 0, NULL, &got, NULL, &err), RB_OK);
    INT_EQ(got.records, 0);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/rebill-csv-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    test_hash64_vectors();
    test_hash64_streaming();
    test_unquote();
    test_parse_record();
    test_reader_plain_and_gzip();
    test_reader_bad_gzip();
    test_scan_matches_parser();
    test_scan_errors();
    test_scan_levels();
    test_scan_sizes();
    test_cut();
    test_driver_any_split();
    test_driver_exact_sizes();
    test_driver_first_failure_wins();
    test_driver_file_errors();
    {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return harness_done();
}
