// Package objectstore is Codexion's edge to S3-compatible object storage through
// minio-go. The same code talks to AWS S3, MinIO and the dev stack's embedded server.
package objectstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

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

// Object describes a stored object.
type Object struct {
	Key          string
	SizeBytes    int64
	LastModified time.Time
	ETag         string
}

// Stored is what PutHashed wrote: the upload and the digest of the bytes that went.
type Stored struct {
	Object
	SHA256 string // hex
}

// PutHashed stores r under key as Put does, hashing the bytes as they stream past, so a
// caller learns the SHA-256 of what was stored without holding the object in memory. A
// size of -1 streams an object of unknown length in parts; the stored size is checked
// against the bytes hashed.
func (s *Store) PutHashed(ctx context.Context, key string, r io.Reader, size int64, contentType string) (Stored, error) {
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(r, h)}
	info, err := s.Put(ctx, key, counted, size, contentType)
	if err != nil {
		return Stored{}, err
	}
	if info.Size != counted.n {
		return Stored{}, fmt.Errorf("put s3://%s/%s: stored %d bytes, read %d", s.Bucket, key, info.Size, counted.n)
	}
	return Stored{
		Object: Object{Key: key, SizeBytes: info.Size, LastModified: info.LastModified, ETag: info.ETag},
		SHA256: hex.EncodeToString(h.Sum(nil)),
	}, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Stat describes the object at key; a missing object is platform.NotFound.
func (s *Store) Stat(ctx context.Context, key string) (Object, error) {
	info, err := s.Client.StatObject(ctx, s.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		if isNotFound(err) {
			return Object{}, platform.NotFound("object %s does not exist", key)
		}
		return Object{}, fmt.Errorf("stat s3://%s/%s: %w", s.Bucket, key, err)
	}
	return Object{Key: info.Key, SizeBytes: info.Size, LastModified: info.LastModified, ETag: info.ETag}, nil
}

// SHA256 reads the object at key and returns its digest, streaming: artifacts are
// verified against the digest recorded when they were stored.
func (s *Store) SHA256(ctx context.Context, key string) (string, int64, error) {
	obj, err := s.Get(ctx, key)
	if err != nil {
		return "", 0, err
	}
	defer func() { _ = obj.Close() }()
	h := sha256.New()
	n, err := io.Copy(h, obj)
	if err != nil {
		if isNotFound(err) {
			return "", 0, platform.NotFound("object %s does not exist", key)
		}
		return "", 0, fmt.Errorf("read s3://%s/%s: %w", s.Bucket, key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// MaxListObjects bounds one List: a listing past it is an error rather than a
// response that grows without limit.
const MaxListObjects = 10000

// List returns the objects under prefix in key order. Not recursive, it returns the
// objects directly under prefix and, as Object values with a key ending in "/" and no
// size, the "folders" below it.
func (s *Store) List(ctx context.Context, prefix string, recursive bool) ([]Object, error) {
	var out []Object
	for info := range s.Client.ListObjects(ctx, s.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: recursive}) {
		if info.Err != nil {
			// Some S3-compatible servers answer a prefix with no objects under it as a
			// missing bucket; S3 answers it as an empty listing, and so does List.
			if minio.ToErrorResponse(info.Err).Code == "NoSuchBucket" {
				if ok, err := s.Client.BucketExists(ctx, s.Bucket); err == nil && ok {
					return out, nil
				}
			}
			return nil, fmt.Errorf("list s3://%s/%s: %w", s.Bucket, prefix, info.Err)
		}
		if len(out) == MaxListObjects {
			return nil, platform.Invalid("more than %d objects under %s; list a narrower prefix", MaxListObjects, prefix)
		}
		out = append(out, Object{Key: info.Key, SizeBytes: info.Size, LastModified: info.LastModified, ETag: info.ETag})
	}
	return out, nil
}

// Delete removes the object at key. Deleting what is not there is not an error, as in S3.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.Client.RemoveObject(ctx, s.Bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete s3://%s/%s: %w", s.Bucket, key, err)
	}
	return nil
}

// DeletePrefix removes every object under prefix (bounded by MaxListObjects per call).
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	objs, err := s.List(ctx, prefix, true)
	if err != nil {
		return 0, err
	}
	for _, o := range objs {
		if err := s.Delete(ctx, o.Key); err != nil {
			return 0, err
		}
	}
	return len(objs), nil
}

func isNotFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}
