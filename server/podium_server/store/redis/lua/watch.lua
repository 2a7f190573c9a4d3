-- One watch interval: merged with what is stored under its id, the online set, and the
-- pair counted as attended once it lasted.
-- ARGV: interval JSON, watches, pair stem, pair index, attended stem, online stem,
-- participants, province stem, org type stem, counted.
local w = cjson.decode(ARGV[1])
local watches, pair_stem, pair_index, attended_stem, online_stem =
  ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local participants, prov_stem, org_stem, counted = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
-- include: count.lua
local old = redis.call('HGET', watches, w.interval_id)
if old then
  local o = cjson.decode(old)
  if o.start < w.start then w.start = o.start end
  if o['end'] > w['end'] then w['end'] = o['end'] end
end
redis.call('HSET', watches, w.interval_id, cjson.encode(w))
local member = w.participant_id .. '|' .. w.interval_id
if w.open then
  redis.call('ZADD', online_stem .. w.session_id, w['end'], member)
else
  redis.call('ZREM', online_stem .. w.session_id, member)
end
if w['end'] > w.start then
  local pk = pair_stem .. w.session_id .. ':' .. w.participant_id
  redis.call('HSET', pk, 'watched', '1')
  redis.call('SADD', pair_index, w.session_id .. ':' .. w.participant_id)
  if redis.call('SADD', attended_stem .. w.session_id, w.participant_id) == 1 then
    count(pk, w.session_id, w.participant_id, 1)
  end
end
return 1
