// Package objectstore is Codexion's edge to S3-compatible object storage through
// minio-go. The same code talks to AWS S3, MinIO and the dev stack's embedded server.
package objectstore

import (
	"context"
	"fmt"
	"io"

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

// partBytes is the multipart part size; objects larger than it upload in parts.
const partBytes = 8 << 20

// Put stores size bytes from r under key. Over plain HTTP the payload is sent unsigned:
// streaming-signed multipart uploads are corrupted by some S3-compatible servers there,
// and the transport offers no integrity to protect anyway.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (minio.UploadInfo, error) {
	info, err := s.Client.PutObject(ctx, s.Bucket, key, r, size, minio.PutObjectOptions{
		ContentType:          contentType,
		PartSize:             partBytes,
		DisableContentSha256: s.Client.EndpointURL().Scheme == "http",
	})
	if err != nil {
		return minio.UploadInfo{}, fmt.Errorf("put s3://%s/%s: %w", s.Bucket, key, err)
	}
	return info, nil
}

// Get opens the object at key for reading; the caller closes it.
func (s *Store) Get(ctx context.Context, key string) (*minio.Object, error) {
	obj, err := s.Client.GetObject(ctx, s.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.Bucket, key, err)
	}
	return obj, nil
}
