/*
 * plan.h -- pricing plans: the private interface of plan.c (the plan model, its compiler from
 * a rule file's table, plan storage), rate.c (line types, the default policy, the scope index,
 * ladders), price.c (pricing) and lapi_rebill.c (the `rebill` API of rule files).
 *
 * Provides: the compiled plan (declarative rules as C structures: scoped percent adjustments,
 * rates, tiers, custom line items, commitments, the pass-through policy, tax and currency),
 * a builder the unit tests and the compiler share, the scope index that finds the rule of a
 * line with a few hash probes, and the readers that turn the tables the `rebill.*`
 * constructors return into those structures.
 * Uses: exact decimals, the allocation seam; Lua only through sandbox.h (in plan.c's reader
 * and in price.c's hook calls).
 * Must never: evaluate a declarative rule in Lua (they are compiled to C and priced in C:
 * Lua runs only for hooks); keep a pointer into a Lua value after the protected call that
 * read it (every string is copied into the plan's pool); round anywhere but where
 * docs/rules.md says ("Exactness and rounding").
 */
#ifndef RB_PLAN_H
#define RB_PLAN_H

#include "rb_int.h"

#include <lua.h>

struct rbi_sandbox;

/* Fraction digits a priced line keeps (half-even): exact enough that no realistic bill moves a
 * cent, small enough that products of several rates never overflow 38 digits. */
#define RBI_PRICE_SCALE 12
#define RBI_WHERE_MAX 160        /* "rules/x.lua:12" */
#define RBI_SCOPE_TEXT_MAX 800   /* "SKU s / u / o": three names of up to 256 bytes */
#define RBI_ITEM_SOURCES_MAX 32  /* entries of an item's `of` / filter lists */
#define RBI_TIERS_MAX 64         /* tiers of one ladder */
#define RBI_RULES_MAX 100000     /* declarative rules of one plan */
#define RBI_ITEMS_MAX 1000       /* custom line items of one plan */
#define RBI_FX_MAX 1200          /* exchange rates of one plan (100 years of months) */
#define RBI_INVOICE_ADDS_MAX 200 /* lines one on_invoice hook may add */

/* What the pass-through policy does with a line. */
enum rbi_action {
    RBI_ACT_PRICE = 0, /* priced by the plan's rules from its base */
    RBI_ACT_PASS,      /* shown at the partner's cost, untouched by the rules */
    RBI_ACT_HIDE       /* left out of the customer's bill (the partner still pays it) */
};

/* What a priced line starts from. */
enum rbi_base {
    RBI_BASE_LIST = 0, /* public list price (pricing/publicOnDemandCost, FOCUS ListCost) */
    RBI_BASE_BILLED,   /* what the partner is billed: AWS billed cost, or in a chain the
                          price of the line under the payer's own plan */
    RBI_BASE_EFFECTIVE /* effective (amortized) cost */
};

/* Line types the policy decides on: the CUR line item types, FOCUS charge categories that are
 * not also CUR names, the pseudo type "Support" (lines of AWS support services, whatever their
 * line type) and "*" for any other. */
enum rbi_ltype {
    RBI_LT_USAGE = 0,
    RBI_LT_DISCOUNTED_USAGE,
    RBI_LT_SP_COVERED,
    RBI_LT_SP_NEGATION,
    RBI_LT_SP_UPFRONT,
    RBI_LT_SP_RECURRING,
    RBI_LT_RI_FEE,
    RBI_LT_FEE,
    RBI_LT_CREDIT,
    RBI_LT_REFUND,
    RBI_LT_TAX,
    RBI_LT_BUNDLED,
    RBI_LT_EDP,
    RBI_LT_PRIVATE_RATE,
    RBI_LT_SPP,
    RBI_LT_DISTRIBUTOR,
    RBI_LT_PURCHASE,
    RBI_LT_ADJUSTMENT,
    RBI_LT_SUPPORT,
    RBI_LT_OTHER,
    RBI_LT__COUNT
};

/* The policy name of a line type ("SavingsPlanNegation", "Support", "*"); "*" for a value
 * outside the enum. Static storage. */
RBI_FUNC const char *rbi_ltype_name(enum rbi_ltype t);
/* The line type named `s` (exactly: case and spaces count; "Support" and "*" included), or -1
 * (also for NULL and ""). */
RBI_FUNC int rbi_ltype_find(const char *s);
/* The policy class of a usage line: RBI_LT_SUPPORT for the charges of an AWS support service
 * (AWSSupportBusiness, AWSDeveloperSupport, ... and their FOCUS names "AWS Support (Business)",
 * ...; exact names) whatever their line type except Tax, Credit and Refund; otherwise its
 * line type; RBI_LT_OTHER for a type that is no CUR/FOCUS name (or is "Support" or "*"). */
RBI_FUNC enum rbi_ltype rbi_ltype_classify(const char *line_type, const char *service);
/* The default action for a line type under a base: the table of docs/rules.md "Pass-through
 * policy". A type outside the enum is RBI_LT_OTHER; a base outside the enum hides. */
RBI_FUNC enum rbi_action rbi_policy_default(enum rbi_base base, enum rbi_ltype t);

/* One step of a ladder: up to `upto` (cumulative, inclusive: a quantity equal to `upto` is in
 * this tier; `open` for the last) at `value` (a price per unit for rate tiers, a percent for
 * spend tiers). */
struct rbi_tier {
    rb_dec upto;
    bool open;
    rb_dec value;
};

enum rbi_rule_kind {
    RBI_RULE_PERCENT = 0, /* base x (1 + percent/100): markups (+) and discounts (-) */
    RBI_RULE_RATE,        /* quantity x rate */
    RBI_RULE_TIERED       /* quantity priced along a ladder */
};

/* A declarative rule and its scope: the most specific scope that matches a line wins. */
struct rbi_rule {
    enum rbi_rule_kind kind;
    const char *service;    /* NULL: any; strings live in the plan's pool */
    const char *entity;     /* billing entity scope (no usage type or service then) */
    const char *usage_type; /* SKU scope: usage type, with optional operation and service */
    const char *operation;
    rb_dec percent;         /* PERCENT */
    rb_dec factor;          /* PERCENT: 1 + percent/100 */
    rb_dec rate;            /* RATE */
    struct rbi_tier *tiers; /* TIERED */
    int ntiers;
    bool volume; /* TIERED: whole quantity at the tier the total reaches */
    int slot;    /* TIERED: index of its quantity accumulator */
    char where[RBI_WHERE_MAX];
};

enum rbi_item_kind {
    RBI_ITEM_FEE = 0, /* a charge */
    RBI_ITEM_CREDIT,  /* a credit: the computed amount with its sign turned */
    RBI_ITEM_COMMIT   /* a minimum commitment: the shortfall below `amount` */
};

enum rbi_amount_kind {
    RBI_AMT_FLAT = 0, /* `amount` */
    RBI_AMT_PERCENT,  /* `percent` of the sources */
    RBI_AMT_TIERED    /* a ladder of percents over the sources */
};

/* A custom line item (fee, credit, commitment). */
struct rbi_item {
    enum rbi_item_kind kind;
    char name[RB_PRICE_LABEL_MAX + 1];
    enum rbi_amount_kind amt;
    rb_dec amount;          /* FLAT; COMMIT: the commitment */
    rb_dec percent;         /* PERCENT */
    struct rbi_tier *tiers; /* TIERED */
    int ntiers;
    bool volume;
    bool has_min, has_max;
    rb_dec minimum, maximum; /* bounds of the computed amount (before a credit's sign) */
    /* sources (for PERCENT, TIERED and COMMIT) */
    bool of_usage;     /* usage lines (priced and passed) count */
    bool of_all_items; /* every earlier item counts */
    int *of_items;     /* indices of earlier items that count */
    int nof_items;
    const char **services; /* filters on usage lines (none: every line) */
    int nservices;
    const char **line_types;
    int nline_types;
    const char **entities;
    int nentities;
    bool itemized; /* PERCENT of usage: one line per service */
    int from, to;  /* months in force, inclusive (RB_MONTH_OPEN: no end) */
    int every;     /* every n-th month from `from` (1: each month) */
    char where[RBI_WHERE_MAX];
};

struct rbi_fx {
    int month;
    rb_dec rate; /* invoice-currency units per usage-currency unit */
};

/* The scope index (rate.c): open addressing with linear probing over a hash of (scope kind,
 * the scope's strings); a hit is confirmed by comparing the rule's strings. */
struct rbi_scope_slot {
    uint64_t h;   /* the scope's hash */
    int32_t rule; /* index in `rules`; -1: empty */
};

struct rbi_plan {
    char name[RB_PRICE_LABEL_MAX + 1];
    char file[RBI_WHERE_MAX]; /* the rule file's name ("(default)" for the built-in plan) */
    enum rbi_base base;
    bool free_tier;
    rb_rounding rounding;                /* of the invoice's subtotal and tax */
    unsigned char action[RBI_LT__COUNT]; /* enum rbi_action by line type */
    struct rbi_rule *rules;
    int nrules, caprules;
    int global; /* index of the global rule, -1: none */
    int nslots; /* tier accumulators */
    struct rbi_item *items;
    int nitems, capitems;
    bool has_tax;
    char tax_name[RB_PRICE_LABEL_MAX + 1];
    rb_dec tax_rate; /* percent */
    bool has_fx;
    char fx_code[4];
    struct rbi_fx *fx;
    int nfx, capfx;
    char fx_where[RBI_WHERE_MAX];
    /* hooks: references in the sandbox's registry, LUA_NOREF when absent */
    int on_line;
    int on_invoice;
    char on_line_where[RBI_WHERE_MAX];
    char on_invoice_where[RBI_WHERE_MAX];
    /* the scope index (rbi_plan_finish; every rule but the global one) */
    struct rbi_scope_slot *index; /* a power of two of slots, at most half used; NULL: none */
    size_t index_mask;            /* slots - 1 */
    unsigned scope_kinds;         /* bit per scope kind present (rate.c's enum scope_kind) */
    bool finished;                /* index built: no more rules or items */
    struct rbi_pool pool; /* its strings, tiers and item lists */
};

/* {===================================================================================
 * Building a plan (plan.c): the unit tests call these directly, the compiler through the
 * readers below. Every function returns RB_OK, RB_INVALID (message in err, naming `where`),
 * RB_NOMEM.
 * =================================================================================== */

/* A plan with the defaults of a base: no rules, the default policy, free tier on, half-even. */
RBI_FUNC rb_status rbi_plan_new(struct rbi_plan **out, enum rbi_base base, const char *name);
RBI_FUNC void rbi_plan_free(struct rbi_plan *p);
/* Copy a string into the plan's pool (NULL stays NULL). */
RBI_FUNC const char *rbi_plan_str(struct rbi_plan *p, const char *s);
/* Change the base; actions not set explicitly follow the new base's defaults. */
RBI_FUNC void rbi_plan_set_base(struct rbi_plan *p, enum rbi_base base);
/* Add a rule (copied; its strings and tiers are copied into the plan). */
RBI_FUNC rb_status rbi_plan_add_rule(struct rbi_plan *p, const struct rbi_rule *r, rb_error *err);
/* Add an item (copied, with its arrays). Its `of_items` must name earlier items. */
RBI_FUNC rb_status rbi_plan_add_item(struct rbi_plan *p, const struct rbi_item *it, rb_error *err);
/* The index of the item named `name`, or -1. */
RBI_FUNC int rbi_plan_item_find(const struct rbi_plan *p, const char *name);
RBI_FUNC rb_status rbi_plan_add_fx(struct rbi_plan *p, int month, const rb_dec *rate,
                                   rb_error *err);
/* Check the plan as a whole and build the scope index. A second global rule, or a second
 * rule with the scope of an earlier one (whatever the kinds of rule), is RB_INVALID:
 * "WHERE2: a second rule for SCOPE (the first is at WHERE1)", "WHERE2: a second global rule
 * (the first is at WHERE1)". RB_NOMEM leaves the plan unfinished. Sets `global`. Idempotent:
 * a finished plan returns RB_OK at once. */
RBI_FUNC rb_status rbi_plan_finish(struct rbi_plan *p, rb_error *err);
/* The rule for a line (index, or -1 for none). The plan must be finished. The most specific
 * scope that matches wins (docs/rules.md "Rules and scopes"): SKU usage type + operation +
 * service, then usage type + operation, usage type + service, usage type; then service, then
 * billing entity, then global. Values compare exactly; NULL is "" (which no rule names).
 * A few hash probes per scope kind present, whatever the number of rules; no allocation. */
RBI_FUNC int rbi_plan_match(const struct rbi_plan *p, const char *service, const char *entity,
                            const char *usage_type, const char *operation);
/* The scope as shown to hooks and in `rebill price`: "SKU AmazonEC2 / BoxUsage:m5.large /
 * RunInstances" (service / usage type / operation, each only when set), "service AmazonEC2",
 * "billing entity AWS Marketplace", "global". Cut to fit `size` (NUL-terminated; nothing
 * written when size is 0). */
RBI_FUNC void rbi_rule_scope_text(const struct rbi_rule *r, char *buf, size_t size);
/* Whether an item is in force in `month`: from <= month <= to (RB_MONTH_OPEN: no end), and
 * month is `from` plus a multiple of `every` (below 1 counts as 1). */
RBI_FUNC bool rbi_item_in_force(const struct rbi_item *it, int month);
/* The exchange rate for `month`: 1 when the plan does not convert; the stored rate of that
 * month; false (and *rate untouched) when the plan converts and has none. */
RBI_FUNC bool rbi_plan_fx_rate(const struct rbi_plan *p, int month, rb_dec *rate);

/* Amount of a ladder for *qty. Graduated: each part of the quantity at its own tier's value;
 * volume: the whole quantity at the value of the first tier whose `upto` it does not exceed
 * (a quantity equal to an `upto` is in that tier). Zero costs zero; a quantity below zero is
 * priced at the first tier's value (so graduated amounts stay additive: f(a + b) - f(a) is
 * the price of b after a). `percent`: the values are percents of the quantity (money).
 * Exact: no rounding but the exact /100 of percents. Returns RB_OK, RB_OVERFLOW (the exact
 * amount does not fit; *out untouched), RB_MISUSE (no tiers or NULL). No allocation. The
 * ladder must be as plan.c checks it (ascending `upto`, only the last open). */
RBI_FUNC rb_status rbi_tiers_apply(const struct rbi_tier *t, int n, bool volume, bool percent,
                                   const rb_dec *qty, rb_dec *out);

/* {===================================================================================
 * Reading plans from Lua (plan.c). They run inside a protected call of the sandbox and never
 * raise except for Lua out-of-memory (memory they allocate is reachable from the plan, so
 * nothing leaks when that happens).
 * =================================================================================== */

/* Kinds of tables the `rebill.*` constructors return (their field `kind`). */
RBI_FUNC rb_status rbi_plan_read_item(lua_State *L, int idx, struct rbi_plan *p, const char *where,
                                      rb_error *err);
/* The value at idx as a decimal without raising or running rule code: money, an integer, a
 * float (its shortest round-trip decimal, as lapi_dec.c converts) or decimal text. */
RBI_FUNC bool rbi_lua_to_dec(lua_State *L, int idx, rb_dec *out);
/* Read the plan table at idx (what rebill.plan{} returned) into p, adding its hooks to the
 * registry. `where` is the plan's position for messages. */
RBI_FUNC rb_status rbi_plan_read(lua_State *L, int idx, struct rbi_plan *p, rb_error *err);
/* Check one constructor's argument table at idx against the fields its kind allows:
 * unknown keys, types and values; *err names the key. Used by lapi_rebill.c when the
 * constructor runs (with the caller's file:line) so mistakes show where they are made. */
RBI_FUNC rb_status rbi_plan_check_table(lua_State *L, int idx, const char *kind, const char *where,
                                        rb_error *err);

/* {===================================================================================
 * The `rebill` API of rule files (lapi_rebill.c)
 * =================================================================================== */

/* Add the plan constructors (rebill.plan, rebill.markup, ...) to the API table on top of the
 * stack. [-0, +0, m] */
RBI_FUNC void rbi_lapi_rebill_open(lua_State *L);
/* The metatable name of the line object hooks receive, and of the invoice object. */
#define RBI_LINE_MT "rebill.line"
#define RBI_INVOICE_MT "rebill.invoice"

/* The line a hook is looking at (price.c fills it; lapi_rebill.c reads it). */
struct rbi_hook_line {
    const rb_price_input *in;
    rb_dec cost;
    rb_dec base;
    rb_dec price;
    const char *action; /* "price" */
    const struct rbi_rule *rule;
    bool live; /* false outside the hook call: a stashed line object raises */
};
/* Push a new line object that reads `hl` (price.c pushes one per run and reuses it for every
 * line, filling `hl` before each call). [-0, +1, m] */
RBI_FUNC void rbi_lapi_line_push(lua_State *L, struct rbi_hook_line *hl);

/* The invoice an on_invoice hook sees and edits: price.c implements these for lapi_rebill.c.
 * Every call needs rbi_invoice_live() (false once the hook returned). Amounts are in the usage
 * currency, before conversion and tax. */
struct rbi_invoice_view;
RBI_FUNC void rbi_lapi_invoice_push(lua_State *L, struct rbi_invoice_view *iv);
RBI_FUNC bool rbi_invoice_live(const struct rbi_invoice_view *iv);
RBI_FUNC const char *rbi_invoice_customer(const struct rbi_invoice_view *iv);
RBI_FUNC int rbi_invoice_month(const struct rbi_invoice_view *iv);
RBI_FUNC const char *rbi_invoice_currency(const struct rbi_invoice_view *iv);
RBI_FUNC rb_status rbi_invoice_subtotal(const struct rbi_invoice_view *iv, rb_dec *out);
RBI_FUNC rb_status rbi_invoice_cost(const struct rbi_invoice_view *iv, rb_dec *out);
/* Sums per service of usage and passed lines; -1 on overflow. Arrays valid during the hook. */
RBI_FUNC int rbi_invoice_services(const struct rbi_invoice_view *iv, const char *const **names,
                                  const rb_dec **sums);
RBI_FUNC int rbi_invoice_nitems(const struct rbi_invoice_view *iv);
RBI_FUNC const char *rbi_invoice_item(const struct rbi_invoice_view *iv, int k, rb_dec *amount,
                                      bool *in_force);
RBI_FUNC rb_status rbi_invoice_add(struct rbi_invoice_view *iv, const char *name,
                                   const char *service, const rb_dec *amount, char *msg,
                                   size_t msgsize);
RBI_FUNC rb_status rbi_invoice_set_item(struct rbi_invoice_view *iv, const char *name,
                                        const rb_dec *amount, char *msg, size_t msgsize);

/* {===================================================================================
 * price.c internals shared with plan storage and the tests
 * =================================================================================== */

/* Wrap a plan built in C into an rb_plan (no sandbox, no hooks); takes over `p`, even on
 * failure. */
RBI_FUNC rb_status rbi_plan_wrap(struct rbi_plan *p, rb_plan **out);
/* The model of a compiled plan. */
RBI_FUNC struct rbi_plan *rbi_plan_model(rb_plan *pl);
/* Hand memory the result's lines borrow from to the result: freed with it. */
RBI_FUNC void rbi_priced_own(rb_priced *p, void *owned, void (*owned_free)(void *));

/* Store a source (a rule file, a layout) in "rules" under its content hash h, once; a stored
 * source with the same hash and other bytes is RB_CORRUPT. */
RBI_FUNC rb_status rbi_rules_put(rb_txn *txn, const char *name, const char *src, size_t len,
                                 int64_t now, uint64_t h);

#endif /* RB_PLAN_H */
