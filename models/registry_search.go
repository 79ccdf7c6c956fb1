package models

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Page sizes of registry searches, as MLflow's.
const (
	RegisteredModelsPageDefault = 100
	MaxRegisteredModelsPerPage  = 1000
	ModelVersionsPageDefault    = 10000
	MaxModelVersionsPerPage     = 200000
)

// RegistrySearch is what search-registered-models and search-model-versions ask for.
type RegistrySearch struct {
	Filter     string
	MaxResults int
	OrderBy    []string
	PageToken  string
}

func (q RegistrySearch) page(def, most int) (limit, offset int, err error) {
	limit = q.MaxResults
	switch {
	case limit == 0:
		limit = def
	case limit < 0 || limit > most:
		return 0, 0, invalidField("max_results", "Invalid value for max_results. It must be at most %d, and a positive integer, but got %d", most, limit)
	}
	offset, err = decodePageToken(q.PageToken)
	return limit, offset, err
}

func orderDir(o OrderBy) string {
	if o.Desc {
		return "DESC"
	}
	return "ASC"
}

// SearchRegisteredModels finds models by name and tags.
func (s *Store) SearchRegisteredModels(ctx context.Context, q RegistrySearch) ([]RegisteredModel, string, error) {
	limit, offset, err := q.page(RegisteredModelsPageDefault, MaxRegisteredModelsPerPage)
	if err != nil {
		return nil, "", err
	}
	clauses, err := ParseFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	b := &sqlBuilder{}
	for _, c := range clauses {
		switch {
		case c.Type == EntityAttribute && c.Key == "name":
			cmp, err := b.textCompare(q.Filter, "m.name", c)
			if err != nil {
				return nil, "", err
			}
			b.add("%s", cmp)
		case c.Type == EntityTag:
			cmp, err := b.textCompare(q.Filter, "t.value", c)
			if err != nil {
				return nil, "", err
			}
			b.add("EXISTS (SELECT 1 FROM models_registered_tags t WHERE t.name = m.name AND t.key = %s AND %s)", b.arg(c.Key), cmp)
		default:
			return nil, "", CodeBadFilter.New("Invalid filter %q: registered models are searched by name and tags. (Valid keys are 'name', tags.<key>)", truncate(q.Filter))
		}
	}
	var order []string
	for _, term := range q.OrderBy {
		o, err := ParseOrderBy(term)
		if err != nil {
			return nil, "", err
		}
		column := map[string]string{"name": "m.name", "timestamp": "m.last_updated_time_ms", "last_updated_timestamp": "m.last_updated_time_ms",
			"creation_timestamp": "m.creation_time_ms"}[o.Key]
		if o.Type != EntityAttribute || column == "" {
			return nil, "", CodeBadFilter.New("Invalid order by key '%s' specified. Valid keys are 'name', 'timestamp', 'last_updated_timestamp', 'creation_timestamp'", o.Key)
		}
		order = append(order, column+" "+orderDir(o))
	}
	order = append(order, "m.name")
	rows, err := s.db.Query(ctx, `SELECT `+registeredColumns+` FROM models_registered m WHERE `+b.clause()+
		` ORDER BY `+strings.Join(order, ", ")+` OFFSET `+b.arg(offset)+` LIMIT `+b.arg(limit+1), b.queryArgs()...)
	if err != nil {
		return nil, "", fmt.Errorf("search registered models: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RegisteredModel, error) { return s.scanRegistered(ctx, row) })
	if err != nil {
		return nil, "", fmt.Errorf("search registered models: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodePageToken(offset + limit)
	}
	for i := range out {
		if out[i].LatestVersions, err = s.LatestVersions(ctx, out[i].Name, nil); err != nil {
			return nil, "", err
		}
		for j := range out[i].LatestVersions {
			out[i].LatestVersions[j].Aliases = nil // MLflow leaves them out of nested versions
		}
	}
	return out, next, nil
}

var versionAttributes = map[string]struct {
	column string
	number bool
}{
	"name": {"v.name", false}, "run_id": {"v.run_id", false}, "source_path": {"v.source", false}, "source": {"v.source", false},
	"version_number": {"v.version", true}, "model_id": {"v.model_id", false},
}

// SearchModelVersions finds versions by model name, run, source, number and tags.
func (s *Store) SearchModelVersions(ctx context.Context, q RegistrySearch) ([]ModelVersion, string, error) {
	limit, offset, err := q.page(ModelVersionsPageDefault, MaxModelVersionsPerPage)
	if err != nil {
		return nil, "", err
	}
	clauses, err := ParseFilter(q.Filter)
	if err != nil {
		return nil, "", err
	}
	b := &sqlBuilder{}
	b.add("v.deleted_time_ms IS NULL")
	for _, c := range clauses {
		switch c.Type {
		case EntityAttribute:
			a, ok := versionAttributes[c.Key]
			if !ok {
				return nil, "", CodeBadFilter.New("Invalid attribute key '%s' specified. Valid keys are 'name', 'run_id', 'source_path', 'version_number'", c.Key)
			}
			var cmp string
			if a.number {
				cmp, err = b.numberCompare(q.Filter, a.column, c)
			} else {
				cmp, err = b.textCompare(q.Filter, a.column, c)
			}
			if err != nil {
				return nil, "", err
			}
			b.add("%s", cmp)
		case EntityTag:
			cmp, err := b.textCompare(q.Filter, "t.value", c)
			if err != nil {
				return nil, "", err
			}
			b.add("EXISTS (SELECT 1 FROM models_version_tags t WHERE t.name = v.name AND t.version = v.version AND t.key = %s AND %s)", b.arg(c.Key), cmp)
		default:
			return nil, "", CodeBadFilter.New("Invalid filter %q: model versions are searched by name, run_id, source_path, version_number and tags.", truncate(q.Filter))
		}
	}
	var order []string
	for _, term := range q.OrderBy {
		o, err := ParseOrderBy(term)
		if err != nil {
			return nil, "", err
		}
		column := map[string]string{"name": "v.name", "version_number": "v.version", "creation_timestamp": "v.creation_time_ms",
			"last_updated_timestamp": "v.last_updated_time_ms", "timestamp": "v.last_updated_time_ms"}[o.Key]
		if o.Type != EntityAttribute || column == "" {
			return nil, "", CodeBadFilter.New("Invalid order by key '%s' specified. Valid keys are 'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'", o.Key)
		}
		order = append(order, column+" "+orderDir(o))
	}
	if len(order) == 0 {
		order = append(order, "v.last_updated_time_ms DESC")
	}
	order = append(order, "v.name", "v.version DESC")
	rows, err := s.db.Query(ctx, `SELECT `+versionColumns+` FROM models_versions v WHERE `+b.clause()+
		` ORDER BY `+strings.Join(order, ", ")+` OFFSET `+b.arg(offset)+` LIMIT `+b.arg(limit+1), b.queryArgs()...)
	if err != nil {
		return nil, "", fmt.Errorf("search model versions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ModelVersion, error) {
		v, err := scanVersion(row)
		v.Aliases = nil // MLflow's search leaves aliases out
		return v, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("search model versions: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodePageToken(offset + limit)
	}
	return out, next, nil
}
