-- ROUTE: routes one numbered message to the gateways of its rooms, in log
-- (seq) order whatever order the calls come in.
--
-- KEYS[1]     next: the first seq not routed yet; absent until routing starts (INIT)
-- KEYS[2]     held: seq -> `<room names>\n<payload>`, messages waiting for a lower seq
-- KEYS[3..n]  the room sets (gateway ids) of the message's rooms, `<base>room:<room>`
-- ARGV[1]     seq
-- ARGV[2]     how many messages may wait in `held` at most
-- ARGV[3]     payload: the frame's JSON, `{"event":"deliver","data":...}`
-- Returns     0 stale (routed before), 1 held, 2 routed (with any held ones that
--             followed on from it), 3 held cap reached (not held: the gateways'
--             watchdog routes it from the log)
--
-- `base` is `<prefix>{fanout}:`, KEYS[1] without its `next`. Built from it, in
-- the declared keys' slot by the same hash tag: the gateways' hashes
-- `<base>gw:<id>` (found in the room sets), the room sets of held messages
-- routed after this one, and the channels `<base>to:<id>`.
local next_key = KEYS[1]
local held_key = KEYS[2]
local room_keys = { unpack(KEYS, 3) }
local seq = tonumber(ARGV[1])
local max_held = tonumber(ARGV[2])
local payload = ARGV[3]
local base = string.sub(next_key, 1, -#'next' - 1)

local nxt = tonumber(redis.call('GET', next_key))
if nxt and seq < nxt then return 0 end
if not nxt or seq > nxt then
  -- Held until the lower seqs are routed; with no `next` (a new deployment, or
  -- Redis lost its data) until a gateway has read the log and says where routing
  -- starts (INIT). Bounded: while no gateway runs, Redis must not fill up.
  if redis.call('HLEN', held_key) >= max_held then return 3 end
  local rooms = {}
  for i, room_key in ipairs(room_keys) do rooms[i] = string.sub(room_key, #base + #'room:' + 1) end
  redis.call('HSET', held_key, tostring(seq), table.concat(rooms, ' ') .. '\n' .. payload)
  return 1
end
deliver(base, room_keys, payload, seq + 1)
drain(base, next_key, held_key, seq + 1)
return 2
