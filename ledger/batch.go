package ledger

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/platform"
	"github.com/codexion/codexion/platform/idempotency"
	"github.com/codexion/codexion/platform/logging"
)

// MaxBatchEntries bounds one batch request.
const MaxBatchEntries = 1000

// BatchInput is a list of entries posted together. Atomic: all or none; otherwise each
// entry succeeds or fails on its own and the result says which.
type BatchInput struct {
	Atomic  bool         `json:"atomic"`
	Entries []EntryInput `json:"entries"`
}

// BatchItem is one entry's outcome.
type BatchItem struct {
	Index int         `json:"index"`
	Entry *Entry      `json:"entry,omitempty"`
	Error *BatchError `json:"error,omitempty"`
	// cause is an unexpected error behind Error, for the log; the client never sees it.
	cause error
}

// BatchError is a failed entry's problem.
type BatchError struct {
	Code   string                `json:"code"`
	Detail string                `json:"detail"`
	Errors []platform.FieldError `json:"errors,omitempty"`
}

// BatchResult lists every entry's outcome in input order.
type BatchResult struct {
	Atomic   bool        `json:"atomic"`
	Posted   int         `json:"posted"`
	Failed   int         `json:"failed"`
	Results  []BatchItem `json:"results"`
	Replayed bool        `json:"-"`
	body     []byte      // the result as its idempotency key stored it, when it has one
}

// PostBatch posts up to MaxBatchEntries entries in one transaction: through the
// committer, as one unit of its group. An atomic batch posts all or none; otherwise each
// entry stands or falls on its own and the result says which.
func (s *Store) PostBatch(ctx context.Context, in BatchInput, actor string, key *idempotency.Key) (*BatchResult, error) {
	switch n := len(in.Entries); {
	case n == 0:
		return nil, platform.Invalid("entries: is empty; send 1 to %d entries", MaxBatchEntries)
	case n > MaxBatchEntries:
		return nil, platform.Invalid("entries: has %d entries; at most %d per batch", n, MaxBatchEntries)
	}
	parsed := make([]*parsedEntry, len(in.Entries))
	failed := make([]error, len(in.Entries)) // parse errors, by input index
	var (
		todo  []*parsedEntry
		index []int // input index of todo[j]
	)
	for i, e := range in.Entries {
		p, err := parse(e)
		if err != nil {
			if in.Atomic {
				return nil, prefixed(err, i)
			}
			failed[i] = err
			continue
		}
		parsed[i] = p
		todo, index = append(todo, p), append(index, i)
	}
	if len(todo) == 0 { // nothing to post, but a key still records the answer
		return s.postBatchInTx(ctx, in.Atomic, parsed, failed, actor, key)
	}
	result := func(out []*Entry, errs []error) *BatchResult {
		return batchResult(ctx, in.Atomic, failed, index, out, errs)
	}
	status := int32(200)
	if in.Atomic {
		status = 201
	}
	opts := make([]postOptions, len(todo))
	for j := range opts {
		opts[j] = postOptions{kind: "standard"}
	}
	u := &unit{entries: todo, opts: opts, atomic: in.Atomic, actor: actor, key: key,
		respond: func(out []*Entry, errs []error) (int32, []byte, error) {
			body, err := json.Marshal(result(out, errs))
			return status, body, err
		}}
	slow, err := s.postUnit(ctx, u)
	switch {
	case err != nil:
		return nil, err
	case slow:
		return s.postBatchInTx(ctx, in.Atomic, parsed, failed, actor, key)
	}
	if in.Atomic {
		for j, e := range u.errs {
			if e != nil && !errors.Is(e, errWithUnit) {
				return nil, prefixed(e, index[j])
			}
		}
	}
	res := result(u.out, u.errs)
	res.body = u.body
	return res, nil
}

// postBatchInTx is the ordinary path of a batch: claim the key (waiting for a concurrent
// holder), replay a stored response, or post. parsed[i] is nil where failed[i] says why.
func (s *Store) postBatchInTx(ctx context.Context, atomic bool, parsed []*parsedEntry, failed []error, actor string, key *idempotency.Key) (*BatchResult, error) {
	var out *BatchResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		r, replayed, err := idempotency.Do(ctx, tx, key, 200, func() (*BatchResult, error) {
			var (
				todo  []*parsedEntry
				index []int
				opts  []postOptions
			)
			for i, p := range parsed {
				if p != nil {
					todo, index, opts = append(todo, p), append(index, i), append(opts, postOptions{kind: "standard"})
				}
			}
			var (
				posted []*Entry
				errs   []error
			)
			if len(todo) > 0 {
				var err error
				if posted, errs, err = s.postMany(ctx, tx, todo, actor, opts, atomic); err != nil {
					for j, e := range errs {
						if e != nil {
							return nil, prefixed(err, index[j])
						}
					}
					return nil, err
				}
			}
			return batchResult(ctx, atomic, failed, index, posted, errs), nil
		})
		if err == nil {
			r.Replayed = replayed
			out = r
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// batchResult lists every entry's outcome in input order: failed[i] for an entry that did
// not parse, and for the j-th parsed one (input index index[j]) posted[j] or errs[j].
func batchResult(ctx context.Context, atomic bool, failed []error, index []int, posted []*Entry, errs []error) *BatchResult {
	res := &BatchResult{Atomic: atomic, Results: make([]BatchItem, len(failed))}
	for i, err := range failed {
		if err != nil {
			res.Results[i] = batchFailure(ctx, i, err)
			res.Failed++
		}
	}
	for j, i := range index {
		if errs[j] != nil {
			res.Results[i] = batchFailure(ctx, i, errs[j])
			res.Failed++
			continue
		}
		res.Results[i] = BatchItem{Index: i, Entry: posted[j]}
		res.Posted++
	}
	return res
}

// batchFailure is entry i's outcome when err stopped it. As in an error response, a
// platform.Error says what to fix; anything else is internal, and the body carries only
// the request id (it is a 200 body the idempotency record keeps): the cause, which may
// hold database text, is kept for the handler's log.
func batchFailure(ctx context.Context, i int, err error) BatchItem {
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Kind != platform.KindInternal {
		return BatchItem{Index: i, Error: &BatchError{Code: cmp.Or(pe.Code, pe.Kind.String()), Detail: pe.Message, Errors: pe.Fields}}
	}
	return BatchItem{Index: i, cause: err,
		Error: &BatchError{Code: platform.CodeInternal.Code, Detail: "internal error; report request id " + logging.RequestID(ctx)}}
}

// prefixed names the failing entry in an atomic batch's error.
func prefixed(err error, i int) error {
	var pe *platform.Error
	if !errors.As(err, &pe) {
		return err
	}
	out := *pe
	out.Message = fmt.Sprintf("entries[%d]: %s", i, pe.Message)
	out.Fields = make([]platform.FieldError, len(pe.Fields))
	for j, f := range pe.Fields {
		out.Fields[j] = platform.FieldError{Field: fmt.Sprintf("entries[%d].%s", i, f.Field), Message: f.Message}
	}
	return &out
}
