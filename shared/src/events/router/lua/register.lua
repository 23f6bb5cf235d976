-- REGISTER: adds a gateway to room sets, creating its hash (frame count `g`)
-- if Redis does not know it, and renews its lease.
--
-- KEYS[1]     next: the first seq not routed yet (absent: routing not started)
-- KEYS[2]     held: messages waiting for a lower seq
-- KEYS[3]     the gateway's hash, `<base>gw:<id>`: `g`, `a:<room>` fields, the lease as its TTL
-- KEYS[4..n]  the room sets to add the gateway to
-- ARGV[1]     the gateway's id
-- ARGV[2]     the lease, in ms
-- Returns     { next (0: not started), g, fresh (1: the hash was new), held count }
local next_key = KEYS[1]
local held_key = KEYS[2]
local gateway_key = KEYS[3]
local gateway = ARGV[1]
local lease_ms = ARGV[2]

local fresh = redis.call('HSETNX', gateway_key, 'g', 0)
redis.call('PEXPIRE', gateway_key, lease_ms)
for i = 4, #KEYS do redis.call('SADD', KEYS[i], gateway) end
return { redis.call('GET', next_key) or '0', redis.call('HGET', gateway_key, 'g'), fresh, redis.call('HLEN', held_key) }
