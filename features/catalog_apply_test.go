package features_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/codexion/codexion/catalog"
	"github.com/codexion/codexion/features"
	"github.com/codexion/codexion/internal/dbtest"
	"github.com/codexion/codexion/pipelines"
	"github.com/codexion/codexion/platform"
)

// testKinds are the kinds the product registers: these tests show the catalog with them.
var testKinds = catalog.NewKinds(append([]catalog.Kind{pipelines.Kind{}}, features.Kinds()...)...)

func newStore(t *testing.T) *catalog.Store {
	s, _ := newStoreDB(t)
	return s
}

func newStoreDB(t *testing.T) (*catalog.Store, *pgxpool.Pool) {
	t.Helper()
	db := dbtest.Migrated(t, catalog.Migrations()).Pool
	return catalog.NewStore(db, testKinds), db
}

const entity = "kind: Entity\nname: account\n"
const view = `kind: FeatureView
name: activity
entity: account
source: {table: lines, entity_column: k, timestamp_column: ts}
features:
  - {name: total, column: amount, aggregation: sum}
  - {name: n, column: amount, aggregation: count, window: 7d}
`

func docs(contents ...string) []catalog.Document {
	var out []catalog.Document
	for i, c := range contents {
		out = append(out, catalog.Document{File: "f" + string(rune('a'+i)) + ".yaml", Content: c})
	}
	return out
}

func TestApplyVersionsDiffsAndRefuses(t *testing.T) {
	ctx := context.Background()
	s, db := newStoreDB(t)
	res, err := s.Apply(ctx, docs(entity+"---\n"+view), catalog.Options{Actor: "alice"}, nil)
	if err != nil || len(res.Changes) != 2 || res.Changes[0].Action != "created" || res.Revision == 0 {
		t.Fatalf("first apply: %+v %v", res, err)
	}
	again, err := s.Apply(ctx, docs(entity+"---\n"+view), catalog.Options{}, nil)
	if err != nil || again.Revision != res.Revision || again.Changes[1].Action != "unchanged" {
		t.Fatalf("same specs again: %+v %v", again, err)
	}
	// Adding a feature is an update; removing one is breaking and needs force.
	added := view + "  - {name: avg, column: amount, aggregation: avg}\n"
	upd, err := s.Apply(ctx, docs(added), catalog.Options{}, nil)
	if err != nil || upd.Changes[0].Action != "updated" || upd.Changes[0].Version != 2 {
		t.Fatalf("added a feature: %+v %v", upd, err)
	}
	removed := strings.Replace(added, "  - {name: n, column: amount, aggregation: count, window: 7d}\n", "", 1)
	_, err = s.Apply(ctx, docs(removed), catalog.Options{}, nil)
	if platform.KindOf(err) != platform.KindConflict || !strings.Contains(err.Error(), "feature n is removed") {
		t.Fatalf("a removed feature without force: %v", err)
	}
	dry, err := s.Apply(ctx, docs(removed), catalog.Options{Force: true, DryRun: true}, nil)
	if err != nil || !dry.DryRun || dry.Changes[0].Version != 3 {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	if snap, _ := s.Snapshot(ctx); features.CatalogOf(snap).Views["activity"].Version != 2 {
		t.Fatalf("a dry run recorded version %d", features.CatalogOf(snap).Views["activity"].Version)
	}
	if _, err := s.Apply(ctx, docs(removed), catalog.Options{Force: true}, nil); err != nil {
		t.Fatal(err)
	}
	hist, err := s.History(ctx, features.KindView, "activity")
	if err != nil || len(hist) != 3 || hist[0].Version != 3 || hist[2].AppliedBy != "alice" {
		t.Fatalf("history: %+v %v", hist, err)
	}
	// Versions are history: rows cannot be rewritten.
	if _, err := db.Exec(ctx, `UPDATE catalog_objects SET hash = 'x'`); err == nil {
		t.Fatal("a catalog row was rewritten")
	}
}

func TestApplyRefusesBadInputAndRecordsNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for name, c := range map[string]struct {
		docs []catalog.Document
		says string
	}{
		"invalid YAML":        {docs("kind: Entity\nname: [x\n"), "invalid YAML"},
		"no kind":             {docs("name: x\n"), "kind is missing"},
		"unknown field":       {docs("kind: Entity\nname: a\ncolour: red\n"), "field colour not found"},
		"declared twice":      {docs(entity, entity), "declared twice"},
		"entity not declared": {docs(view), `entity "account" is not declared`},
		"unknown feature":     {docs(entity + "---\n" + view + "---\nkind: FeatureService\nname: s\nfeatures: [activity:nope]\n"), `no feature "nope"`},
		"bad view":            {docs(entity + "---\nkind: FeatureView\nname: v\nentity: account\nsource: {table: t}\nfeatures: []\n"), "features lists nothing"},
		"nothing":             {nil, "nothing to apply"},
	} {
		_, err := s.Apply(ctx, c.docs, catalog.Options{}, nil)
		if platform.KindOf(err) != platform.KindInvalid || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want it to say %q", name, err, c.says)
		}
	}
	if rev, err := s.Revision(ctx); err != nil || rev != 0 {
		t.Fatalf("refused applies left revision %d (%v)", rev, err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	svc := "kind: FeatureService\nname: risk\nfeatures: [activity]\n"
	if _, err := s.Apply(ctx, docs(entity+"---\n"+view+"---\n"+svc), catalog.Options{}, nil); err != nil {
		t.Fatal(err)
	}
	// In use: the view's entity, the service's view.
	if _, err := s.Delete(ctx, features.KindEntity, "account", catalog.Options{}); platform.KindOf(err) != platform.KindInvalid || !strings.Contains(err.Error(), "still in use") {
		t.Fatalf("deleting an entity in use: %v", err)
	}
	if _, err := s.Delete(ctx, features.KindView, "activity", catalog.Options{Force: true}); platform.KindOf(err) != platform.KindInvalid || !strings.Contains(err.Error(), "risk") {
		t.Fatalf("deleting a view a service uses: %v", err)
	}
	if _, err := s.Delete(ctx, features.KindService, "risk", catalog.Options{}); platform.KindOf(err) != platform.KindConflict {
		t.Fatalf("deleting a service without force: %v", err)
	}
	if _, err := s.Delete(ctx, features.KindService, "nope", catalog.Options{Force: true}); platform.KindOf(err) != platform.KindNotFound {
		t.Fatalf("deleting what is not there: %v", err)
	}
	before, _ := s.Revision(ctx)
	res, err := s.Delete(ctx, features.KindService, "risk", catalog.Options{Force: true, Actor: "bob"})
	if err != nil || res.Revision <= before || res.Changes[0].Version != 2 {
		t.Fatalf("delete: %+v %v", res, err)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil || len(snap.Names(features.KindService)) != 0 || snap.Revision != res.Revision {
		t.Fatalf("after delete: %v services, revision %d (%v)", snap.Names(features.KindService), snap.Revision, err)
	}
	// Applied again, it comes back as the next version; its history stays whole.
	again, err := s.Apply(ctx, docs(svc), catalog.Options{}, nil)
	if err != nil || again.Changes[0].Action != "created" || again.Changes[0].Version != 3 {
		t.Fatalf("re-apply: %+v %v", again, err)
	}
	if h, _ := s.History(ctx, features.KindService, "risk"); len(h) != 3 {
		t.Fatalf("history has %d versions", len(h))
	}
}

// TestSlowValidationHoldsNoLock: while one apply's validation is stuck, another apply
// commits; the stuck one then sees that the catalog moved, validates again over the new
// catalog, and commits after it.
func TestSlowValidationHoldsNoLock(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	entered, release := make(chan struct{}), make(chan struct{})
	validations := 0
	slow := func(ctx context.Context, next *catalog.Snapshot) (map[catalog.Key][]catalog.Column, error) {
		validations++
		if validations == 1 {
			close(entered)
			<-release
		}
		return nil, nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Apply(ctx, docs(entity+"---\n"+view), catalog.Options{Actor: "slow"}, slow)
		done <- err
	}()
	<-entered
	fast, err := s.Apply(ctx, docs("kind: Entity\nname: customer\n"), catalog.Options{Actor: "fast"}, nil)
	if err != nil || fast.Changes[0].Action != "created" {
		t.Fatalf("an apply while another validates: %+v %v", fast, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the slow apply: %v", err)
	}
	if validations != 2 {
		t.Fatalf("the slow apply validated %d times, want 2 (again over the newer catalog)", validations)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil || len(snap.Names(features.KindEntity)) != 2 || len(snap.Names(features.KindView)) != 1 {
		t.Fatalf("catalog after both: %v entities, %v views, %v", snap.Names(features.KindEntity), snap.Names(features.KindView), err)
	}
}

// A document with wrong fields is refused with each problem named by file, line and field,
// as the kinds' own checks name them.
func TestApplyErrorsNameFileLineAndField(t *testing.T) {
	s := newStore(t)
	bad := entity + "---\nkind: FeatureView\nname: v\nentity: account\nsource: {table: t}\nfeatures:\n  - {name: x, column: a, aggregation: median}\n"
	_, err := s.Apply(context.Background(), docs(bad), catalog.Options{}, nil)
	var pe *platform.Error
	if !errors.As(err, &pe) {
		t.Fatalf("want a problem, got %v", err)
	}
	want := map[string]bool{"fa.yaml:3 source.entity_column": false, "fa.yaml:3 source.timestamp_column": false, "fa.yaml:3 features[0].aggregation": false}
	for _, f := range pe.Fields {
		if _, ok := want[f.Field]; ok {
			want[f.Field] = true
		}
	}
	for field, seen := range want {
		if !seen {
			t.Errorf("no field error %q among %+v", field, pe.Fields)
		}
	}
}
