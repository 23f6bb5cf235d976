-- INIT: says where routing starts when nothing says so yet (a new deployment,
-- or Redis lost its data): after a gateway read the log up to ARGV[1] - 1.
-- Held messages below it are dropped (the gateways read them from the log),
-- those that follow on from it are routed.
--
-- KEYS[1]  next: the first seq not routed yet
-- KEYS[2]  held: seq -> `<room names>\n<payload>` (ROUTE)
-- ARGV[1]  the first seq to route
-- Returns  the next seq to route: the one already set, if routing had started
--
-- `base` is `<prefix>{fanout}:`, KEYS[1] without its `next`; the keys drain and
-- deliver build from it share the declared keys' hash tag, so their slot.
local next_key = KEYS[1]
local held_key = KEYS[2]
local first = tonumber(ARGV[1])
local base = string.sub(next_key, 1, -#'next' - 1)

local nxt = tonumber(redis.call('GET', next_key))
if nxt then return nxt end
for _, field in ipairs(redis.call('HKEYS', held_key)) do
  if tonumber(field) < first then redis.call('HDEL', held_key, field) end
end
return drain(base, next_key, held_key, first)
