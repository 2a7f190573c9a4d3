-- Recount one session's attended counters from its attended set and the current roster
-- (after a roster import, or when the counters disagree with the set).
-- ARGV: session, attended stem, pair stem, participants, province stem, org stem, counted.
local s, attended_stem, pair_stem = ARGV[1], ARGV[2], ARGV[3]
local participants, prov_stem, org_stem, counted = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
-- include: count.lua
redis.call('DEL', prov_stem .. s, org_stem .. s)
for _, p in ipairs(redis.call('SMEMBERS', attended_stem .. s)) do
  count(pair_stem .. s .. ':' .. p, s, p, 1)
end
return 1
