-- Everything a batch is decided on, in one call (one command to pack, one reply for
-- hiredis to parse) and one atomic view (a pair's version and scans agree).
-- ARGV: replies, participants, badge revocations, pair stem, scans stem, then counted
-- lists: dedupe keys; (session, participant, cached version or -1) triples; roster ids;
-- badge ids. Returns {replies, {version, watched, scan lines (only when the cached
-- version is not current)} per pair, roster entries, revocations}.
local replies, participants, revoked, pair_stem, scans_stem =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local i = 6
local function take(width)
  local n = tonumber(ARGV[i])
  local out = {}
  for j = 1, n * width do out[j] = ARGV[i + j] end
  i = i + n * width + 1
  return out, n
end
local function hmget(key, fields)
  if #fields == 0 then return {} end
  return redis.call('HMGET', key, unpack(fields))
end
local keys = take(1)
local triples, np = take(3)
local people = take(1)
local badges = take(1)
local out_pairs = {}
for j = 1, np do
  local s, p, have = triples[3 * j - 2], triples[3 * j - 1], tonumber(triples[3 * j])
  local name = s .. ':' .. p
  local f = redis.call('HMGET', pair_stem .. name, 'v', 'watched')
  local v = tonumber(f[1] or '0')
  local lines = {}
  if v ~= have and v > 0 then lines = redis.call('LRANGE', scans_stem .. name, 0, -1) end
  out_pairs[j] = {v, f[2] or '0', lines}
end
return {hmget(replies, keys), out_pairs, hmget(participants, people), hmget(revoked, badges)}
