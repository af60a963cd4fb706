-- expect: RB_BLOCKED
-- Row 17: collectgarbage("stop") would disturb the host; every option is blocked.
collectgarbage("stop")
