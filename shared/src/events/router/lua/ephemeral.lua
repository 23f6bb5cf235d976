-- EPHEMERAL: sends an event that is not part of the log (presence, and later
-- typing) to the gateways registered for any of a set of rooms, now, once
-- each. The frame is not numbered: it leaves every gateway's count `g`, and so
-- its loss detection and its ordered stream of messages, untouched; a lost
-- one is simply lost. Each gateway's frame names only the rooms of the set it
-- is registered for: `e|<room names, space-separated>|<payload>`.
--
-- KEYS[1..n]  the room sets, `<base>room:<room>`
-- ARGV[1]     payload: the frame's JSON, `{"event":...,"data":...}`
-- ARGV[2..]   the rooms' names, in the order of KEYS
-- Returns     how many gateways it was sent to
--
-- `base` is `<prefix>{fanout}:`, KEYS[1] without its `room:<name>`. The
-- gateways' hashes `<base>gw:<id>` (found in the sets: a gateway whose lease
-- ran out is dropped from them, as deliver does) and channels are built from
-- it, so they carry the declared keys' hash tag.
local payload = ARGV[1]
local base = string.sub(KEYS[1], 1, #KEYS[1] - #('room:' .. ARGV[2]))

local rooms_of = {}
local order = {}
local gone = {}
for i, room_key in ipairs(KEYS) do
  local room = ARGV[i + 1]
  for _, gateway in ipairs(redis.call('SMEMBERS', room_key)) do
    local list = rooms_of[gateway]
    if not list and not gone[gateway] then
      if redis.call('EXISTS', base .. 'gw:' .. gateway) == 1 then
        list = {}
        rooms_of[gateway] = list
        order[#order + 1] = gateway
      else
        gone[gateway] = true
      end
    end
    if list then
      list[#list + 1] = room
    else
      redis.call('SREM', room_key, gateway)
    end
  end
end
for _, gateway in ipairs(order) do
  redis.call('PUBLISH', base .. 'to:' .. gateway, 'e|' .. table.concat(rooms_of[gateway], ' ') .. '|' .. payload)
end
return #order
