/**
 * rebill.h -- the public interface of rebill, a billing engine for cloud channel partners.
 *
 * rebill models organizations, their accounts and the billing transfers between
 * organizations (an AWS "Billing Transfer": the partner pays the customer's bill), stores
 * them in LMDB, ingests cost and usage exports, and prices them with Lua rules.
 *
 * This is the only public header. Everything not declared here is private.
 *
 * # Caveats
 *
 * - A store handle and every transaction made from it belong to one thread. Do not use a
 *   handle, or any pointer it lent you, in another thread or after fork() [as LMDB].
 * - Functions that change data take an `rb_txn` from rb_store_update(). A failed write marks
 *   the transaction failed: every later call on it returns RB_MISUSE, and the update rolls
 *   back as a whole. Nothing is ever half-written.
 * - Time is never read from the clock by the library: every function that needs "now" takes
 *   it as a parameter (Unix seconds, UTC). The CLI supplies it from `--now`, `REBILL_NOW` or
 *   the real clock.
 * - Money is exact decimal (rb_dec), never binary floating point.
 * - Strings are NUL-terminated UTF-8. Fixed-size fields in public structs are always
 *   NUL-terminated; functions that fill them refuse values that do not fit (RB_INVALID).
 *
 * Error details: a function given a store or transaction leaves its message on the store,
 * readable with rb_errmsg(); a function without a handle takes an `rb_error *` (may be NULL).
 */
#ifndef REBILL_H
#define REBILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RB_API __attribute__((visibility("default")))
#else
#define RB_API
#endif

#define RB_VERSION_STRING "0.1.0"

/** # Status codes */

/** Every function that can fail returns one of these. RB_OK is 0. */
typedef int rb_status;

#define RB_OK 0           /**< success */
#define RB_ERROR 1        /**< generic failure */
#define RB_NOMEM 2        /**< out of memory */
#define RB_NOTFOUND 3     /**< no such record: an ordinary outcome, not a fault */
#define RB_EXISTS 4       /**< a record with this key already exists */
#define RB_INVALID 5      /**< bad input or a refused operation (the message says which) */
#define RB_MISUSE 6       /**< API misuse: failed or finished transaction, NULL handle */
#define RB_FULL 7         /**< the LMDB map is full (handled inside rb_store_update) */
#define RB_BUSY 8         /**< resource busy */
#define RB_READONLY 9     /**< write attempted on a read-only store or transaction */
#define RB_CORRUPT 10     /**< the database is damaged */
#define RB_IO 11          /**< operating system I/O error */
#define RB_TOOBIG 12      /**< input over a configured size cap */
#define RB_SYNTAX 13      /**< rule or input does not parse */
#define RB_RUNTIME 14     /**< a rule raised an error */
#define RB_LIMIT_MEM 15   /**< a rule hit its memory limit */
#define RB_LIMIT_STEPS 16 /**< a rule hit its instruction limit */
#define RB_TIMEOUT 17     /**< a rule hit its wall-time limit */
#define RB_BLOCKED 18     /**< a rule called a function the sandbox forbids */
#define RB_OVERFLOW 19    /**< a decimal result does not fit rb_dec */
#define RB_VERSION 20     /**< database written by a newer rebill (schema too new) */

/** Text for any status code; never NULL, never to be freed. */
RB_API const char *rb_strerror(rb_status rc);

/** Error detail for functions that have no handle. */
typedef struct rb_error {
    rb_status code; /**< the status returned */
    char msg[512];  /**< "what failed: detail", lower-case first word, no full stop */
} rb_error;

/** # Exact decimals (money and quantities)
 *
 * An rb_dec is coef x 10^-scale, with a signed coefficient of at most 38 decimal digits
 * (|coef| < 10^38) and 0 <= scale <= 38. Every operation is exact or says it is not:
 * a result that needs more than 38 significant digits is RB_OVERFLOW, never wrapped or
 * silently rounded. Rounding happens only where a function takes an rb_rounding.
 *
 * Text syntax accepted by rb_dec_parse(): optional sign, digits with an optional '.',
 * optional exponent: `12.3456789012`, `-0.5`, `.5`, `5.`, `1e-3`, `9.984E-7`. The exponent
 * form is accepted because AWS CUR files contain it. No spaces, no thousands separators,
 * no `inf`/`nan`, no hex. The scale of the result is the number of fraction digits the text
 * implies (`1.50` has scale 2; `1e-3` has scale 3; `15e1` is 150 with scale 0).
 *
 * The struct is a value type: copy it freely. Treat its fields as private.
 * On failure, a function leaves its result argument as it was. NULL arguments give
 * RB_MISUSE. rb_dec_round and rb_dec_div return RB_INVALID for a scale outside 0..38 or an
 * unknown rounding mode.
 */
typedef struct rb_dec {
    uint64_t lo;  /**< coefficient, low 64 bits of a two's complement 128-bit integer */
    int64_t hi;   /**< coefficient, high 64 bits */
    int32_t scale; /**< digits after the decimal point, 0..RB_DEC_MAX_SCALE */
    int32_t pad_;  /**< zero */
} rb_dec;

#define RB_DEC_MAX_DIGITS 38
#define RB_DEC_MAX_SCALE 38
/** A buffer of this size holds any formatted rb_dec with its NUL. */
#define RB_DEC_BUFSZ 48

/** Rounding modes. Half-even is the default for money. */
typedef enum rb_rounding {
    RB_ROUND_HALF_EVEN = 0, /**< ties to the even neighbour (banker's rounding) */
    RB_ROUND_HALF_UP,       /**< ties away from zero (commercial rounding) */
    RB_ROUND_DOWN,          /**< toward zero (truncate) */
    RB_ROUND_UP,            /**< away from zero */
    RB_ROUND_FLOOR,         /**< toward minus infinity */
    RB_ROUND_CEILING        /**< toward plus infinity */
} rb_rounding;

/**
 * Parse decimal text.
 *
 * @param[out] out  set on RB_OK
 * @param[in]  s    text, need not be NUL-terminated
 * @param[in]  len  bytes of `s`
 * @param[out] err  may be NULL; on failure its message quotes the offending text
 * @return RB_OK, RB_SYNTAX (not a number), RB_OVERFLOW (more than 38 significant digits
 *         or scale out of range after applying the exponent).
 * @since 0.1
 */
RB_API rb_status rb_dec_parse(rb_dec *out, const char *s, size_t len, rb_error *err);

/** Make a decimal from an integer (scale 0). @since 0.1 */
RB_API rb_dec rb_dec_from_int(int64_t v);

/** Zero with scale 0. @since 0.1 */
RB_API rb_dec rb_dec_zero(void);

/**
 * Format as plain text, keeping the scale: `1.50`, `-0.000000014584511481`, `150`.
 * Never uses exponent notation. Returns the length written (without the NUL).
 * `size` should be RB_DEC_BUFSZ; output is truncated (still NUL-terminated) if smaller.
 * @since 0.1
 */
RB_API size_t rb_dec_format(const rb_dec *d, char *buf, size_t size);

/** r = a + b, exact. RB_OVERFLOW if the exact result needs more than 38 digits. @since 0.1 */
RB_API rb_status rb_dec_add(rb_dec *r, const rb_dec *a, const rb_dec *b);
/** r = a - b, exact. @since 0.1 */
RB_API rb_status rb_dec_sub(rb_dec *r, const rb_dec *a, const rb_dec *b);
/**
 * r = a * b, exact. The result's scale is a.scale + b.scale, reduced by dropping trailing
 * zeros if needed to fit; RB_OVERFLOW if the exact product does not fit. @since 0.1
 */
RB_API rb_status rb_dec_mul(rb_dec *r, const rb_dec *a, const rb_dec *b);
/** r = a * n, exact. @since 0.1 */
RB_API rb_status rb_dec_mul_int(rb_dec *r, const rb_dec *a, int64_t n);
/**
 * r = a / b rounded to `scale` fraction digits with `mode`.
 * @return RB_OK, RB_INVALID (b is zero, or scale out of 0..38), RB_OVERFLOW.
 * @since 0.1
 */
RB_API rb_status rb_dec_div(rb_dec *r, const rb_dec *a, const rb_dec *b, int scale,
                            rb_rounding mode);
/**
 * r = a rounded to `scale` fraction digits with `mode`. A larger scale than a's pads with
 * zeros (exact; RB_OVERFLOW if that does not fit). @since 0.1
 */
RB_API rb_status rb_dec_round(rb_dec *r, const rb_dec *a, int scale, rb_rounding mode);
/** r = -a. @since 0.1 */
RB_API rb_dec rb_dec_neg(const rb_dec *a);
/** -1, 0 or 1 as a <, ==, > b, by value (1.50 == 1.5). @since 0.1 */
RB_API int rb_dec_cmp(const rb_dec *a, const rb_dec *b);
/** -1, 0 or 1: the sign of a. @since 0.1 */
RB_API int rb_dec_sign(const rb_dec *a);
/** Same value with trailing fraction zeros removed (1.500 -> 1.5, 2.00 -> 2). @since 0.1 */
RB_API rb_dec rb_dec_normalize(const rb_dec *a);

/**
 * Minor unit digits of an ISO 4217 currency: USD 2, JPY 0, KWD 3. Unknown codes give 2.
 * @since 0.1
 */
RB_API int rb_currency_digits(const char *code);
/** r = a rounded to the currency's minor unit with `mode`. @since 0.1 */
RB_API rb_status rb_dec_round_currency(rb_dec *r, const rb_dec *a, const char *currency,
                                       rb_rounding mode);

/** # Time and months
 *
 * Times are Unix seconds (UTC) in an int64_t. Months are counted as year*12 + (month-1), so
 * 2026-11 is 2026*12+10 and month arithmetic is integer arithmetic.
 */

/** A time or month that is open-ended ("until further notice"). */
#define RB_TIME_OPEN INT64_MAX
#define RB_MONTH_OPEN INT32_MAX

/**
 * Parse `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]Z` (also with a space instead of `T`, and
 * `+00:00` instead of `Z`), or `@SECONDS`. Only UTC is accepted.
 * @return RB_OK or RB_SYNTAX with a message quoting the text in `err`.
 * @since 0.1
 */
RB_API rb_status rb_time_parse(int64_t *out, const char *s, rb_error *err);
/** Format as `YYYY-MM-DDTHH:MM:SSZ` into buf (at least 21 bytes). @since 0.1 */
RB_API void rb_time_format(int64_t t, char *buf, size_t size);
/** Parse `YYYY-MM`. @return RB_OK or RB_SYNTAX. @since 0.1 */
RB_API rb_status rb_month_parse(int *out, const char *s, rb_error *err);
/** Format as `YYYY-MM` into buf (at least 8 bytes); RB_MONTH_OPEN gives `open`. @since 0.1 */
RB_API void rb_month_format(int month, char *buf, size_t size);
/** The month a time falls in. @since 0.1 */
RB_API int rb_month_of(int64_t t);
/** 00:00:00 UTC on the 1st of `month`. @since 0.1 */
RB_API int64_t rb_month_start(int month);

/** # Store
 *
 * One LMDB environment per database file (`MDB_NOSUBDIR`: the data is in PATH, the lock in
 * PATH-lock). The map grows by itself. See docs/storage.md for the layout.
 */

typedef struct rb_store rb_store;
typedef struct rb_txn rb_txn;

/** rb_store_open() flags */
#define RB_OPEN_CREATE 0x1   /**< create the database if it does not exist */
#define RB_OPEN_RDONLY 0x2   /**< open read-only */

/** The schema version this build writes. */
#define RB_SCHEMA_VERSION 1

/**
 * Open (and with RB_OPEN_CREATE, create) a database.
 *
 * @param[out] out   the handle, set on RB_OK; NULL otherwise
 * @param[in]  path  database file
 * @param[in]  flags RB_OPEN_*
 * @param[out] err   may be NULL
 * @return RB_OK, RB_NOTFOUND (no database and no RB_OPEN_CREATE), RB_VERSION (written by a
 *         newer rebill), RB_CORRUPT, RB_IO, RB_NOMEM.
 *
 * Ownership: close the handle with rb_store_close().
 * @since 0.1
 */
RB_API rb_status rb_store_open(rb_store **out, const char *path, unsigned flags, rb_error *err);
/** Close a store. rb_store_close(NULL) is a harmless no-op. @since 0.1 */
RB_API void rb_store_close(rb_store *s);
/**
 * The message of the last failure on this store (or on a transaction made from it).
 * Valid until the next call on the store. Never NULL. @since 0.1
 */
RB_API const char *rb_errmsg(const rb_store *s);
/** The store a transaction belongs to. @since 0.1 */
RB_API rb_store *rb_txn_store(rb_txn *txn);

/** The work done inside one transaction. Return RB_OK to commit; anything else aborts. */
typedef rb_status (*rb_txn_fn)(rb_txn *txn, void *ctx);

/**
 * Run `fn` in one write transaction and commit it: all or nothing.
 *
 * If the map is full, the transaction is aborted, the map doubled and `fn` run again from
 * the start, so `fn` must not keep effects outside the transaction (or must reset them).
 * @return what `fn` returned, or the commit's status.
 * @since 0.1
 */
RB_API rb_status rb_store_update(rb_store *s, rb_txn_fn fn, void *ctx);
/** Run `fn` in one read-only transaction. @since 0.1 */
RB_API rb_status rb_store_view(rb_store *s, rb_txn_fn fn, void *ctx);
/** True for a read-only transaction. @since 0.1 */
RB_API bool rb_txn_is_readonly(const rb_txn *txn);

/**
 * Write every record of every sub-database as text, in key order, one per line, through
 * `out` (a logical dump for tests and support). @since 0.1
 */
RB_API rb_status rb_store_dump(rb_txn *txn, void (*out)(const char *line, size_t len, void *ctx),
                               void *ctx);

/** Integer settings kept in the database (e.g. "max_chain_depth"). @since 0.1 */
RB_API rb_status rb_config_get_int(rb_txn *txn, const char *key, int64_t dflt, int64_t *out);
RB_API rb_status rb_config_set_int(rb_txn *txn, const char *key, int64_t value);

/** # Organizations and accounts
 *
 * Every function here may also return RB_CORRUPT (a damaged record, named in the message)
 * and RB_NOMEM, and RB_MISUSE on a failed transaction.
 */

#define RB_ORG_ID_MAX 34     /**< "o-" + up to 32 characters */
#define RB_ACCOUNT_ID_LEN 12 /**< AWS account ids are exactly 12 digits */
#define RB_NAME_MAX 255      /**< org and account names, bytes */

typedef struct rb_org {
    char id[RB_ORG_ID_MAX + 1];                 /**< `o-` + 10..32 of [a-z0-9] */
    char name[RB_NAME_MAX + 1];                 /**< 1..255 bytes of UTF-8, no control chars */
    char management_account[RB_ACCOUNT_ID_LEN + 1]; /**< 12 digits */
    int64_t created;                            /**< when it was created */
} rb_org;

typedef struct rb_account {
    char id[RB_ACCOUNT_ID_LEN + 1]; /**< 12 digits */
    char name[RB_NAME_MAX + 1];     /**< 1..255 bytes */
} rb_account;

/** One membership: the account belonged to `org` during [since, until). */
typedef struct rb_membership {
    char account[RB_ACCOUNT_ID_LEN + 1];
    char org[RB_ORG_ID_MAX + 1];
    int64_t since; /**< inclusive */
    int64_t until; /**< exclusive; RB_TIME_OPEN while current */
} rb_membership;

typedef rb_status (*rb_org_cb)(const rb_org *org, void *ctx);
typedef rb_status (*rb_account_cb)(const rb_account *acct, const rb_membership *current,
                                   void *ctx);
typedef rb_status (*rb_membership_cb)(const rb_membership *m, void *ctx);

/** True if `id` is a well-formed organization id. @since 0.1 */
RB_API bool rb_org_id_is_valid(const char *id);
/** True if `id` is a well-formed 12-digit account id. @since 0.1 */
RB_API bool rb_account_id_is_valid(const char *id);

/**
 * Create an organization. Fields are validated; `created` is taken from org->created.
 * @return RB_OK, RB_INVALID (field named in the message), RB_EXISTS.
 * @since 0.1
 */
RB_API rb_status rb_org_create(rb_txn *txn, const rb_org *org);
/** Look up an organization. @return RB_OK or RB_NOTFOUND. @since 0.1 */
RB_API rb_status rb_org_get(rb_txn *txn, const char *id, rb_org *out);
/** Call `cb` for every organization in id order; stops early if cb returns non-RB_OK. */
RB_API rb_status rb_org_list(rb_txn *txn, rb_org_cb cb, void *ctx);
/** The same for the organizations whose id sorts after `after` (NULL or "": every one), so a
 * long walk can go on where it stopped without reading what it saw. @since 0.1 */
RB_API rb_status rb_org_list_after(rb_txn *txn, const char *after, rb_org_cb cb, void *ctx);

/**
 * Add a new account to `org` from time `since`.
 * @return RB_OK, RB_INVALID, RB_EXISTS (the account is already known: use rb_account_move),
 *         RB_NOTFOUND (no such org).
 * @since 0.1
 */
RB_API rb_status rb_account_add(rb_txn *txn, const char *account, const char *name,
                                const char *org, int64_t since);
/**
 * Move an account to `org` at time `at`: closes the current membership at `at` and opens one
 * in `org` from `at`. `at` must be after the current membership's start.
 * @return RB_OK, RB_INVALID (same org, or `at` not after the current start), RB_NOTFOUND.
 * @since 0.1
 */
RB_API rb_status rb_account_move(rb_txn *txn, const char *account, const char *org, int64_t at);
/** Look up an account. @since 0.1 */
RB_API rb_status rb_account_get(rb_txn *txn, const char *account, rb_account *out);
/**
 * Every account (org == NULL) or those that belong to `org` at time `at`, in id order; `cb`
 * gets the membership in force at `at` (NULL if none). @since 0.1
 */
RB_API rb_status rb_account_list(rb_txn *txn, const char *org, int64_t at, rb_account_cb cb,
                                 void *ctx);
/** The membership history of an account, oldest first. @since 0.1 */
RB_API rb_status rb_account_history(rb_txn *txn, const char *account, rb_membership_cb cb,
                                    void *ctx);
/**
 * Which organization `account` belonged to at time `t`.
 * @param[out] org  at least RB_ORG_ID_MAX+1 bytes
 * @return RB_OK, RB_NOTFOUND (unknown account, or no membership at t).
 * @since 0.1
 */
RB_API rb_status rb_account_org_at(rb_txn *txn, const char *account, int64_t t, char *org);

/** # Billing transfers
 *
 * See docs/transfers.md for the state machine. Effective status is computed from the stored
 * state and `now`: a REQUESTED transfer whose expiry has passed reads as EXPIRED.
 */

typedef enum rb_transfer_status {
    RB_TRANSFER_REQUESTED = 0,
    RB_TRANSFER_ACCEPTED,
    RB_TRANSFER_DECLINED,
    RB_TRANSFER_CANCELED,
    RB_TRANSFER_EXPIRED,
    RB_TRANSFER_WITHDRAWN
} rb_transfer_status;

#define RB_TRANSFER_ID_MAX 35   /**< "rt-" + up to 32 characters */
#define RB_TRANSFER_NAME_MAX 128
#define RB_TRANSFER_NOTES_MAX 1024
#define RB_TRANSFER_EXPIRY_DAYS 15
#define RB_MAX_CHAIN_DEPTH_DEFAULT 2

typedef struct rb_transfer {
    char id[RB_TRANSFER_ID_MAX + 1];       /**< `rt-` + 8..32 of [a-z0-9] */
    char name[RB_TRANSFER_NAME_MAX + 1];   /**< 1..128 printable ASCII */
    char notes[RB_TRANSFER_NOTES_MAX + 1]; /**< 0..1024 bytes */
    char source[RB_ORG_ID_MAX + 1];        /**< bill-source org: the customer */
    char payer[RB_ORG_ID_MAX + 1];         /**< bill-transfer org: the partner, who pays */
    int start_month;                       /**< first month in force */
    int end_month;                         /**< last month in force, RB_MONTH_OPEN if none */
    rb_transfer_status status;             /**< effective status at the `now` of the call */
    int64_t invited_at;                    /**< when the invitation was made */
    int64_t expires_at;                    /**< end of the invitation's validity */
    int64_t updated_at;                    /**< time of the last transition */
} rb_transfer;

/** One entry of a transfer's history. */
typedef struct rb_transfer_event {
    int64_t at;                      /**< when */
    char actor[RB_ORG_ID_MAX + 1];   /**< org that acted, or "system" */
    char action[16];                 /**< invite, accept, decline, cancel, expire, withdraw,
                                          rename */
    rb_transfer_status from, to;     /**< status before and after */
    char detail[RB_TRANSFER_NAME_MAX + 64]; /**< e.g. "end 2027-03", "name 'old' -> 'new'" */
} rb_transfer_event;

typedef rb_status (*rb_transfer_cb)(const rb_transfer *t, void *ctx);
typedef rb_status (*rb_transfer_event_cb)(const rb_transfer_event *e, void *ctx);

/** Name of a status, upper case ("ACCEPTED"). @since 0.1 */
RB_API const char *rb_transfer_status_name(rb_transfer_status st);

/**
 * Invite: `t->payer` proposes to pay `t->source`'s bill from `t->start_month`.
 * Reads name, notes, source, payer, start_month and, if non-empty, id from `t`; fills the
 * rest (id when empty, status, invited_at, expires_at). The invitation expires after
 * RB_TRANSFER_EXPIRY_DAYS or at the acceptance cutoff (23:59:59 UTC two days before the
 * 1st of the start month), whichever comes first.
 * @return RB_OK, RB_INVALID (rule broken; the message names it), RB_NOTFOUND (unknown org),
 *         RB_EXISTS (explicit id taken).
 * @since 0.1
 */
RB_API rb_status rb_transfer_invite(rb_txn *txn, rb_transfer *t, int64_t now);
/**
 * The source org accepts. `actor` must be the source; the transfer must be REQUESTED and
 * not expired at `now`; the rules are checked again (one transfer per source-month, chain
 * depth, no cycle).
 * @return RB_OK, RB_NOTFOUND (no such transfer), RB_INVALID (wrong actor, wrong status,
 *         expired, or a rule broken: the message says which), RB_CORRUPT, RB_NOMEM.
 * @since 0.1
 */
RB_API rb_status rb_transfer_accept(rb_txn *txn, const char *id, const char *actor, int64_t now);
/** The source org declines a REQUESTED transfer. Returns as rb_transfer_accept(). @since 0.1 */
RB_API rb_status rb_transfer_decline(rb_txn *txn, const char *id, const char *actor,
                                     int64_t now);
/** The inviting payer cancels a REQUESTED transfer. Returns as rb_transfer_accept(). @since 0.1 */
RB_API rb_status rb_transfer_cancel(rb_txn *txn, const char *id, const char *actor, int64_t now);
/**
 * Either side ends an ACCEPTED transfer after `end_month` (irreversible). `end_month` must
 * not be before the month of `now`; an end before the start month means the transfer is
 * never in force. Returns as rb_transfer_accept(). @since 0.1
 */
RB_API rb_status rb_transfer_withdraw(rb_txn *txn, const char *id, const char *actor,
                                      int end_month, int64_t now);
/** Rename a transfer (any status); the event's actor is "operator". @return RB_OK,
 *  RB_NOTFOUND, RB_INVALID (bad name). @since 0.1 */
RB_API rb_status rb_transfer_rename(rb_txn *txn, const char *id, const char *name, int64_t now);
/** Look up a transfer, with its effective status at `now`. @return RB_OK, RB_NOTFOUND,
 *  RB_CORRUPT. @since 0.1 */
RB_API rb_status rb_transfer_get(rb_txn *txn, const char *id, int64_t now, rb_transfer *out);

#define RB_TRANSFER_INBOUND 0x1  /**< transfers where org is the source (its bill goes out) */
#define RB_TRANSFER_OUTBOUND 0x2 /**< transfers where org is the payer */
/**
 * Transfers involving `org` (NULL: all) in the given directions (0 means both), in id
 * order. `cb` may read through the same transaction; a non-RB_OK return stops the walk and
 * is returned. @since 0.1
 */
RB_API rb_status rb_transfer_list(rb_txn *txn, const char *org, unsigned dirs, int64_t now,
                                  rb_transfer_cb cb, void *ctx);
/** A transfer's history, oldest first, including a computed expiry. @since 0.1 */
RB_API rb_status rb_transfer_history(rb_txn *txn, const char *id, int64_t now,
                                     rb_transfer_event_cb cb, void *ctx);

#define RB_CHAIN_MAX 16
/** Who pays an organization's bill for a month. */
typedef struct rb_payer_info {
    char org[RB_ORG_ID_MAX + 1];      /**< the org asked about */
    int month;
    int depth;                        /**< transfers in the chain; 0: the org pays itself */
    char chain[RB_CHAIN_MAX][RB_ORG_ID_MAX + 1]; /**< chain[0] direct payer ... top */
    char via[RB_CHAIN_MAX][RB_TRANSFER_ID_MAX + 1]; /**< transfer for each link */
} rb_payer_info;

/**
 * Who pays `org`'s bill in `month`: the direct payer (chain[0]) and the top of the chain
 * (chain[depth-1]). depth 0 means no transfer is in force.
 * @return RB_OK, RB_NOTFOUND (unknown org).
 * @since 0.1
 */
RB_API rb_status rb_payer_of(rb_txn *txn, const char *org, int month, rb_payer_info *out);
/** The source orgs whose bill `payer` pays directly in `month`. @since 0.1 */
RB_API rb_status rb_payer_sources(rb_txn *txn, const char *payer, int month, rb_transfer_cb cb,
                                  void *ctx);

/* ---- Sections added by later modules go below, one banner each. ---- */

/** # Usage (issue 3)
 *
 * Cost and usage exports (AWS legacy CUR, CUR 2.0, FOCUS 1.0-1.2; CSV, plain or gzip) are
 * read, aggregated at daily grain and kept per (source, billing period). See
 * docs/formats.md for the columns each format maps to the canonical line.
 *
 * An import has two phases. rb_usage_import_file() reads and aggregates a file in memory
 * (streamed: memory grows with the number of distinct aggregates, not with the file); call
 * it for every file of one delivery. rb_usage_import_apply(), inside rb_store_update(),
 * then replaces, for each billing period the files cover, everything imported earlier from
 * the same source for that period, and writes a manifest. A period whose stored manifest
 * has the same content signature (file hashes, formats, kept tags) is left as it is and
 * reported RB_USAGE_UNCHANGED.
 *
 * Aggregates are keyed by account, never by organization: rb_usage_summary() attributes
 * them to organizations and payers when it runs. Amounts in different currencies are never
 * added together.
 */

#define RB_USAGE_SOURCE_MAX 64 /**< bytes of a source name: [A-Za-z0-9._-] */
#define RB_USAGE_TAG_MAX 128   /**< bytes of a kept tag key */
#define RB_USAGE_MAX_TAGS 16   /**< tag keys that can be kept */
#define RB_USAGE_VALUE_MAX 4096 /**< bytes of one dimension value in a file */
#define RB_USAGE_DEFAULT_SOURCE "default"

/** File formats. */
typedef enum rb_usage_format {
    RB_USAGE_AUTO = 0, /**< from the header: lineItem/..., line_item_..., BilledCost */
    RB_USAGE_CUR,      /**< AWS legacy Cost and Usage Report */
    RB_USAGE_CUR2,     /**< AWS CUR 2.0 (Data Exports) */
    RB_USAGE_FOCUS     /**< FinOps FOCUS 1.0, 1.1 or 1.2 */
} rb_usage_format;

/** "auto", "cur", "cur2" or "focus". @since 0.1 */
RB_API const char *rb_usage_format_name(rb_usage_format f);

/** Amounts in one currency. */
typedef struct rb_usage_amounts {
    char currency[4]; /**< ISO 4217 code, e.g. "USD" */
    int64_t rows;     /**< input rows summed */
    rb_dec quantity;  /**< usage quantity (meaningful per usage type only) */
    rb_dec billed;    /**< billed cost (CUR unblended cost, FOCUS BilledCost) */
    rb_dec list;      /**< list cost (CUR public on-demand cost, FOCUS ListCost) */
    rb_dec effective; /**< effective (amortized) cost */
} rb_usage_amounts;

/** One file of a delivery. */
typedef struct rb_usage_file {
    const char *name;       /**< base name of the file */
    uint64_t bytes;         /**< size as stored (compressed for gzip) */
    uint64_t hash;          /**< XXH64 of the bytes as stored */
    int64_t rows;           /**< data rows read, good and bad, all periods */
    rb_usage_format format; /**< the format it was read as */
} rb_usage_file;

/** What an import did to a period. */
typedef enum rb_usage_outcome {
    RB_USAGE_PENDING = 0, /**< not applied yet */
    RB_USAGE_NEW,         /**< nothing was stored for (source, period) before */
    RB_USAGE_REPLACED,    /**< an earlier import was replaced */
    RB_USAGE_UNCHANGED,   /**< same content as the stored import: nothing written */
    RB_USAGE_STORED       /**< a manifest read from the store */
} rb_usage_outcome;

/** The manifest of one (source, billing period). */
typedef struct rb_usage_manifest {
    const char *source;
    int month;                     /**< the billing period */
    int64_t imported_at;           /**< the `now` of the import that wrote it */
    int64_t rows;                  /**< input rows of this period */
    int64_t rejected;              /**< bad rows of the delivery left out (--max-errors) */
    int64_t aggregates;            /**< daily aggregates stored */
    size_t nfiles;
    const rb_usage_file *files;    /**< the files of the delivery */
    size_t ntotals;
    const rb_usage_amounts *totals; /**< per currency, by currency code */
    rb_usage_outcome outcome;
} rb_usage_manifest;

typedef rb_status (*rb_usage_manifest_cb)(const rb_usage_manifest *m, void *ctx);

/** Progress of rb_usage_import_file(): stored bytes read of `total`, rows so far. */
typedef void (*rb_usage_progress_fn)(uint64_t done, uint64_t total, uint64_t rows, void *ctx);

/** A bad row left out of an import: file, line, reason, and the record as it was. */
typedef rb_status (*rb_usage_reject_cb)(const char *file, int64_t line, const char *reason,
                                        const char *record, size_t len, void *ctx);

typedef struct rb_usage_import_opts {
    const char *source;          /**< NULL: RB_USAGE_DEFAULT_SOURCE */
    rb_usage_format format;      /**< RB_USAGE_AUTO: detect per file */
    int64_t max_errors;          /**< bad rows left out before the import fails; 0: none */
    int threads;                 /**< 0: one per CPU (at most 8); -1: none (calling thread) */
    const char *const *keep_tags; /**< the kept tag keys, as rb_usage_tag_list() gives them */
    size_t nkeep_tags;
    rb_usage_progress_fn progress; /**< may be NULL; called in the calling thread */
    void *progress_ctx;
} rb_usage_import_opts;

typedef struct rb_usage_import rb_usage_import;

/**
 * Start an import.
 *
 * @param[out] out   the handle, set on RB_OK
 * @param[in]  opts  options (copied)
 * @param[out] err   may be NULL
 * @return RB_OK, RB_INVALID (bad source name or tag key), RB_NOMEM.
 *
 * Ownership: free the handle with rb_usage_import_free().
 * Threads: the handle belongs to the calling thread; it runs its own worker threads inside
 * rb_usage_import_file() only.
 * @since 0.1
 */
RB_API rb_status rb_usage_import_new(rb_usage_import **out, const rb_usage_import_opts *opts,
                                     rb_error *err);

/**
 * Read one file (phase 1): detect its format, map its columns, parse and aggregate every
 * row. Stops at the first bad row with "FILE:LINE: column NAME: what \"value\"", unless
 * opts.max_errors allows it to be left out (see rb_usage_import_rejects()). Nothing is
 * stored until rb_usage_import_apply().
 *
 * @param[in]  imp   from rb_usage_import_new()
 * @param[in]  path  a CSV file, plain or gzip (told apart by its first bytes)
 * @param[out] err   may be NULL; the message names the file (and line)
 * @return RB_OK; RB_INVALID (bad row, missing columns, empty or header-only file, binary
 *         data, too many bad rows, the same content twice in one delivery); RB_SYNTAX
 *         (broken CSV or gzip); RB_NOTFOUND (no such file); RB_IO; RB_TOOBIG (a record
 *         over 256 MiB); RB_NOMEM; RB_MISUSE (the import failed earlier or was applied).
 *         After a failure the handle can only be freed.
 * @since 0.1
 */
RB_API rb_status rb_usage_import_file(rb_usage_import *imp, const char *path, rb_error *err);

/**
 * Whether the files read leave something to store, without a transaction (the checks
 * rb_usage_import_apply() starts with), so that a caller can refuse before creating a
 * database.
 * @param[out] err  may be NULL
 * @return RB_OK; RB_INVALID ("nothing to import": no file, or every row rejected);
 *         RB_MISUSE (a file failed).
 * @since 0.1
 */
RB_API rb_status rb_usage_import_check(const rb_usage_import *imp, rb_error *err);

/**
 * Store the import (phase 2), inside rb_store_update(): for each (source, period) the
 * files cover, delete what was imported before and write the new aggregates and the
 * manifest, unless the content is unchanged. Can be run again on the same handle (as
 * rb_store_update does when the map grows): it does not consume the handle's data.
 *
 * @param[in] txn  a write transaction
 * @param[in] imp  whose files were all read
 * @param[in] now  the time recorded in the manifests
 * @return RB_OK, RB_INVALID (nothing to import: no file, or every row rejected; the kept
 *         tags changed since rb_usage_import_new()), RB_MISUSE (a file failed), storage
 *         codes. Messages are on the store.
 * @since 0.1
 */
RB_API rb_status rb_usage_import_apply(rb_txn *txn, rb_usage_import *imp, int64_t now);

/**
 * The manifests of the periods the import covers, by period, with their outcome (after
 * rb_usage_import_apply(); RB_USAGE_PENDING before). Stops at the first non-RB_OK from cb
 * and returns it.
 * @return RB_OK, the callback's status, RB_MISUSE (the import failed), RB_NOMEM.
 * Ownership: the manifest and its arrays are valid during the callback only.
 * @since 0.1
 */
RB_API rb_status rb_usage_import_periods(rb_usage_import *imp, rb_usage_manifest_cb cb,
                                         void *ctx);

/**
 * The rows left out, by file (as given) and line: at most opts.max_errors of them.
 * @return RB_OK, the callback's status, RB_NOMEM.
 * Ownership: the strings are valid during the callback only.
 * @since 0.1
 */
RB_API rb_status rb_usage_import_rejects(const rb_usage_import *imp, rb_usage_reject_cb cb,
                                         void *ctx);

/** Totals of an import so far (rb_usage_import_stats_get()). */
typedef struct rb_usage_import_stats {
    int64_t files;
    int64_t rows;     /**< good rows aggregated */
    int64_t rejected; /**< bad rows left out */
    int64_t bytes;    /**< stored bytes read */
} rb_usage_import_stats;
/** Fill *st; an import of NULL gives zeros. @since 0.1 */
RB_API void rb_usage_import_stats_get(const rb_usage_import *imp, rb_usage_import_stats *st);

/** Free an import. rb_usage_import_free(NULL) is a harmless no-op. @since 0.1 */
RB_API void rb_usage_import_free(rb_usage_import *imp);

/**
 * Keep a tag key as an aggregate dimension in later imports (e.g. "user:env"). A legacy
 * CUR file has it as the column `resourceTags/KEY`; CUR 2.0 and FOCUS in their JSON tag
 * column (`resource_tags`, `Tags`), where CUR 2.0's `user_env` form also matches.
 * @return RB_OK, RB_INVALID (bad key, or RB_USAGE_MAX_TAGS kept already), RB_EXISTS.
 * @since 0.1
 */
RB_API rb_status rb_usage_tag_keep(rb_txn *txn, const char *key);
/** Stop keeping a tag key. @return RB_OK, RB_NOTFOUND. @since 0.1 */
RB_API rb_status rb_usage_tag_drop(rb_txn *txn, const char *key);
typedef rb_status (*rb_usage_tag_cb)(const char *key, void *ctx);
/** The kept tag keys, in the order they were added. @since 0.1 */
RB_API rb_status rb_usage_tag_list(rb_txn *txn, rb_usage_tag_cb cb, void *ctx);

/**
 * Every manifest (month RB_MONTH_OPEN) or those of one period, by period and source, with
 * outcome RB_USAGE_STORED.
 * @return RB_OK, the callback's status, RB_CORRUPT, RB_NOMEM, storage codes.
 * Ownership: the manifest and its arrays are valid during the callback only.
 * @since 0.1
 */
RB_API rb_status rb_usage_manifest_list(rb_txn *txn, int month, rb_usage_manifest_cb cb,
                                        void *ctx);

/** Dimensions a summary groups by. */
typedef enum rb_usage_dim {
    RB_USAGE_BY_SERVICE = 0,
    RB_USAGE_BY_ACCOUNT,
    RB_USAGE_BY_DAY,        /**< key "YYYY-MM-DD" */
    RB_USAGE_BY_USAGE_TYPE,
    RB_USAGE_BY_LINE_TYPE,  /**< CUR line item type, FOCUS ChargeCategory */
    RB_USAGE_BY_REGION,
    RB_USAGE_BY_TAG         /**< a kept tag key (rb_usage_query.tag) */
} rb_usage_dim;

typedef struct rb_usage_query {
    int month;           /**< billing period */
    const char *org;     /**< only usage of accounts in this org on the usage day */
    const char *payer;   /**< only usage whose org is `payer` or has it in its payer chain */
    const char *account; /**< only this account */
    rb_usage_dim by;
    const char *tag;     /**< for RB_USAGE_BY_TAG */
} rb_usage_query;

/** One group of a summary. */
typedef struct rb_usage_group {
    const char *key;   /**< the dimension's value ("" when empty) */
    rb_usage_amounts a;
} rb_usage_group;
typedef rb_status (*rb_usage_group_cb)(const rb_usage_group *g, void *ctx);

/**
 * Sum a period's stored usage by one dimension, with at most one of org, payer, account
 * as a filter. Groups come sorted by key, then currency.
 * @return RB_OK, RB_INVALID (two filters; tag not kept), RB_NOTFOUND (unknown org or
 *         payer), RB_OVERFLOW, storage codes.
 * Ownership: the group is valid during the callback only.
 * @since 0.1
 */
RB_API rb_status rb_usage_summary(rb_txn *txn, const rb_usage_query *q, rb_usage_group_cb cb,
                                  void *ctx);

/** Usage that no organization's payer covers. */
typedef struct rb_usage_unmapped_row {
    const char *account;
    const char *org;    /**< "" when the account has no organization on the usage day */
    const char *reason; /**< "unknown account", "no organization on the usage day",
                             "no payer in force" */
    rb_usage_amounts a;
} rb_usage_unmapped_row;
typedef rb_status (*rb_usage_unmapped_cb)(const rb_usage_unmapped_row *r, void *ctx);

/**
 * A period's usage of accounts that belong to no known organization on the usage day, or
 * to an organization with no payer (no billing transfer) in force, by account, reason and
 * currency. Together with rb_usage_summary() for every organization it accounts for every
 * stored row: nothing is dropped.
 * @return RB_OK, the callback's status, RB_OVERFLOW, RB_CORRUPT, storage codes.
 * Ownership: the row is valid during the callback only.
 * @since 0.1
 */
RB_API rb_status rb_usage_unmapped(rb_txn *txn, int month, rb_usage_unmapped_cb cb, void *ctx);


/** # Rules (issue 4)
 *
 * Pricing rules are Lua 5.4 files that run in a sandbox (docs/lua/sandbox.md): no files, no
 * clock, no randomness, no way to reach the engine except the `rebill` API. Each run of the
 * rules of one customer is bounded by an rb_limits. Going over a limit stops the run with
 * RB_LIMIT_MEM, RB_LIMIT_STEPS or RB_TIMEOUT and a message that names the limit and the rule
 * file and line; a call of a forbidden function stops it with RB_BLOCKED. A rule cannot catch
 * any of these with pcall.
 */

/** Resource limits for the rules of one customer run. */
typedef struct rb_limits {
    size_t mem_bytes; /**< Lua heap of the run's sandbox, bytes; default 64 MiB, min 1 MiB */
    uint64_t steps;   /**< Lua VM instructions per run, counted in blocks of 1000; default
                           50,000,000, min 1000 */
    uint32_t wall_ms; /**< wall-clock time spent running Lua per run, ms; default 2000,
                           min 1 */
} rb_limits;

/** The defaults: 64 MiB, 50,000,000 instructions, 2000 ms. @since 0.1 */
RB_API rb_limits rb_limits_default(void);

/* -- pricing -- */

/** # Pricing plans and priced lines
 *
 * A plan says how a partner prices a customer's usage: the base of the showback price (public
 * list price, the partner's billed cost, or the effective cost), markups and discounts with
 * scopes (global, billing entity, service, SKU: the most specific wins), rates and tiers per
 * usage type, custom line items (fees, credits, percentages of spend with tiers, minimum
 * commitments), a pass-through policy per line type, the partner's tax and an invoice
 * currency. Plans are written as Lua rule files (docs/rules.md); the declarative parts are
 * compiled into C structures and priced in C; Lua runs only for hooks. A customer with no plan
 * gets the default plan: public list price.
 *
 * Amounts are exact. A priced line keeps 12 fraction digits (half-even); the invoice subtotal
 * and the tax are rounded once to the currency's minor unit with the plan's rounding mode.
 *
 * What a customer sees (rb_price_line, rb_price_totals) is built from showback amounts only:
 * the partner's billed cost and margin are in separate structs (rb_price_cost,
 * rb_price_margin) that a renderer of customer documents never needs.
 */

#define RB_PRICE_LABEL_MAX 128 /**< bytes of a plan, item or tax name */
#define RB_RULES_HASH_LEN 16   /**< hex digits of a rule file's content hash */
#define RB_PRICE_RULE_MAX 127  /**< bytes of rb_price_cost.rule at most */

typedef struct rb_plan rb_plan;     /**< a compiled plan and its sandbox */
typedef struct rb_priced rb_priced; /**< the priced lines of one customer-month */

/** One month's usage aggregate as pricing reads it. Strings are borrowed by rb_price(). */
typedef struct rb_price_input {
    const char *account;    /**< 12-digit account id */
    const char *service;    /**< product code, e.g. "AmazonEC2" */
    const char *usage_type; /**< e.g. "BoxUsage:m5.large" ("" if none) */
    const char *operation;  /**< e.g. "RunInstances" ("" if none) */
    const char *region;     /**< e.g. "us-east-1" ("" if none) */
    const char *line_type;  /**< CUR line item type / FOCUS charge category, e.g. "Usage" */
    const char *entity;     /**< billing entity, e.g. "AWS", "AWS Marketplace" */
    char currency[4];       /**< ISO 4217 */
    rb_dec quantity;
    rb_dec billed;          /**< AWS billed (unblended) cost */
    rb_dec list;            /**< public on-demand (list) cost */
    rb_dec effective;       /**< effective (amortized) cost */
} rb_price_input;

/** Where a priced line comes from. */
typedef enum rb_price_kind {
    RB_PRICE_USAGE = 0, /**< a usage line priced by the plan */
    RB_PRICE_PASS,      /**< a line passed through at the partner's cost (e.g. a credit) */
    RB_PRICE_FEE,       /**< a custom fee */
    RB_PRICE_CREDIT,    /**< a custom credit (negative) */
    RB_PRICE_COMMIT,    /**< a commitment shortfall */
    RB_PRICE_ADDED      /**< a line added by the plan's on_invoice hook */
} rb_price_kind;

/** "usage", "pass", "fee", "credit", "commitment", "added". @since 0.1 */
RB_API const char *rb_price_kind_name(rb_price_kind k);

/**
 * What the customer sees of a priced line: dimensions and the showback amount. It has no
 * field for billed cost or margin, so a document built from it cannot show them.
 */
typedef struct rb_price_line {
    rb_price_kind kind;
    const char *account;    /**< "" for invoice-level items */
    const char *service;    /**< "" for invoice-level items (the service of itemized ones) */
    const char *usage_type; /**< "" for items */
    const char *operation;
    const char *region;
    const char *line_type;  /**< "" for items */
    const char *label;      /**< the item's name; "" for usage lines */
    rb_dec quantity;        /**< 0 for items */
    rb_dec amount;          /**< showback amount in the invoice currency, 12 fraction digits */
} rb_price_line;

/** Partner-only figures of a priced line, in the usage currency. */
typedef struct rb_price_cost {
    rb_dec price;     /**< the line's price before currency conversion */
    rb_dec cost;      /**< what the partner pays for it (0 for items) */
    rb_dec billed;    /**< AWS billed cost */
    rb_dec list;
    rb_dec effective;
    long input;       /**< index of the input line; -1 for items */
    const char *rule; /**< what priced it: "service AmazonEC2 -10%", "list", "pass",
                           "on_line hook", or the item's file:line */
} rb_price_cost;

/** The customer's totals. */
typedef struct rb_price_totals {
    char currency[4];       /**< the invoice currency */
    char usage_currency[4]; /**< the currency of the usage ("" when there is none) */
    rb_dec fx_rate;         /**< invoice units per usage unit (1 without conversion) */
    rb_dec subtotal;        /**< sum of the line amounts, rounded to the minor unit */
    char tax_name[RB_PRICE_LABEL_MAX + 1]; /**< "" without tax */
    rb_dec tax_rate;        /**< percent */
    rb_dec tax;             /**< subtotal x rate, rounded to the minor unit */
    rb_dec total;           /**< subtotal + tax */
} rb_price_totals;

/** Partner-only totals, in the usage currency, rounded to its minor unit. */
typedef struct rb_price_margin {
    rb_dec price;  /**< what the customer is charged before tax and conversion */
    rb_dec cost;   /**< what the partner pays for the customer's usage (hidden lines too) */
    rb_dec margin; /**< price - cost */
    rb_dec billed; /**< AWS billed cost of every input line */
    rb_dec list;   /**< list cost of every input line */
    long hidden;   /**< input lines the policy hid */
} rb_price_margin;

/** Per-service sums of a priced result. */
typedef struct rb_price_group {
    const char *key;    /**< service, or the item's name for invoice-level items */
    rb_price_kind kind; /**< RB_PRICE_USAGE for services (passed lines included) */
    rb_dec amount;      /**< showback, invoice currency, exact */
    rb_dec price;       /**< partner-only: usage currency */
    rb_dec cost;        /**< partner-only */
} rb_price_group;
typedef rb_status (*rb_price_group_cb)(const rb_price_group *g, void *ctx);

/** What to price. */
typedef struct rb_price_request {
    const char *customer;        /**< org id (hooks and messages) */
    int month;                   /**< the billing period */
    const rb_price_input *lines; /**< borrowed until rb_priced_free() */
    size_t nlines;
    const rb_dec *cost;          /**< the partner's cost per line; NULL: each line's billed */
    bool lines_only;             /**< price the lines only (policy, rules, on_line): no custom
                                      items, on_invoice, currency or tax, and zero totals; what
                                      an upstream plan of a chain does to make the cost */
} rb_price_request;

/**
 * The default plan: public list price, free tier on, the default pass-through policy.
 * @return RB_OK, RB_NOMEM. Ownership: free with rb_plan_free(). @since 0.1
 */
RB_API rb_status rb_plan_default(rb_plan **out);

/**
 * Compile a rule file: run it in a new sandbox under `limits` (NULL: defaults), read the plan
 * it returns into C structures and keep its hooks.
 *
 * @param[in] name  what messages show ("rules/acme.lua"); at most 200 bytes
 * @param[in] src   the file's content (Lua text; at most 1 MiB)
 * @return RB_OK, RB_SYNTAX, RB_RUNTIME (the file raised an error, a constructor's refusal of
 *         its table included: "file:line: rebill.discount: unknown key 'percnt' ..."),
 *         RB_INVALID (the returned plan is not valid, e.g. two rules for one scope),
 *         RB_LIMIT_MEM, RB_LIMIT_STEPS, RB_TIMEOUT, RB_BLOCKED, RB_TOOBIG, RB_NOMEM.
 * Ownership: free with rb_plan_free(). Threads: a plan belongs to one thread.
 * @since 0.1
 */
RB_API rb_status rb_plan_compile(rb_plan **out, const char *name, const char *src, size_t len,
                                 const rb_limits *limits, rb_error *err);
/** The plan's name (its `name` field, else the file name). @since 0.1 */
RB_API const char *rb_plan_name(const rb_plan *p);
/** Free a plan. rb_plan_free(NULL) is a harmless no-op. @since 0.1 */
RB_API void rb_plan_free(rb_plan *p);

/**
 * Price one customer-month. A plan is priced again from scratch by every call (a fresh run
 * of its sandbox's budget); a plan stopped by a limit refuses later runs (RB_MISUSE).
 *
 * @return RB_OK, RB_INVALID (usage in two currencies; no exchange rate for the month; a hook
 *         returned a bad value), RB_RUNTIME (a hook failed: "file:line: what (pricing account
 *         A, service S, usage type U)"), the sandbox's limit codes, RB_OVERFLOW, RB_NOMEM.
 * Ownership: free the result with rb_priced_free(); it borrows req->lines.
 * @since 0.1
 */
RB_API rb_status rb_price(rb_plan *plan, const rb_price_request *req, rb_priced **out,
                          rb_error *err);

/** Lines of a result: usage lines in input order (hidden ones left out), then items. */
RB_API size_t rb_priced_count(const rb_priced *p);
/** The customer's view of line i (NULL past the end). Valid until rb_priced_free(). */
RB_API const rb_price_line *rb_priced_line(const rb_priced *p, size_t i);
/** Partner-only figures of line i (NULL past the end). */
RB_API const rb_price_cost *rb_priced_cost(const rb_priced *p, size_t i);
RB_API const rb_price_totals *rb_priced_totals(const rb_priced *p);
/** Partner-only totals. */
RB_API const rb_price_margin *rb_priced_margin(const rb_priced *p);
/** The price of input line i before conversion (0 when hidden): a chain's next cost. */
RB_API rb_dec rb_priced_input_price(const rb_priced *p, size_t i);
/** Partner-only: the lines the pass-through policy hid from the customer (as many as
 * rb_priced_margin()->hidden), in input order. A hidden line has kind RB_PRICE_PASS, amount
 * and price 0, rule "hidden", and its cost, billed, list and effective amounts; NULL past the
 * end. Never show them to a customer. @since 0.1 */
RB_API size_t rb_priced_hidden_count(const rb_priced *p);
RB_API const rb_price_line *rb_priced_hidden_line(const rb_priced *p, size_t i);
RB_API const rb_price_cost *rb_priced_hidden_cost(const rb_priced *p, size_t i);
/** Sums by service (usage and passed lines), then one group per item name, sorted. */
RB_API rb_status rb_priced_groups(const rb_priced *p, rb_price_group_cb cb, void *ctx);
/** The text rules printed (print, warn) while pricing; "" if none. */
RB_API const char *rb_priced_log(const rb_priced *p);
/** Free a result. rb_priced_free(NULL) is a harmless no-op. @since 0.1 */
RB_API void rb_priced_free(rb_priced *p);

/** # Plan assignments and pricing from the store
 *
 * `plans` holds, per organization, which rule file prices its bill in which months; `rules`
 * holds each rule file's content by hash, so a month is priced the same way later even after
 * the file changed on disk. The plan assigned to an organization prices what its direct payer
 * bills it. In a chain (customer -> reseller -> distributor), the reseller's cost of a line
 * is the price of that line under the plan its own payer assigned to it (before that plan's
 * invoice-level items, tax and currency); at the top of a chain the cost is AWS's billed cost.
 */

/** A plan in force over a range of months. */
typedef struct rb_plan_assignment {
    char org[RB_ORG_ID_MAX + 1];
    int from;                            /**< first month */
    int to;                              /**< last month; RB_MONTH_OPEN: no end */
    char hash[RB_RULES_HASH_LEN + 1];    /**< the rule file's content hash */
    char name[RB_PRICE_LABEL_MAX + 1];   /**< the file's name when it was assigned */
    int64_t assigned_at;
} rb_plan_assignment;
typedef rb_status (*rb_plan_assignment_cb)(const rb_plan_assignment *a, void *ctx);

/** One change of an organization's plans. */
typedef struct rb_plan_event {
    int64_t at;
    char action[12];                     /**< "assign" or "unassign" */
    char org[RB_ORG_ID_MAX + 1];
    int from, to;
    char hash[RB_RULES_HASH_LEN + 1];    /**< "" for unassign */
    char name[RB_PRICE_LABEL_MAX + 1];
} rb_plan_event;
typedef rb_status (*rb_plan_event_cb)(const rb_plan_event *e, void *ctx);

/** A stored rule file. */
typedef struct rb_rules_blob {
    char hash[RB_RULES_HASH_LEN + 1];
    char name[RB_PRICE_LABEL_MAX + 1];   /**< the name it was first stored under */
    const char *src;                     /**< borrowed from the store: valid until the next
                                              write in the transaction or its end */
    size_t len;
    int64_t stored_at;
} rb_rules_blob;

/**
 * Assign a rule file to `org` for months from..to (to: RB_MONTH_OPEN for no end). The file
 * must compile (rb_plan_compile); its content is stored by hash. The new assignment replaces
 * whatever earlier assignments said about those months; the months around it keep theirs.
 * @param[out] out  may be NULL; the assignment as stored
 * @return RB_OK, RB_INVALID (bad org id, name or months), RB_NOTFOUND (no such org), the
 *         codes of rb_plan_compile() when the file does not compile (the message is the
 *         compiler's), storage codes. Messages are on the store.
 * @since 0.1
 */
RB_API rb_status rb_plan_assign(rb_txn *txn, const char *org, const char *name, const char *src,
                                size_t len, int from, int to, int64_t now,
                                rb_plan_assignment *out);
/** Remove the plans of `org` for months from..to (they get the default plan).
 * @return RB_OK, RB_NOTFOUND (no plan in those months), RB_INVALID. @since 0.1 */
RB_API rb_status rb_plan_unassign(rb_txn *txn, const char *org, int from, int to, int64_t now);
/** The assignment in force for `org` in `month`. @return RB_OK, RB_NOTFOUND (the default
 * plan applies), RB_INVALID. @since 0.1 */
RB_API rb_status rb_plan_at(rb_txn *txn, const char *org, int month, rb_plan_assignment *out);
/** Every organization's assignment in force in `month`, by org id. @since 0.1 */
RB_API rb_status rb_plan_list(rb_txn *txn, int month, rb_plan_assignment_cb cb, void *ctx);
/** All assignments of `org`, by month. @since 0.1 */
RB_API rb_status rb_plan_periods(rb_txn *txn, const char *org, rb_plan_assignment_cb cb,
                                 void *ctx);
/** The changes of `org`'s plans, oldest first. @since 0.1 */
RB_API rb_status rb_plan_history(rb_txn *txn, const char *org, rb_plan_event_cb cb, void *ctx);
/** A stored rule file by hash (16 hex digits). @return RB_OK, RB_NOTFOUND, RB_INVALID. */
RB_API rb_status rb_rules_get(rb_txn *txn, const char *hash, rb_rules_blob *out);

/** Options of pricing from the store. */
typedef struct rb_price_opts {
    const char *rules_name; /**< price with this rule file instead of the assigned plan */
    const char *rules_src;  /**< (NULL: the plan in force) */
    size_t rules_len;
    const rb_limits *limits; /**< NULL: rb_limits_default() */
} rb_price_opts;

/**
 * Price what `org`'s direct payer bills it for `month`: the stored usage of its accounts and
 * of the organizations whose bills it pays, with its plan in force (or opts' rule file, or the
 * default plan), the partner's cost taken through the payer chain. Stores nothing.
 * @return RB_OK, RB_NOTFOUND (no such org), RB_INVALID, the pricing codes, storage codes; the
 *         message is on the store.
 * Ownership: free the result with rb_priced_free(); it owns its lines.
 * @since 0.1
 */
RB_API rb_status rb_price_org(rb_txn *txn, const char *org, int month, const rb_price_opts *opts,
                              rb_priced **out);

/**
 * A cache of one month's stored usage attributed to organizations, for pricing many customers
 * of that month one transaction each (rb_invoice_opts.cache; `rebill invoice run`): the first
 * invoice loads the whole month once, the others take their lines from it. Every use checks,
 * in the caller's transaction, the store's usage epoch (docs/storage.md), which every import
 * and every change of an account's organization moves on: if the usage changed since the
 * cache was loaded, or another month or another store handle is asked for, the cache loads
 * again first. A stale cache never prices anything; what a transaction that itself changed
 * usage loads is used by that call only, never kept.
 * Ownership: free with rb_usage_cache_free(). Invoices and priced results made with a cache
 * stay valid after it is freed or reloaded.
 * Threads: a cache, and what was priced with it, belong to the thread of its store.
 * @since 0.1
 */
typedef struct rb_usage_cache rb_usage_cache;
/** A new, empty cache. @return RB_OK, RB_MISUSE (out is NULL), RB_NOMEM. @since 0.1 */
RB_API rb_status rb_usage_cache_new(rb_usage_cache **out);
/** Free a cache and the usage it holds. rb_usage_cache_free(NULL) is a harmless no-op.
 * @since 0.1 */
RB_API void rb_usage_cache_free(rb_usage_cache *c);

/** The outcome for one customer of rb_price_all(): `p` is NULL when rc is not RB_OK. */
typedef rb_status (*rb_price_each_cb)(const char *org, rb_status rc, const char *msg,
                                      const rb_priced *p, void *ctx);
/**
 * Price every organization whose bill a payer pays in `month`, each in its own sandbox. One
 * customer's failure does not stop the others: it is reported to cb, and *failed counts them.
 * @return RB_OK (even with failures), or what cb returned, or a storage code.
 * @since 0.1
 */
RB_API rb_status rb_price_all(rb_txn *txn, int month, const rb_price_opts *opts,
                              rb_price_each_cb cb, void *ctx, long *failed);

/** One row of rb_price_diff(): a service or item (key), or the totals (key NULL). */
typedef struct rb_price_diff_row {
    const char *key;
    rb_dec old_price; /**< partner view: usage currency, before tax and conversion */
    rb_dec new_price;
    rb_dec delta;     /**< new - old */
} rb_price_diff_row;
typedef rb_status (*rb_price_diff_cb)(const rb_price_diff_row *r, void *ctx);

/** Totals of rb_price_diff(), over the months, in the usage currency (rounded). */
typedef struct rb_price_diff_totals {
    char currency[4];
    int months;
    rb_dec old_price, new_price, delta;
    rb_dec cost;
    rb_dec old_margin, new_margin;
} rb_price_diff_totals;

/**
 * Compare, over months from..to, `org`'s plans in force with the rule file `src` on the same
 * stored usage: rows per service and item (sorted), then the totals row.
 * @return like rb_price_org(); the failing month is named in the message.
 * @since 0.1
 */
RB_API rb_status rb_price_diff(rb_txn *txn, const char *org, int from, int to, const char *name,
                               const char *src, size_t len, const rb_limits *limits,
                               rb_price_diff_cb cb, void *ctx, rb_price_diff_totals *tot);

/** # Checking and testing rule files */

/**
 * Compile a rule file and check its plan and its tests' shape without pricing anything.
 * @return RB_OK or the first problem, as rb_plan_compile(), in err ("file:line: what").
 * @since 0.1
 */
RB_API rb_status rb_rules_check(const char *name, const char *src, size_t len,
                                const rb_limits *limits, rb_error *err);

/** The outcome of one test case of a rule file. */
typedef struct rb_rules_test_case {
    const char *file;   /**< the rule file */
    const char *name;   /**< the test's name */
    bool passed;
    const char *detail; /**< why it failed: one line per difference ("" when passed) */
} rb_rules_test_case;
typedef rb_status (*rb_rules_test_cb)(const rb_rules_test_case *t, void *ctx);

/**
 * Run the tests a rule file ships (its plan's `tests`, docs/rules.md "Testing"): each prices
 * its fixture usage (inline CSV or a CSV file beside the rule file), with the upstream plans
 * it names for a chain, and compares lines and totals to the cent.
 * @param[out] passed, failed  counts (may be NULL)
 * @return RB_OK when the file could be run (whatever the tests said), else the reason the
 *         file itself failed (cannot read, does not compile, has no tests) in err.
 * @since 0.1
 */
RB_API rb_status rb_rules_test_file(const char *path, const rb_limits *limits,
                                    rb_rules_test_cb cb, void *ctx, long *passed, long *failed,
                                    rb_error *err);

/** # Rendering (issue 5) */

/*
 * Markdown to HTML with libcmark-gfm, a printable page around the HTML, and a builder that
 * writes Markdown in which every piece of data is escaped. See docs/rendering.md.
 *
 * Safety: rb_render_html() always attaches the GFM `table` and `tagfilter` extensions and
 * never passes CMARK_OPT_UNSAFE, so raw HTML in the input is dropped (`<script>`,
 * `<img onerror=...>` become an HTML comment), `javascript:`, `vbscript:`, `file:` and
 * `data:` (but for PNG, GIF, JPEG and WebP images) link targets become empty, and images are
 * replaced by their alt text, so that the HTML never loads anything.
 *
 * Limits: libcmark-gfm cannot be interrupted and aborts the process when it runs out of
 * memory, so refusing input before it reaches the parser is the only defence inside the
 * process. rb_render_html() refuses, with RB_TOOBIG, input over RB_RENDER_MAX_INPUT bytes and
 * input whose structure is known to make libcmark-gfm 0.29.0.gfm.6 super-linear (nesting,
 * wide or large tables, table delimiter rows after long paragraphs, brackets left open before
 * links); the RB_RENDER_MAX_* values below and docs/rendering.md give the exact rules.
 * Markdown made by an rb_md builder never hits them: the builder refuses, at the call that
 * would cross a limit, what rb_render_html() would refuse. Even within the limits a 4 MiB
 * input can take seconds and hundreds of MB (docs/rendering.md has measurements).
 */

/** Largest input rb_render_html() accepts, in bytes (4 MiB). */
#define RB_RENDER_MAX_INPUT (4u << 20)
/** Deepest nesting of block quotes and list items rb_render_html() accepts. */
#define RB_RENDER_MAX_DEPTH 32
/** Most table columns: a row may have RB_RENDER_MAX_COLUMNS + 1 unescaped `|`. */
#define RB_RENDER_MAX_COLUMNS 64
/**
 * Most table cells in one input, counted as columns x lines of every table of two or more
 * columns, header and delimiter lines included (the table extension of libcmark-gfm
 * 0.29.0.gfm.6 fills short rows with empty cells, so a few bytes can ask for many cells).
 */
#define RB_RENDER_MAX_CELLS (1u << 18)

/**
 * Free memory the library returned and documented as "free with rb_free()".
 * rb_free(NULL) is a harmless no-op. @since 0.1
 */
RB_API void rb_free(void *p);

/**
 * Render Markdown (CommonMark + GFM tables) to an HTML fragment.
 *
 * @param[in]  md      Markdown text, UTF-8 (invalid sequences become U+FFFD); need not be
 *                     NUL-terminated; NUL bytes become U+FFFD
 * @param[in]  len     bytes of `md`, 0..RB_RENDER_MAX_INPUT
 * @param[in]  flags   reserved: pass 0
 * @param[out] out     set on RB_OK to the NUL-terminated HTML; NULL otherwise
 * @param[out] outlen  may be NULL; set on RB_OK to strlen(*out)
 * @param[out] err     may be NULL; on failure its message says which limit was crossed and
 *                     where (line number)
 * @return RB_OK, RB_TOOBIG (a limit above, or one of the two work budgets of
 *         docs/rendering.md), RB_INVALID (unknown flags), RB_MISUSE (`out` is NULL, or `md`
 *         is NULL with `len` > 0), RB_NOMEM, RB_ERROR (libcmark-gfm lacks an extension).
 *
 * Ownership: free *out with rb_free().
 * Threads: safe to call from any thread; calls are serialized by a process-wide lock,
 * because libcmark-gfm's table extension uses a global arena.
 * @since 0.1
 */
RB_API rb_status rb_render_html(const char *md, size_t len, unsigned flags, char **out,
                                size_t *outlen, rb_error *err);

/**
 * Wrap an HTML fragment into a self-contained printable page: `<!doctype html>`,
 * `<meta charset="utf-8">`, a Content-Security-Policy that forbids scripts and every
 * external load, the escaped title, inline CSS with print styles (A4 page, table header rows
 * repeated on every page, no table row broken across pages). The page references no
 * external resource.
 *
 * @param[in]  title   page title, plain text; escaped here; NULL means no title text
 * @param[in]  html    the body: a fragment from rb_render_html(), copied verbatim (it is
 *                     trusted: do not pass HTML that did not come from rb_render_html()
 *                     or from code that escapes its data)
 * @param[in]  len     bytes of `html`
 * @param[out] out     set on RB_OK to the NUL-terminated page; NULL otherwise
 * @param[out] outlen  may be NULL; set on RB_OK to strlen(*out)
 * @param[out] err     may be NULL
 * @return RB_OK, RB_MISUSE (`out` is NULL, or `html` is NULL with `len` > 0), RB_NOMEM.
 *
 * Ownership: free *out with rb_free().
 * @since 0.1
 */
RB_API rb_status rb_render_page(const char *title, const char *html, size_t len, char **out,
                                size_t *outlen, rb_error *err);

/**
 * A Markdown builder. Every string given to it is data: it is escaped so that it shows
 * literally and cannot start or end a block, a table cell, emphasis, a link or HTML.
 * The exact escaping rules are in docs/rendering.md; in short: control characters
 * (newline included) become a space; invalid UTF-8 becomes U+FFFD; `\` `` ` `` `*` `_`
 * `[` `]` `<` `>` `&` `|` `#` `~` are always backslash-escaped; the first character of a
 * block or table cell is escaped if it is ASCII punctuation, and so is a `.` or `)` right
 * after digits that start one; leading and trailing spaces of a block or cell are dropped.
 *
 * Blocks are separated by one blank line; consecutive list items make one list. An
 * "inline run" (rb_md_text(), rb_md_bold(), rb_md_link()) is the beginning of the next
 * heading, paragraph or list item; if a table or rb_md_result() comes first, it becomes a
 * paragraph of its own.
 *
 * Errors are sticky: after a call fails, every later call (rb_md_result() included)
 * returns the same status, and rb_md_errmsg() says what failed.
 *
 * Limits: the document stays within RB_RENDER_MAX_INPUT bytes and its tables within
 * RB_RENDER_MAX_COLUMNS and RB_RENDER_MAX_CELLS (RB_TOOBIG), so rb_render_html() accepts
 * whatever a builder produced.
 * Threads: a builder belongs to one thread at a time.
 */
typedef struct rb_md rb_md;

/**
 * A new, empty builder, or NULL when out of memory.
 * Ownership: free it with rb_md_free(). @since 0.1
 */
RB_API rb_md *rb_md_new(void);
/** Free a builder. rb_md_free(NULL) is a harmless no-op. @since 0.1 */
RB_API void rb_md_free(rb_md *md);
/**
 * What the last failure was about, "" if nothing failed. Never NULL; valid until the next
 * call on `md`. @since 0.1
 */
RB_API const char *rb_md_errmsg(const rb_md *md);

/**
 * A heading of `level` 1..6 (`# text`). The inline run, if any, comes first.
 * @return RB_OK, RB_INVALID (level), RB_MISUSE (NULL md, or a table is open), RB_TOOBIG,
 *         RB_NOMEM. @since 0.1
 */
RB_API rb_status rb_md_heading(rb_md *md, int level, const char *text);
/**
 * End a paragraph: the inline run, if any, then `text` (NULL or "" for none). Nothing is
 * written when both are empty.
 * @return RB_OK, RB_MISUSE (NULL md, or a table is open), RB_TOOBIG, RB_NOMEM. @since 0.1
 */
RB_API rb_status rb_md_para(rb_md *md, const char *text);
/**
 * A bullet list item (`- text`): the inline run, if any, then `text`.
 * @return as rb_md_para(). @since 0.1
 */
RB_API rb_status rb_md_list_item(rb_md *md, const char *text);
/** Add escaped text to the inline run. @return as rb_md_para(). @since 0.1 */
RB_API rb_status rb_md_text(rb_md *md, const char *text);
/**
 * Add bold text to the inline run (`**text**`), for labels such as "Due date:". Leading and
 * trailing spaces become one space outside the markup; text with nothing else adds nothing.
 * A space is also put between the bold text and a neighbour where CommonMark would
 * otherwise not see the emphasis (e.g. `Total:` directly followed by a letter).
 * @return as rb_md_para(). @since 0.1
 */
RB_API rb_status rb_md_bold(rb_md *md, const char *text);
/**
 * Add a link to the inline run. `url` must start with `http://`, `https://` or `mailto:`
 * (any case), have something after it, and contain no control character; space, `<`, `>`,
 * `(`, `)`, `[`, `]`, `\`, `|`, `"`, `'` and `` ` `` are percent-encoded. NULL or empty
 * `text` shows the URL.
 * @return as rb_md_para(), and RB_INVALID for a refused URL. @since 0.1
 */
RB_API rb_status rb_md_link(rb_md *md, const char *text, const char *url);

/**
 * Start a table of `ncols` columns, 1..RB_RENDER_MAX_COLUMNS.
 *
 * @param[in] headers  `ncols` header texts (an element may be NULL: empty)
 * @param[in] aligns   NULL (no alignment) or `ncols` characters: `l`, `r`, `c`, or `-` for
 *                     none
 * @return RB_OK, RB_INVALID (ncols, headers NULL, aligns), RB_MISUSE (a table is already
 *         open), RB_TOOBIG, RB_NOMEM. @since 0.1
 */
RB_API rb_status rb_md_table_begin(rb_md *md, size_t ncols, const char *const *headers,
                                   const char *aligns);
/**
 * A table row of `ncols` cells (an element may be NULL: empty).
 * @return RB_OK, RB_INVALID (cells NULL), RB_MISUSE (no table open), RB_TOOBIG (the
 *         document's tables would exceed RB_RENDER_MAX_CELLS), RB_NOMEM. @since 0.1
 */
RB_API rb_status rb_md_table_row(rb_md *md, const char *const *cells);
/** A row whose non-empty cells are bold (totals). @return as rb_md_table_row(). @since 0.1 */
RB_API rb_status rb_md_table_row_bold(rb_md *md, const char *const *cells);
/** End the table. @return RB_OK, RB_MISUSE (no table open). @since 0.1 */
RB_API rb_status rb_md_table_end(rb_md *md);

/**
 * The Markdown written so far, ending in one newline ("" for an empty document). A pending
 * inline run becomes a paragraph first. More blocks may be added afterwards.
 *
 * @param[out] out  set on RB_OK; NULL otherwise
 * @param[out] len  may be NULL; set on RB_OK to strlen(*out)
 * @return RB_OK, RB_MISUSE (a table is open, or NULL arguments), RB_TOOBIG, RB_NOMEM, or
 *         the sticky error of an earlier call.
 *
 * Ownership: *out belongs to the builder; it is valid until the next call on `md` or
 * rb_md_free().
 * @since 0.1
 */
RB_API rb_status rb_md_result(rb_md *md, const char **out, size_t *len);

/** # Invoices (issue 5)
 *
 * One invoice per customer organization and month, issued by the organization's direct payer
 * (the partner), laid out by a Lua layout (the one given, else the customer's stored layout,
 * else the issuer's, else scripts/layouts/default.lua), rendered to Markdown, HTML and JSON.
 * See docs/invoices.md.
 *
 * Privacy: every customer-facing form (Markdown, HTML, JSON) is built from showback amounts
 * only (rb_price_line, rb_price_totals); a layout cannot reach a billed cost or a margin.
 *
 * Numbering: `INV-YYYY-NNNNNN` (credit notes `CN-YYYY-NNNNNN`), one gapless sequence per
 * issuer and calendar year of the issue date. The sequence and the invoice are written in the
 * same write transaction; LMDB has one writer at a time, so two processes issuing at once get
 * consecutive numbers and an aborted issue leaves no gap.
 *
 * Immutability: an issued invoice's record (its rendered bytes, totals and input hashes) is
 * written once and never rewritten; voiding writes a credit note and a marker beside it.
 */

#define RB_INVOICE_NUMBER_MAX 23 /**< "INV-2026-000042", "CN-2026-000001" */
#define RB_PROFILE_ADDRESS_MAX 511
#define RB_PROFILE_FIELD_MAX 127
#define RB_INVOICE_REASON_MAX 255
#define RB_PROFILE_TERMS_DEFAULT 30 /**< payment terms in days when no profile says */

/** The legal identity an organization shows on invoices (as issuer or as customer). */
typedef struct rb_profile {
    char org[RB_ORG_ID_MAX + 1];
    char legal_name[RB_NAME_MAX + 1];          /**< "" : the org's name is used */
    char address[RB_PROFILE_ADDRESS_MAX + 1];  /**< lines separated by '\n' */
    char tax_id[RB_PROFILE_FIELD_MAX + 1];
    char email[RB_PROFILE_FIELD_MAX + 1];
    int terms_days;                            /**< days from issue to due date, 0..365 */
} rb_profile;

/**
 * Set an organization's profile (replacing the previous one). Text fields may be empty, hold
 * no control character (but '\n' in the address) and be valid UTF-8.
 * @return RB_OK, RB_INVALID (field named in the message), RB_NOTFOUND (no such org).
 * @since 0.1
 */
RB_API rb_status rb_profile_set(rb_txn *txn, const rb_profile *p);
/**
 * An organization's profile; without a stored one, empty fields and the default terms.
 * @return RB_OK, RB_NOTFOUND (no such org), RB_CORRUPT.
 * @since 0.1
 */
RB_API rb_status rb_profile_get(rb_txn *txn, const char *org, rb_profile *out);

typedef enum rb_invoice_kind {
    RB_INVOICE_DRAFT = 0, /**< a preview: no number, stored nowhere */
    RB_INVOICE_ISSUED,    /**< an issued invoice */
    RB_INVOICE_CREDIT     /**< a credit note cancelling an issued invoice */
} rb_invoice_kind;

/** "draft", "invoice", "credit_note". @since 0.1 */
RB_API const char *rb_invoice_kind_name(rb_invoice_kind k);

/** An invoice or credit note. Customer-facing amounts only. */
typedef struct rb_invoice {
    rb_invoice_kind kind;
    char number[RB_INVOICE_NUMBER_MAX + 1];    /**< "" for a draft */
    char issuer[RB_ORG_ID_MAX + 1];            /**< the partner (direct payer) */
    char customer[RB_ORG_ID_MAX + 1];
    int month;                                 /**< the billing period */
    int64_t issued_at;                         /**< the `now` of the issue (or preview) */
    int64_t due_at;
    char currency[4];
    rb_dec subtotal, tax, total;               /**< as shown, minor unit */
    char refs[RB_INVOICE_NUMBER_MAX + 1];      /**< credit note: the invoice it cancels */
    char voided_by[RB_INVOICE_NUMBER_MAX + 1]; /**< an invoice cancelled by this credit note */
    char reason[RB_INVOICE_REASON_MAX + 1];    /**< credit note: why */
    char inputs_hash[17];                      /**< hash of the plan, usage and layout used */
    char *md;                                  /**< the rendered forms (NUL-terminated) */
    size_t md_len;
    char *html;
    size_t html_len;
    char *json;
    size_t json_len;
} rb_invoice;

/** Free what an rb_invoice owns (its forms); rb_invoice_release of a zeroed struct is a
 *  harmless no-op. @since 0.1 */
RB_API void rb_invoice_release(rb_invoice *inv);

/** Options of rb_invoice_preview() and rb_invoice_issue(). NULL means all defaults. */
typedef struct rb_invoice_opts {
    const char *layout_name; /**< for messages ("layouts/acme.lua") */
    const char *layout_src;  /**< NULL: the customer's stored layout, else the issuer's, else
                                  scripts/layouts/default.lua (rb_layout_set()) */
    size_t layout_len;
    const rb_limits *limits; /**< of pricing and of the layout; NULL: rb_limits_default() */
    rb_usage_cache *cache;   /**< the month's usage for many invoices (rb_usage_cache_new());
                                  NULL: load it for this invoice alone */
} rb_invoice_opts;

/**
 * The draft invoice of `org` for `month`, recomputed from the stored usage and plans; stores
 * nothing. Corrections of earlier issued months whose pricing changed since are included.
 * @return RB_OK, RB_NOTFOUND (no such org), RB_INVALID (no payer in force that month, bad
 *         month), pricing codes, layout codes (RB_SYNTAX, RB_RUNTIME, limits), storage codes;
 *         the message is on the store.
 * Ownership: release *out with rb_invoice_release() (also after a failure).
 * @since 0.1
 */
RB_API rb_status rb_invoice_preview(rb_txn *txn, const char *org, int month,
                                    const rb_invoice_opts *opts, int64_t now, rb_invoice *out);
/**
 * Issue `org`'s invoice for `month`: as rb_invoice_preview(), then number it and store it
 * with its rendered forms and input hash, frozen.
 * @return as rb_invoice_preview(), and RB_EXISTS (an invoice of that customer-month is issued
 *         and not voided; the message names it).
 * @since 0.1
 */
RB_API rb_status rb_invoice_issue(rb_txn *txn, const char *org, int month,
                                  const rb_invoice_opts *opts, int64_t now, rb_invoice *out);
/**
 * Void an issued invoice: issue a credit note (CN-...) of the opposite amounts that refers to
 * it; the customer-month can then be issued again. `issuer` may be NULL when the number is
 * unique across issuers. `reason`: 1..255 bytes.
 * @return RB_OK, RB_NOTFOUND, RB_INVALID (a credit note, already voided, bad reason, number
 *         held by several issuers), storage codes.
 * Ownership: *out is the credit note; release it with rb_invoice_release().
 * @since 0.1
 */
RB_API rb_status rb_invoice_void(rb_txn *txn, const char *issuer, const char *number,
                                 const char *reason, const rb_invoice_opts *opts, int64_t now,
                                 rb_invoice *out);
/**
 * An issued invoice or credit note by number (`issuer` NULL: any, if unique), with its
 * frozen forms. @return RB_OK, RB_NOTFOUND, RB_INVALID (ambiguous number), RB_CORRUPT.
 * Ownership: release *out with rb_invoice_release().
 * @since 0.1
 */
RB_API rb_status rb_invoice_get(rb_txn *txn, const char *issuer, const char *number,
                                rb_invoice *out);
typedef rb_status (*rb_invoice_cb)(const rb_invoice *inv, void *ctx);
/**
 * Issued invoices and credit notes, by issuer and number, optionally only those of customer
 * `org` (NULL: all) and `month` (RB_MONTH_OPEN: all). The forms are not loaded (NULL).
 * @since 0.1
 */
RB_API rb_status rb_invoice_list(rb_txn *txn, const char *org, int month, rb_invoice_cb cb,
                                 void *ctx);

/* -- stored layouts -- */

/** An organization's stored invoice layout. As issuer, it lays out the invoices the
 *  organization issues; as customer, the invoices it receives (this one wins). */
typedef struct rb_layout {
    char org[RB_ORG_ID_MAX + 1];
    char hash[RB_RULES_HASH_LEN + 1];  /**< content hash, "" for none; rb_rules_get() gives
                                            the source (layouts share the rule-file store) */
    char name[RB_PRICE_LABEL_MAX + 1]; /**< the file it was set from (its last 128 bytes) */
    int64_t set_at;
} rb_layout;
typedef rb_status (*rb_layout_cb)(const rb_layout *l, void *ctx);

/**
 * Vet a layout without storing it: it must compile, return a function, and lay out a sample
 * invoice and a sample credit note within `limits` (NULL: rb_limits_default()).
 * @param[in] name  what messages show ("layouts/acme.lua"), 1..200 bytes
 * @return RB_OK, RB_SYNTAX, RB_INVALID (it does not return a function, leaves a table open, bad
 *         name), RB_RUNTIME, RB_LIMIT_MEM, RB_LIMIT_STEPS, RB_TIMEOUT, RB_BLOCKED, RB_TOOBIG,
 *         RB_NOMEM; err's message names the file and line ("layout x.lua: x.lua:3: ...").
 * @since 0.1
 */
RB_API rb_status rb_layout_check(const char *name, const char *src, size_t len,
                                 const rb_limits *limits, rb_error *err);
/**
 * Store `src` as the invoice layout of `org`, replacing the one it had. The layout is vetted
 * first (rb_layout_check()); its content is stored by hash, so later edits of the file change
 * nothing, and invoices already issued keep their frozen bytes.
 * @param[out] out  may be NULL; the layout as stored
 * @return RB_OK, RB_INVALID (bad org id or name), RB_NOTFOUND (no such org), the codes of
 *         rb_layout_check() (nothing is stored), storage codes. Messages are on the store.
 * @since 0.1
 */
RB_API rb_status rb_layout_set(rb_txn *txn, const char *org, const char *name, const char *src,
                               size_t len, const rb_limits *limits, int64_t now, rb_layout *out);
/**
 * The stored layout of `org`; out->hash is "" when it has none.
 * @return RB_OK, RB_INVALID (bad org id), RB_NOTFOUND (no such org), RB_CORRUPT.
 * @since 0.1
 */
RB_API rb_status rb_layout_get(rb_txn *txn, const char *org, rb_layout *out);
/**
 * Remove the stored layout of `org` (its invoices fall back to the next layout in line).
 * @return RB_OK, RB_NOTFOUND (no such org, or no stored layout), RB_INVALID.
 * @since 0.1
 */
RB_API rb_status rb_layout_clear(rb_txn *txn, const char *org);
/** Every stored layout, by org id. @since 0.1 */
RB_API rb_status rb_layout_list(rb_txn *txn, rb_layout_cb cb, void *ctx);

/* -- reports -- */

/** One row of the partner's margin report: a customer, a service (or item name) and a
 *  currency, summed over the months asked for. Partner-only figures, usage currency, exact. */
typedef struct rb_margin_row {
    const char *customer;
    const char *service; /**< service, or the item's name for invoice-level items; "" in a
                              total row */
    char currency[4];
    bool hidden;         /**< the lines of `service` the pass-through policy hid from the
                              invoice: charged 0, so margin = -cost */
    bool total;          /**< the customer's total in `currency`: the sum of its rows */
    rb_dec billed;       /**< AWS billed cost of the lines */
    rb_dec cost;         /**< what the partner pays (= billed at the top of a chain) */
    rb_dec charged;      /**< showback price before tax and conversion */
    rb_dec margin;       /**< charged - cost */
    bool has_pct;        /**< false when cost is 0 ("n/a") */
    rb_dec margin_pct;   /**< margin / cost x 100, half-even to 2 places */
} rb_margin_row;
typedef rb_status (*rb_margin_cb)(const rb_margin_row *r, void *ctx);

/**
 * Margins of every customer a payer bills (or only `org`) over months from..to, by customer,
 * service and currency, sorted. Priced as rb_price_all() does; a customer that fails to price
 * fails the report (its message is on the store).
 *
 * Every input line counts: the lines the pass-through policy hides from the invoice come in a
 * row of their own after their service's row (hidden true, charged 0), so that a customer's
 * rows add up to what the partner really keeps. After every other row come the total rows,
 * one per customer and currency (total true, service ""). For one month a total's charged,
 * cost and billed are the exact sums that rb_priced_margin() of rb_price_org() gives as
 * price, cost and billed rounded to the minor unit.
 * @return RB_OK, RB_NOTFOUND (unknown org), RB_INVALID (bad months), pricing codes, the
 *         callback's status, storage codes.
 * @since 0.1
 */
RB_API rb_status rb_report_margins(rb_txn *txn, int from, int to, const char *org,
                                   rb_margin_cb cb, void *ctx);

/** The reconciliation of one currency of a period (rb_close_check()). */
typedef struct rb_close_row {
    char currency[4];
    rb_dec imported;   /**< billed cost of the stored manifests' totals */
    rb_dec mapped;     /**< billed cost of the usage of every org with a payer in force */
    rb_dec unmapped;   /**< billed cost of rb_usage_unmapped() */
    rb_dec difference; /**< imported - mapped - unmapped; 0 when reconciled */
} rb_close_row;
typedef rb_status (*rb_close_cb)(const rb_close_row *r, void *ctx);

/**
 * Reconcile `month`: per currency (sorted), mapped + unmapped == imported, exactly.
 * *reconciled is set to whether every currency's difference is 0.
 * @return RB_OK (reconciled or not), RB_INVALID (bad month), the callback's status,
 *         RB_OVERFLOW, storage codes.
 * @since 0.1
 */
RB_API rb_status rb_close_check(rb_txn *txn, int month, rb_close_cb cb, void *ctx,
                                bool *reconciled);

/**
 * The gate before a period's invoices are issued: `month` must be reconciled
 * (rb_close_check()). When it is not, the message (rb_errmsg()) names the period and, for
 * each currency with a difference, the imported, mapped and unmapped billed cost and the
 * difference: "period 2026-10 is not reconciled: USD imported 12.50, mapped 8.50, unmapped
 * 0, difference 4.00". Without `force` that is a refusal (RB_INVALID); with `force` the
 * call returns RB_OK, sets *forced and leaves the same message on the store for the caller
 * to show. Reads only.
 * @param[out] forced  true when the period is not reconciled and `force` let it through
 * @return RB_OK (reconciled, or forced), RB_INVALID (not reconciled; bad month),
 *         RB_OVERFLOW, storage codes.
 * @since 0.1
 */
RB_API rb_status rb_close_require(rb_txn *txn, int month, bool force, bool *forced);

/** # Customer exports (issue 5)
 *
 * A customer-month's showback as a FOCUS 1.2 CSV (RFC 4180, CRLF records, UTF-8), for the
 * customer's FinOps tools. The rows are the invoice preview's lines (rb_invoice_preview()),
 * each usage line split into the priced lines it is made of (SKU, region, quantity) and
 * rounded like the invoice, plus its corrections and tax: the sum of BilledCost is the
 * invoice total, exactly. Built from showback amounts only: no billed cost, partner cost or
 * margin appears in any column. See docs/invoices.md, "Customer exports (FOCUS 1.2)".
 */

/** Receives the file a record (the header, then each row) at a time. Return RB_OK to go on;
 *  anything else stops the export and is returned. */
typedef rb_status (*rb_export_write_fn)(const char *data, size_t len, void *ctx);

/** What rb_export_focus() wrote. */
typedef struct rb_export_summary {
    long rows;        /**< data rows (the header is not counted); 0: a header-only file */
    char currency[4]; /**< BillingCurrency: the invoice currency */
    rb_dec total;     /**< the sum of BilledCost: the invoice preview's total */
} rb_export_summary;

/**
 * Write `org`'s FOCUS 1.2 export for `month` through `write`. Stores nothing. Every row is
 * computed and checked (its sum against the invoice total) before the first byte is written.
 * A month with nothing to invoice gives the header only (out->rows 0).
 * @param[in]  limits  of pricing; NULL: rb_limits_default()
 * @param[in]  now     the preview's issue date (it does not appear in the file)
 * @param[out] out     may be NULL; set on RB_OK
 * @return RB_OK, RB_NOTFOUND (no such org), RB_INVALID (no payer in force that month, bad
 *         month or org id), the pricing codes, what `write` returned, RB_NOMEM, storage codes;
 *         the message is on the store.
 * @since 0.1
 */
RB_API rb_status rb_export_focus(rb_txn *txn, const char *org, int month, const rb_limits *limits,
                                 int64_t now, rb_export_write_fn write, void *ctx,
                                 rb_export_summary *out);

#ifdef __cplusplus
}
#endif
#endif /* REBILL_H */
