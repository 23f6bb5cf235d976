-- UNREGISTER: removes a gateway from room sets, except a room that a CONTROL
-- frame numbered above what the gateway had seen when it decided added again
-- meanwhile (the gateway's `a:<room>` field holds that frame's number).
--
-- KEYS[1]     the gateway's hash, `<base>gw:<id>`
-- KEYS[2..n]  the room sets to remove the gateway from
-- ARGV[1]     the gateway's id
-- ARGV[2]     the last frame number (g) the gateway had applied when it decided
-- ARGV[3..]   the rooms' names, in the order of KEYS[2..n]
-- Returns     1
local gateway_key = KEYS[1]
local gateway = ARGV[1]
local seen = tonumber(ARGV[2])

for i = 2, #KEYS do
  local added_field = 'a:' .. ARGV[i + 1]
  local added = tonumber(redis.call('HGET', gateway_key, added_field))
  if not added or added <= seen then
    redis.call('SREM', KEYS[i], gateway)
    redis.call('HDEL', gateway_key, added_field)
  end
end
return 1
