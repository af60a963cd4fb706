/*
 * invoice.h -- the private interface of invoice.c (invoice documents: data, layout, rendering),
 * layout.c (stored layouts and the choice of a document's layout) and lapi_md.c (the Markdown
 * builder as a Lua object).
 *
 * Provides: the showback-only document an invoice layout sees (struct rbi_inv_doc: issuer,
 * customer, dates, lines, totals; no partner cost and no margin: the struct has no field for
 * them), rbi_inv_render(), which runs a layout in a sandbox and produces the Markdown, HTML and
 * JSON forms, and the handle lapi_md.c wraps.
 * Uses: rb_int.h, the rb_md builder, rb_render_html/rb_render_page.
 * Must never: carry a billed cost, a partner cost or a margin into a document (the privacy
 * guarantee of docs/invoices.md rests on these structs holding showback amounts only).
 */
#ifndef RB_INVOICE_H
#define RB_INVOICE_H

#include "rb_int.h"

#include <lua.h>

/* One line of a document: showback only. Strings are borrowed from the caller. */
struct rbi_inv_line {
    const char *kind;         /* "usage", "fee", "credit", "commitment", "added", "pass",
                                 "correction", "cancellation" */
    const char *service;      /* "" for invoice-level items */
    const char *account;      /* "" for invoice-level items */
    const char *account_name; /* "" when unknown */
    const char *description;  /* the service or the item's name */
    rb_dec amount;            /* rounded to the currency's minor unit */
    int corrects;             /* correction lines: the month corrected; else -1 */
};

/* One point of the six-month trend: the total invoiced for a month. */
struct rbi_inv_trend {
    int month;
    rb_dec total;
};

#define RBI_INV_TREND_MAX 6

struct rbi_inv_doc {
    const char *kind;     /* "invoice", "draft" or "credit_note" */
    const char *number;   /* "" for a draft */
    const char *refs;     /* credit note: the invoice it cancels; else "" */
    const char *reason;   /* credit note: why; else "" */
    const char *issuer_id;
    const rb_profile *issuer;
    const char *customer_id;
    const char *customer_name;
    const rb_profile *customer; /* may have empty fields */
    int month;
    int64_t issued_at;
    int64_t due_at;
    char currency[4];
    const struct rbi_inv_line *lines;
    size_t nlines;
    rb_dec subtotal;
    const char *tax_name; /* "" without tax */
    rb_dec tax_rate;
    rb_dec tax;
    rb_dec total;
    const struct rbi_inv_trend *trend; /* oldest first, the document's month last */
    size_t ntrend;
};

/* The rendered forms, each NUL-terminated and owned (free with rbi_inv_forms_release). */
struct rbi_inv_forms {
    struct rb_buf md;
    struct rb_buf html;
    struct rb_buf json;
};
RBI_FUNC void rbi_inv_forms_release(struct rbi_inv_forms *f);

/* Run the layout `src` (NULL: scripts/layouts/default.lua) over `doc` in a new sandbox under
 * `limits`, then render HTML and JSON. Errors: the layout's (RB_SYNTAX, RB_RUNTIME, the limit
 * codes, RB_BLOCKED), RB_TOOBIG, RB_NOMEM; the message in err names the layout file and line. */
RBI_FUNC rb_status rbi_inv_render(const struct rbi_inv_doc *doc, const char *name,
                                  const char *src, size_t len, const rb_limits *limits,
                                  struct rbi_inv_forms *out, rb_error *err);

/* Load a layout in a new sandbox under `limits` and check that it returns a function, without
 * running it: RB_OK, the sandbox's codes (RB_SYNTAX, limits, ...), RB_INVALID (it returns
 * something else); the message in err names the layout and, from Lua, the file:line. */
RBI_FUNC rb_status rbi_inv_layout_check(const char *name, const char *src, size_t len,
                                        const rb_limits *limits, rb_error *err);

/* The layout a document is rendered with (layout.c): the caller's options with the layout
 * filled in. Release with rbi_layout_use_release (also after a failure; a zeroed one is
 * harmless). */
struct rbi_layout_use {
    rb_invoice_opts opts;              /* opts.layout_src NULL: scripts/layouts/default.lua */
    char org[RB_ORG_ID_MAX + 1];       /* whose stored layout it is; "" otherwise */
    char name[RB_PRICE_LABEL_MAX + 1]; /* a stored layout's name */
    char *src;                         /* a stored layout's source, copied out of the map */
};
/* Choose the layout of a document of `customer` issued by `issuer`: the caller's (`given`
 * with a layout_src) > the customer's stored layout > the issuer's > the default. */
RBI_FUNC rb_status rbi_layout_resolve(rb_txn *txn, const char *customer, const char *issuer,
                                      const rb_invoice_opts *given, struct rbi_layout_use *out);
RBI_FUNC void rbi_layout_use_release(struct rbi_layout_use *u);

/* Spread the rounding of a total over lines (largest remainder): rounds each of `exact`
 * to the currency's minor unit into `out` so that the rounded lines add up to `target`
 * exactly (target must be within n minor units of the sum of the rounded lines). */
RBI_FUNC rb_status rbi_inv_round_lines(const rb_dec *exact, rb_dec *out, size_t n,
                                       const char *currency, const rb_dec *target);

/* export.c (customer exports), for its unit tests: append one RFC 4180 field (quoted when it
 * holds a comma, quote, CR or LF; with `text`, a leading = + - @ TAB or CR gets an apostrophe
 * so that spreadsheets do not run it as a formula); the FOCUS ChargeCategory of a CUR line
 * item type; the FOCUS ServiceCategory of an AWS product code ("Other" when unknown). */
RBI_FUNC rb_status rbi_export_csv_field(struct rb_buf *b, const char *s, bool text);
RBI_FUNC const char *rbi_export_category(const char *line_type);
RBI_FUNC const char *rbi_export_service_category(const char *service);

/* The builder as lapi_md.c sees it: owned by invoice.c, revoked (md = NULL) once the layout
 * returned. */
struct rbi_md_handle {
    rb_md *md;
    size_t ncols; /* columns of the open table, 0 when none */
};
/* Push an `md` object over h. [-0, +1, m] */
RBI_FUNC void rbi_lapi_md_push(lua_State *L, struct rbi_md_handle *h);

/* The draft document of a customer-month (as `invoice preview` builds it, without running a
 * layout) and the priced lines it comes from; the document borrows from the draft. */
struct rbi_inv_draft;
RBI_FUNC rb_status rbi_inv_draft(rb_txn *txn, const char *org, int month,
                                 const rb_limits *limits, int64_t now, struct rbi_inv_draft **out);
RBI_FUNC const struct rbi_inv_doc *rbi_inv_draft_doc(const struct rbi_inv_draft *d);
RBI_FUNC const rb_priced *rbi_inv_draft_priced(const struct rbi_inv_draft *d);
RBI_FUNC void rbi_inv_draft_free(struct rbi_inv_draft *d);

#endif /* RB_INVOICE_H */
