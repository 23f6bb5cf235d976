-- CONTROL: routes an event (not a numbered message) to the gateways of one
-- room now, and optionally registers every gateway it reached for another room.
--
-- KEYS[1]  next: where routing stands, the frame's `next` (0 before it starts)
-- KEYS[2]  the room set the event goes to, `<base>room:<room>`
-- KEYS[3]  optional: the room set of the room to add for every gateway reached
-- ARGV[1]  payload: the frame's JSON, `{"event":...,"data":...}`
-- ARGV[2]  with KEYS[3]: the name of the room to add
-- Returns  1
--
-- `base` is `<prefix>{fanout}:`, KEYS[1] without its `next`. The gateways'
-- hashes `<base>gw:<id>` are found in the room set and built from it, in the
-- declared keys' slot by the same hash tag.
local next_key = KEYS[1]
local room_key = KEYS[2]
local add_key = KEYS[3]
local payload = ARGV[1]
local add_room = ARGV[2]
local base = string.sub(next_key, 1, -#'next' - 1)

local reached = deliver(base, { room_key }, payload, redis.call('GET', next_key) or '0')
if add_key then
  -- Added in the same step as the frame is routed: every message of the room
  -- routed after this frame reaches the gateways that got it. `a:<room>` keeps
  -- the frame's number, so an unregister the gateway decided before it saw
  -- this frame leaves the room in place (UNREGISTER).
  for gateway, g in pairs(reached) do
    redis.call('SADD', add_key, gateway)
    redis.call('HSET', base .. 'gw:' .. gateway, 'a:' .. add_room, g)
  end
end
return 1
