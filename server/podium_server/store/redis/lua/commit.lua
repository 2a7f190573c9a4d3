-- One batch of ledger writes, each atomic: dedupe check, compare-and-set on the pair
-- version, reply, audit line, live sets.
-- ARGV: writes JSON, replies, audit, pair stem, pair index, inside stem, attended stem,
-- recent stem, recent keep, participants, province stem, org type stem, counted, scans
-- stem, revoked badges, revoked tokens. Returns per write: 1 committed, 0 conflict, 2 its
-- token revoked, or the stored body.
-- A pair write appends only its own lines (new scans, annulments) to the pair's scans
-- list; the pair hash keeps the version every writer compares-and-sets.
local writes = cjson.decode(ARGV[1])
local replies, audit, pair_stem, pair_index = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local inside_stem, attended_stem, recent_stem = ARGV[6], ARGV[7], ARGV[8]
local keep = tonumber(ARGV[9])
local participants, prov_stem, org_stem, counted = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local scans_stem = ARGV[14]
local revoked_badges, revoked_tokens = ARGV[15], ARGV[16]
-- include: count.lua
local out = {}
-- versions a write of this batch would have made and did not: a later write built on
-- one was decided on a ledger that does not exist, so it is refused too, even if the
-- store holds a version of that number (another writer's ledger)
local unmade = {}
local trim = {}
for i, w in ipairs(writes) do
  -- a request whose token is revoked (anywhere) is refused: nothing written, no answer
  local refused = w.t and redis.call('HEXISTS', revoked_tokens, w.t) == 1
  local existing = (not refused) and redis.call('HGET', replies, w.k)
  if refused then
    out[i] = 2
    if w.pair then unmade[pair_stem .. w.pair.s .. ':' .. w.pair.p] = w.pair.v end
  elseif existing then
    out[i] = existing
    if w.pair then unmade[pair_stem .. w.pair.s .. ':' .. w.pair.p] = w.pair.v end
  else
    local ok = true
    local pk = nil
    if w.x then  -- decided on a pair it leaves alone: still at the version read?
      local xk = pair_stem .. w.x[1] .. ':' .. w.x[2]
      local xv = redis.call('HGET', xk, 'v')
      if unmade[xk] == w.x[3] or tonumber(xv or '0') ~= w.x[3] then ok = false end
    end
    if w.pair then
      pk = pair_stem .. w.pair.s .. ':' .. w.pair.p
      local v = tonumber(redis.call('HGET', pk, 'v') or '0')
      if unmade[pk] == w.pair.v - 1 or v ~= w.pair.v - 1 then ok = false end
    end
    -- taken as not revoked: revoked since (by the CLI, another node)?
    if ok and w.nr and redis.call('HEXISTS', revoked_badges, w.nr) == 1 then ok = false end
    if not ok then
      if w.pair then unmade[pk] = w.pair.v end
      out[i] = 0
    else
      if w.pair then
        local pr = w.pair
        redis.call('HSET', pk, 'v', pr.v, 'inside', pr.inside, 'door_seen', pr.door_seen)
        local sk = scans_stem .. pr.s .. ':' .. pr.p
        for _, line in ipairs(pr.lines) do
          redis.call('RPUSH', sk, line)
        end
        redis.call('SADD', pair_index, pr.s .. ':' .. pr.p)
        if pr.inside == 1 then
          redis.call('SADD', inside_stem .. pr.s, pr.p)
        else
          redis.call('SREM', inside_stem .. pr.s, pr.p)
        end
        if pr.door_seen == 1 or redis.call('HGET', pk, 'watched') == '1' then
          if redis.call('SADD', attended_stem .. pr.s, pr.p) == 1 then
            count(pk, pr.s, pr.p, 1)
          end
        elseif redis.call('SREM', attended_stem .. pr.s, pr.p) == 1 then
          count(pk, pr.s, pr.p, -1)
        end
        if w.recent then
          redis.call('LPUSH', recent_stem .. pr.s, w.recent)
          trim[recent_stem .. pr.s] = true
        end
      end
      redis.call('HSET', replies, w.k, w.body)
      redis.call('RPUSH', audit, w.audit)
      out[i] = 1
    end
  end
end
for key in pairs(trim) do  -- once per session and batch, not per scan (AOF volume)
  redis.call('LTRIM', key, 0, keep - 1)
end
return out
