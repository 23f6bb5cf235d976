-- SYNC: renews a gateway's lease and reads where routing stands for it.
--
-- KEYS[1]  next: the first seq not routed yet (absent: routing not started)
-- KEYS[2]  held: messages waiting for a lower seq
-- KEYS[3]  the gateway's hash, `<base>gw:<id>`
-- ARGV[1]  the lease, in ms
-- Returns  { next (0: not started), g, held count }, or nil when Redis does not
--          know the gateway (its lease ran out, or Redis lost its data)
local next_key = KEYS[1]
local held_key = KEYS[2]
local gateway_key = KEYS[3]
local lease_ms = ARGV[1]

if redis.call('PEXPIRE', gateway_key, lease_ms) == 0 then return nil end
return { redis.call('GET', next_key) or '0', redis.call('HGET', gateway_key, 'g'), redis.call('HLEN', held_key) }
