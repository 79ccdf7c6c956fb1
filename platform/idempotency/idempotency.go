// Package idempotency makes retried writes safe. A write that carries an Idempotency-Key
// claims the key inside its own database transaction and stores its response there too,
// so the key and the effect commit or roll back together: a retry with the same key and
// the same request gets the first response again, and with a different request gets 409.
// Keys are scoped to the authenticated caller and the operation: one caller can never
// replay, block or learn of another's.
package idempotency

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/auth"
	"github.com/codexion/codexion/platform/postgres"
)

// Header is the request header that carries the key; ReplayedHeader marks a replay.
const (
	Header         = "Idempotency-Key"
	ReplayedHeader = "Idempotency-Replayed"
	maxKeyLen      = 255
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the idempotency table's migration source.
func Migrations() postgres.Source { return postgres.Embedded("idempotency", migrations) }

// Key is a validated idempotency key with the hash of the request it came with.
type Key struct {
	// Scope is who may replay the key and for what: the authenticated caller and the
	// operation (method and route pattern). Another caller's key with the same value is a
	// different key, and so is the same value on another route; the raw URL plays no part.
	Scope string
	Value string
	// Hash covers what the operation acts on: the path (with its values), the query
	// parameters the operation reads, and the body. The same key with a different request
	// is refused as reused, never replayed.
	Hash [32]byte
}

// FromRequest reads the key header. ok is false when there is none; a malformed key, or a
// key on a request with no authenticated caller, is an error. body is the request's
// canonical bytes; query names the query parameters the operation reads, which are part
// of the request's hash (others, like ?x=1, are not).
func FromRequest(r *http.Request, body []byte, query ...string) (Key, bool, error) {
	v := r.Header.Get(Header)
	if v == "" {
		return Key{}, false, nil
	}
	if len(v) > maxKeyLen {
		return Key{}, false, platform.Invalid("%s is longer than %d characters", Header, maxKeyLen)
	}
	for _, c := range v {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) {
			return Key{}, false, platform.Invalid("%s must be printable ASCII", Header)
		}
	}
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok || p.Subject == "" {
		return Key{}, false, platform.Invalid("%s needs an authenticated caller whose token names a subject", Header)
	}
	if r.Pattern == "" {
		return Key{}, false, fmt.Errorf("%s on a request no route matched", Header)
	}
	return Key{Scope: Scope(p.Subject, r.Pattern), Value: v, Hash: requestHash(r, body, query)}, true, nil
}

// Scope is the scope of keys sent by subject to the route pattern. The subject is quoted,
// so no choice of subject can reach into another caller's scope.
func Scope(subject, pattern string) string {
	return strconv.Quote(subject) + " " + pattern
}

// requestHash is the SHA-256 of the path, the named query parameters and the body, each
// length-prefixed so no two different requests write the same bytes.
func requestHash(r *http.Request, body []byte, query []string) [32]byte {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	field([]byte(r.URL.Path))
	q := r.URL.Query()
	for _, name := range query {
		field([]byte(name))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(q[name]))))
		for _, v := range q[name] {
			field([]byte(v))
		}
	}
	field(body)
	return [32]byte(h.Sum(nil))
}

// Stored is an earlier response to replay.
type Stored struct {
	Status   int
	Response json.RawMessage
}

// Claim takes the key inside tx. If an earlier request committed it, Claim returns its
// response (for the same request) or a Conflict (for a different one). If a concurrent
// request holds it, Claim waits for that transaction to end, so two retries racing each
// other still apply once.
func Claim(ctx context.Context, tx pgx.Tx, k Key) (*Stored, error) {
	tag, err := tx.Exec(ctx, `INSERT INTO codexion_idempotency (scope, key, request_hash, status, response)
		VALUES ($1, $2, $3, 0, 'null') ON CONFLICT (scope, key) DO NOTHING`, k.Scope, k.Value, k.Hash[:])
	if err != nil {
		return nil, err
	}
	if tag.RowsAffected() == 1 {
		return nil, nil
	}
	var (
		hash []byte
		s    Stored
	)
	err = tx.QueryRow(ctx, `SELECT request_hash, status, response FROM codexion_idempotency WHERE scope = $1 AND key = $2`,
		k.Scope, k.Value).Scan(&hash, &s.Status, &s.Response)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, CodeIdempotencyKeyInFlight.New("a request with %s %q is being processed; retry shortly", Header, k.Value)
	}
	if err != nil {
		return nil, err
	}
	if string(hash) != string(k.Hash[:]) {
		return nil, CodeIdempotencyKeyReused.New("%s %q was already used with a different request body; use a new key for a new request", Header, k.Value)
	}
	return &s, nil
}

// Save records the response for a claimed key; it commits with tx.
func Save(ctx context.Context, tx pgx.Tx, k Key, status int, response any) error {
	body, err := json.Marshal(response)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE codexion_idempotency SET status = $3, response = $4 WHERE scope = $1 AND key = $2`,
		k.Scope, k.Value, status, body)
	return err
}

// QueueClaimMany adds one statement to a pipelined batch that claims every key at once.
// The keys must be distinct. It returns the claimed keys' values, one row each; a key that
// is taken, by an earlier request or a concurrent one (whose end the statement waits for),
// returns no row, and its request takes the ordinary path (Claim, in a transaction) to
// wait, replay or be refused.
func QueueClaimMany(b *pgx.Batch, keys []Key) {
	scopes, values, hashes := columns(keys)
	b.Queue(`INSERT INTO codexion_idempotency (scope, key, request_hash, status, response)
		SELECT s, k, h, 0, 'null' FROM unnest($1::text[], $2::text[], $3::bytea[]) AS t(s, k, h)
		ON CONFLICT (scope, key) DO NOTHING RETURNING scope, key`, scopes, values, hashes)
}

// QueueInsertMany claims every key in one statement, storing its response at once, for a
// transaction whose outcome is known before it is sent. The statement fails (unique
// violation, 23505) when any key is taken, so the transaction rolls back whole.
func QueueInsertMany(b *pgx.Batch, keys []Key, statuses []int32, bodies [][]byte) {
	scopes, values, hashes := columns(keys)
	b.Queue(`INSERT INTO codexion_idempotency (scope, key, request_hash, status, response)
		SELECT s, k, h, st, body FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int[], $5::bytea[]) AS t(s, k, h, st, body)`,
		scopes, values, hashes, statuses, bodies)
}

// QueueSaveMany stores the responses of claimed keys in one statement: statuses[i] and
// bodies[i] (JSON) belong to keys[i].
func QueueSaveMany(b *pgx.Batch, keys []Key, statuses []int32, bodies [][]byte) {
	scopes, values, _ := columns(keys)
	b.Queue(`UPDATE codexion_idempotency i SET status = t.st, response = t.body
		FROM unnest($1::text[], $2::text[], $3::int[], $4::bytea[]) AS t(s, k, st, body)
		WHERE i.scope = t.s AND i.key = t.k`, scopes, values, statuses, bodies)
}

// QueueReleaseMany gives back keys claimed in this transaction for requests that were
// refused, as a rolled-back transaction would: a retry runs afresh.
func QueueReleaseMany(b *pgx.Batch, keys []Key) {
	scopes, values, _ := columns(keys)
	b.Queue(`DELETE FROM codexion_idempotency i USING unnest($1::text[], $2::text[]) AS t(s, k)
		WHERE i.scope = t.s AND i.key = t.k AND i.status = 0`, scopes, values)
}

func columns(keys []Key) (scopes, values []string, hashes [][]byte) {
	scopes, values, hashes = make([]string, len(keys)), make([]string, len(keys)), make([][]byte, len(keys))
	for i, k := range keys {
		scopes[i], values[i], hashes[i] = k.Scope, k.Value, k.Hash[:]
	}
	return scopes, values, hashes
}

// Do runs a write under an idempotency key inside tx. With a nil key it just runs fn. With a
// key it claims it: a stored response is decoded and returned with replayed set, without
// running fn; otherwise fn runs and its result is stored with status, in the same transaction.
func Do[T any](ctx context.Context, tx pgx.Tx, k *Key, status int, fn func() (T, error)) (result T, replayed bool, err error) {
	if k == nil {
		result, err = fn()
		return result, false, err
	}
	stored, err := Claim(ctx, tx, *k)
	if err != nil {
		return result, false, err
	}
	if stored != nil {
		if err := json.Unmarshal(stored.Response, &result); err != nil {
			return result, false, fmt.Errorf("stored response of %s %q: %w", Header, k.Value, err)
		}
		return result, true, nil
	}
	if result, err = fn(); err != nil {
		return result, false, err
	}
	return result, false, Save(ctx, tx, *k, status, result)
}
