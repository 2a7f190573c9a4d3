-- Schema 1 kept a pair's scans as one JSON array in its hash (field `scans`); schema 2
-- appends them to a list. Moves one pair, if its field still holds what was read.
-- KEYS: pair hash, scans list. ARGV: the field's value as read, then the lines.
if redis.call('HGET', KEYS[1], 'scans') ~= ARGV[1] then return 0 end
for i = 2, #ARGV do
  redis.call('RPUSH', KEYS[2], ARGV[i])
end
redis.call('HDEL', KEYS[1], 'scans')
return 1
