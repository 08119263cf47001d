-- protogate rate_limit: GCRA over every limit of a call, all or nothing.
-- KEYS: one per limit, hash-tagged alike so they share one cluster slot.
-- ARGV: interval_1, capacity_1, interval_2, capacity_2, ... (microseconds).
-- Returns { allowed (1 or 0), now, tat_1, tat_2, ... } in microseconds:
-- the TATs after the call when allowed, as they stand when refused.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local allowed = 1
local tats = {}
local nexts = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local capacity = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i])) or 0
  if tat < now then tat = now end
  tats[i] = tat
  nexts[i] = tat + interval
  if nexts[i] - now > capacity then allowed = 0 end
end
if allowed == 1 then
  for i = 1, #KEYS do
    tats[i] = nexts[i]
    local ttl = math.ceil((nexts[i] - now) / 1000) + 1
    redis.call('SET', KEYS[i], string.format('%.0f', nexts[i]), 'PX', ttl)
  end
end
local out = { allowed, now }
for i = 1, #KEYS do out[i + 2] = tats[i] end
return out
