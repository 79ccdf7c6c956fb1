package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/codexion/codexion/schemas"
)

// Reference names a registered subject version that a schema's $ref may reach by Name,
// as in Confluent's references array. It is the only way a $ref leaves its document:
// there is no file, network or other resolution.
type Reference struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

// Bounds on what one schema may reference, counting references of references.
const (
	maxReferences     = 64
	maxReferenceDepth = 8
	maxReferenceName  = 1024
)

// referenced is what references resolve to: schema text by the absolute URL $ref uses.
type referenced map[string]string

func invalidReference(format string, args ...any) *Error {
	return errorf(422, 42201, "Invalid schema: "+format, args...)
}

// resolve looks up refs, and the references of what they name, in the registry. Each
// name is resolved against base, the URL of the schema that holds it, as $ref would be.
func resolve(ctx context.Context, q querier, base string, refs []Reference, out referenced, depth int) error {
	if depth > maxReferenceDepth {
		return invalidReference("references nest deeper than %d levels", maxReferenceDepth)
	}
	for i, r := range refs {
		if r.Name == "" || len(r.Name) > maxReferenceName || r.Subject == "" || r.Version < 1 {
			return invalidReference("references[%d] needs a name (up to %d bytes), a registered subject and its version (from 1)", i, maxReferenceName)
		}
		u, err := refURL(base, r.Name)
		if err != nil {
			return invalidReference("references[%d] name %q is not a URI reference", i, r.Name)
		}
		var (
			text   string
			nested []Reference
		)
		err = q.QueryRow(ctx, `SELECT s.schema, s.schema_refs FROM schema_registry_versions v
			JOIN schema_registry_schemas s ON s.id = v.schema_id
			WHERE v.subject = $1 AND v.version = $2 AND NOT v.deleted`, r.Subject, r.Version).Scan(&text, &nested)
		if errors.Is(err, pgx.ErrNoRows) {
			return invalidReference("references[%d] names subject %q version %d, which is not registered", i, r.Subject, r.Version)
		}
		if err != nil {
			return err
		}
		if prev, ok := out[u]; ok {
			if prev != text {
				return invalidReference("references[%d] name %q reaches two different schemas", i, r.Name)
			}
			continue
		}
		if len(out) >= maxReferences {
			return invalidReference("more than %d references, counting references of references", maxReferences)
		}
		out[u] = text
		if err := resolve(ctx, q, u, nested, out, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// refURL is name resolved against base, as the compiler resolves a $ref.
func refURL(base, name string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	n, err := url.Parse(name)
	if err != nil {
		return "", err
	}
	u := b.ResolveReference(n)
	u.Fragment = ""
	return u.String(), nil
}

// refsKey is refs in a canonical order, as it enters a schema's fingerprint: the same
// text with other references is another schema.
func refsKey(refs []Reference) []Reference {
	out := slices.Clone(refs)
	slices.SortFunc(out, func(a, b Reference) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		if c := strings.Compare(a.Subject, b.Subject); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	if out == nil {
		out = []Reference{}
	}
	return out
}

func refsJSON(refs []Reference) []byte {
	b, _ := json.Marshal(refsKey(refs)) // a slice of plain structs always marshals
	return b
}

// subjectURL is where a subject's schema sits for $ref resolution: the same place
// consumers compile it (schemas.Set), so a relative name means the same in both.
func subjectURL(subject string) string { return schemas.DataSchemaOf(url.PathEscape(subject)) }
