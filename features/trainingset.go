package features

import "time"

// TrainingSet is a built training set: the object holding it and what it was built from.
type TrainingSet struct {
	ObjectKey string          `json:"object_key"`
	Lineage   TrainingLineage `json:"lineage"`
}

// TrainingLineage is what a training set was built from, exactly enough to say which data
// a model saw: the model registry records it as a model version's training lineage. The
// catalog revision, views, service and entity time range are fixed when the job is
// accepted; the SQL, row count and digest when its result is stored.
type TrainingLineage struct {
	CatalogRevision int64           `json:"catalog_revision"`
	Views           []ObjectVersion `json:"views"`
	Service         *ObjectVersion  `json:"service,omitempty"`
	// SQL is every statement the job ran against the offline store, in order.
	SQL  string `json:"sql,omitempty"`
	Rows int64  `json:"rows"`
	// EntityTimeFrom and EntityTimeTo are the earliest and latest timestamps of the entity
	// rows (UTC): the training set holds no feature value from after EntityTimeTo.
	EntityTimeFrom *time.Time `json:"entity_time_from,omitempty"`
	EntityTimeTo   *time.Time `json:"entity_time_to,omitempty"`
	// SHA256 is the hex digest of the result object's bytes.
	SHA256 string `json:"sha256,omitempty"`
}

// ObjectVersion names one version of a catalog object.
type ObjectVersion struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// TrainingRowsRequest asks for a training set whose entity rows a query picks: a model's
// rows query, one SELECT over an offline table (as {{batch}}), run in the offline store.
type TrainingRowsRequest struct {
	FeatureService  string
	Table           string
	SQL             string
	TimestampColumn string
	MaxRows         int
	// Key makes the submit safe to repeat: the same key gets the same job.
	Key   string
	Actor string
}
