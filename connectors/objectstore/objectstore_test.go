package objectstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
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
