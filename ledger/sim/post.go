package sim

import (
	"context"
	"fmt"
	"sync"

	"github.com/codexion/codexion/platform/apiclient"
	"github.com/codexion/codexion/platform/idempotency"
)

// postWorkers bounds concurrent posts.
const postWorkers = 4

// Result counts what a run posted.
type Result struct {
	Posted    int
	Replayed  int
	Anomalies int
}

// Post sends entries through the ledger API, each with its idempotency key, so running the
// same simulation again replays instead of doubling the books.
func Post(ctx context.Context, c *apiclient.Client, entries []Entry) (Result, error) {
	var (
		mu   sync.Mutex
		res  Result
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan Entry)
	for range postWorkers {
		wg.Go(func() {
			for e := range work {
				r, err := c.Do(ctx, "POST", "/v1/ledger/entries", e.Input, nil, idempotency.Header, e.Key)
				mu.Lock()
				switch {
				case err != nil:
					errs = append(errs, fmt.Errorf("entry %s (%s): %w", e.Input.Reference, e.Input.PostingDate, err))
				case r.Header.Get(idempotency.ReplayedHeader) == "true":
					res.Replayed++
				default:
					res.Posted++
				}
				if e.Anomaly != "" {
					res.Anomalies++
				}
				mu.Unlock()
			}
		})
	}
	for _, e := range entries {
		select {
		case work <- e:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		return res, fmt.Errorf("%d of %d entries failed; first: %w", len(errs), len(entries), errs[0])
	}
	return res, ctx.Err()
}
