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

/** # Organizations and accounts */

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
/** The source org accepts. @since 0.1 */
RB_API rb_status rb_transfer_accept(rb_txn *txn, const char *id, const char *actor, int64_t now);
/** The source org declines. @since 0.1 */
RB_API rb_status rb_transfer_decline(rb_txn *txn, const char *id, const char *actor,
                                     int64_t now);
/** The inviting payer cancels its invitation. @since 0.1 */
RB_API rb_status rb_transfer_cancel(rb_txn *txn, const char *id, const char *actor, int64_t now);
/** Either side ends an accepted transfer after `end_month` (irreversible). @since 0.1 */
RB_API rb_status rb_transfer_withdraw(rb_txn *txn, const char *id, const char *actor,
                                      int end_month, int64_t now);
/** Rename a transfer (any status). @since 0.1 */
RB_API rb_status rb_transfer_rename(rb_txn *txn, const char *id, const char *name, int64_t now);
/** Look up a transfer, with its effective status at `now`. @since 0.1 */
RB_API rb_status rb_transfer_get(rb_txn *txn, const char *id, int64_t now, rb_transfer *out);

#define RB_TRANSFER_INBOUND 0x1  /**< transfers where org is the source (its bill goes out) */
#define RB_TRANSFER_OUTBOUND 0x2 /**< transfers where org is the payer */
/** Transfers involving `org` (NULL: all) in the given directions, in id order. @since 0.1 */
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

/** # Usage (issue 3) */

/** # Rules (issue 4) */

/** # Rendering (issue 5) */

#ifdef __cplusplus
}
#endif
#endif /* REBILL_H */
