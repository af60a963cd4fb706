-- global-markup.lua -- billed cost plus 8% on every charge.
--
-- A markup with no scope is global. Credits, refunds and taxes are passed as they are
-- (base = "billed" defaults), so the markup never inflates a credit or a tax.

return rebill.plan {
    name = "Cost plus 8%",
    base = "billed",

    rebill.markup { percent = 8 },

    tests = {
        rebill.test {
            name = "8% on usage, credit and tax untouched",
            period = "2026-11",
            usage = [[
service,usage_type,line_type,quantity,billed
AmazonEC2,BoxUsage:m5.xlarge,Usage,5208.3,1000.00
AmazonS3,TimedStorage-ByteHrs,Usage,10869.5,250.00
AmazonEC2,,Credit,0,-100.00
AmazonEC2,,Tax,0,50.00
]],
            expect = {
                -- EC2: 1000 x 1.08 - 100 + 50 = 1030; S3: 250 x 1.08 = 270
                lines = { AmazonEC2 = "1030.00", AmazonS3 = "270.00" },
                total = "1300.00",
                margin = "100.00", -- 8% of 1250
            },
        },
    },
}
