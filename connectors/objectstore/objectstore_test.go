package objectstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"

	"github.com/codexion/codexion/app/devstack"
	"github.com/codexion/codexion/connectors/objectstore"
	"github.com/codexion/codexion/platform"
)

func server(t *testing.T) *devstack.ObjectServer {
	t.Helper()
	srv := &devstack.ObjectServer{Addr: "127.0.0.1:0", Dir: t.TempDir()}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv
}

func TestBucketAndLargeObjectRoundTrip(t *testing.T) {
	srv := server(t)
	store, err := objectstore.Open(objectstore.Options{Endpoint: srv.Addr, AccessKey: devstack.DevS3AccessKey,
		SecretKey: devstack.DevS3SecretKey, Bucket: "artifacts", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.Check(ctx); err == nil || !strings.Contains(err.Error(), "bucket artifacts does not exist") {
		t.Fatalf("check before create: %v", err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatalf("second EnsureBucket: %v", err)
	}
	if err := store.Check(ctx); err != nil {
		t.Fatal(err)
	}
	// 20 MiB plus a remainder: a multipart upload of three parts, compared byte for byte.
	want := make([]byte, 20<<20+12345)
	if _, err := rand.Read(want); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(ctx, "models/m1/model.bin", bytes.NewReader(want), int64(len(want)), "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
	obj, err := store.Get(ctx, "models/m1/model.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("object changed in storage: got %d bytes, want %d", len(got), len(want))
	}
}

func TestUnreachableEndpointIsUnavailable(t *testing.T) {
	store, err := objectstore.Open(objectstore.Options{Endpoint: "127.0.0.1:1", AccessKey: "a", SecretKey: "b", Bucket: "x"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3e9)
	defer cancel()
	if err := store.Check(ctx); platform.KindOf(err) != platform.KindUnavailable {
		t.Fatalf("err = %v", err)
	}
}

func TestListStatDeleteAndStreamingDigest(t *testing.T) {
	srv := server(t)
	store, err := objectstore.Open(objectstore.Options{Endpoint: srv.Addr, AccessKey: devstack.DevS3AccessKey,
		SecretKey: devstack.DevS3SecretKey, Bucket: "artifacts", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	// An object of unknown length, streamed in parts: the digest is of what was stored.
	body := make([]byte, 9<<20+7)
	if _, err := rand.Read(body); err != nil {
		t.Fatal(err)
	}
	stored, err := store.PutHashed(ctx, "runs/r1/model/model.bin", io.NopCloser(bytes.NewReader(body)), -1, "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(body)
	if stored.SHA256 != hex.EncodeToString(want[:]) || stored.SizeBytes != int64(len(body)) {
		t.Fatalf("stored = %+v, want sha %x size %d", stored, want, len(body))
	}
	sum, n, err := store.SHA256(ctx, "runs/r1/model/model.bin")
	if err != nil || sum != stored.SHA256 || n != int64(len(body)) {
		t.Fatalf("SHA256 = %s %d %v", sum, n, err)
	}
	for _, k := range []string{"runs/r1/MLmodel", "runs/r1/metrics/auc.svg", "runs/r2/MLmodel"} {
		if _, err := store.PutHashed(ctx, k, strings.NewReader(k), int64(len(k)), "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	top, err := store.List(ctx, "runs/r1/", false)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range top {
		keys = append(keys, o.Key)
	}
	if got := strings.Join(keys, ","); got != "runs/r1/MLmodel,runs/r1/metrics/,runs/r1/model/" {
		t.Fatalf("list = %s", got)
	}
	all, err := store.List(ctx, "runs/r1/", true)
	if err != nil || len(all) != 3 {
		t.Fatalf("recursive list = %v %v", all, err)
	}
	if o, err := store.Stat(ctx, "runs/r1/MLmodel"); err != nil || o.SizeBytes != int64(len("runs/r1/MLmodel")) {
		t.Fatalf("stat = %+v %v", o, err)
	}
	if _, err := store.Stat(ctx, "runs/r1/absent"); platform.KindOf(err) != platform.KindNotFound {
		t.Fatalf("stat of a missing object: %v", err)
	}
	if _, _, err := store.SHA256(ctx, "runs/r1/absent"); platform.KindOf(err) != platform.KindNotFound {
		t.Fatalf("digest of a missing object: %v", err)
	}
	n2, err := store.DeletePrefix(ctx, "runs/r1/")
	if err != nil || n2 != 3 {
		t.Fatalf("delete prefix = %d %v", n2, err)
	}
	if err := store.Delete(ctx, "runs/r1/MLmodel"); err != nil {
		t.Fatalf("deleting what is gone: %v", err)
	}
	if none, err := store.List(ctx, "nothing-here/", false); err != nil || len(none) != 0 {
		t.Fatalf("a prefix with no objects: %v %v, want an empty listing", none, err)
	}
	left, err := store.List(ctx, "runs/", true)
	if err != nil || len(left) != 1 || left[0].Key != "runs/r2/MLmodel" {
		t.Fatalf("left = %v %v", left, err)
	}
}
