-- 06-rates.lua -- blind spec test: fixed rates per unit (rebill.rate), which "price the
-- line's quantity and ignore the base (and the free tier)", their scopes against a service
-- markup, and a line that no rule matches ("priced at its base").

return rebill.plan {
    name = "blind: rates",
    base = "list", -- free_tier defaults to true

    rebill.rate { usage_type = "Requests-Tier1", price = "0.000005" },                 -- level 4
    rebill.rate { service = "AmazonEC2", usage_type = "BoxUsage:t3.micro", price = 0.0104 }, -- 3
    rebill.rate { usage_type = "DataTransfer-Out-Bytes", operation = "GetObject",
                  price = "0.09" },                                                   -- level 2
    rebill.markup { service = "AmazonS3", percent = 10 },                             -- level 5

    tests = {
        rebill.test {
            name = "rates, a service markup, and unmatched lines at base",
            period = "2026-11",
            usage = [[
service,usage_type,operation,quantity,billed,list
AmazonS3,Requests-Tier1,PutObject,2000000,0,10.00
AmazonEC2,BoxUsage:t3.micro,RunInstances,744,0,8.00
AmazonS3,DataTransfer-Out-Bytes,GetObject,150,20.00,20.00
AmazonS3,DataTransfer-Out-Bytes,PutObject,10,0.90,0.90
AmazonS3,TimedStorage-ByteHrs,,100,2.30,2.30
AmazonS3,Requests-Tier1,GetObject,0,3.00,3.00
AmazonS3,GlacierStorage,,10,0.05,0.20
AmazonCloudWatch,CW:Requests,,5,1.234,1.234
AmazonEKS,BoxUsage:t3.micro,RunInstances,744,8.00,8.00
]],
            expect = {
                lines = {
                    -- Requests-Tier1: 2,000,000 x 0.000005 = 10.00 (rate, free tier ignored)
                    -- GetObject transfer: 150 x 0.09 = 13.50 (rate, not list 20)
                    -- PutObject transfer: no rate (operation differs): 0.90 x 1.1 = 0.99
                    -- storage: 2.30 x 1.1 = 2.53
                    -- Requests-Tier1 quantity 0: 0 x 0.000005 = 0 (list 3.00 ignored)
                    -- Glacier: free tier, billed 0.05 x 1.1 = 0.055
                    AmazonS3 = "27.075",          -- 10 + 13.50 + 0.99 + 2.53 + 0 + 0.055
                    AmazonEC2 = "7.7376",         -- 744 x 0.0104
                    AmazonCloudWatch = "1.234",   -- no rule: list
                    AmazonEKS = "8.00",           -- the t3.micro rate is for AmazonEC2 only
                },
                total = "44.05", -- 27.075 + 7.7376 + 1.234 + 8 = 44.0466
            },
        },
    },
}
