package features

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// The feature store's requests and answers, Feast's shapes, and the ports other parts call
// in process: serving reads online features through OnlineReader, pipelines ask for a
// materialization through Materializer. The HTTP routes are one caller among these.

// ErrMaterializeDirect is what a Materializer that runs materializations elsewhere (as a
// Temporal workflow) answers for a request the feature store should run in the request.
var ErrMaterializeDirect = errors.New("materialize in the request")

// OnlineReader answers online lookups.
type OnlineReader interface {
	GetOnline(ctx context.Context, req OnlineRequest) (*OnlineResponse, error)
}

// Materializer computes views' online values from the offline store.
type Materializer interface {
	Materialize(ctx context.Context, req MaterializeRequest) (MaterializeResult, error)
}

// Pusher stores pushed source rows offline and refreshes them online.
type Pusher interface {
	Push(ctx context.Context, req PushRequest) (PushResult, error)
}

// Statuses of an online value, as Feast names them.
const (
	Present       = "PRESENT"
	NotFound      = "NOT_FOUND"
	NullValue     = "NULL_VALUE"
	OutsideMaxAge = "OUTSIDE_MAX_AGE"
)

// OnlineRequest is Feast's get-online-features request.
type OnlineRequest struct {
	Features         []string         `json:"features,omitempty"`
	FeatureService   string           `json:"feature_service,omitempty"`
	Entities         map[string][]any `json:"entities"`
	FullFeatureNames bool             `json:"full_feature_names,omitempty"`
}

// OnlineResponse is Feast's get-online-features response: column-major, entity keys first.
type OnlineResponse struct {
	Metadata struct {
		FeatureNames []string `json:"feature_names"`
	} `json:"metadata"`
	Results []OnlineColumn `json:"results"`
}

// OnlineColumn is one feature (or entity key) for every requested entity.
type OnlineColumn struct {
	Values          []any    `json:"values"`
	Statuses        []string `json:"statuses"`
	EventTimestamps []string `json:"event_timestamps"`
}

// MaterializeRequest is Feast's materialize request; times are RFC 3339.
type MaterializeRequest struct {
	FeatureViews []string   `json:"feature_views,omitempty"`
	StartTS      *time.Time `json:"start_ts,omitempty"`
	EndTS        *time.Time `json:"end_ts,omitempty"`
}

// MaterializeResult says how many entities each view wrote.
type MaterializeResult struct {
	EndTS   time.Time      `json:"end_ts"`
	Written map[string]int `json:"written"`
}

// PushRequest is Feast's push request: rows of a source table, column-major.
type PushRequest struct {
	PushSourceName string           `json:"push_source_name"`
	DF             map[string][]any `json:"df"`
	To             string           `json:"to,omitempty"` // online, offline, online_and_offline (default)
}

// PushResult says what a push stored.
type PushResult struct {
	Table         string         `json:"table"`
	Inserted      int64          `json:"inserted"`
	OnlineWritten map[string]int `json:"online_written"`
}

// MarshalJSON writes the response without reflection: it is on the hot path of every
// lookup. The output is what encoding/json would write.
func (r *OnlineResponse) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256+len(r.Results)*96)
	b = append(b, `{"metadata":{"feature_names":[`...)
	for i, n := range r.Metadata.FeatureNames {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
	}
	b = append(b, `]},"results":[`...)
	for i, c := range r.Results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"values":[`...)
		for j, v := range c.Values {
			if j > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, v); err != nil {
				return nil, err
			}
		}
		b = append(b, `],"statuses":[`...)
		for j, s := range c.Statuses {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, `],"event_timestamps":[`...)
		for j, s := range c.EventTimestamps {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}"...), nil
}

func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // rare: let encoding/json escape it
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case json.Number:
		return append(b, x...), nil
	case string:
		return appendString(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	}
	q, err := json.Marshal(v)
	return append(b, q...), err
}
