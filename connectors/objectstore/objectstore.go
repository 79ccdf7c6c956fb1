// Package objectstore is Codexion's edge to S3-compatible object storage through
// minio-go. The same code talks to AWS S3, MinIO and the dev stack's embedded server.
package objectstore

import (
	"context"
	"fmt"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/codexion/codexion/platform"
)

// Options name the endpoint, credentials and bucket.
type Options struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
	UseTLS    bool
}

// Store is a bucket on an S3 endpoint.
type Store struct {
	Client *minio.Client
	Bucket string
}

// Open builds the client. It does not contact the endpoint.
func Open(o Options) (*Store, error) {
	c, err := minio.New(o.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: o.UseTLS,
		Region: o.Region,
	})
	if err != nil {
		return nil, platform.Invalid("s3.endpoint %q: %v", o.Endpoint, err)
	}
	return &Store{Client: c, Bucket: o.Bucket}, nil
}

// EnsureBucket creates the bucket when it does not exist.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ok, err := s.Client.BucketExists(ctx, s.Bucket)
	if err != nil {
		return platform.Unavailable(err, "object storage at %s", s.Client.EndpointURL().Host)
	}
	if ok {
		return nil
	}
	if err := s.Client.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("create bucket %s: %w", s.Bucket, err)
	}
	return nil
}

// Check is the readiness check: the bucket must exist and answer.
func (s *Store) Check(ctx context.Context) error {
	ok, err := s.Client.BucketExists(ctx, s.Bucket)
	if err != nil {
		return platform.Unavailable(err, "object storage at %s", s.Client.EndpointURL().Host)
	}
	if !ok {
		return fmt.Errorf("bucket %s does not exist at %s", s.Bucket, s.Client.EndpointURL().Host)
	}
	return nil
}
