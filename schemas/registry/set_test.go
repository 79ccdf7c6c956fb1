package registry_test

import (
	"context"
	"strings"
	"testing"

	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/schemas"
	"github.com/codexion/codexion/schemas/registry"
)

// TestSetCompilesWhatIsRegistered: consumers validate against what the registry holds now,
// the schemas the domains declare and any subject registered through its API, latest
// version first.
func TestSetCompilesWhatIsRegistered(t *testing.T) {
	ctx := context.Background()
	s := registry.NewStore(dbtest.Migrated(t, registry.Migrations()).Pool)
	declared, err := schemas.Declare(schemas.Domain{Name: "books", Events: []schemas.EventType{{Type: "acme.book.created.v1",
		Aggregate: "acme.book", Topic: "acme.books.v1", Schema: []byte(`{"type":"object","properties":{"code":{"type":"string"}},"required":["code"]}`)}}})
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := declared.Set()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterAll(ctx, embedded); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, "acme.invoice.scored.v1", `{"type":"object","properties":{"score":{"type":"number"}},"required":["score"]}`, "JSON"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLevel(ctx, "acme.invoice.scored.v1", "NONE"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, "acme.invoice.scored.v1", `{"type":"object","properties":{"score":{"type":"number","maximum":1}},"required":["score"]}`, "JSON"); err != nil {
		t.Fatal(err)
	}
	set, err := s.Set(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Types()) != len(embedded.Types())+1 {
		t.Fatalf("set holds %v", set.Types())
	}
	if err := set.Validate("acme.invoice.scored.v1", []byte(`{"score": 0.5}`)); err != nil {
		t.Fatal(err)
	}
	if err := set.Validate("acme.invoice.scored.v1", []byte(`{"score": 2}`)); err == nil || !strings.Contains(err.Error(), "maximum") {
		t.Fatalf("the latest version's rule is not applied: %v", err)
	}
	if err := set.Validate("acme.book.created.v1", []byte(`{}`)); err == nil {
		t.Fatal("a declared schema's rules are not applied")
	}
}

// Consumers compile a subject with the registered versions its references name, and with
// nothing from outside the registry.
func TestSetCompilesReferences(t *testing.T) {
	ctx := context.Background()
	s := registry.NewStore(dbtest.Migrated(t, registry.Migrations()).Pool)
	if _, err := s.Register(ctx, "acme.customer", `{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`, "JSON"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, "acme.order", `{"type":"object","properties":{"customer":{"$ref":"customer.json"}},"required":["customer"]}`, "JSON",
		registry.Reference{Name: "customer.json", Subject: "acme.customer", Version: 1}); err != nil {
		t.Fatal(err)
	}
	set, err := s.Set(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Validate("acme.order", []byte(`{"customer":{"id":"c-1"}}`)); err != nil {
		t.Fatal(err)
	}
	if err := set.Validate("acme.order", []byte(`{"customer":{}}`)); err == nil {
		t.Fatal("the referenced schema's rules are not applied")
	}
}

func TestCompileLoadsNoFiles(t *testing.T) {
	_, err := schemas.Compile(map[string][]byte{"x": []byte(`{"$ref":"file:///etc/passwd"}`)})
	if err == nil || !strings.Contains(err.Error(), "not a registered schema") {
		t.Fatalf("Compile with a file $ref = %v", err)
	}
}
