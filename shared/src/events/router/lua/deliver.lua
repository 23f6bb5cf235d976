-- deliver(base, room_keys, payload, n): sends `<g>|<n>|<payload>` once to every
-- live gateway in the room sets `room_keys`, on its channel `<base>to:<id>`, `g`
-- being that gateway's frame count after this frame. A gateway whose hash
-- (`<base>gw:<id>`) is gone (its lease ran out) is dropped from the set instead:
-- it is gone, or registers everything again when it comes back.
-- Returns { [gateway id] = its g } for the gateways reached.
--
-- The gateway hashes are found in the sets, so no caller can declare them: they
-- are built from `base` (`<prefix>{fanout}:`), the hash tag of every declared
-- key, so on a Redis Cluster they live in the slot of the keys the script declared.
local function deliver(base, room_keys, payload, n)
  local seen = {}
  for _, room_key in ipairs(room_keys) do
    for _, gateway in ipairs(redis.call('SMEMBERS', room_key)) do
      if not seen[gateway] then
        local gateway_key = base .. 'gw:' .. gateway
        if redis.call('EXISTS', gateway_key) == 1 then
          local g = redis.call('HINCRBY', gateway_key, 'g', 1)
          seen[gateway] = g
          redis.call('PUBLISH', base .. 'to:' .. gateway, g .. '|' .. n .. '|' .. payload)
        else
          redis.call('SREM', room_key, gateway)
        end
      end
    end
  end
  return seen
end
