/*
 * dbpoke.c -- damage a rebill database the way a hand edit or a bug would, for tests of what
 * only a damaged database can show (an unreconciled period: docs/invoices.md, "Partner
 * reports").
 *
 *   dbpoke DB del-usage YYYY-MM SOURCE
 *
 * deletes every usage aggregate of (period, source) and keeps its import manifest, so the
 * period's imported billed cost exceeds mapped + unmapped usage by what they held.
 *
 * Provides: a test tool, compiled by tests/cli/test_gate.sh against librebill.a.
 * Uses: the internal key/value layer (engine/rb_int.h) and the usage key layout of
 * docs/storage.md: be32(period) + source + NUL + be32(n).
 * Must never: be installed or linked into rebill.
 */
#include "rb_int.h"

#include <stdio.h>
#include <string.h>

struct poke {
    int month;
    const char *source;
    size_t deleted;
};

static rb_status del_usage(rb_txn *txn, void *ctx)
{
    struct poke *p = ctx;
    unsigned char key[4 + RB_USAGE_SOURCE_MAX + 1];
    size_t n = strlen(p->source);

    rbi_be32_put(key, (uint32_t)p->month);
    memcpy(key + 4, p->source, n);
    key[4 + n] = '\0';
    return rbi_del_prefix(txn, RBI_DB_USAGE, key, 4 + n + 1, &p->deleted);
}

int main(int argc, char **argv)
{
    struct poke p;
    rb_store *s = NULL;
    rb_error err;
    rb_status rc;

    if (argc != 5 || strcmp(argv[2], "del-usage") != 0) {
        fputs("usage: dbpoke DB del-usage YYYY-MM SOURCE\n", stderr);
        return 2;
    }
    memset(&p, 0, sizeof(p));
    p.source = argv[4];
    if (strlen(p.source) > RB_USAGE_SOURCE_MAX ||
        rb_month_parse(&p.month, argv[3], &err) != RB_OK) {
        fprintf(stderr, "dbpoke: bad period \"%s\" or source \"%s\"\n", argv[3], argv[4]);
        return 2;
    }
    if (rb_store_open(&s, argv[1], 0, &err) != RB_OK) {
        fprintf(stderr, "dbpoke: %s\n", err.msg);
        return 1;
    }
    rc = rb_store_update(s, del_usage, &p);
    if (rc != RB_OK) {
        fprintf(stderr, "dbpoke: %s\n", rb_errmsg(s));
        rb_store_close(s);
        return 1;
    }
    rb_store_close(s);
    printf("deleted %zu usage aggregates of %s, source %s\n", p.deleted, argv[3], argv[4]);
    return p.deleted ? 0 : 1;
}
