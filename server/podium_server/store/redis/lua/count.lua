-- Attended counters by province / org type, kept beside the attended set so a dashboard
-- reads two small hashes instead of every attended id. A pair remembers what it was
-- counted under (cprov, corg) so leaving the set takes back exactly that.
-- Shared by commit, watch and recount (joined where they say `-- include: count.lua`).
-- Needs locals: participants, prov_stem, org_stem, counted.
local function count(pk, s, p, delta)
  local prov, org = 'unknown', 'unknown'
  if delta > 0 then
    local raw = redis.call('HGET', participants, p)
    if raw then
      local x = cjson.decode(raw)
      if type(x.province) == 'string' then prov = x.province end
      if type(x.org_type) == 'string' then org = x.org_type end
    end
    redis.call('HSET', pk, 'cprov', prov, 'corg', org)
  else
    prov = redis.call('HGET', pk, 'cprov') or prov
    org = redis.call('HGET', pk, 'corg') or org
  end
  redis.call('HINCRBY', prov_stem .. s, prov, delta)
  redis.call('HINCRBY', org_stem .. s, org, delta)
  redis.call('SADD', counted, s)
end
