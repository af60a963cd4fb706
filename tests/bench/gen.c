/*
 * gen.c -- deterministic generator of synthetic AWS cost and usage exports for benchmarks and
 * tests: legacy CUR, CUR 2.0 and FOCUS 1.2 CSV, N rows, one billing period.
 *
 * Provides a standalone program (tests/bench/run.sh and tests/cli/test_gen.sh build it into
 * BUILD/bench/gen); see tests/bench/README.md for the options and the shape of the data.
 * Uses only libc.  It is deliberately independent of the engine it feeds: it never links
 * librebill, so a bug in the engine cannot hide itself in the generator.  Being a test tool
 * outside engine/, it calls malloc/free directly.
 *
 * Determinism: every byte is a function of (format, rows, seed, accounts, period, keys) and
 * nothing else.  Only integer arithmetic is used; amounts are int64 counts of 1e-10 and are
 * printed from those integers, never through a double.  Each row draws from its own random
 * stream (seeded by seed and row number); the accounts, the key pool and every per-key string
 * come from streams that do not depend on the row count, so a 10M-row file with --keys K has
 * exactly the aggregate keys of the 1M-row file with the same seed and K.
 *
 * It must never print an amount it did not compute as an integer, and never let the header
 * and the row writer disagree: both walk the same column table.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__extension__ typedef __int128 i128;

#define SCALE 10 /* amounts are integers in units of 10^-SCALE */
#define MAX_ACCOUNTS 100000
#define OUTBUF (64u << 10) /* the header line */
#define ROW_MAX 16384      /* most bytes one row can take (about 60 fields of at most FIELD_MAX) */
#define FIELD_MAX 256      /* longest formatted field */
#define BATCH 2048         /* rows a worker thread formats at a time */
#define MAX_THREADS 16

/* Append formatted text at p (a char *) and advance it; fields are short, rows have room. */
#define PUTF(p, ...) ((p) += snprintf((p), FIELD_MAX, __VA_ARGS__))

static const char usage_text[] =
    "usage: gen [--format cur|cur2|focus] [--rows N] [--seed S] [--accounts N] [--period YYYY-MM]\n"
    "           [--keys K] [--out FILE] [--stats] [--threads N]\n"
    "  --format   legacy CUR (default), CUR 2.0 or FOCUS 1.2 column set\n"
    "  --rows     data rows to write (default 1000)\n"
    "  --seed     random seed (default 1); same options and seed, same bytes\n"
    "  --accounts usage accounts, Zipf-skewed (default 300)\n"
    "  --period   billing period (default 2026-10)\n"
    "  --keys     draw every row from a fixed pool of K distinct aggregate keys (account, day,\n"
    "             service, usage type, operation, region, line type, entity); rows 1..K use\n"
    "             each key once, so any file with rows >= K has exactly those K keys\n"
    "  --out      write to FILE instead of stdout\n"
    "  --stats    print one JSON line to stderr: rows, bytes, keys and the exact sums of\n"
    "             quantity, billed and list amounts (and FOCUS EffectiveCost)\n"
    "  --threads  formatting threads (default: the online CPUs, at most 16); the bytes do not\n"
    "             depend on it\n";

/* {===================================================================================
 * Random numbers: splitmix64, one stream per purpose
 * =================================================================================== */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    return mix64(*s);
}

/* A number in [0, n), n < 2^32. */
static uint32_t rnd_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((rnd(s) >> 32) * (uint64_t)n) >> 32);
}

/* A number in [0, n) skewed toward 0 (density ~ 1/sqrt(x)). */
static uint32_t rnd_skew(uint64_t *s, uint32_t n)
{
    uint64_t u = rnd(s) >> 32;
    return (uint32_t)((((u * u) >> 32) * (uint64_t)n) >> 32);
}

/* Percent chance. */
static bool chance(uint64_t *s, uint32_t pct)
{
    return rnd_below(s, 100) < pct;
}

static uint64_t stream(uint64_t seed, uint64_t purpose, uint64_t n)
{
    return mix64(mix64(seed ^ (purpose * 0x632be59bd9b4e019ULL)) + n);
}

/* {===================================================================================
 * Exact decimal amounts: int64 counts of 10^-10
 * =================================================================================== */

/* clang-format off */
static const int64_t pow10s[19] = {
    1LL,           10LL,           100LL,           1000LL,           10000LL,
    100000LL,      1000000LL,      10000000LL,      100000000LL,      1000000000LL,
    10000000000LL, 100000000000LL, 1000000000000LL, 10000000000000LL, 100000000000000LL,
    1000000000000000LL, 10000000000000000LL, 100000000000000000LL, 1000000000000000000LL};
/* clang-format on */

/* Parse a non-negative decimal literal of the catalogue ("0.0000166667") into units. */
static int64_t units(const char *s)
{
    int64_t v = 0;
    int frac = -1;

    for (; *s; s++) {
        if (*s == '.') {
            frac = 0;
            continue;
        }
        v = v * 10 + (*s - '0');
        if (frac >= 0)
            frac++;
    }
    if (frac < 0)
        frac = 0;
    return v * pow10s[SCALE - frac];
}

/* round(a * b / 10^10), half away from zero: the product of two amounts. */
static int64_t mul(int64_t a, int64_t b)
{
    i128 p = (i128)a * b;
    bool neg = p < 0;

    if (neg)
        p = -p;
    p = (p + pow10s[SCALE] / 2) / pow10s[SCALE];
    return neg ? -(int64_t)p : (int64_t)p;
}

/* round(a * pct / 100). */
static int64_t pct_of(int64_t a, int pct)
{
    i128 p = (i128)a * pct;
    bool neg = p < 0;

    if (neg)
        p = -p;
    p = (p + 50) / 100;
    return neg ? -(int64_t)p : (int64_t)p;
}

/*
 * A random amount near 10^x for x in [lo, hi] with 1..maxsig significant digits, as units.
 * lo >= -10, hi <= 7.
 */
static int64_t draw_amount(uint64_t *s, int lo, int hi, int maxsig)
{
    int x = lo + (int)rnd_below(s, (uint32_t)(hi - lo + 1));
    int sig = 1 + (int)rnd_below(s, (uint32_t)maxsig);
    int64_t mant = pow10s[sig - 1] + (int64_t)(rnd(s) % (uint64_t)(9 * pow10s[sig - 1]));
    int e = x - (sig - 1) + SCALE;

    if (e < 0) {
        mant /= pow10s[-e];
        e = 0;
    }
    if (mant == 0)
        mant = 1;
    return mant * pow10s[e];
}

/* Decimal digits of v > 0 into d (most significant first); returns the count. */
static int digits_u128(unsigned __int128 v, char *d)
{
    char tmp[48];
    int n = 0, i;

    if (v <= UINT64_MAX) { /* every row amount: 64-bit division is many times cheaper */
        uint64_t s = (uint64_t)v;
        while (s) {
            tmp[n++] = (char)('0' + (int)(s % 10));
            s /= 10;
        }
        for (i = 0; i < n; i++)
            d[i] = tmp[n - 1 - i];
        return n;
    }
    while (v) {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    }
    for (i = 0; i < n; i++)
        d[i] = tmp[n - 1 - i];
    return n;
}

/*
 * Write u * 10^-10 as text.  Java style (legacy CUR and CUR 2.0 exports): "0.0" for zero,
 * plain "12.5" / "0.0024" for 10^-3 <= |v| < 10^7, else "9.984E-7" / "1.25E7".  Plain style
 * (FOCUS): shortest fixed notation, "0", "12.5", "0.0000009984".
 */
static char *put_amount(char *p, i128 u, bool java)
{
    char d[48];
    int n, k, e, i;
    unsigned __int128 a;

    if (u == 0) {
        if (java) {
            memcpy(p, "0.0", 3);
            return p + 3;
        }
        *p++ = '0';
        return p;
    }
    if (u < 0) {
        *p++ = '-';
        a = (unsigned __int128)(-u);
    } else {
        a = (unsigned __int128)u;
    }
    n = digits_u128(a, d);
    e = n - 1 - SCALE; /* decimal exponent of the leading digit */
    k = n;
    while (k > 1 && d[k - 1] == '0')
        k--;
    if (java && (e < -3 || e >= 7)) {
        *p++ = d[0];
        *p++ = '.';
        if (k == 1) {
            *p++ = '0';
        } else {
            memcpy(p, d + 1, (size_t)(k - 1));
            p += k - 1;
        }
        *p++ = 'E';
        if (e < 0) {
            *p++ = '-';
            e = -e;
        }
        if (e >= 10)
            *p++ = (char)('0' + e / 10);
        *p++ = (char)('0' + e % 10);
        return p;
    }
    if (e >= 0) {
        for (i = 0; i <= e; i++)
            *p++ = i < k ? d[i] : '0';
        if (k > e + 1) {
            *p++ = '.';
            memcpy(p, d + e + 1, (size_t)(k - e - 1));
            p += k - e - 1;
        } else if (java) {
            memcpy(p, ".0", 2);
            p += 2;
        }
    } else {
        *p++ = '0';
        *p++ = '.';
        for (i = 0; i < -e - 1; i++)
            *p++ = '0';
        memcpy(p, d, (size_t)k);
        p += k;
    }
    return p;
}

/* {===================================================================================
 * Catalogue: services, usage types, regions, line types
 * =================================================================================== */

enum pkind { P_NORMAL, P_MARKETPLACE, P_SPFEE, P_SPUPFRONT, P_RIFEE, P_SUPPORT };
enum pflag {
    PF_RI = 1,       /* reserved instances apply: DiscountedUsage */
    PF_SP = 2,       /* savings plans apply: SavingsPlanCoveredUsage / Negation */
    PF_GLOBAL = 4,   /* region "global", no usage type prefix */
    PF_NOREGION = 8, /* no region at all */
    PF_INT = 16,     /* integral quantities (requests) */
    PF_HOURS = 32    /* quantity is instance hours: mostly 1.0 per hourly line */
};
enum res { R_NONE, R_EC2, R_VOL, R_S3, R_RDS, R_LAMBDA, R_DDB, R_SQS, R_EKS };

struct product {
    const char *code;   /* lineItem/ProductCode */
    const char *name;   /* product/ProductName; FOCUS ServiceName */
    const char *family; /* product/productFamily */
    const char *ut;     /* usage type without the region prefix */
    const char *op;     /* lineItem/Operation */
    const char *unit;   /* pricing/unit */
    const char *itype;  /* product/instanceType */
    const char *rate;   /* public on-demand rate in us-east-1 */
    const char *post;   /* description after "$RATE" */
    const char *seller; /* marketplace seller (legal entity) */
    const char *fcat;   /* FOCUS ServiceCategory */
    int qlo, qhi;       /* quantity magnitude, powers of ten */
    int nf10;           /* normalization factor * 10, 0 if none */
    int flags;          /* PF_* */
    enum pkind kind;    /* what kind of charge it is */
    enum res res;       /* resource id shape */
};

#define N_ PF_NOREGION
static const struct product products[] = {
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "Compute Instance", "BoxUsage:m5.large",
     "RunInstances", "Hrs", "m5.large", "0.096", " per On Demand Linux m5.large Instance Hour", 0,
     "Compute", -3, 0, 40, PF_RI | PF_SP | PF_HOURS, P_NORMAL, R_EC2},
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "Compute Instance", "BoxUsage:c5.xlarge",
     "RunInstances", "Hrs", "c5.xlarge", "0.17", " per On Demand Linux c5.xlarge Instance Hour", 0,
     "Compute", -3, 0, 80, PF_RI | PF_SP | PF_HOURS, P_NORMAL, R_EC2},
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "Compute Instance", "BoxUsage:t3.micro",
     "RunInstances", "Hrs", "t3.micro", "0.0104", " per On Demand Linux t3.micro Instance Hour", 0,
     "Compute", -3, 0, 5, PF_SP | PF_HOURS, P_NORMAL, R_EC2},
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "Compute Instance", "BoxUsage:r6g.2xlarge",
     "RunInstances", "Hrs", "r6g.2xlarge", "0.4032",
     " per On Demand Linux r6g.2xlarge Instance Hour", 0, "Compute", -3, 0, 160,
     PF_RI | PF_SP | PF_HOURS, P_NORMAL, R_EC2},
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "Compute Instance", "BoxUsage:m5.large",
     "RunInstances:0002", "Hrs", "m5.large", "0.192",
     " per On Demand Windows m5.large Instance Hour", 0, "Compute", -3, 0, 40, PF_SP | PF_HOURS,
     P_NORMAL, R_EC2},
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "Storage", "EBS:VolumeUsage.gp3",
     "CreateVolume-Gp3", "GB-Mo", "", "0.08",
     " per GB-month of General Purpose (gp3) provisioned storage", 0, "Storage", -4, 1, 0, 0,
     P_NORMAL, R_VOL},
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "Storage Snapshot", "EBS:SnapshotUsage",
     "CreateSnapshot", "GB-Mo", "", "0.05", " per GB-Month of snapshot data stored", 0, "Storage",
     -5, 1, 0, 0, P_NORMAL, R_VOL},
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "Data Transfer", "DataTransfer-Out-Bytes",
     "RunInstances", "GB", "", "0.09",
     " per GB - first 10 TB / month data transfer out beyond the global free tier", 0, "Networking",
     -7, 2, 0, 0, P_NORMAL, R_EC2},
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "NAT Gateway", "NatGateway-Hours", "NatGateway",
     "Hrs", "", "0.045", " per NAT Gateway Hour", 0, "Networking", -1, 0, 0, PF_HOURS, P_NORMAL,
     R_NONE},
    {"AmazonS3", "Amazon Simple Storage Service", "Storage", "TimedStorage-ByteHrs",
     "StandardStorage", "GB-Mo", "", "0.023", " per GB - first 50 TB / month of storage used", 0,
     "Storage", -9, 0, 0, 0, P_NORMAL, R_S3},
    {"AmazonS3", "Amazon Simple Storage Service", "API Request", "Requests-Tier1", "PutObject",
     "Requests", "", "0.000005", " per 1,000 PUT, COPY, POST, or LIST requests", 0, "Storage", 0, 4,
     0, PF_INT, P_NORMAL, R_S3},
    {"AmazonS3", "Amazon Simple Storage Service", "API Request", "Requests-Tier2", "GetObject",
     "Requests", "", "0.0000004", " per 10,000 GET and all other requests", 0, "Storage", 0, 5, 0,
     PF_INT, P_NORMAL, R_S3},
    {"AmazonRDS", "Amazon Relational Database Service", "Database Instance",
     "InstanceUsage:db.r5.large", "CreateDBInstance:0002", "Hrs", "db.r5.large", "0.25",
     " per RDS db.r5.large Multi-AZ instance hour (or partial hour) running MySQL", 0, "Databases",
     -3, 0, 40, PF_RI | PF_HOURS, P_NORMAL, R_RDS},
    {"AmazonRDS", "Amazon Relational Database Service", "Database Storage", "RDS:GP2-Storage",
     "CreateDBInstance:0002", "GB-Mo", "", "0.115",
     " per GB-month of provisioned GP2 storage running MySQL", 0, "Databases", -4, 1, 0, 0,
     P_NORMAL, R_RDS},
    {"AWSLambda", "AWS Lambda", "Serverless", "Lambda-GB-Second", "Invoke", "Lambda-GB-Second", "",
     "0.0000166667", " per GB-second for the first 6 billion GB-seconds / month", 0, "Compute", -1,
     4, 0, PF_SP, P_NORMAL, R_LAMBDA},
    {"AWSLambda", "AWS Lambda", "Serverless", "Request", "Invoke", "Requests", "", "0.0000002",
     " per request, AWS Lambda - Total Requests", 0, "Compute", 0, 5, 0, PF_INT, P_NORMAL,
     R_LAMBDA},
    {"AmazonCloudWatch", "AmazonCloudWatch", "Metric", "CW:MetricMonitorUsage", "MetricStorage",
     "Metrics", "", "0.3", " per metric-month - first 10,000 metrics", 0,
     "Management and Governance", -4, 1, 0, 0, P_NORMAL, R_NONE},
    {"AmazonCloudWatch", "AmazonCloudWatch", "API Request", "CW:Requests", "GetMetricData",
     "Requests", "", "0.00001", " per 1,000 metrics requested using GetMetricData API", 0,
     "Management and Governance", 0, 4, 0, PF_INT, P_NORMAL, R_NONE},
    {"AmazonDynamoDB", "Amazon DynamoDB", "Amazon DynamoDB PayPerRequest Throughput",
     "ReadRequestUnits", "GetItem", "ReadRequestUnits", "", "0.00000025",
     " per read request unit, on-demand", 0, "Databases", 0, 6, 0, PF_INT, P_NORMAL, R_DDB},
    {"AmazonDynamoDB", "Amazon DynamoDB", "Database Storage", "TimedStorage-ByteHrs",
     "StandardStorage", "GB-Mo", "", "0.25",
     " per GB-Month of storage used beyond first 25 free GB-Months", 0, "Databases", -6, 1, 0, 0,
     P_NORMAL, R_DDB},
    {"AWSQueueService", "Amazon Simple Queue Service", "API Request", "Requests-RBP", "SendMessage",
     "Requests", "", "0.0000004", " per Amazon SQS standard request (first 100 billion / month)", 0,
     "Integration", 0, 5, 0, PF_INT, P_NORMAL, R_SQS},
    {"AmazonSNS", "Amazon Simple Notification Service", "API Request", "Requests-Tier1", "Publish",
     "Requests", "", "0.0000005", " per request, first 1,000,000 requests per month are free", 0,
     "Integration", 0, 4, 0, PF_INT, P_NORMAL, R_NONE},
    {"awskms", "AWS Key Management Service", "Encryption Key", "KMS-Keys", "CreateKey", "Keys", "",
     "0.0013888889", " per customer managed key per hour", 0, "Security", -1, 1, 0, 0, P_NORMAL,
     R_NONE},
    {"AmazonEKS", "Amazon Elastic Container Service for Kubernetes", "Compute",
     "AmazonEKS-Hours:perCluster", "CreateOperation", "Hours", "", "0.1",
     " per hour per Kubernetes cluster", 0, "Containers", -1, 0, 0, PF_HOURS, P_NORMAL, R_EKS},
    {"AmazonECS", "Amazon Elastic Container Service", "Compute", "Fargate-vCPU-Hours:perCPU",
     "FargateTask", "hours", "", "0.04048", " per vCPU-hour, Linux/X86, Fargate", 0, "Containers",
     -3, 1, 0, PF_SP, P_NORMAL, R_NONE},
    {"AWSGlue", "AWS Glue", "AWS Glue", "Crawler-DPU-Hour", "CrawlerRun", "DPU-Hour", "", "0.44",
     " per DPU-Hour for AWS Glue crawler run", 0, "Analytics", -3, 1, 0, 0, P_NORMAL, R_NONE},
    {"AmazonCloudFront", "Amazon CloudFront", "Data Transfer", "US-DataTransfer-Out-Bytes",
     "WebDistribution", "GB", "", "0.085",
     " per GB - first 10 TB / month data transfer out (United States)", 0, "Networking", -7, 3, 0,
     PF_GLOBAL, P_NORMAL, R_NONE},
    {"AmazonRoute53", "Amazon Route 53", "DNS Zone", "HostedZone", "CreateHostedZone", "HostedZone",
     "", "0.5", " per Hosted Zone for the first 25 Hosted Zones", 0, "Networking", 0, 0, 0,
     PF_GLOBAL | PF_INT, P_NORMAL, R_NONE},
    /* AWS Marketplace: a different billing and legal entity */
    {"5tzd4w5lg3jvz4d6cng3j2oqm", "Acme Observability Platform", "SaaS", "MP:SeatHours", "Unit",
     "Units", "", "0.0125", " per seat-hour, Acme \"Pro\" plan", "Acme Observability, Inc.",
     "Management and Governance", -1, 2, 0, N_, P_MARKETPLACE, R_NONE},
    {"b3wx0k9e4f2lq7n1m8r6t5yza", "Northwind Firewall (hourly)", "Software", "MP:c5.xlarge",
     "RunInstances:SV001", "Hrs", "c5.xlarge", "0.35",
     " per hour for Northwind Firewall on c5.xlarge", "Northwind Security GmbH", "Security", -3, 0,
     0, PF_HOURS, P_MARKETPLACE, R_EC2},
    {"8k3jd9s0a7h2g4f6l1z5x8c0v", "Contoso Data Warehouse, Enterprise", "SaaS", "MP:Credits",
     "Unit", "Credits", "", "2", " per credit, Contoso \"Enterprise\" tier", "Contoso Ltd.",
     "Analytics", -2, 2, 0, N_, P_MARKETPLACE, R_NONE},
    /* commitments and fees */
    {"ComputeSavingsPlans", "Savings Plans for AWS Compute usage", "Savings Plan",
     "ComputeSP:1yrNoUpfront", "", "Hrs", "", "1", " hourly commitment, 1 year No Upfront", 0,
     "Compute", 0, 0, 0, N_, P_SPFEE, R_NONE},
    {"ComputeSavingsPlans", "Savings Plans for AWS Compute usage", "Savings Plan",
     "ComputeSP:3yrAllUpfront", "", "Quantity", "", "1", " upfront fee, 3 year All Upfront", 0,
     "Compute", 0, 0, 0, N_, P_SPUPFRONT, R_NONE},
    {"AmazonEC2", "Amazon Elastic Compute Cloud", "Compute Instance", "HeavyUsage:m5.large",
     "RunInstances", "Hrs", "m5.large", "0.06",
     " hourly fee per Linux/UNIX (Amazon VPC), m5.large reserved instance", 0, "Compute", 0, 0, 40,
     0, P_RIFEE, R_NONE},
    {"AmazonRDS", "Amazon Relational Database Service", "Database Instance",
     "HeavyUsage:db.r5.large", "CreateDBInstance:0002", "Hrs", "db.r5.large", "0.16",
     " hourly fee per MySQL, db.r5.large Multi-AZ reserved instance", 0, "Databases", 0, 0, 0, 0,
     P_RIFEE, R_NONE},
    {"AWSSupportBusiness", "AWS Support (Business)", "Support", "Dollar", "", "Dollar", "", "1",
     " AWS Support (Business) monthly charge", 0, "Other", 0, 0, 0, N_, P_SUPPORT, R_NONE},
};
#undef N_
#define NPROD ((int)(sizeof(products) / sizeof(products[0])))

struct region {
    const char *code;     /* product/region */
    const char *prefix;   /* usage type prefix, "" for us-east-1 */
    const char *location; /* product/location; FOCUS RegionName */
    int pct;              /* price relative to us-east-1 */
    int weight;           /* share of usage */
};

static const struct region regions[] = {
    {"us-east-1", "", "US East (N. Virginia)", 100, 35},
    {"us-west-2", "USW2-", "US West (Oregon)", 100, 20},
    {"eu-west-1", "EU-", "EU (Ireland)", 110, 12},
    {"eu-central-1", "EUC1-", "EU (Frankfurt)", 115, 8},
    {"us-east-2", "USE2-", "US East (Ohio)", 100, 8},
    {"ap-southeast-2", "APS2-", "Asia Pacific (Sydney)", 125, 5},
    {"ap-northeast-1", "APN1-", "Asia Pacific (Tokyo)", 128, 5},
    {"ca-central-1", "CAN1-", "Canada (Central)", 110, 4},
    {"sa-east-1", "SAE1-", "South America (Sao Paulo)", 155, 3},
    {"global", "", "Global", 100, 0},
    {"", "", "", 100, 0},
};
#define NREG_DRAW 9 /* regions a regional product is drawn from */
#define REG_GLOBAL 9
#define REG_NONE 10
#define NREG 11

/* How a line's amounts are made. */
enum amt {
    A_USAGE,
    A_DISCOUNTED,
    A_SPCOVERED,
    A_SPNEGATION,
    A_SPFEE,
    A_UPFRONT,
    A_RIFEE,
    A_FEE,
    A_TAX,
    A_CREDIT,
    A_REFUND,
    A_EDP,
    A_BUNDLED,
    A_PRIVATE,
    A_COMMIT_USED,
    A_COMMIT_UNUSED,
};

/* Which products a line type draws from. */
enum elig {
    E_USAGE,   /* normal products, some marketplace */
    E_RI,      /* PF_RI */
    E_SP,      /* PF_SP */
    E_COMMIT,  /* PF_RI or PF_SP */
    E_SPFEE,   /* the savings plan recurring fee */
    E_UPFRONT, /* the savings plan upfront fee */
    E_RIFEE,   /* reserved instance fees */
    E_RECUR,   /* SP and RI recurring fees */
    E_FEE,     /* support or marketplace subscription */
    E_ONETIME, /* upfront, support, marketplace */
    E_TAX,     /* normal or marketplace, collapsed to the product code */
    E_NORMAL,  /* normal products only */
    E_NELIG
};

struct ltype {
    const char *name;    /* lineItem/LineItemType, or FOCUS ChargeCategory */
    const char *fclass;  /* FOCUS ChargeClass */
    const char *freq;    /* FOCUS ChargeFrequency */
    const char *cstatus; /* FOCUS CommitmentDiscountStatus */
    const char *desc;    /* description; NULL = "$RATE" + product's */
    enum amt amt;        /* amounts */
    enum elig elig;      /* products */
    int weight;          /* share of keys, per mille */
    bool monthly;        /* one line for the month, not hourly */
    bool tagged;         /* carries resource tags */
};

static const struct ltype cur_types[] = {
    {"Usage", "", "", "", NULL, A_USAGE, E_USAGE, 560, false, true},
    {"DiscountedUsage", "", "", "", "USD 0.0 hourly fee per reserved instance, ", A_DISCOUNTED,
     E_RI, 60, false, true},
    {"SavingsPlanCoveredUsage", "", "", "", NULL, A_SPCOVERED, E_SP, 80, false, true},
    {"SavingsPlanNegation", "", "", "", "SavingsPlanNegation used by AccountId : ", A_SPNEGATION,
     E_SP, 80, false, true},
    {"SavingsPlanRecurringFee", "", "", "", NULL, A_SPFEE, E_SPFEE, 15, false, false},
    {"SavingsPlanUpfrontFee", "", "", "", NULL, A_UPFRONT, E_UPFRONT, 3, true, false},
    {"RIFee", "", "", "", NULL, A_RIFEE, E_RIFEE, 10, true, false},
    {"Fee", "", "", "", NULL, A_FEE, E_FEE, 12, true, false},
    {"Tax", "", "", "", "Tax for product code ", A_TAX, E_TAX, 40, true, false},
    {"Credit", "", "", "", "AWS Promotional Credit, applied to ", A_CREDIT, E_NORMAL, 30, true,
     false},
    {"Refund", "", "", "", "Refund for an overcharge on ", A_REFUND, E_NORMAL, 5, true, false},
    {"EdpDiscount", "", "", "", "Enterprise Program Discount, 9% off ", A_EDP, E_NORMAL, 70, false,
     true},
    {"BundledDiscount", "", "", "", "Free tier bundled discount, ", A_BUNDLED, E_NORMAL, 15, false,
     true},
    {"PrivateRateDiscount", "", "", "", "Private rate discount per contract, ", A_PRIVATE, E_NORMAL,
     20, false, true},
};

static const struct ltype focus_types[] = {
    {"Usage", "", "Usage-Based", "", NULL, A_USAGE, E_USAGE, 700, false, true},
    {"Usage", "", "Usage-Based", "Used", "Covered by commitment, ", A_COMMIT_USED, E_COMMIT, 120,
     false, true},
    {"Usage", "", "Usage-Based", "Unused", "Unused commitment, ", A_COMMIT_UNUSED, E_SPFEE, 10,
     false, false},
    {"Purchase", "", "Recurring", "", NULL, A_SPFEE, E_RECUR, 20, false, false},
    {"Purchase", "", "One-Time", "", NULL, A_FEE, E_ONETIME, 10, true, false},
    {"Tax", "", "Recurring", "", "Tax for product code ", A_TAX, E_TAX, 40, true, false},
    {"Credit", "", "One-Time", "", "AWS Promotional Credit, applied to ", A_CREDIT, E_NORMAL, 20,
     true, false},
    {"Credit", "", "Usage-Based", "", "Enterprise Program Discount, 9% off ", A_EDP, E_NORMAL, 70,
     false, true},
    {"Adjustment", "Correction", "One-Time", "", "Refund for an overcharge on ", A_REFUND, E_NORMAL,
     10, true, false},
};

static const char *const envs[] = {"prod", "prod", "staging", "dev", ""};
static const char *const teams[] = {"payments", "search",   "data",     "platform",
                                    "mobile",   "identity", "ml",       "growth",
                                    "security", "web",      "checkout", ""};

/* {===================================================================================
 * Columns
 * =================================================================================== */

enum field {
    F_EMPTY,
    F_LINE_ITEM_ID,
    F_TIME_INTERVAL,
    F_INVOICE_ID,
    F_INVOICING_ENTITY,
    F_BILLING_ENTITY,
    F_BILL_TYPE,
    F_PAYER,
    F_PAYER_NAME,
    F_BP_START,
    F_BP_END,
    F_ACCOUNT,
    F_ACCOUNT_NAME,
    F_LINE_TYPE,
    F_START,
    F_END,
    F_PRODUCT_CODE,
    F_USAGE_TYPE,
    F_OPERATION,
    F_AZ,
    F_RESOURCE_ID,
    F_QTY,
    F_NORM_FACTOR,
    F_NORM_QTY,
    F_CURRENCY,
    F_UB_RATE,
    F_UB_COST,
    F_DESC,
    F_TAX_TYPE,
    F_LEGAL_ENTITY,
    F_PRODUCT_NAME,
    F_PRODUCT_FAMILY,
    F_INSTANCE_TYPE,
    F_LOCATION,
    F_REGION,
    F_SERVICECODE,
    F_SKU,
    F_PRODUCT_MAP,
    F_RATE_CODE,
    F_POD_COST,
    F_POD_RATE,
    F_TERM,
    F_UNIT,
    F_RES_ARN,
    F_RES_EFFECTIVE,
    F_SP_ARN,
    F_SP_RATE,
    F_SP_EFFECTIVE,
    F_SP_USED,
    F_TAG_ENV,
    F_TAG_TEAM,
    F_TAG_CC,
    F_TAG_CREATEDBY,
    F_TAGS_CUR2,
    F_TAGS_FOCUS,
    F_JSON_EMPTY,
    /* FOCUS only */
    F_EFFECTIVE,
    F_CONTRACTED,
    F_CHARGE_CLASS,
    F_CHARGE_FREQ,
    F_CD_CATEGORY,
    F_CD_STATUS,
    F_CD_TYPE,
    F_CD_NAME,
    F_PRICING_CATEGORY,
    F_PROVIDER,
    F_PUBLISHER,
    F_RESOURCE_NAME,
    F_RESOURCE_TYPE,
    F_SERVICE_CATEGORY,
    F_SKU_PRICE_ID,
    F_SKU_METER,
    F_ACCOUNT_TYPE,
    F_BILLING_ACCOUNT_TYPE,
};

struct column {
    const char *name;
    enum field f;
};

static const struct column cur_cols[] = {
    {"identity/LineItemId", F_LINE_ITEM_ID},
    {"identity/TimeInterval", F_TIME_INTERVAL},
    {"bill/InvoiceId", F_INVOICE_ID},
    {"bill/InvoicingEntity", F_INVOICING_ENTITY},
    {"bill/BillingEntity", F_BILLING_ENTITY},
    {"bill/BillType", F_BILL_TYPE},
    {"bill/PayerAccountId", F_PAYER},
    {"bill/BillingPeriodStartDate", F_BP_START},
    {"bill/BillingPeriodEndDate", F_BP_END},
    {"lineItem/UsageAccountId", F_ACCOUNT},
    {"lineItem/LineItemType", F_LINE_TYPE},
    {"lineItem/UsageStartDate", F_START},
    {"lineItem/UsageEndDate", F_END},
    {"lineItem/ProductCode", F_PRODUCT_CODE},
    {"lineItem/UsageType", F_USAGE_TYPE},
    {"lineItem/Operation", F_OPERATION},
    {"lineItem/AvailabilityZone", F_AZ},
    {"lineItem/ResourceId", F_RESOURCE_ID},
    {"lineItem/UsageAmount", F_QTY},
    {"lineItem/NormalizationFactor", F_NORM_FACTOR},
    {"lineItem/NormalizedUsageAmount", F_NORM_QTY},
    {"lineItem/CurrencyCode", F_CURRENCY},
    {"lineItem/UnblendedRate", F_UB_RATE},
    {"lineItem/UnblendedCost", F_UB_COST},
    {"lineItem/BlendedRate", F_UB_RATE},
    {"lineItem/BlendedCost", F_UB_COST},
    {"lineItem/LineItemDescription", F_DESC},
    {"lineItem/TaxType", F_TAX_TYPE},
    {"lineItem/LegalEntity", F_LEGAL_ENTITY},
    {"product/ProductName", F_PRODUCT_NAME},
    {"product/instanceType", F_INSTANCE_TYPE},
    {"product/location", F_LOCATION},
    {"product/operation", F_OPERATION},
    {"product/productFamily", F_PRODUCT_FAMILY},
    {"product/region", F_REGION},
    {"product/regionCode", F_REGION},
    {"product/servicecode", F_SERVICECODE},
    {"product/sku", F_SKU},
    {"product/usagetype", F_USAGE_TYPE},
    {"pricing/RateCode", F_RATE_CODE},
    {"pricing/currency", F_CURRENCY},
    {"pricing/publicOnDemandCost", F_POD_COST},
    {"pricing/publicOnDemandRate", F_POD_RATE},
    {"pricing/term", F_TERM},
    {"pricing/unit", F_UNIT},
    {"reservation/EffectiveCost", F_RES_EFFECTIVE},
    {"reservation/ReservationARN", F_RES_ARN},
    {"savingsPlan/SavingsPlanARN", F_SP_ARN},
    {"savingsPlan/SavingsPlanRate", F_SP_RATE},
    {"savingsPlan/SavingsPlanEffectiveCost", F_SP_EFFECTIVE},
    {"savingsPlan/UsedCommitment", F_SP_USED},
    {"resourceTags/aws:createdBy", F_TAG_CREATEDBY},
    {"resourceTags/user:cost-center", F_TAG_CC},
    {"resourceTags/user:env", F_TAG_ENV},
    {"resourceTags/user:team", F_TAG_TEAM},
};

static const struct column cur2_cols[] = {
    {"bill_bill_type", F_BILL_TYPE},
    {"bill_billing_entity", F_BILLING_ENTITY},
    {"bill_billing_period_end_date", F_BP_END},
    {"bill_billing_period_start_date", F_BP_START},
    {"bill_invoice_id", F_INVOICE_ID},
    {"bill_invoicing_entity", F_INVOICING_ENTITY},
    {"bill_payer_account_id", F_PAYER},
    {"bill_payer_account_name", F_PAYER_NAME},
    {"cost_category", F_JSON_EMPTY},
    {"identity_line_item_id", F_LINE_ITEM_ID},
    {"identity_time_interval", F_TIME_INTERVAL},
    {"line_item_availability_zone", F_AZ},
    {"line_item_blended_cost", F_UB_COST},
    {"line_item_blended_rate", F_UB_RATE},
    {"line_item_currency_code", F_CURRENCY},
    {"line_item_legal_entity", F_LEGAL_ENTITY},
    {"line_item_line_item_description", F_DESC},
    {"line_item_line_item_type", F_LINE_TYPE},
    {"line_item_normalization_factor", F_NORM_FACTOR},
    {"line_item_normalized_usage_amount", F_NORM_QTY},
    {"line_item_operation", F_OPERATION},
    {"line_item_product_code", F_PRODUCT_CODE},
    {"line_item_resource_id", F_RESOURCE_ID},
    {"line_item_tax_type", F_TAX_TYPE},
    {"line_item_unblended_cost", F_UB_COST},
    {"line_item_unblended_rate", F_UB_RATE},
    {"line_item_usage_account_id", F_ACCOUNT},
    {"line_item_usage_account_name", F_ACCOUNT_NAME},
    {"line_item_usage_amount", F_QTY},
    {"line_item_usage_end_date", F_END},
    {"line_item_usage_start_date", F_START},
    {"line_item_usage_type", F_USAGE_TYPE},
    {"pricing_currency", F_CURRENCY},
    {"pricing_public_on_demand_cost", F_POD_COST},
    {"pricing_public_on_demand_rate", F_POD_RATE},
    {"pricing_rate_code", F_RATE_CODE},
    {"pricing_term", F_TERM},
    {"pricing_unit", F_UNIT},
    {"product", F_PRODUCT_MAP},
    {"product_instance_type", F_INSTANCE_TYPE},
    {"product_location", F_LOCATION},
    {"product_operation", F_OPERATION},
    {"product_product_family", F_PRODUCT_FAMILY},
    {"product_region_code", F_REGION},
    {"product_servicecode", F_SERVICECODE},
    {"product_sku", F_SKU},
    {"product_usagetype", F_USAGE_TYPE},
    {"reservation_effective_cost", F_RES_EFFECTIVE},
    {"reservation_reservation_a_r_n", F_RES_ARN},
    {"resource_tags", F_TAGS_CUR2},
    {"savings_plan_savings_plan_a_r_n", F_SP_ARN},
    {"savings_plan_savings_plan_effective_cost", F_SP_EFFECTIVE},
    {"savings_plan_savings_plan_rate", F_SP_RATE},
    {"savings_plan_used_commitment", F_SP_USED},
};

static const struct column focus_cols[] = {
    {"AvailabilityZone", F_AZ},
    {"BilledCost", F_UB_COST},
    {"BillingAccountId", F_PAYER},
    {"BillingAccountName", F_PAYER_NAME},
    {"BillingAccountType", F_BILLING_ACCOUNT_TYPE},
    {"BillingCurrency", F_CURRENCY},
    {"BillingPeriodEnd", F_BP_END},
    {"BillingPeriodStart", F_BP_START},
    {"CapacityReservationId", F_EMPTY},
    {"CapacityReservationStatus", F_EMPTY},
    {"ChargeCategory", F_LINE_TYPE},
    {"ChargeClass", F_CHARGE_CLASS},
    {"ChargeDescription", F_DESC},
    {"ChargeFrequency", F_CHARGE_FREQ},
    {"ChargePeriodEnd", F_END},
    {"ChargePeriodStart", F_START},
    {"CommitmentDiscountCategory", F_CD_CATEGORY},
    {"CommitmentDiscountId", F_SP_ARN},
    {"CommitmentDiscountName", F_CD_NAME},
    {"CommitmentDiscountQuantity", F_EMPTY},
    {"CommitmentDiscountStatus", F_CD_STATUS},
    {"CommitmentDiscountType", F_CD_TYPE},
    {"CommitmentDiscountUnit", F_EMPTY},
    {"ConsumedQuantity", F_QTY},
    {"ConsumedUnit", F_UNIT},
    {"ContractedCost", F_CONTRACTED},
    {"ContractedUnitPrice", F_POD_RATE},
    {"EffectiveCost", F_EFFECTIVE},
    {"InvoiceId", F_INVOICE_ID},
    {"InvoiceIssuerName", F_INVOICING_ENTITY},
    {"ListCost", F_POD_COST},
    {"ListUnitPrice", F_POD_RATE},
    {"PricingCategory", F_PRICING_CATEGORY},
    {"PricingCurrency", F_CURRENCY},
    {"PricingCurrencyContractedUnitPrice", F_POD_RATE},
    {"PricingCurrencyEffectiveCost", F_EFFECTIVE},
    {"PricingCurrencyListUnitPrice", F_POD_RATE},
    {"PricingQuantity", F_QTY},
    {"PricingUnit", F_UNIT},
    {"ProviderName", F_PROVIDER},
    {"PublisherName", F_PUBLISHER},
    {"RegionId", F_REGION},
    {"RegionName", F_LOCATION},
    {"ResourceId", F_RESOURCE_ID},
    {"ResourceName", F_RESOURCE_NAME},
    {"ResourceType", F_RESOURCE_TYPE},
    {"ServiceCategory", F_SERVICE_CATEGORY},
    {"ServiceName", F_PRODUCT_NAME},
    {"ServiceSubcategory", F_PRODUCT_FAMILY},
    {"SkuId", F_SKU},
    {"SkuMeter", F_SKU_METER},
    {"SkuPriceDetails", F_EMPTY},
    {"SkuPriceId", F_SKU_PRICE_ID},
    {"SubAccountId", F_ACCOUNT},
    {"SubAccountName", F_ACCOUNT_NAME},
    {"SubAccountType", F_ACCOUNT_TYPE},
    {"Tags", F_TAGS_FOCUS},
    {"x_Operation", F_OPERATION},
    {"x_ServiceCode", F_PRODUCT_CODE},
    {"x_UsageType", F_USAGE_TYPE},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* {===================================================================================
 * Generator state
 * =================================================================================== */

enum format { FMT_CUR, FMT_CUR2, FMT_FOCUS };

struct key {
    uint16_t acct; /* index into accounts */
    uint8_t day;   /* 1..31 */
    uint8_t lt;    /* index into the format's line types */
    uint8_t prod;  /* index into products */
    uint8_t reg;   /* index into regions */
};

struct gen {
    enum format fmt;
    const struct ltype *lts;
    int nlt;
    const struct column *cols;
    int ncols;
    bool java; /* amount style */
    uint64_t seed;
    uint64_t rows;
    uint32_t naccounts;
    uint32_t nkeys;
    int year, month, ndays;
    char accounts[MAX_ACCOUNTS][13];
    uint64_t acct_cdf[MAX_ACCOUNTS]; /* Zipf weights, cumulative, scaled to 2^32 */
    uint32_t payer;
    int lt_cdf[16];
    int reg_cdf[NREG_DRAW];
    int elig[E_NELIG][NPROD];
    int nelig[E_NELIG];
    int code_rep[NPROD]; /* first product with the same code */
    int64_t rate[NPROD][NREG];
    char sku[NPROD][NREG][17];
    struct key *pool;
    char days[33][11]; /* "YYYY-MM-DD" for day 1..ndays+1 (the next month's first) */
    char invoice_aws[11], invoice_mp[11];
    /* totals for --stats */
    i128 sum_qty, sum_billed, sum_list, sum_effective;
    uint64_t bytes;
};

/* {===================================================================================
 * Set-up: accounts, rates, eligibility, key pool
 * =================================================================================== */

static void put_base32(char *p, uint64_t v, int n)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz234567";
    int i;

    for (i = 0; i < n; i++) {
        p[i] = alpha[v & 31];
        v >>= 5;
    }
}

static void put_upper36(char *p, uint64_t v, int n)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    int i;

    for (i = 0; i < n; i++) {
        p[i] = alpha[v % 36];
        v /= 36;
    }
}

static void setup_accounts(struct gen *g)
{
    uint64_t s = stream(g->seed, 1, 0);
    uint64_t total = 0, acc = 0;
    uint32_t i;
    /* weight of rank r is 2^32 / r^1.1, approximated as 2^32 / (r * r^0.1); r^0.1 from a table
     * of integer steps keeps it exact integer arithmetic */
    uint64_t *w = calloc(g->naccounts, sizeof(*w));
    uint64_t cap = 1, *set;

    while (cap < 2ULL * g->naccounts)
        cap <<= 1;
    set = calloc(cap, sizeof(*set));
    if (!w || !set) {
        fprintf(stderr, "gen: out of memory\n");
        exit(1);
    }
    for (i = 0; i < g->naccounts; i++) {
        uint64_t id, slot;
        do {
            /* one account id in twenty starts with a zero, as real ones can; the set holds
             * id + 1 so that 0 marks an empty slot */
            id = chance(&s, 5) ? rnd(&s) % 100000000000ULL
                               : 100000000000ULL + rnd(&s) % 900000000000ULL;
            slot = mix64(id) & (cap - 1);
            while (set[slot] && set[slot] != id + 1)
                slot = (slot + 1) & (cap - 1);
        } while (set[slot]);
        set[slot] = id + 1;
        snprintf(g->accounts[i], sizeof(g->accounts[i]), "%012llu", (unsigned long long)id);
        /* 1/r^1.1 ~ 1/(r * (1 + ln(r)/10)), integer-only and monotone */
        {
            uint64_t r = i + 1, lg = 0, t = r;
            while (t > 1) {
                t >>= 1;
                lg++;
            }
            w[i] = (1ULL << 40) / (r * (100 + 7 * lg));
        }
        total += w[i];
    }
    for (i = 0; i < g->naccounts; i++) {
        acc += w[i];
        g->acct_cdf[i] = (uint64_t)(((unsigned __int128)acc << 32) / total);
    }
    g->acct_cdf[g->naccounts - 1] = 1ULL << 32;
    g->payer = g->naccounts - 1; /* the management account uses little itself */
    free(w);
    free(set);
}

static uint32_t draw_account(const struct gen *g, uint64_t *s)
{
    uint64_t u = rnd(s) >> 32;
    uint32_t lo = 0, hi = g->naccounts - 1;

    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (g->acct_cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static bool in_elig(const struct product *p, enum elig e)
{
    bool normal = p->kind == P_NORMAL;

    switch (e) {
    case E_USAGE:
        return normal || p->kind == P_MARKETPLACE;
    case E_RI:
        return normal && (p->flags & PF_RI);
    case E_SP:
        return normal && (p->flags & PF_SP);
    case E_COMMIT:
        return normal && (p->flags & (PF_RI | PF_SP));
    case E_SPFEE:
        return p->kind == P_SPFEE;
    case E_UPFRONT:
        return p->kind == P_SPUPFRONT;
    case E_RIFEE:
        return p->kind == P_RIFEE;
    case E_RECUR:
        return p->kind == P_SPFEE || p->kind == P_RIFEE;
    case E_FEE:
        return p->kind == P_SUPPORT || p->kind == P_MARKETPLACE;
    case E_ONETIME:
        return p->kind == P_SUPPORT || p->kind == P_MARKETPLACE || p->kind == P_SPUPFRONT;
    case E_TAX:
        return normal || p->kind == P_MARKETPLACE;
    case E_NORMAL:
        return normal;
    case E_NELIG:
        break;
    }
    return false;
}

static void setup_tables(struct gen *g)
{
    int i, j, acc = 0;

    for (i = 0; i < g->nlt; i++) {
        acc += g->lts[i].weight;
        g->lt_cdf[i] = acc;
    }
    acc = 0;
    for (i = 0; i < NREG_DRAW; i++) {
        acc += regions[i].weight;
        g->reg_cdf[i] = acc;
    }
    for (j = 0; j < E_NELIG; j++) {
        g->nelig[j] = 0;
        for (i = 0; i < NPROD; i++)
            if (in_elig(&products[i], (enum elig)j))
                g->elig[j][g->nelig[j]++] = i;
    }
    for (i = 0; i < NPROD; i++) {
        g->code_rep[i] = i;
        for (j = 0; j < i; j++)
            if (strcmp(products[j].code, products[i].code) == 0) {
                g->code_rep[i] = j;
                break;
            }
        for (j = 0; j < NREG; j++) {
            uint64_t h = mix64((uint64_t)i * 131 + (uint64_t)j + 0x5eed);
            g->rate[i][j] = pct_of(units(products[i].rate), regions[j].pct);
            put_upper36(g->sku[i][j], h, 8);
            put_upper36(g->sku[i][j] + 8, mix64(h), 8);
            g->sku[i][j][16] = 0;
        }
    }
}

static int draw_cdf(const int *cdf, int n, uint32_t u)
{
    int i;

    for (i = 0; i < n - 1; i++)
        if ((int)u < cdf[i])
            break;
    return i;
}

/*
 * Draw one aggregate key, normalized so that distinct keys print distinct grouping columns.
 * 'force_lt' >= 0 fixes the line type (the first keys of a file cycle through all of them).
 */
static struct key draw_key(const struct gen *g, uint64_t *s, int force_lt)
{
    struct key k;
    const struct ltype *lt;
    const struct product *p;
    int e, prod;

    k.lt = (uint8_t)draw_cdf(g->lt_cdf, g->nlt, rnd_below(s, (uint32_t)g->lt_cdf[g->nlt - 1]));
    if (force_lt >= 0)
        k.lt = (uint8_t)force_lt;
    lt = &g->lts[k.lt];
    e = lt->elig;
    if (e == E_USAGE && !chance(s, 4))
        e = E_NORMAL; /* only 4% of usage keys may be marketplace ones */
    if (e == E_FEE && chance(s, 60))
        prod = g->elig[E_FEE][g->nelig[E_FEE] - 1]; /* support: last in the catalogue */
    else
        prod = g->elig[e][rnd_skew(s, (uint32_t)g->nelig[e])];
    if (lt->elig == E_TAX)
        prod = g->code_rep[prod];
    p = &products[prod];
    k.prod = (uint8_t)prod;
    k.acct = (uint16_t)draw_account(g, s);
    k.day = (uint8_t)(1 + rnd_below(s, (uint32_t)g->ndays));
    if (lt->monthly)
        k.day = 1;
    if (lt->elig == E_TAX || (p->flags & PF_NOREGION))
        k.reg = REG_NONE;
    else if (p->flags & PF_GLOBAL)
        k.reg = REG_GLOBAL;
    else
        k.reg = (uint8_t)draw_cdf(g->reg_cdf, NREG_DRAW,
                                  rnd_below(s, (uint32_t)g->reg_cdf[NREG_DRAW - 1]));
    return k;
}

static uint64_t key_hash(const struct key *k)
{
    uint64_t v = ((uint64_t)k->acct << 40) | ((uint64_t)k->day << 32) | ((uint64_t)k->lt << 24) |
                 ((uint64_t)k->prod << 8) | k->reg;
    return mix64(v) | 1; /* never 0: 0 marks an empty slot */
}

static void setup_pool(struct gen *g)
{
    uint64_t s = stream(g->seed, 2, 0);
    uint64_t cap = 1, tries = 0, *set;
    uint32_t n = 0;

    if ((uint64_t)g->nkeys > (uint64_t)g->naccounts * (uint64_t)g->ndays * NPROD * NREG * g->nlt)
        tries = ~0ULL; /* more keys than the space holds: fail at once */
    while (cap < 2ULL * g->nkeys)
        cap <<= 1;
    set = calloc(cap, sizeof(*set));
    g->pool = calloc(g->nkeys, sizeof(*g->pool));
    if (!set || !g->pool) {
        fprintf(stderr, "gen: out of memory for %u keys\n", g->nkeys);
        exit(1);
    }
    while (n < g->nkeys) {
        struct key k = draw_key(g, &s, n < (uint32_t)g->nlt ? (int)n : -1);
        uint64_t h = key_hash(&k), i = h & (cap - 1);
        /* a million duplicates in a row: the space is exhausted */
        if (tries == ~0ULL || ++tries > 1000000) {
            fprintf(stderr, "gen: cannot find %u distinct keys with %u accounts in %d days\n",
                    g->nkeys, g->naccounts, g->ndays);
            exit(2);
        }
        while (set[i] && set[i] != h)
            i = (i + 1) & (cap - 1);
        if (set[i])
            continue;
        tries = 0;
        set[i] = h;
        g->pool[n++] = k;
    }
    free(set);
}

/* {===================================================================================
 * One row
 * =================================================================================== */

struct row {
    struct key k;
    const struct product *p;
    const struct region *r;
    const struct ltype *lt;
    uint64_t id;  /* row number */
    uint64_t res; /* resource number within the key */
    int hour;     /* 0..23, or -1 for the whole month */
    char az;      /* availability zone letter, 0 = none */
    bool mp;      /* AWS Marketplace */
    bool tax;     /* a tax line: no usage type or operation */
    int64_t qty, ub_rate, ub_cost, pod_rate, pod_cost, effective, contracted;
    int64_t res_eff, sp_rate, sp_eff, sp_used;
    bool has_res, has_sp;
    const char *env, *team;
};

static char *put_s(char *p, const char *s)
{
    size_t n = strlen(s);

    memcpy(p, s, n);
    return p + n;
}

/* A CSV field from text that may hold commas, quotes or newlines. */
static char *put_csv(char *p, const char *s, size_t n)
{
    size_t i;
    bool q = false;

    for (i = 0; i < n && !q; i++)
        q = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!q) {
        memcpy(p, s, n);
        return p + n;
    }
    *p++ = '"';
    for (i = 0; i < n; i++) {
        if (s[i] == '"')
            *p++ = '"';
        *p++ = s[i];
    }
    *p++ = '"';
    return p;
}

static char *put_csv_s(char *p, const char *s)
{
    return put_csv(p, s, strlen(s));
}

static char *put_hex(char *p, uint64_t v, int n)
{
    static const char hex[] = "0123456789abcdef";
    int i;

    for (i = 0; i < n; i++) {
        p[i] = hex[v & 15];
        v >>= 4;
    }
    return p + n;
}

static char *put_uint(char *p, uint64_t v)
{
    char d[24];
    int n = 0;

    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = d[--n];
    return p;
}

/* "arn:aws:SERVICE:REGION:ACCOUNT:" */
static char *put_arn(char *p, const char *service, const struct row *w, const char *acct)
{
    p = put_s(p, "arn:aws:");
    p = put_s(p, service);
    *p++ = ':';
    p = put_s(p, w->r->code);
    *p++ = ':';
    p = put_s(p, acct);
    *p++ = ':';
    return p;
}

static char *put_2(char *p, int v)
{
    *p++ = (char)('0' + v / 10);
    *p++ = (char)('0' + v % 10);
    return p;
}

/* A timestamp: CUR "2026-10-05T13:00:00.000Z", FOCUS "2026-10-05T13:00:00Z". */
static char *put_time(const struct gen *g, char *p, int day, int hour, bool millis)
{
    memcpy(p, g->days[day], 10);
    p += 10;
    *p++ = 'T';
    p = put_2(p, hour);
    p = put_s(p, millis ? ":00:00.000Z" : ":00:00Z");
    return p;
}

static void row_start_end(const struct gen *g, const struct row *w, int *d0, int *h0, int *d1,
                          int *h1)
{
    if (w->hour < 0) {
        *d0 = 1, *h0 = 0, *d1 = g->ndays + 1, *h1 = 0;
        return;
    }
    *d0 = w->k.day, *h0 = w->hour;
    *d1 = w->hour == 23 ? w->k.day + 1 : w->k.day;
    *h1 = (w->hour + 1) % 24;
}

static char *put_usage_type(char *p, const struct row *w)
{
    if (w->tax)
        return p;
    if (w->k.reg < NREG_DRAW)
        p = put_s(p, w->r->prefix);
    return put_s(p, w->p->ut);
}

/* The description: a function of the key only (FOCUS groups by it). */
static size_t describe(const struct gen *g, const struct row *w, char *d)
{
    char *p = d;
    const struct product *pr = w->p;

    if (w->tax) {
        p = put_s(p, w->lt->desc);
        p = put_s(p, pr->code);
        return (size_t)(p - d);
    }
    if (w->lt->desc) {
        p = put_s(p, w->lt->desc);
        if (w->lt->amt == A_SPNEGATION) {
            p = put_s(p, g->accounts[w->k.acct]);
            p = put_s(p, " and UsageSku : ");
            p = put_s(p, g->sku[w->k.prod][w->k.reg]);
            return (size_t)(p - d);
        }
    }
    if (pr->kind == P_NORMAL || pr->kind == P_MARKETPLACE || pr->kind == P_RIFEE) {
        *p++ = '$';
        p = put_amount(p, g->rate[w->k.prod][w->k.reg], false);
        p = put_s(p, pr->post);
    } else {
        p = put_s(p, pr->post + 1); /* fees: the text without a unit price */
    }
    if (w->r->location[0]) {
        p = put_s(p, " - ");
        p = put_s(p, w->r->location);
    }
    return (size_t)(p - d);
}

static char *put_resource(const struct gen *g, char *p, const struct row *w)
{
    uint64_t h = mix64(key_hash(&w->k) ^ (w->k.acct * 7919ULL) ^ (w->res << 20));
    const char *acct = g->accounts[w->k.acct];

    if (!w->lt->tagged)
        return p;
    switch (w->p->res) {
    case R_NONE:
        break;
    case R_EC2:
        p = put_s(p, "i-0");
        p = put_hex(p, h, 16);
        break;
    case R_VOL:
        p = put_s(p, "vol-0");
        p = put_hex(p, h, 16);
        break;
    case R_S3:
        p = put_s(p, w->team[0] ? w->team : "shared");
        p = put_s(p, "-data-");
        p = put_hex(p, h, 8);
        break;
    case R_RDS:
        p = put_arn(p, "rds", w, acct);
        p = put_s(p, "db:db-");
        p = put_hex(p, h, 10);
        break;
    case R_LAMBDA:
        p = put_arn(p, "lambda", w, acct);
        p = put_s(p, "function:");
        p = put_s(p, w->team[0] ? w->team : "app");
        p = put_s(p, "-fn-");
        p = put_uint(p, h % 50);
        break;
    case R_DDB:
        p = put_arn(p, "dynamodb", w, acct);
        p = put_s(p, "table/orders-");
        p = put_uint(p, h % 40);
        break;
    case R_SQS:
        p = put_arn(p, "sqs", w, acct);
        p = put_s(p, "queue-");
        p = put_uint(p, h % 30);
        break;
    case R_EKS:
        p = put_arn(p, "eks", w, acct);
        p = put_s(p, "cluster/k8s-");
        p = put_uint(p, h % 6);
        break;
    }
    return p;
}

static char *put_sp_arn(const struct gen *g, char *p, const struct row *w)
{
    uint64_t h = mix64(g->seed ^ (w->k.acct * 0x51ULL));

    p = put_s(p, "arn:aws:savingsplans::");
    p = put_s(p, g->accounts[g->payer]);
    p = put_s(p, ":savingsplan/");
    p = put_hex(p, h, 8);
    *p++ = '-';
    p = put_hex(p, h >> 32, 4);
    *p++ = '-';
    p = put_hex(p, h >> 48, 4);
    *p++ = '-';
    p = put_hex(p, mix64(h), 4);
    *p++ = '-';
    p = put_hex(p, mix64(h) >> 16, 12);
    return p;
}

/* Amounts of one line; every amount is an exact integer of units. */
static void amounts(const struct gen *g, struct row *w, uint64_t *s)
{
    const struct product *p = w->p;
    int64_t rate = g->rate[w->k.prod][w->k.reg];
    int64_t q;

    if (p->flags & PF_HOURS && chance(s, 70))
        q = pow10s[SCALE];
    else
        q = draw_amount(s, p->qlo, p->qhi, 7);
    if (p->flags & PF_INT) {
        q -= q % pow10s[SCALE];
        if (q == 0)
            q = pow10s[SCALE];
    }
    w->qty = q;
    w->pod_rate = rate;
    w->ub_rate = rate;
    w->pod_cost = mul(q, rate);
    w->ub_cost = w->pod_cost;
    w->effective = w->ub_cost;
    w->contracted = w->pod_cost;
    w->has_res = w->has_sp = false;
    w->res_eff = w->sp_rate = w->sp_eff = w->sp_used = 0;

    switch (w->lt->amt) {
    case A_USAGE:
        if (!w->mp && chance(s, 5)) { /* free tier: billed nothing, list price still shown */
            w->ub_rate = 0;
            w->ub_cost = 0;
            w->effective = 0;
        }
        break;
    case A_DISCOUNTED:
        w->ub_rate = 0;
        w->ub_cost = 0;
        w->has_res = true;
        w->res_eff = pct_of(w->pod_cost, 62);
        w->effective = w->res_eff;
        break;
    case A_SPCOVERED:
    case A_SPNEGATION:
        w->has_sp = true;
        w->sp_rate = pct_of(rate, 72);
        w->sp_eff = mul(q, w->sp_rate);
        w->sp_used = w->sp_eff;
        w->effective = w->sp_eff;
        if (w->lt->amt == A_SPNEGATION) {
            w->ub_cost = -w->ub_cost;
            w->pod_cost = 0;
            w->pod_rate = 0;
            w->effective = 0;
            w->contracted = 0;
        }
        break;
    case A_COMMIT_USED:
        w->has_sp = true;
        w->sp_rate = pct_of(rate, 72);
        w->ub_rate = 0;
        w->ub_cost = 0;
        w->effective = mul(q, w->sp_rate);
        w->sp_eff = w->effective;
        break;
    case A_COMMIT_UNUSED:
    case A_SPFEE: {
        /* hourly commitment: a function of the account, 0.5 .. 50 USD */
        uint64_t h = mix64(g->seed ^ (w->k.acct * 0x3bULL));
        int64_t c = (int64_t)(50 + h % 4951) * pow10s[SCALE - 2];
        w->has_sp = true;
        w->qty = pow10s[SCALE];
        w->ub_rate = w->pod_rate = c;
        w->ub_cost = w->pod_cost = w->contracted = c;
        w->sp_used = c;
        w->effective = 0;
        if (p->kind == P_RIFEE) {
            w->has_sp = false;
            w->has_res = true;
            w->ub_rate = w->pod_rate = rate;
            w->ub_cost = w->pod_cost = w->contracted = mul(w->qty, rate);
        }
        if (w->lt->amt == A_COMMIT_UNUSED) {
            w->ub_cost = w->pod_cost = w->contracted = 0;
            w->pod_rate = 0;
            w->effective = pct_of(c, (int)(1 + h % 40));
        }
        break;
    }
    case A_UPFRONT:
    case A_FEE:
        w->qty = pow10s[SCALE];
        w->ub_cost = draw_amount(s, 2, 4, 6);
        if (p->kind == P_MARKETPLACE)
            w->ub_cost -= w->ub_cost % pow10s[SCALE - 2]; /* whole cents */
        w->ub_rate = w->pod_rate = w->ub_cost;
        w->pod_cost = w->contracted = w->ub_cost;
        w->effective = p->kind == P_SPUPFRONT ? 0 : w->ub_cost;
        break;
    case A_RIFEE:
        w->has_res = true;
        w->qty = (int64_t)g->ndays * 24 * pow10s[SCALE];
        w->ub_rate = w->pod_rate = rate;
        w->ub_cost = w->pod_cost = w->contracted = mul(w->qty, rate);
        w->effective = 0;
        break;
    case A_TAX:
        w->qty = pow10s[SCALE];
        w->ub_cost = draw_amount(s, -6, 3, 10);
        w->ub_rate = w->pod_rate = 0;
        w->pod_cost = w->contracted = 0;
        w->effective = w->ub_cost;
        break;
    case A_CREDIT:
    case A_REFUND:
        w->qty = 0;
        w->ub_cost = -draw_amount(s, -2, 3, 8);
        w->ub_rate = w->pod_rate = 0;
        w->pod_cost = 0;
        w->contracted = w->effective = w->ub_cost;
        break;
    case A_EDP:
    case A_BUNDLED:
    case A_PRIVATE:
        w->ub_cost = -pct_of(w->pod_cost, w->lt->amt == A_EDP       ? 9
                                          : w->lt->amt == A_BUNDLED ? 100
                                                                    : 12);
        w->qty = 0;
        w->ub_rate = w->pod_rate = 0;
        w->pod_cost = 0;
        w->contracted = w->effective = w->ub_cost;
        break;
    }
}

static void make_row(const struct gen *g, struct row *w, uint64_t i)
{
    uint64_t s = stream(g->seed, 3, i);
    uint64_t kh;

    if (g->nkeys) {
        uint32_t j = i < g->nkeys ? (uint32_t)i : rnd_skew(&s, g->nkeys);
        w->k = g->pool[j];
    } else {
        w->k = draw_key(g, &s, i < (uint64_t)g->nlt ? (int)i : -1);
    }
    w->id = i;
    w->p = &products[w->k.prod];
    w->r = &regions[w->k.reg];
    w->lt = &g->lts[w->k.lt];
    w->mp = w->p->kind == P_MARKETPLACE;
    w->tax = w->lt->amt == A_TAX;
    w->hour = w->lt->monthly ? -1 : (int)rnd_below(&s, 24);
    w->res = rnd_below(&s, 12);
    w->az = 0;
    if (w->k.reg < NREG_DRAW && (w->p->res == R_EC2 || w->p->res == R_VOL || w->p->res == R_RDS) &&
        w->lt->tagged)
        w->az = (char)('a' + rnd_below(&s, 3));
    /* tags are a function of (account, product, region): they never add aggregate keys */
    kh = mix64(((uint64_t)w->k.acct << 16) ^ ((uint64_t)w->k.prod << 8) ^ w->k.reg ^ g->seed);
    w->env = w->lt->tagged ? envs[kh % COUNT(envs)] : "";
    w->team = w->lt->tagged ? teams[(kh >> 8) % COUNT(teams)] : "";
    amounts(g, w, &s);
}

static char *put_tags_json(char *p, const struct row *w, bool focus)
{
    char t[256], *q = t;
    bool any = false;

    *q++ = '{';
    if (w->env[0]) {
        PUTF(q, "\"%s\":\"%s\"", focus ? "user:env" : "user_env", w->env);
        any = true;
    }
    if (w->team[0]) {
        PUTF(q, "%s\"%s\":\"%s\"", any ? "," : "", focus ? "user:team" : "user_team", w->team);
        any = true;
    }
    *q++ = '}';
    if (!any)
        return p;
    return put_csv(p, t, (size_t)(q - t));
}

static char *put_field(const struct gen *g, char *p, const struct row *w, enum field f)
{
    char tmp[512];
    int d0, h0, d1, h1;
    bool focus = g->fmt == FMT_FOCUS;

    switch (f) {
    case F_EMPTY:
        break;
    case F_LINE_ITEM_ID: {
        uint64_t h = stream(g->seed, 4, w->id);
        put_base32(tmp, h, 12);
        put_base32(tmp + 12, mix64(h), 12);
        put_base32(tmp + 24, mix64(h + 1), 12);
        put_base32(tmp + 36, mix64(h + 2), 12);
        put_base32(tmp + 48, mix64(h + 3), 4);
        memcpy(p, tmp, 52);
        p += 52;
        break;
    }
    case F_TIME_INTERVAL:
        row_start_end(g, w, &d0, &h0, &d1, &h1);
        p = put_time(g, p, d0, h0, false);
        *p++ = '/';
        p = put_time(g, p, d1, h1, false);
        break;
    case F_INVOICE_ID:
        p = put_s(p, w->mp ? g->invoice_mp : g->invoice_aws);
        break;
    case F_INVOICING_ENTITY:
        p = put_s(p, "\"Amazon Web Services, Inc.\"");
        break;
    case F_BILLING_ENTITY:
        p = put_s(p, w->mp ? "AWS Marketplace" : "AWS");
        break;
    case F_BILL_TYPE:
        p = put_s(p, "Anniversary");
        break;
    case F_PAYER:
        p = put_s(p, g->accounts[g->payer]);
        break;
    case F_PAYER_NAME:
        p = put_s(p, "Management Account");
        break;
    case F_BP_START:
        p = put_time(g, p, 1, 0, !focus);
        break;
    case F_BP_END:
        p = put_time(g, p, g->ndays + 1, 0, !focus);
        break;
    case F_ACCOUNT:
        p = put_s(p, g->accounts[w->k.acct]);
        break;
    case F_ACCOUNT_NAME:
        PUTF(p, "%s-%u", teams[w->k.acct % (COUNT(teams) - 1)], (unsigned)w->k.acct);
        break;
    case F_LINE_TYPE:
        p = put_s(p, w->lt->name);
        break;
    case F_START:
        row_start_end(g, w, &d0, &h0, &d1, &h1);
        p = put_time(g, p, d0, h0, !focus);
        break;
    case F_END:
        row_start_end(g, w, &d0, &h0, &d1, &h1);
        p = put_time(g, p, d1, h1, !focus);
        break;
    case F_PRODUCT_CODE:
        p = put_s(p, w->p->code);
        break;
    case F_USAGE_TYPE:
        p = put_usage_type(p, w);
        break;
    case F_OPERATION:
        if (!w->tax)
            p = put_s(p, w->p->op);
        break;
    case F_AZ:
        if (w->az) {
            p = put_s(p, w->r->code);
            *p++ = w->az;
        }
        break;
    case F_RESOURCE_ID:
        p = put_resource(g, p, w);
        break;
    case F_QTY:
        p = put_amount(p, w->qty, g->java);
        break;
    case F_NORM_FACTOR:
        if (w->p->nf10 && !w->tax)
            p = put_amount(p, (i128)w->p->nf10 * pow10s[SCALE - 1], g->java);
        break;
    case F_NORM_QTY:
        if (w->p->nf10 && !w->tax)
            p = put_amount(p, (i128)w->qty * w->p->nf10 / 10, g->java);
        break;
    case F_CURRENCY:
        p = put_s(p, "USD");
        break;
    case F_UB_RATE:
        p = put_amount(p, w->ub_rate, g->java);
        break;
    case F_UB_COST:
        p = put_amount(p, w->ub_cost, g->java);
        break;
    case F_DESC:
        p = put_csv(p, tmp, describe(g, w, tmp));
        break;
    case F_TAX_TYPE:
        if (w->tax)
            p = put_s(p, "US Sales Tax");
        break;
    case F_LEGAL_ENTITY:
        p = put_csv_s(p, w->mp ? w->p->seller : "Amazon Web Services, Inc.");
        break;
    case F_PRODUCT_NAME:
        p = put_csv_s(p, w->p->name);
        break;
    case F_PRODUCT_FAMILY:
        if (!w->tax)
            p = put_s(p, w->p->family);
        break;
    case F_INSTANCE_TYPE:
        if (!w->tax)
            p = put_s(p, w->p->itype);
        break;
    case F_LOCATION:
        p = put_s(p, w->r->location);
        break;
    case F_REGION:
        p = put_s(p, w->r->code);
        break;
    case F_SERVICECODE:
        p = put_s(p, w->p->code);
        break;
    case F_SKU:
        if (!w->tax)
            p = put_s(p, g->sku[w->k.prod][w->k.reg]);
        break;
    case F_PRODUCT_MAP: {
        int n = snprintf(tmp, sizeof(tmp), "{\"product_name\":\"%s\",\"servicename\":\"%s\"}",
                         w->p->name, w->p->name);
        p = put_csv(p, tmp, (size_t)n);
        break;
    }
    case F_RATE_CODE:
        if (!w->tax && w->lt->amt != A_CREDIT && w->lt->amt != A_REFUND) {
            p = put_s(p, g->sku[w->k.prod][w->k.reg]);
            p = put_s(p, ".JRTCKXETXF.6YS6EN2CT7");
        }
        break;
    case F_POD_COST:
        p = put_amount(p, w->pod_cost, g->java);
        break;
    case F_POD_RATE:
        p = put_amount(p, w->pod_rate, g->java);
        break;
    case F_TERM:
        if (w->lt->amt == A_USAGE || w->lt->amt == A_SPCOVERED)
            p = put_s(p, "OnDemand");
        else if (w->has_res)
            p = put_s(p, "Reserved");
        break;
    case F_UNIT:
        if (!w->tax)
            p = put_s(p, w->p->unit);
        break;
    case F_RES_ARN:
        if (w->has_res)
            PUTF(p, "arn:aws:ec2:%s:%s:reserved-instances/%08llx-rsv",
                 w->r->code[0] ? w->r->code : "us-east-1", g->accounts[g->payer],
                 (unsigned long long)(mix64(w->k.acct) & 0xffffffffu));
        break;
    case F_RES_EFFECTIVE:
        p = put_amount(p, w->res_eff, g->java);
        break;
    case F_SP_ARN:
        if (w->has_sp)
            p = put_sp_arn(g, p, w);
        break;
    case F_SP_RATE:
        p = put_amount(p, w->sp_rate, g->java);
        break;
    case F_SP_EFFECTIVE:
        p = put_amount(p, w->sp_eff, g->java);
        break;
    case F_SP_USED:
        p = put_amount(p, w->sp_used, g->java);
        break;
    case F_TAG_ENV:
        p = put_s(p, w->env);
        break;
    case F_TAG_TEAM:
        p = put_s(p, w->team);
        break;
    case F_TAG_CC:
        if (w->team[0]) {
            unsigned cc = (unsigned)(strlen(w->team) * 977 % 10000);
            p = put_s(p, "CC-");
            p = put_2(p, (int)(cc / 100));
            p = put_2(p, (int)(cc % 100));
        }
        break;
    case F_TAG_CREATEDBY:
        if (w->env[0] && w->k.acct % 3 == 0) {
            p = put_s(p, "AssumedRole:AROA");
            p = put_s(p, g->accounts[w->k.acct]);
            p = put_s(p, ":deploy");
        }
        break;
    case F_TAGS_CUR2:
        p = put_tags_json(p, w, false);
        break;
    case F_TAGS_FOCUS:
        p = put_tags_json(p, w, true);
        break;
    case F_JSON_EMPTY:
        p = put_s(p, "{}");
        break;
    case F_EFFECTIVE:
        p = put_amount(p, w->effective, g->java);
        break;
    case F_CONTRACTED:
        p = put_amount(p, w->contracted, g->java);
        break;
    case F_CHARGE_CLASS:
        p = put_s(p, w->lt->fclass);
        break;
    case F_CHARGE_FREQ:
        p = put_s(p, w->lt->freq);
        break;
    case F_CD_CATEGORY:
        if (w->has_sp)
            p = put_s(p, "Spend");
        break;
    case F_CD_STATUS:
        p = put_s(p, w->lt->cstatus);
        break;
    case F_CD_TYPE:
        if (w->has_sp)
            p = put_s(p, "ComputeSavingsPlans");
        break;
    case F_CD_NAME:
        if (w->has_sp)
            p = put_s(p, "\"Compute Savings Plan, 1 year No Upfront\"");
        break;
    case F_PRICING_CATEGORY:
        if (w->lt->amt == A_USAGE)
            p = put_s(p, "Standard");
        else if (w->has_sp || w->has_res)
            p = put_s(p, "Committed");
        break;
    case F_PROVIDER:
        p = put_csv_s(p, w->mp ? w->p->seller : "AWS");
        break;
    case F_PUBLISHER:
        p = put_csv_s(p, w->mp ? w->p->seller : "Amazon Web Services, Inc.");
        break;
    case F_RESOURCE_NAME:
    case F_RESOURCE_TYPE:
        if (w->p->res != R_NONE && w->lt->tagged)
            p = put_s(p, f == F_RESOURCE_TYPE ? w->p->family : w->p->ut);
        break;
    case F_SERVICE_CATEGORY:
        p = put_s(p, w->p->fcat);
        break;
    case F_SKU_PRICE_ID:
        if (!w->tax) {
            p = put_s(p, g->sku[w->k.prod][w->k.reg]);
            p = put_s(p, ".JRTCKXETXF");
        }
        break;
    case F_SKU_METER:
        if (!w->tax)
            p = put_s(p, w->p->family);
        break;
    case F_ACCOUNT_TYPE:
        p = put_s(p, "Linked Account");
        break;
    case F_BILLING_ACCOUNT_TYPE:
        p = put_s(p, "Management Account");
        break;
    }
    return p;
}

/* {===================================================================================
 * Output
 * =================================================================================== */

struct out {
    int fd;
    char *buf;
    size_t len;
};

static void out_flush(struct out *o)
{
    size_t off = 0;

    while (off < o->len) {
        ssize_t n = write(o->fd, o->buf + off, o->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "gen: write failed: %s\n", strerror(errno));
            exit(1);
        }
        off += (size_t)n;
    }
    o->len = 0;
}

/*
 * Rows are independent, so worker threads format them in batches and the main thread writes
 * the batches in row order: in round r, worker t formats batch r * nthreads + t into its
 * buffer r % 2 while the main thread writes the buffers of round r - 1.  One barrier per
 * round keeps the two sides apart.  The bytes do not depend on the number of threads.
 */
struct worker {
    const struct gen *g;
    pthread_barrier_t *bar;
    pthread_t tid;
    int t;           /* worker number */
    int nthreads;    /* workers in all */
    uint64_t rounds; /* rounds in all */
    char *buf[2];    /* BATCH * ROW_MAX bytes each */
    size_t len[2];   /* bytes formatted into buf[] */
    i128 qty, billed, list, effective;
};

static size_t format_rows(struct worker *wk, char *buf, uint64_t from, uint64_t to)
{
    const struct gen *g = wk->g;
    char *p = buf;
    struct row w;
    uint64_t i;
    int c;

    for (i = from; i < to; i++) {
        make_row(g, &w, i);
        for (c = 0; c < g->ncols; c++) {
            if (c)
                *p++ = ',';
            p = put_field(g, p, &w, g->cols[c].f);
        }
        *p++ = '\n';
        wk->qty += w.qty;
        wk->billed += w.ub_cost;
        wk->list += w.pod_cost;
        wk->effective += w.effective;
    }
    return (size_t)(p - buf);
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    uint64_t r, rows = wk->g->rows;

    for (r = 0; r < wk->rounds; r++) {
        uint64_t from = (r * (uint64_t)wk->nthreads + (uint64_t)wk->t) * BATCH;
        uint64_t to = from + BATCH < rows ? from + BATCH : rows;
        wk->len[r & 1] = from < rows ? format_rows(wk, wk->buf[r & 1], from, to) : 0;
        pthread_barrier_wait(wk->bar);
    }
    return NULL;
}

static void write_file(struct gen *g, struct out *o, int nthreads)
{
    static struct worker wks[MAX_THREADS];
    pthread_barrier_t bar;
    uint64_t r, rounds = (g->rows + (uint64_t)nthreads * BATCH - 1) / ((uint64_t)nthreads * BATCH);
    char *p = o->buf, *save = o->buf;
    int c, t;

    for (c = 0; c < g->ncols; c++) {
        if (c)
            *p++ = ',';
        p = put_s(p, g->cols[c].name);
    }
    *p++ = '\n';
    o->len = (size_t)(p - o->buf);
    g->bytes += o->len;
    out_flush(o);
    if (pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1) != 0) {
        fprintf(stderr, "gen: cannot create a barrier\n");
        exit(1);
    }
    for (t = 0; t < nthreads; t++) {
        struct worker *wk = &wks[t];
        memset(wk, 0, sizeof(*wk));
        wk->g = g, wk->bar = &bar, wk->t = t, wk->nthreads = nthreads, wk->rounds = rounds;
        wk->buf[0] = malloc((size_t)BATCH * ROW_MAX);
        wk->buf[1] = malloc((size_t)BATCH * ROW_MAX);
        if (!wk->buf[0] || !wk->buf[1]) {
            fprintf(stderr, "gen: out of memory\n");
            exit(1);
        }
        if (pthread_create(&wk->tid, NULL, worker_main, wk) != 0) {
            fprintf(stderr, "gen: cannot start a thread\n");
            exit(1);
        }
    }
    for (r = 0; r < rounds; r++) {
        pthread_barrier_wait(&bar);
        for (t = 0; t < nthreads; t++) {
            o->buf = wks[t].buf[r & 1];
            o->len = wks[t].len[r & 1];
            g->bytes += o->len;
            out_flush(o);
        }
    }
    o->buf = save;
    for (t = 0; t < nthreads; t++) {
        pthread_join(wks[t].tid, NULL);
        g->sum_qty += wks[t].qty;
        g->sum_billed += wks[t].billed;
        g->sum_list += wks[t].list;
        g->sum_effective += wks[t].effective;
        free(wks[t].buf[0]);
        free(wks[t].buf[1]);
    }
    pthread_barrier_destroy(&bar);
}

static void print_total(const char *name, i128 v, bool last)
{
    char b[64], *e = put_amount(b, v, false);

    fprintf(stderr, "\"%s\":\"%.*s\"%s", name, (int)(e - b), b, last ? "" : ",");
}

/* {===================================================================================
 * Options
 * =================================================================================== */

static uint64_t parse_u64(const char *opt, const char *v, uint64_t min, uint64_t max)
{
    char *end;
    unsigned long long n;

    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n < min || n > max) {
        fprintf(stderr, "gen: invalid %s \"%s\": want an integer %llu..%llu\n", opt, v,
                (unsigned long long)min, (unsigned long long)max);
        exit(2);
    }
    return n;
}

static void set_period(struct gen *g, const char *v)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 0, m = 0, d;
    bool ok = strlen(v) == 7 && v[4] == '-';

    for (d = 0; ok && d < 7; d++)
        ok = d == 4 || (v[d] >= '0' && v[d] <= '9');
    if (ok) {
        y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
        m = (v[5] - '0') * 10 + (v[6] - '0');
    }
    if (!ok || y < 2000 || y > 2099 || m < 1 || m > 12) {
        fprintf(stderr, "gen: invalid --period \"%s\": want YYYY-MM (2000..2099)\n", v);
        exit(2);
    }
    g->year = y;
    g->month = m;
    g->ndays = mdays[m - 1] + (m == 2 && y % 4 == 0);
    for (d = 1; d <= g->ndays + 1; d++) {
        int yy = d > g->ndays && m == 12 ? y + 1 : y;
        int mm = d > g->ndays ? m % 12 + 1 : m;
        int dd = d > g->ndays ? 1 : d;
        char *p = g->days[d];
        p = put_2(p, yy / 100);
        p = put_2(p, yy % 100);
        *p++ = '-';
        p = put_2(p, mm);
        *p++ = '-';
        p = put_2(p, dd);
        *p = 0;
    }
}

int main(int argc, char **argv)
{
    static struct gen g; /* large: static storage */
    struct out o;
    const char *out_path = NULL, *fmt = "cur";
    bool stats = false;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int i, nthreads = ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : (int)ncpu;

    g.rows = 1000;
    g.seed = 1;
    g.naccounts = 300;
    set_period(&g, "2026-10");
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--format") == 0 || strcmp(a, "--rows") == 0 ||
                     strcmp(a, "--seed") == 0 || strcmp(a, "--accounts") == 0 ||
                     strcmp(a, "--period") == 0 || strcmp(a, "--keys") == 0 ||
                     strcmp(a, "--out") == 0 || strcmp(a, "--threads") == 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        }
        if (strcmp(a, "--stats") == 0) {
            stats = true;
            continue;
        }
        if (!takes) {
            fprintf(stderr, "gen: unknown option \"%s\"\n%s", a, usage_text);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "gen: option %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--format") == 0)
            fmt = v;
        else if (strcmp(a, "--rows") == 0)
            g.rows = parse_u64(a, v, 0, 1000000000000ULL);
        else if (strcmp(a, "--seed") == 0)
            g.seed = parse_u64(a, v, 0, UINT64_MAX);
        else if (strcmp(a, "--accounts") == 0)
            g.naccounts = (uint32_t)parse_u64(a, v, 1, 60000);
        else if (strcmp(a, "--period") == 0)
            set_period(&g, v);
        else if (strcmp(a, "--keys") == 0)
            g.nkeys = (uint32_t)parse_u64(a, v, 1, 100000000);
        else if (strcmp(a, "--threads") == 0)
            nthreads = (int)parse_u64(a, v, 1, MAX_THREADS);
        else
            out_path = v;
    }
    if (strcmp(fmt, "cur") == 0) {
        g.fmt = FMT_CUR;
        g.cols = cur_cols, g.ncols = COUNT(cur_cols);
    } else if (strcmp(fmt, "cur2") == 0) {
        g.fmt = FMT_CUR2;
        g.cols = cur2_cols, g.ncols = COUNT(cur2_cols);
    } else if (strcmp(fmt, "focus") == 0) {
        g.fmt = FMT_FOCUS;
        g.cols = focus_cols, g.ncols = COUNT(focus_cols);
    } else {
        fprintf(stderr, "gen: invalid --format \"%s\": want cur, cur2 or focus\n", fmt);
        return 2;
    }
    g.java = g.fmt != FMT_FOCUS;
    g.lts = g.fmt == FMT_FOCUS ? focus_types : cur_types;
    g.nlt = g.fmt == FMT_FOCUS ? COUNT(focus_types) : COUNT(cur_types);
    snprintf(g.invoice_aws, sizeof(g.invoice_aws), "%010llu",
             (unsigned long long)(2000000000ULL +
                                  stream(g.seed, 5, (uint64_t)g.year * 12 + (uint64_t)g.month) %
                                      100000000ULL));
    snprintf(g.invoice_mp, sizeof(g.invoice_mp), "%010llu",
             (unsigned long long)(2100000000ULL +
                                  stream(g.seed, 6, (uint64_t)g.year * 12 + (uint64_t)g.month) %
                                      100000000ULL));
    setup_accounts(&g);
    setup_tables(&g);
    if (g.nkeys)
        setup_pool(&g);

    o.fd = 1;
    if (out_path) {
        o.fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o.fd < 0) {
            fprintf(stderr, "gen: cannot open \"%s\": %s\n", out_path, strerror(errno));
            return 1;
        }
    }
    o.buf = malloc(OUTBUF);
    if (!o.buf) {
        fprintf(stderr, "gen: out of memory\n");
        return 1;
    }
    o.len = 0;
    write_file(&g, &o, nthreads);
    if (out_path && close(o.fd) != 0) {
        fprintf(stderr, "gen: cannot write \"%s\": %s\n", out_path, strerror(errno));
        return 1;
    }
    if (stats) {
        fprintf(stderr, "{\"format\":\"%s\",\"period\":\"%04d-%02d\",\"rows\":%llu,\"bytes\":%llu,",
                fmt, g.year, g.month, (unsigned long long)g.rows, (unsigned long long)g.bytes);
        if (g.nkeys)
            fprintf(stderr, "\"keys\":%llu,",
                    (unsigned long long)(g.rows < g.nkeys ? g.rows : g.nkeys));
        print_total("quantity", g.sum_qty, false);
        print_total("billed", g.sum_billed, false);
        print_total("list", g.sum_list, g.fmt != FMT_FOCUS);
        if (g.fmt == FMT_FOCUS) /* CUR has no one effective-cost column to sum */
            print_total("effective", g.sum_effective, true);
        fprintf(stderr, "}\n");
    }
    free(o.buf);
    free(g.pool);
    return 0;
}
