/*
 * cli_db.c -- `rebill db` (info, dump) and `rebill config` (get, set).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char db_help[] =
    "usage: rebill db info      the database path and schema version\n"
    "       rebill db dump      every record of every sub-database, one per line, in key\n"
    "                           order (a logical dump for support and tests)\n";

static void dump_line(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    fwrite(line, 1, len, stdout);
    fputc('\n', stdout);
}

static rb_status do_dump(rb_txn *txn, void *ctx)
{
    (void)ctx;
    return rb_store_dump(txn, dump_line, NULL);
}

int cli_db(struct cli *c, int argc, char **argv)
{
    bool help;
    int rc;

    if (argc < 1 || strcmp(argv[0], "--help") == 0) {
        fputs(db_help, argc < 1 ? stderr : stdout);
        return argc < 1 ? EXIT_USAGE : EXIT_OK;
    }
    if (cli_parse(argc - 1, argv + 1, NULL, NULL, 0, NULL, db_help, &help) || help)
        return help ? EXIT_OK : EXIT_USAGE;
    if (strcmp(argv[0], "info") == 0) {
        if ((rc = cli_store(c, false)))
            return rc;
        if (c->json) {
            struct jw w;
            jw_init(&w, stdout);
            jw_obj(&w);
            jw_key(&w, "path");
            jw_str(&w, c->db_path);
            jw_key(&w, "schema_version");
            jw_int(&w, RB_SCHEMA_VERSION);
            jw_key(&w, "rebill_version");
            jw_str(&w, RB_VERSION_STRING);
            jw_obj_end(&w);
            jw_end(&w);
        } else {
            printf("database  %s\nschema    %d\nrebill    %s\n", c->db_path, RB_SCHEMA_VERSION,
                   RB_VERSION_STRING);
        }
        return EXIT_OK;
    }
    if (strcmp(argv[0], "dump") == 0) {
        rb_status st;
        if ((rc = cli_store(c, false)))
            return rc;
        st = rb_store_view(c->store, do_dump, NULL);
        return st == RB_OK ? EXIT_OK : cli_fail(c, st);
    }
    return cli_usage_error("unknown db verb '%s'", argv[0]);
}

/* {===================================================================================
 * config
 * =================================================================================== */

static const char config_help[] =
    "usage: rebill config get KEY\n"
    "       rebill config set KEY VALUE\n"
    "\n"
    "keys:\n"
    "  max-chain-depth   most billing transfers in one payer chain (default 2)\n";

static const struct {
    const char *name;  /* on the command line */
    const char *key;   /* in the database */
    int64_t dflt, min, max;
} settings[] = {
    {"max-chain-depth", "max_chain_depth", RB_MAX_CHAIN_DEPTH_DEFAULT, 1, RB_CHAIN_MAX},
};

struct config_op {
    int idx;
    bool set;
    int64_t value;
};

static rb_status do_config(rb_txn *txn, void *ctx)
{
    struct config_op *op = ctx;

    if (op->set)
        return rb_config_set_int(txn, settings[op->idx].key, op->value);
    return rb_config_get_int(txn, settings[op->idx].key, settings[op->idx].dflt, &op->value);
}

int cli_config(struct cli *c, int argc, char **argv)
{
    const char *pos[3];
    struct config_op op = {-1, false, 0};
    int npos = 0, rc;
    bool help;
    rb_status st;

    if ((rc = cli_parse(argc, argv, NULL, pos, 3, &npos, config_help, &help)) || help)
        return rc;
    if (npos < 2 || (strcmp(pos[0], "get") != 0 && strcmp(pos[0], "set") != 0))
        return cli_usage_error("usage: rebill config get KEY | set KEY VALUE");
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (strcmp(pos[1], settings[i].name) == 0)
            op.idx = (int)i;
    if (op.idx < 0)
        return cli_user_error("unknown setting '%s' (known: max-chain-depth)", pos[1]);
    op.set = strcmp(pos[0], "set") == 0;
    if (op.set) {
        char *end;
        long long v;
        if (npos != 3)
            return cli_usage_error("config set needs KEY and VALUE");
        v = strtoll(pos[2], &end, 10);
        if (!*pos[2] || *end || v < settings[op.idx].min || v > settings[op.idx].max)
            return cli_user_error("invalid value for %s: \"%s\" (want %lld..%lld)", pos[1],
                                  pos[2], (long long)settings[op.idx].min,
                                  (long long)settings[op.idx].max);
        op.value = v;
    }
    if ((rc = cli_store(c, op.set)))
        return rc;
    st = op.set ? rb_store_update(c->store, do_config, &op)
                : rb_store_view(c->store, do_config, &op);
    if (st != RB_OK)
        return cli_fail(c, st);
    if (!op.set) {
        if (c->json)
            printf("{\"%s\":%lld}\n", settings[op.idx].name, (long long)op.value);
        else
            printf("%lld\n", (long long)op.value);
    }
    return EXIT_OK;
}
