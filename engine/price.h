/*
 * price.h -- pricing's private interface between its modules: the compiled plan handle
 * (rules.c compiles it, price.c runs it) and the priced result (price.c fills it, priced.c
 * reads it out, bill.c and rules.c hand it on).
 *
 * Provides: struct rb_plan, struct rb_priced and its lines, the string table.
 * Uses: plan.h (the plan model).
 * Must never: be included outside the pricing modules (price.c, priced.c, rules.c, bill.c);
 * put a partner-only amount (billed cost, cost, margin) in the customer's part of a line.
 */
#ifndef RB_PRICE_H
#define RB_PRICE_H

#include "plan.h"

/* The invoice view an on_invoice hook edits. */
struct run;
struct rbi_invoice_view {
    struct run *r;
    bool live;
};

struct rb_plan {
    struct rbi_plan *p;
    struct rbi_sandbox *sb; /* NULL for the built-in default plan */
    int rule;               /* the rule file's handle in sb */
    /* What the hook objects point to: they live as long as the sandbox, so an object a rule
     * kept finds `live` false instead of a dangling pointer. */
    struct rbi_hook_line hl;
    struct rbi_invoice_view iv;
};

/* A priced line: the customer's part and the partner's part, kept apart. */
struct pline {
    rb_price_line cust;
    rb_price_cost partner;
    int item; /* index of the plan item, -1 for usage lines and added lines */
};

struct rb_priced {
    struct pline *lines;
    size_t n, cap;
    struct pline *hidden; /* partner-only: the lines the pass-through policy hid (price 0) */
    size_t nhidden;
    rb_price_totals totals;
    rb_price_margin margin;
    rb_dec *input_price; /* per input line */
    size_t ninput;
    const char **rule_text; /* per plan rule: its text in this result's pool, or NULL */
    int nrules;
    struct rbi_pool pool; /* rule texts, item labels, added names */
    struct rb_buf log;
    /* owned inputs (rb_price_org): freed with the result */
    void *owned;
    void (*owned_free)(void *);
};

/* Interned strings (bill.c): equal strings are one pointer, so a run's lines share them and
 * the scope memo of price.c answers each scope once. Zero-initialized is empty. */
struct rbi_strtab {
    const char **slot;
    uint64_t *hash;
    size_t mask, n;
    struct rbi_pool pool;
};

/* The interned copy of p[0..n), or NULL on out of memory. */
RBI_FUNC const char *rbi_strtab_intern(struct rbi_strtab *t, const char *p, size_t n);
RBI_FUNC void rbi_strtab_release(struct rbi_strtab *t);

#endif
