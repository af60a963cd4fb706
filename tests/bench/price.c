/*
 * price.c -- the pricing benchmark (tests/bench/price.sh): N customers x M aggregated lines
 * priced with a plan of 10 scoped rules and one on_line hook, against a bare Lua loop doing
 * the same arithmetic in the same run.
 *
 * For each customer: generate its lines (deterministic), compile the plan in a fresh sandbox
 * (timed apart: that is the per-customer set-up), price them with rb_price (timed), then
 * hand the same lines to a plain Lua loop in a sandbox (tables of money values built
 * beforehand, not timed) that finds each line's rule with table lookups, multiplies, rounds
 * to 12 digits, applies the hook's test and sums (timed). The exact sums must agree for every
 * customer, or the benchmark fails: it measures the same work, not a shortcut.
 *
 * Usage: price [CUSTOMERS [LINES]]     (defaults 1000 and 2000)
 * BENCH_ENGINE_ONLY=1 skips the bare loop (for profiling the engine alone); BENCH_NO_HOOK=1
 * also prices without the hook.
 * Prints lines/s for both and their ratio; exit 1 if a total differs or anything fails.
 */
#include "plan.h"
#include "sandbox.h"

#include <lauxlib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char plan_src[] =
    "return rebill.plan {\n"
    "  name = 'bench: 10 scoped rules + on_line',\n"
    "  base = 'billed',\n"
    "  rebill.markup { percent = 5 },\n"
    "  rebill.discount { service = 'AmazonEC2', percent = 10 },\n"
    "  rebill.discount { service = 'AmazonS3', percent = 5 },\n"
    "  rebill.discount { service = 'AmazonRDS', percent = 8 },\n"
    "  rebill.markup { service = 'AWSLambda', percent = 2 },\n"
    "  rebill.markup { entity = 'AWS Marketplace', percent = 0 },\n"
    "  rebill.discount { service = 'AmazonEC2', usage_type = 'BoxUsage:m5.large',"
    " percent = 20 },\n"
    "  rebill.discount { service = 'AmazonEC2', usage_type = 'BoxUsage:c5.xlarge',"
    " operation = 'RunInstances:0002', percent = 15 },\n"
    "  rebill.discount { service = 'AmazonS3', usage_type = 'TimedStorage-ByteHrs',"
    " percent = 12 },\n"
    "  rebill.rate { usage_type = 'DataTransfer-Out-Bytes', price = '0.05' },\n"
    "  on_line = function(line)\n"
    "    if line.usage_type:find('Spot', 1, true) then return line.cost * 1.02 end\n"
    "  end,\n"
    "}\n";
/* The same without its hook (BENCH_NO_HOOK=1, to see what the hook costs); the totals then
 * differ from the bare loop's on Spot lines, so only the engine runs. */
static const char plan_nohook_src[] =
    "return rebill.plan {\n"
    "  base = 'billed',\n"
    "  rebill.markup { percent = 5 },\n"
    "  rebill.discount { service = 'AmazonEC2', percent = 10 },\n"
    "  rebill.discount { service = 'AmazonS3', percent = 5 },\n"
    "  rebill.discount { service = 'AmazonRDS', percent = 8 },\n"
    "  rebill.markup { service = 'AWSLambda', percent = 2 },\n"
    "  rebill.markup { entity = 'AWS Marketplace', percent = 0 },\n"
    "  rebill.discount { service = 'AmazonEC2', usage_type = 'BoxUsage:m5.large',"
    " percent = 20 },\n"
    "  rebill.discount { service = 'AmazonEC2', usage_type = 'BoxUsage:c5.xlarge',"
    " operation = 'RunInstances:0002', percent = 15 },\n"
    "  rebill.discount { service = 'AmazonS3', usage_type = 'TimedStorage-ByteHrs',"
    " percent = 12 },\n"
    "  rebill.rate { usage_type = 'DataTransfer-Out-Bytes', price = '0.05' },\n"
    "}\n";

/* The bare loop: the same rules as lookups in Lua tables, the same arithmetic. */
static const char bare_src[] =
    "local money = rebill.money\n"
    "local f = function(p) return money(1) + money(p) / 100 end\n"
    "local sku3 = { ['AmazonEC2|BoxUsage:c5.xlarge|RunInstances:0002'] = f(-15) }\n"
    "local sku2 = { ['AmazonEC2|BoxUsage:m5.large'] = f(-20),\n"
    "               ['AmazonS3|TimedStorage-ByteHrs'] = f(-12) }\n"
    "local rate = { ['DataTransfer-Out-Bytes'] = money('0.05') }\n"
    "local service = { AmazonEC2 = f(-10), AmazonS3 = f(-5), AmazonRDS = f(-8),"
    " AWSLambda = f(2) }\n"
    "local entity = { ['AWS Marketplace'] = f(0) }\n"
    "local global = f(5)\n"
    "local spot = money('1.02')\n"
    "return function(lines)\n"
    "  local total = money(0)\n"
    "  for i = 1, #lines do\n"
    "    local l = lines[i]\n"
    "    local p\n"
    "    if l.lt ~= 'Usage' then\n"
    "      p = l.cost\n"
    "    else\n"
    "      local r = rate[l.ut]\n"
    "      local k = sku3[l.k3] or sku2[l.k2]\n"
    "      if k then p = l.cost * k\n"
    "      elseif r then p = l.qty * r\n"
    "      else p = l.cost * (service[l.svc] or entity[l.ent] or global) end\n"
    "      if l.ut:find('Spot', 1, true) then p = l.cost * spot end\n"
    "    end\n"
    "    total = total + p:round(12)\n"
    "  end\n"
    "  return tostring(total)\n"
    "end\n";

/* {===================================================================================
 * Deterministic lines
 * =================================================================================== */

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const services[] = {
    "AmazonEC2",       "AmazonEC2",      "AmazonEC2", "AmazonEC2",         "AmazonS3",
    "AmazonS3",        "AmazonRDS",      "AWSLambda", "AmazonCloudWatch",  "AmazonDynamoDB",
    "AmazonVPC",       "AmazonRoute53",  "AmazonEKS", "AmazonECS",         "AWSGlue",
    "AmazonKinesis",   "AmazonSNS",      "AmazonSQS", "AmazonElastiCache", "AmazonRedshift",
    "prodview-mkt001", "prodview-mkt002"};
static const char *const ec2_types[] = {
    "BoxUsage:m5.large",  "BoxUsage:c5.xlarge",  "BoxUsage:t3.micro",      "BoxUsage:r5.2xlarge",
    "SpotUsage:c5.large", "SpotUsage:m5.xlarge", "DataTransfer-Out-Bytes", "EBS:VolumeUsage.gp3",
    "BoxUsage:m6i.large", "BoxUsage:c6g.xlarge"};
static const char *const s3_types[] = {"TimedStorage-ByteHrs", "Requests-Tier1", "Requests-Tier2",
                                       "DataTransfer-Out-Bytes"};
static const char *const other_types[] = {"Usage-A", "Usage-B", "Usage-C", "DataTransfer-Out-Bytes",
                                          "Requests"};
static const char *const ops[] = {"RunInstances", "RunInstances:0002", "Operation"};
static const char *const regions[] = {"us-east-1",    "us-west-2",      "eu-west-1",
                                      "eu-central-1", "ap-southeast-1", "ap-northeast-1"};
static char accounts[3][16];

struct gen {
    rb_price_input *in;
    size_t n;
};

static void amount(rb_dec *d, uint64_t max_cents)
{
    char buf[48];
    uint64_t v = next() % (max_cents * 100000000ULL); /* 10 fraction digits */

    snprintf(buf, sizeof(buf), "%llu.%010llu", (unsigned long long)(v / 10000000000ULL),
             (unsigned long long)(v % 10000000000ULL));
    rb_dec_parse(d, buf, strlen(buf), NULL);
}

static void gen_customer(struct gen *g, int customer, size_t nlines)
{
    for (int a = 0; a < 3; a++)
        snprintf(accounts[a], sizeof(accounts[a]), "%012d", customer * 3 + a + 100000);
    for (size_t i = 0; i < nlines; i++) {
        rb_price_input *in = &g->in[i];
        uint64_t r = next();
        const char *svc = services[r % RB_COUNTOF(services)];
        bool mkt = strncmp(svc, "prodview", 8) == 0;
        uint64_t lt = (r >> 20) % 100;

        memset(in, 0, sizeof(*in));
        in->account = accounts[(r >> 8) % 3];
        in->service = svc;
        if (strcmp(svc, "AmazonEC2") == 0)
            in->usage_type = ec2_types[(r >> 12) % RB_COUNTOF(ec2_types)];
        else if (strcmp(svc, "AmazonS3") == 0)
            in->usage_type = s3_types[(r >> 12) % RB_COUNTOF(s3_types)];
        else
            in->usage_type = other_types[(r >> 12) % RB_COUNTOF(other_types)];
        in->operation = ops[(r >> 16) % RB_COUNTOF(ops)];
        in->region = regions[(r >> 24) % RB_COUNTOF(regions)];
        in->line_type = lt < 95 ? "Usage" : lt < 98 ? "Credit" : "Tax";
        in->entity = mkt ? "AWS Marketplace" : "AWS";
        memcpy(in->currency, "USD", 4);
        amount(&in->quantity, 100000);
        amount(&in->billed, 5000);
        if (lt >= 95 && lt < 98)
            in->billed = rb_dec_neg(&in->billed);
        in->list = in->billed;
        in->effective = in->billed;
    }
    g->n = nlines;
}

/* {===================================================================================
 * The bare loop, in a sandbox
 * =================================================================================== */

struct bare {
    struct rbi_sandbox *sb;
    int fn;   /* the loop */
    int tabs; /* registry ref of the current lines table */
    const struct gen *g;
    char total[64];
};

static void push_str_field(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void push_dec_field(lua_State *L, const char *k, const rb_dec *d)
{
    rbi_lapi_dec_push(L, d);
    lua_setfield(L, -2, k);
}

/* Build the lines as Lua tables (not timed) and keep them in the registry. */
static void build_fn(lua_State *L, void *ctx)
{
    struct bare *b = ctx;
    char k[256];

    lua_createtable(L, (int)b->g->n, 0);
    for (size_t i = 0; i < b->g->n; i++) {
        const rb_price_input *in = &b->g->in[i];
        lua_createtable(L, 0, 10);
        push_str_field(L, "svc", in->service);
        push_str_field(L, "ut", in->usage_type);
        push_str_field(L, "ent", in->entity);
        push_str_field(L, "lt", in->line_type);
        snprintf(k, sizeof(k), "%s|%s|%s", in->service, in->usage_type, in->operation);
        push_str_field(L, "k3", k);
        snprintf(k, sizeof(k), "%s|%s", in->service, in->usage_type);
        push_str_field(L, "k2", k);
        push_dec_field(L, "cost", &in->billed);
        push_dec_field(L, "qty", &in->quantity);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, b->tabs);
    b->tabs = luaL_ref(L, LUA_REGISTRYINDEX);
}

static int push_lines(lua_State *L, void *ctx)
{
    struct bare *b = ctx;

    lua_rawgeti(L, LUA_REGISTRYINDEX, b->tabs);
    return 1;
}

static void take_total(lua_State *L, int nres, void *ctx)
{
    struct bare *b = ctx;

    (void)nres;
    snprintf(b->total, sizeof(b->total), "%s",
             lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
}

/* Wall time, and the CPU time of this thread: on a shared machine the wall clock also
 * counts other processes' turns; the CPU time is what the work itself took. */
static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int customers = argc > 1 ? atoi(argv[1]) : 1000;
    size_t nlines = argc > 2 ? (size_t)atol(argv[2]) : 2000;
    struct gen g;
    struct bare b;
    rb_error err;
    rb_limits lim = rb_limits_default();
    double t_compile = 0, t_price = 0, t_bare = 0, t0, c0;
    double c_compile = 0, c_price = 0, c_bare = 0;
    long mismatches = 0;
    long long hooked = 0;
    bool nohook = getenv("BENCH_NO_HOOK") != NULL;

    if (customers < 1 || nlines < 1) {
        fprintf(stderr, "usage: price [CUSTOMERS [LINES]]\n");
        return 2;
    }
    g.in = calloc(nlines, sizeof(*g.in));
    memset(&b, 0, sizeof(b));
    b.g = &g;
    b.tabs = LUA_NOREF;
    lim.steps = 1000000000ULL;
    lim.wall_ms = 60000;
    lim.mem_bytes = (size_t)1 << 30;
    if (!g.in || rbi_sandbox_new(&b.sb, &lim, &err) != RB_OK ||
        rbi_sandbox_load(b.sb, "bench/bare.lua", bare_src, strlen(bare_src), &b.fn) != RB_OK) {
        fprintf(stderr, "bench: cannot set up the bare loop: %s\n",
                b.sb ? rbi_sandbox_errmsg(b.sb) : err.msg);
        return 1;
    }
    for (int c = 0; c < customers; c++) {
        rb_plan *pl = NULL;
        rb_priced *p = NULL;
        rb_price_request req = {0};
        rb_dec sum = rb_dec_zero(), lua_sum;
        char id[32], want[RB_DEC_BUFSZ];

        gen_customer(&g, c, nlines);
        snprintf(id, sizeof(id), "o-bench%06d", c);
        t0 = now_s();
        c0 = cpu_s();
        if (rb_plan_compile(&pl, "bench/plan.lua", nohook ? plan_nohook_src : plan_src,
                            strlen(nohook ? plan_nohook_src : plan_src), NULL, &err) != RB_OK) {
            fprintf(stderr, "bench: compile: %s\n", err.msg);
            return 1;
        }
        t_compile += now_s() - t0;
        c_compile += cpu_s() - c0;
        req.customer = id;
        req.month = 2026 * 12 + 10;
        req.lines = g.in;
        req.nlines = g.n;
        req.cost = NULL;
        t0 = now_s();
        c0 = cpu_s();
        if (rb_price(pl, &req, &p, &err) != RB_OK) {
            fprintf(stderr, "bench: price: %s\n", err.msg);
            return 1;
        }
        t_price += now_s() - t0;
        c_price += cpu_s() - c0;
        for (size_t i = 0; i < rb_priced_count(p); i++) {
            rb_dec_add(&sum, &sum, &rb_priced_cost(p, i)->price);
            if (strcmp(rb_priced_cost(p, i)->rule, "on_line hook") == 0)
                hooked++;
        }
        rb_priced_free(p);
        rb_plan_free(pl);

        if (nohook || getenv("BENCH_ENGINE_ONLY")) {
            t_bare = c_bare = 1e-9;
            continue;
        }
        rbi_sandbox_begin(b.sb);
        if (rbi_sandbox_run(b.sb, build_fn, &b) != RB_OK) {
            fprintf(stderr, "bench: bare lines: %s\n", rbi_sandbox_errmsg(b.sb));
            return 1;
        }
        rbi_sandbox_begin(b.sb);
        t0 = now_s();
        c0 = cpu_s();
        if (rbi_sandbox_call(b.sb, b.fn, NULL, push_lines, 1, take_total, &b) != RB_OK) {
            fprintf(stderr, "bench: bare loop: %s\n", rbi_sandbox_errmsg(b.sb));
            return 1;
        }
        t_bare += now_s() - t0;
        c_bare += cpu_s() - c0;
        if (rb_dec_parse(&lua_sum, b.total, strlen(b.total), NULL) != RB_OK ||
            rb_dec_cmp(&lua_sum, &sum) != 0) {
            rb_dec_format(&sum, want, sizeof(want));
            if (mismatches++ < 5)
                fprintf(stderr, "bench: customer %d: engine %s, bare loop %s\n", c, want, b.total);
        }
    }
    {
        double lines = (double)customers * (double)nlines;
        double eng = lines / c_price, bare = lines / c_bare, ratio = c_price / c_bare;
        printf("pricing: %d customers x %zu lines, plan of 10 scoped rules + on_line hook "
               "(it repriced %lld lines)\n",
               customers, nlines, hooked);
        printf(
            "                                  CPU s   lines/s (CPU)    wall s  lines/s (wall)\n");
        printf("  rb_price                      %7.3f %15.0f   %7.3f %15.0f\n", c_price, eng,
               t_price, lines / t_price);
        printf("  + fresh sandbox and compile   %7.3f %15.0f   %7.3f %15.0f\n", c_price + c_compile,
               lines / (c_price + c_compile), t_price + t_compile, lines / (t_price + t_compile));
        printf("  bare Lua loop, same work      %7.3f %15.0f   %7.3f %15.0f\n", c_bare, bare,
               t_bare, lines / t_bare);
        printf("  ratio rb_price / bare loop (CPU): %.2f  (target <= 2.00: %s)\n", ratio,
               ratio <= 2.0 ? "met" : "NOT MET");
        printf("  priced lines/s (CPU): %.0f  (target >= 1,000,000: %s)\n", eng,
               eng >= 1e6 ? "met" : "NOT MET");
        printf("  exact totals: %s\n",
               mismatches ? "DIFFER (see above)" : "engine and bare loop agree for every customer");
    }
    rbi_sandbox_free(b.sb);
    free(g.in);
    return mismatches ? 1 : 0;
}
