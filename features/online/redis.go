package online

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Redis is the scale-out online store: one string per view and entity.
type Redis struct {
	c      *redis.Client
	prefix string
}

// OpenRedis connects to the Redis server at url (redis://host:port/db).
func OpenRedis(ctx context.Context, url string) (*Redis, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("online store redis url: %w", err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close() //nolint:errcheck // not connected
		return nil, fmt.Errorf("online store redis %s: %w", opts.Addr, err)
	}
	return &Redis{c: c, prefix: "codexion:online:"}, nil
}

func (s *Redis) key(view, k string) string { return s.prefix + view + ":" + k }

// writeNotOlder sets each KEYS[i] to ARGV[i] unless the stored value is newer (the first
// eight bytes are the event time, big-endian, so string order is time order).
var writeNotOlder = redis.NewScript(`
local n = 0
for i, k in ipairs(KEYS) do
  local cur = redis.call('GET', k)
  if (not cur) or string.sub(cur, 1, 8) <= string.sub(ARGV[i], 1, 8) then
    redis.call('SET', k, ARGV[i])
    n = n + 1
  end
end
return n`)

// Write implements Store.
func (s *Redis) Write(ctx context.Context, view string, recs []Record) (int, error) {
	total := 0
	for start := 0; start < len(recs); start += 500 {
		chunk := recs[start:min(start+500, len(recs))]
		keys := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, r := range chunk {
			v, err := encode(r)
			if err != nil {
				return total, err
			}
			keys[i], args[i] = s.key(view, r.Key), v
		}
		n, err := writeNotOlder.Run(ctx, s.c, keys, args...).Int()
		if err != nil {
			return total, fmt.Errorf("online store redis write: %w", err)
		}
		total += n
	}
	return total, nil
}

// Read implements Store.
func (s *Redis) Read(ctx context.Context, view string, keys []string) ([]*Record, error) {
	rk := make([]string, len(keys))
	for i, k := range keys {
		rk[i] = s.key(view, k)
	}
	vals, err := s.c.MGet(ctx, rk...).Result()
	if err != nil {
		return nil, fmt.Errorf("online store redis read: %w", err)
	}
	out := make([]*Record, len(keys))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		if out[i], err = decode(keys[i], []byte(str)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Drop implements Store.
func (s *Redis) Drop(ctx context.Context, view string) error {
	iter := s.c.Scan(ctx, 0, s.prefix+view+":*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := s.c.Del(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return s.c.Del(ctx, batch...).Err()
	}
	return nil
}

// Close implements Store.
func (s *Redis) Close() error { return s.c.Close() }
