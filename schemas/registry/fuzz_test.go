package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/codexion/codexion/schemas"
)

// recordingLoader fails every load, as schemas.NoLoader does, and remembers the URLs asked for.
type recordingLoader struct{ urls []string }

func (l *recordingLoader) Load(url string) (any, error) {
	l.urls = append(l.urls, url)
	return schemas.NoLoader{}.Load(url)
}

// FuzzRegisterCompile runs registration's checks (size, JSON, compile, canonical form) on
// any text, with one registered subject it may reference. Whatever it accepts compiled
// without the compiler asking for any URL outside the registry (so no file or network was
// read), compiles again as an event type's schema, canonicalizes to itself, and is
// compatible with itself at every level; whatever it refuses is a 42201 with a reason.
func FuzzRegisterCompile(f *testing.F) {
	f.Add(`{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`, false)
	f.Add(`{"$ref":"customer.json"}`, true)
	f.Add(`{"$ref":"file:///etc/passwd"}`, false)
	customerURL := subjectURL("customer")
	const customer = `{"type":"object","properties":{"name":{"type":"string","maxLength":64}}}`
	f.Fuzz(func(t *testing.T, text string, withRef bool) {
		reached := referenced{}
		var refs []Reference
		if withRef {
			reached[customerURL] = customer
			refs = []Reference{{Name: "customer.json", Subject: "customer", Version: 1}}
		}
		doc, canon, fp, err := canonical(text, "JSON", "orders", refs, reached)

		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 422 || e.Code != 42201 || !strings.HasPrefix(e.Message, "Invalid schema: ") {
				t.Fatalf("refused with %T %v; want a 42201", err, err)
			}
			return
		}
		// Accepted: the same compile, with a loader that records what it is asked for.
		loader := &recordingLoader{}
		c := jsonschema.NewCompiler()
		c.UseLoader(loader)
		for u, body := range reached {
			d, _ := jsonschema.UnmarshalJSON(strings.NewReader(body))
			_ = c.AddResource(u, d)
		}
		if d, uerr := jsonschema.UnmarshalJSON(strings.NewReader(text)); uerr == nil && c.AddResource(subjectURL("orders"), d) == nil {
			_, _ = c.Compile(subjectURL("orders"))
		}

		if len(loader.urls) > 0 {
			t.Fatalf("accepted a schema whose compile asked for %q", loader.urls)
		}
		if fp == "" || canon == "" {
			t.Fatalf("accepted without a canonical form or fingerprint")
		}
		if _, canon2, fp2, err := canonical(canon, "JSON", "orders", refs, reached); err != nil || canon2 != canon || fp2 != fp {
			t.Fatalf("canonical form %q does not canonicalize to itself: %q %v", canon, canon2, err)
		}
		for _, level := range Levels {
			if broken := Compatible(level, doc, []any{doc}); len(broken) > 0 {
				t.Fatalf("incompatible with itself at %s: %q", level, broken)
			}
		}
		if !withRef {
			if _, err := schemas.Compile(map[string][]byte{"orders": []byte(text)}); err != nil {
				t.Fatalf("registered, but does not compile as an event type's schema: %v", err)
			}
		}
	})
}
