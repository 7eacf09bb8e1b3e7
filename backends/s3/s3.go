// Package s3 is the syncer backend for Amazon S3 and S3-compatible stores,
// built on aws-sdk-go-v2.
//
// Keys map to object keys under an optional prefix (the backend's root)
// inside one bucket. Bytes flow as streams or through at most one part-size
// buffer per upload, so memory is bounded by PartSize, never by the object:
//
//   - Put of an object whose known size is at most PartSize and below
//     UploadCutoff reads it into one bounded buffer and sends one PutObject
//     with Content-MD5; the SDK can retry it because the body is seekable.
//   - Over HTTPS, Put of an object between PartSize and UploadCutoff
//     streams the reader as the PutObject body (aws-chunked with a trailing
//     checksum, see streamOptions); a transient failure fails the Put, as
//     nothing can be re-read. Over plain HTTP such objects go multipart
//     instead: an unsigned streamed body carries no checksum, and a store
//     may keep a body cut short by a failing source (versitygw does), which
//     would leave a partial object at the key.
//   - Put of anything at or above UploadCutoff, or of unknown size past the
//     first PartSize bytes, is a multipart upload whose parts are read, one
//     at a time, into one reused part buffer (signed, with Content-MD5, and
//     retried by the SDK). A known size grows the part size so that 10,000
//     parts hold the object (up to 5 TiB: 525 MiB parts); an unknown size
//     keeps PartSize, so such a stream is capped at 10,000 × PartSize
//     (156 GiB at 16 MiB) and fails beyond, with the upload aborted.
//   - PutResumable uploads parts straight from ranged reads of the source
//     (no buffer), UploadConcurrency at a time, records them in an
//     UploadJournal and, after a kill,
//     continues from the parts that the server lists and the journal
//     recorded.
//
// S3 cannot set an object's LastModified, so the source modification time
// is kept in the metadata header x-amz-meta-mtime (Unix seconds with a
// nanosecond fraction, as rclone writes it;
// SourceModTime reads it) and the backend reports Precision() == 0: List
// can only report LastModified, so List and Stat report LastModified, Put
// reports no ModTime (zero), and objects are compared on size, ETag and
// MD5 (Hashes[MD5] for single-part objects).
package s3

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends"
)

// Limits of S3 multipart uploads.
const (
	MiB = 1 << 20
	GiB = 1 << 30

	MinPartSize     = 5 * MiB  // every part but the last
	MaxPartSize     = 5 * GiB  // any part, and any PutObject
	MaxParts        = 10000    // parts per upload
	DefaultPartSize = 16 * MiB // part_size when not configured

	DefaultUploadConcurrency = 4 // parts of one resumable upload in flight

	// DefaultCopyCutoff is the size from which CopyFrom uses UploadPartCopy
	// instead of CopyObject (CopyObject is limited to 5 GiB).
	DefaultCopyCutoff = 5 * GiB
	// DefaultCopyPartSize is the part size of UploadPartCopy; server-side
	// parts cost no memory, so they are large (10,000 of them make 5 TiB).
	DefaultCopyPartSize = 512 * MiB

	// DefaultResponseHeaderTimeout bounds the wait for a reply's headers
	// once a request is sent: a server that accepts a request and never
	// answers fails it (and the SDK retries) instead of holding it until
	// the run ends. Generous, like the Drive backend's and rclone's
	// --timeout: a loaded store may take a while.
	DefaultResponseHeaderTimeout = 5 * time.Minute
	// SlowResponseHeaderTimeout is the header timeout of requests a store
	// may work on for long before answering (server-side copies, completing
	// a multipart upload): see slowOp.
	SlowResponseHeaderTimeout = 30 * time.Minute

	// DefaultMaxAttempts bounds the attempts of one request (the first
	// included) on transient errors.
	DefaultMaxAttempts = 8

	// MetaMTime is the user metadata key (x-amz-meta-mtime) holding the
	// source modification time in rclone's form, Unix seconds with a
	// fraction (RFC 3339 is read too).
	MetaMTime = "mtime"

	listPage    = 1000 // keys per ListObjectsV2 page, the S3 maximum
	deleteBatch = 1000 // keys per DeleteObjects, the S3 maximum
	smallObject = 256 << 10
)

// Backend is a bucket, or a prefix in one, of an S3 or S3-compatible store.
// It implements backends.Backend, backends.Precisioner,
// backends.ResumablePutter, backends.UploadAborter,
// backends.ServerSideCopier and backends.BatchDeleter.
type Backend struct {
	name     string
	bucket   string
	root     string // "" or ending in "/"
	endpoint string // as configured, "" for AWS
	region   string
	https    bool // requests go over TLS
	client   *s3.Client
	creds    credIdentity
	retry    aws.Retryer    // classification and delays for our own retry loops
	slowHTTP aws.HTTPClient // for slowOp requests; nil: the client's

	storageClass string
	sse          string
	kmsKeyID     string
	partSize     int64
	uploadCutoff int64
	concurrency  int // parts of one resumable upload in flight
	copyCutoff   int64
	copyPartSize int64
	ssc          string
	maxAttempts  int
	log          *slog.Logger

	bufPool sync.Pool // *[]byte of partSize

	archived    string // backends.Archived*
	restoreDays int
	restoreTier string
	// noListAttrs is set once the store refused ListObjectsV2's
	// OptionalObjectAttributes (then restores show only in HeadObject).
	noListAttrs atomic.Bool
}

var (
	_ backends.Backend          = (*Backend)(nil)
	_ backends.Precisioner      = (*Backend)(nil)
	_ backends.ResumablePutter  = (*Backend)(nil)
	_ backends.ServerSideCopier = (*Backend)(nil)
	_ backends.BatchDeleter     = (*Backend)(nil)
	_ backends.UploadAborter    = (*Backend)(nil)
	_ backends.Archiver         = (*Backend)(nil)
)

// credIdentity says which credentials a backend uses, for CanCopyFrom.
// It holds secrets and is never printed.
type credIdentity struct {
	kind                   string // "static", "profile" or "default"
	keyID, secret, session string
	profile                string
	roleARN, externalID    string
}

// New checks opts and returns a backend. It builds the SDK client and
// resolves credentials lazily (no request is made); Check verifies access.
func New(ctx context.Context, opts Options) (*Backend, error) {
	b, err := newBackend(&opts)
	if err != nil {
		return nil, err
	}
	client, err := newClient(ctx, b, &opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	b.client = client
	return b, nil
}

// newBackend validates opts and fills in everything but the client.
func newBackend(opts *Options) (*Backend, error) {
	name := fmt.Sprintf("s3 %q", opts.Name)
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := &Backend{
		name:         opts.Name,
		bucket:       opts.Bucket,
		root:         opts.Prefix,
		endpoint:     opts.Endpoint,
		region:       opts.Region,
		storageClass: opts.StorageClass,
		sse:          opts.SSE,
		kmsKeyID:     opts.SSEKMSKeyID,
		partSize:     opts.PartSize,
		uploadCutoff: opts.UploadCutoff,
		concurrency:  opts.UploadConcurrency,
		copyCutoff:   opts.CopyCutoff,
		copyPartSize: opts.CopyPartSize,
		ssc:          opts.ServerSideCopy,
		archived:     opts.Archived,
		restoreDays:  opts.RestoreDays,
		restoreTier:  opts.RestoreTier,
		maxAttempts:  opts.MaxAttempts,
		https:        true,
		log:          opts.Logger,
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.endpoint != "" {
		b.https = strings.HasPrefix(b.endpoint, "https:")
	}
	if b.copyCutoff == 0 {
		b.copyCutoff = DefaultCopyCutoff
	}
	if b.copyCutoff < 0 || b.copyCutoff > DefaultCopyCutoff {
		return nil, fmt.Errorf("%s: copy cutoff %d is outside 0 .. 5 GiB", name, b.copyCutoff)
	}
	if b.copyPartSize == 0 {
		b.copyPartSize = DefaultCopyPartSize
	}
	if b.copyPartSize < MinPartSize || b.copyPartSize > MaxPartSize {
		return nil, fmt.Errorf("%s: copy part size %d is outside 5 MiB .. 5 GiB", name, b.copyPartSize)
	}
	if b.maxAttempts <= 0 {
		b.maxAttempts = DefaultMaxAttempts
	}
	switch {
	case opts.AccessKeyID != "":
		b.creds = credIdentity{kind: "static", keyID: opts.AccessKeyID, secret: opts.SecretAccessKey, session: opts.SessionToken}
	case opts.Profile != "":
		b.creds = credIdentity{kind: "profile", profile: opts.Profile}
	default:
		b.creds = credIdentity{kind: "default"}
	}
	b.creds.roleARN, b.creds.externalID = opts.RoleARN, opts.ExternalID
	b.bufPool.New = func() any { buf := make([]byte, b.partSize); return &buf }
	return b, nil
}

// String returns e.g. `s3 "legacy" (s3://legacy-media/2019/ at http://127.0.0.1:7070)`;
// it never includes a secret.
func (b *Backend) String() string {
	where := b.region
	if b.endpoint != "" {
		return fmt.Sprintf("s3 %q (s3://%s/%s at %s)", b.name, b.bucket, b.root, redactURL(b.endpoint))
	}
	if where == "" {
		return fmt.Sprintf("s3 %q (s3://%s/%s)", b.name, b.bucket, b.root)
	}
	return fmt.Sprintf("s3 %q (s3://%s/%s in %s)", b.name, b.bucket, b.root, where)
}

// redactURL drops any user:password from a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if err != nil && strings.Contains(s, "@") {
			return "(endpoint)"
		}
		return s
	}
	u.User = nil
	return u.String()
}

// Bucket returns the bucket name.
func (b *Backend) Bucket() string { return b.bucket }

// Root returns the prefix inside the bucket ("" or ending in "/").
func (b *Backend) Root() string { return b.root }

// Endpoint returns the configured endpoint ("" for AWS).
func (b *Backend) Endpoint() string { return b.endpoint }

var _ backends.BufferSizer = (*Backend)(nil)

// PartSize returns the configured multipart part size.
func (b *Backend) PartSize() int64 { return b.partSize }

// Precision reports 0: S3 sets LastModified itself, so source modification
// times are not kept where List can see them (they are in x-amz-meta-mtime).
func (b *Backend) Precision() time.Duration { return 0 }

// objKey checks key and returns its S3 object key.
func (b *Backend) objKey(key string) (string, error) {
	if err := backends.CheckKey(key); err != nil {
		return "", err
	}
	return b.root + key, nil
}

// pathStyle reports whether buckets must be addressed as a path.
func pathStyle(endpoint string, force bool) bool {
	if force || endpoint == "" {
		return force
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || net.ParseIP(h) != nil
}
