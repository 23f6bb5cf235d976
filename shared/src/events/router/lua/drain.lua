-- drain(base, next_key, held_key, nxt): routes the held messages that follow on
-- from seq `nxt`, one after the other, then stores where routing stands in
-- `next_key`. Returns that new next.
--
-- A held entry is `<room names, space-separated>\n<payload>` (ROUTE). The room
-- sets of held messages are built from `base` (`<prefix>{fanout}:`), the hash tag
-- of the declared keys, so on a Redis Cluster they are in the same slot.
-- Needs deliver (deliver.lua) before it.
local function drain(base, next_key, held_key, nxt)
  while true do
    local entry = redis.call('HGET', held_key, tostring(nxt))
    if not entry then break end
    redis.call('HDEL', held_key, tostring(nxt))
    local cut = string.find(entry, '\n', 1, true)
    local room_keys = {}
    for room in string.gmatch(string.sub(entry, 1, cut - 1), '%S+') do room_keys[#room_keys + 1] = base .. 'room:' .. room end
    deliver(base, room_keys, string.sub(entry, cut + 1), nxt + 1)
    nxt = nxt + 1
  end
  redis.call('SET', next_key, nxt)
  return nxt
end
