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
	// source modification time, RFC 3339 with nanoseconds.
	MetaMTime = "mtime"

	listPage    = 1000 // keys per ListObjectsV2 page, the S3 maximum
	deleteBatch = 1000 // keys per DeleteObjects, the S3 maximum
	smallObject = 256 << 10
)

// Server-side copy policies (Options.ServerSideCopy).
const (
	CopyAuto   = "auto"   // when CanCopyFrom finds one set of credentials
	CopyAlways = "always" // for any s3 source
	CopyNever  = "never"  // always stream
)

// Options configures an S3 backend. The fields mirror the config's s3
// block; zero values take the documented defaults.
type Options struct {
	Name   string // the config name, used in String()
	Bucket string // required
	// Prefix is the backend's root inside the bucket, e.g. "2019/"; a
	// missing trailing slash is added. "" is the whole bucket.
	Prefix string
	// Region defaults to the SDK's (AWS_REGION, the profile), then to
	// us-east-1.
	Region string
	// Endpoint is the base URL of an S3-compatible store, e.g.
	// "http://127.0.0.1:7070"; "" is AWS.
	Endpoint string
	// ForcePathStyle addresses buckets as endpoint/bucket; it is also used
	// when Endpoint's host is an IP address or localhost.
	ForcePathStyle bool
	// Profile selects a shared config/credentials profile.
	Profile string
	// Static credentials; when AccessKeyID is empty the SDK's default
	// chain (environment, profile, web identity, instance metadata) is used.
	AccessKeyID, SecretAccessKey, SessionToken string
	// CABundle is a PEM file of extra root CAs for the endpoint.
	CABundle string
	// RoleARN, when set, is assumed (STS AssumeRole) with the credentials
	// above; ExternalID goes with it.
	RoleARN, ExternalID string
	// STSEndpoint is where AssumeRole goes ("" = AWS STS, or the SDK's
	// AWS_ENDPOINT_URL_STS), e.g. a MinIO server's own endpoint.
	STSEndpoint  string
	StorageClass string // on writes, e.g. "STANDARD_IA"; "" = the bucket's default
	SSE          string // "", "AES256" or "aws:kms"
	SSEKMSKeyID  string // with SSE "aws:kms"; "" = the account's default key
	// PartSize is the multipart part size (default 16 MiB, at least 5 MiB);
	// it grows for objects that would need more than 10,000 parts.
	PartSize int64
	// UploadCutoff: objects of known size below it are sent with PutObject,
	// at or above it as multipart uploads. Default PartSize; at most 5 GiB.
	UploadCutoff int64
	// UploadConcurrency is how many parts of one PutResumable upload are
	// in flight at once (default 4). They stream from ranged reads of the
	// source, so it costs connections, not buffers.
	UploadConcurrency int
	// ServerSideCopy is "auto" (default), "always" or "never".
	ServerSideCopy string
	// InsecureSkipVerify turns TLS certificate verification off.
	InsecureSkipVerify bool
	// Logger gets a line for each key List skips because it cannot be a
	// syncer key ("a//b", "../x"); nil discards them.
	Logger *slog.Logger

	// Tuning not exposed in the config (zero: default).
	CopyCutoff      int64         // DefaultCopyCutoff
	CopyPartSize    int64         // DefaultCopyPartSize
	MaxAttempts     int           // DefaultMaxAttempts
	RetryBaseDelay  time.Duration // SDK default: 50 ms, 1 s for throttling
	RetryMaxBackoff time.Duration // 20 s
	// ResponseHeaderTimeout: DefaultResponseHeaderTimeout; the requests
	// of slowOp get at least SlowResponseHeaderTimeout.
	ResponseHeaderTimeout time.Duration
}

// String describes the options without secrets.
func (o Options) String() string {
	return fmt.Sprintf("s3.Options{Name:%q Bucket:%q Prefix:%q Region:%q Endpoint:%q Profile:%q AccessKeyID:%q SecretAccessKey:%s SessionToken:%s RoleARN:%q}",
		o.Name, o.Bucket, o.Prefix, o.Region, redactURL(o.Endpoint), o.Profile, o.AccessKeyID,
		setOrNot(o.SecretAccessKey), setOrNot(o.SessionToken), o.RoleARN)
}

// GoString is String, so %#v never prints a secret either.
func (o Options) GoString() string { return o.String() }

func setOrNot(s string) string {
	if s == "" {
		return "(unset)"
	}
	return "(sensitive)"
}

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
}

var (
	_ backends.Backend          = (*Backend)(nil)
	_ backends.Precisioner      = (*Backend)(nil)
	_ backends.ResumablePutter  = (*Backend)(nil)
	_ backends.ServerSideCopier = (*Backend)(nil)
	_ backends.BatchDeleter     = (*Backend)(nil)
	_ backends.UploadAborter    = (*Backend)(nil)
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
	b, err := newBackend(opts)
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
func newBackend(opts Options) (*Backend, error) {
	name := fmt.Sprintf("s3 %q", opts.Name)
	if opts.Bucket == "" {
		return nil, fmt.Errorf("%s: bucket is empty", name)
	}
	if strings.ContainsAny(opts.Bucket, "/ ") {
		return nil, fmt.Errorf("%s: invalid bucket name %q", name, opts.Bucket)
	}
	root, err := NormalizePrefix(opts.Prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b := &Backend{
		name:         opts.Name,
		bucket:       opts.Bucket,
		root:         root,
		endpoint:     strings.TrimRight(opts.Endpoint, "/"),
		storageClass: opts.StorageClass,
		sse:          opts.SSE,
		kmsKeyID:     opts.SSEKMSKeyID,
		partSize:     opts.PartSize,
		uploadCutoff: opts.UploadCutoff,
		concurrency:  opts.UploadConcurrency,
		copyCutoff:   opts.CopyCutoff,
		copyPartSize: opts.CopyPartSize,
		ssc:          opts.ServerSideCopy,
		maxAttempts:  opts.MaxAttempts,
		https:        true,
		log:          opts.Logger,
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.endpoint != "" {
		u, err := url.Parse(b.endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("%s: endpoint %q is not an http:// or https:// URL", name, redactURL(opts.Endpoint))
		}
		b.https = u.Scheme == "https"
	}
	switch b.sse {
	case "", "AES256", "aws:kms":
	default:
		return nil, fmt.Errorf("%s: sse must be \"AES256\" or \"aws:kms\", not %q", name, b.sse)
	}
	if b.kmsKeyID != "" && b.sse != "aws:kms" {
		return nil, fmt.Errorf("%s: sse_kms_key_id needs sse = \"aws:kms\"", name)
	}
	if b.partSize == 0 {
		b.partSize = DefaultPartSize
	}
	if b.partSize < MinPartSize || b.partSize > MaxPartSize {
		return nil, fmt.Errorf("%s: part size %d is outside 5 MiB .. 5 GiB", name, b.partSize)
	}
	if b.uploadCutoff == 0 {
		b.uploadCutoff = b.partSize
	}
	if b.concurrency <= 0 {
		b.concurrency = DefaultUploadConcurrency
	}
	if b.uploadCutoff < 0 || b.uploadCutoff > MaxPartSize {
		return nil, fmt.Errorf("%s: upload cutoff %d is outside 0 .. 5 GiB", name, b.uploadCutoff)
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
	switch b.ssc {
	case "":
		b.ssc = CopyAuto
	case CopyAuto, CopyAlways, CopyNever:
	default:
		return nil, fmt.Errorf("%s: server_side_copy must be \"auto\", \"always\" or \"never\", not %q", name, b.ssc)
	}
	if b.maxAttempts <= 0 {
		b.maxAttempts = DefaultMaxAttempts
	}
	switch {
	case opts.AccessKeyID != "":
		if opts.SecretAccessKey == "" {
			return nil, fmt.Errorf("%s: access_key_id is set but secret_access_key is empty", name)
		}
		b.creds = credIdentity{kind: "static", keyID: opts.AccessKeyID, secret: opts.SecretAccessKey, session: opts.SessionToken}
	case opts.SecretAccessKey != "" || opts.SessionToken != "":
		return nil, fmt.Errorf("%s: secret_access_key or session_token is set without access_key_id", name)
	case opts.Profile != "":
		b.creds = credIdentity{kind: "profile", profile: opts.Profile}
	default:
		b.creds = credIdentity{kind: "default"}
	}
	b.creds.roleARN, b.creds.externalID = opts.RoleARN, opts.ExternalID
	b.bufPool.New = func() any { buf := make([]byte, b.partSize); return &buf }
	return b, nil
}

// NormalizePrefix checks a bucket prefix and returns it ending in "/"
// ("" stays ""). A leading "/" is dropped.
func NormalizePrefix(p string) (string, error) {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return "", nil
	}
	p = strings.TrimSuffix(p, "/")
	if err := backends.CheckKey(p); err != nil {
		return "", fmt.Errorf("invalid prefix %q: %w", p+"/", err)
	}
	return p + "/", nil
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
