package s3

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"syncer/backends"
)

// Limits and defaults of the config's settings.
const (
	MaxUploadConcurrency = 16

	// DefaultRegion is the region when neither the options nor the SDK's
	// chain (AWS_REGION, the profile) name one.
	DefaultRegion = "us-east-1"
)

// StorageClasses are the storage classes S3 knows; anything else is most
// likely a typo.
var StorageClasses = []string{
	"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
	"GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS", "SNOW", "EXPRESS_ONEZONE",
}

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
	// Archived is what syncs from this backend do with archived objects
	// (GLACIER, DEEP_ARCHIVE): "skip" (default), "fail" or "restore"
	// (backends.Archived*).
	Archived string
	// RestoreDays is how long a restored copy stays readable (default 1);
	// RestoreTier is "Standard" (default), "Bulk" or "Expedited". Both
	// only with Archived "restore".
	RestoreDays int
	RestoreTier string
	// InsecureSkipVerify turns TLS certificate verification off.
	InsecureSkipVerify bool
	// Logger gets a line for each key List skips because it cannot be a
	// syncer key ("a//b", "../x"); nil discards them.
	Logger *slog.Logger
	// RequestsPerSecond paces every request (0 = unlimited); backends
	// reaching S3 as one account share one pacer of Pacers (nil: its own).
	RequestsPerSecond float64
	Pacers            *backends.Pacers
	// Requests hears every request sent, retries included (metrics);
	// nil: none.
	Requests backends.RequestHook
	// Retries hears every retry, the SDK's and our loops' (metrics); nil:
	// none.
	Retries backends.RetryHook

	// Tuning not exposed in the config (zero: default).
	CopyCutoff      int64         // DefaultCopyCutoff
	CopyPartSize    int64         // DefaultCopyPartSize
	MaxAttempts     int           // DefaultMaxAttempts
	RetryBaseDelay  time.Duration // SDK default: 50 ms, 1 s for throttling
	RetryMaxBackoff time.Duration // 20 s
	// ResponseHeaderTimeout: DefaultResponseHeaderTimeout; the requests
	// of slowOp get at least SlowResponseHeaderTimeout.
	ResponseHeaderTimeout time.Duration
	// IdleTimeout drops a connection that moves no byte for this long
	// mid-request (a stalled body), and the request is retried from its
	// offset; backends.DefaultIdleTimeout when zero. IdleTimeoutText is
	// the config's idle_timeout, parsed by Validate.
	IdleTimeout     time.Duration
	IdleTimeoutText string
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

var _ backends.Options = (*Options)(nil)

// Attrs lists the attributes of a config's s3 block.
func (o *Options) Attrs() []backends.Attr {
	return []backends.Attr{
		{Name: "bucket", Kind: backends.AttrString, Ptr: &o.Bucket, Required: true},
		{Name: "prefix", Kind: backends.AttrString, Ptr: &o.Prefix},
		{Name: "region", Kind: backends.AttrString, Ptr: &o.Region},
		{Name: "endpoint", Kind: backends.AttrString, Ptr: &o.Endpoint},
		{Name: "force_path_style", Kind: backends.AttrBool, Ptr: &o.ForcePathStyle},
		{Name: "profile", Kind: backends.AttrString, Ptr: &o.Profile},
		{Name: "access_key_id", Kind: backends.AttrString, Ptr: &o.AccessKeyID},
		{Name: "secret_access_key", Kind: backends.AttrString, Ptr: &o.SecretAccessKey, Secret: true},
		{Name: "session_token", Kind: backends.AttrString, Ptr: &o.SessionToken, Secret: true},
		{Name: "ca_bundle", Kind: backends.AttrPath, Ptr: &o.CABundle},
		{Name: "role_arn", Kind: backends.AttrString, Ptr: &o.RoleARN},
		{Name: "external_id", Kind: backends.AttrString, Ptr: &o.ExternalID},
		{Name: "sts_endpoint", Kind: backends.AttrString, Ptr: &o.STSEndpoint},
		{Name: "storage_class", Kind: backends.AttrString, Ptr: &o.StorageClass},
		{Name: "sse", Kind: backends.AttrString, Ptr: &o.SSE},
		{Name: "sse_kms_key_id", Kind: backends.AttrString, Ptr: &o.SSEKMSKeyID},
		{Name: "part_size", Kind: backends.AttrSize, Ptr: &o.PartSize},
		{Name: "upload_cutoff", Kind: backends.AttrSize, Ptr: &o.UploadCutoff},
		{Name: "upload_concurrency", Kind: backends.AttrInt, Ptr: &o.UploadConcurrency, Min: 1, Tuning: true},
		{Name: "server_side_copy", Kind: backends.AttrString, Ptr: &o.ServerSideCopy},
		{Name: "archived", Kind: backends.AttrString, Ptr: &o.Archived},
		{Name: "restore_days", Kind: backends.AttrInt, Ptr: &o.RestoreDays, Min: 1, Tuning: true},
		{Name: "restore_tier", Kind: backends.AttrString, Ptr: &o.RestoreTier, Tuning: true},
		{Name: "insecure_skip_verify", Kind: backends.AttrBool, Ptr: &o.InsecureSkipVerify},
		{Name: "idle_timeout", Kind: backends.AttrString, Ptr: &o.IdleTimeoutText, Tuning: true},
	}
}

// Validate fills in defaults (part size, upload cutoff and concurrency,
// server-side copy policy), normalizes the prefix
// to end in "/" and the endpoints to end without one, and checks every
// setting.
func (o *Options) Validate() error {
	var p backends.Problems
	if o.Bucket == "" || strings.ContainsAny(o.Bucket, "/ \t\n") {
		p.Add(backends.Invalid("bucket", "bucket must be a bucket name, without slashes or spaces; got %q. Put a path inside the bucket in prefix.", o.Bucket))
	}
	if o.Prefix != "" {
		pre := strings.TrimSuffix(o.Prefix, "/")
		if err := checkPrefix(pre); err != nil {
			p.Add(backends.Invalid("prefix", "prefix %q %s.", o.Prefix, err))
		} else {
			o.Prefix = pre + "/"
		}
	}
	o.Endpoint = endpoint(&p, "endpoint", o.Endpoint)

	switch {
	case o.AccessKeyID == "" && o.SecretAccessKey != "":
		p.Add(&backends.AttrError{Attr: "secret_access_key", Summary: "Incomplete static credentials", Detail: "secret_access_key is set but access_key_id is not. Set both, or neither to use the default credential chain or profile."})
	case o.AccessKeyID != "" && o.SecretAccessKey == "":
		p.Add(&backends.AttrError{Attr: "access_key_id", Summary: "Incomplete static credentials", Detail: "access_key_id is set but secret_access_key is empty. Set both, or neither to use the default credential chain or profile."})
	case o.AccessKeyID == "" && o.SessionToken != "":
		p.Add(&backends.AttrError{Attr: "session_token", Summary: "Incomplete static credentials", Detail: "session_token is set without access_key_id and secret_access_key."})
	}
	if o.AccessKeyID != "" && o.Profile != "" {
		p.Add(&backends.AttrError{Attr: "profile", Summary: "Conflicting credentials", Detail: "profile and access_key_id are both set; use one source of credentials."})
	}
	if o.RoleARN != "" && !strings.HasPrefix(o.RoleARN, "arn:") {
		p.Add(backends.Invalid("role_arn", `role_arn must be an ARN such as "arn:aws:iam::123456789012:role/name"; got %q.`, o.RoleARN))
	}
	if o.ExternalID != "" && o.RoleARN == "" {
		p.Add(&backends.AttrError{Attr: "external_id", Summary: "external_id without role_arn", Detail: "external_id is only used when assuming a role: set role_arn too."})
	}
	if o.IdleTimeoutText != "" {
		if d, err := backends.ParseIdleTimeout(o.IdleTimeoutText); err != nil {
			p.Add(err)
		} else {
			o.IdleTimeout = d
		}
	}
	o.STSEndpoint = endpoint(&p, "sts_endpoint", o.STSEndpoint)
	if o.STSEndpoint != "" && o.RoleARN == "" {
		p.Add(&backends.AttrError{Attr: "sts_endpoint", Summary: "sts_endpoint without role_arn", Detail: "sts_endpoint is only used when assuming a role: set role_arn too."})
	}

	if o.StorageClass != "" && !slices.Contains(StorageClasses, o.StorageClass) {
		p.Add(backends.Invalid("storage_class", "storage_class %q is not an S3 storage class; use one of %s.", o.StorageClass, strings.Join(StorageClasses, ", ")))
	}
	switch o.SSE {
	case "", "AES256", "aws:kms":
	default:
		p.Add(backends.Invalid("sse", `sse must be "AES256" or "aws:kms"; got %q.`, o.SSE))
	}
	if o.SSEKMSKeyID != "" && o.SSE != "aws:kms" {
		p.Add(&backends.AttrError{Attr: "sse_kms_key_id", Summary: "sse_kms_key_id without KMS", Detail: `sse_kms_key_id needs sse = "aws:kms".`})
	}

	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize || o.PartSize > MaxPartSize {
		p.Add(backends.Invalid("part_size", "part_size must be between 5MiB and 5GiB (S3's limits); got %d bytes.", o.PartSize))
	}
	if o.UploadConcurrency == 0 {
		o.UploadConcurrency = DefaultUploadConcurrency
	}
	switch {
	case o.UploadConcurrency < 1:
		p.Add(backends.Invalid("upload_concurrency", "upload_concurrency must be at least 1; got %d.", o.UploadConcurrency))
	case o.UploadConcurrency > MaxUploadConcurrency:
		p.Add(backends.Invalid("upload_concurrency", "upload_concurrency must be at most %d; got %d.", MaxUploadConcurrency, o.UploadConcurrency))
	}
	if o.UploadCutoff == 0 {
		o.UploadCutoff = o.PartSize
	}
	if o.UploadCutoff < 1 || o.UploadCutoff > MaxPartSize {
		p.Add(backends.Invalid("upload_cutoff", "upload_cutoff must be more than 0 and at most 5GiB (the largest single PutObject); got %d bytes.", o.UploadCutoff))
	}
	switch o.ServerSideCopy {
	case "":
		o.ServerSideCopy = CopyAuto
	case CopyAuto, CopyAlways, CopyNever:
	default:
		p.Add(backends.Invalid("server_side_copy", `server_side_copy must be "auto", "always" or "never"; got %q.`, o.ServerSideCopy))
	}
	o.validateArchived(&p)
	return p.Err()
}

// Restore tiers (restore_tier) and the bound of restore_days.
var restoreTiers = []string{"Standard", "Bulk", "Expedited"}

const MaxRestoreDays = 30000

// validateArchived fills in and checks archived, restore_days and
// restore_tier.
func (o *Options) validateArchived(p *backends.Problems) {
	switch o.Archived {
	case "":
		o.Archived = backends.ArchivedSkip
	case backends.ArchivedSkip, backends.ArchivedFail, backends.ArchivedRestore:
	default:
		p.Add(backends.Invalid("archived", `archived must be "skip", "fail" or "restore"; got %q.`, o.Archived))
	}
	restore := o.Archived == backends.ArchivedRestore
	switch {
	case o.RestoreDays != 0 && !restore:
		p.Add(&backends.AttrError{Attr: "restore_days", Summary: "restore_days without restore", Detail: `restore_days is only used with archived = "restore".`})
	case o.RestoreDays < 0 || o.RestoreDays > MaxRestoreDays:
		p.Add(backends.Invalid("restore_days", "restore_days must be between 1 and %d; got %d.", MaxRestoreDays, o.RestoreDays))
	case o.RestoreDays == 0 && restore:
		o.RestoreDays = 1
	}
	switch {
	case o.RestoreTier != "" && !restore:
		p.Add(&backends.AttrError{Attr: "restore_tier", Summary: "restore_tier without restore", Detail: `restore_tier is only used with archived = "restore".`})
	case o.RestoreTier != "" && !slices.Contains(restoreTiers, o.RestoreTier):
		p.Add(backends.Invalid("restore_tier", `restore_tier must be "Standard", "Bulk" or "Expedited"; got %q.`, o.RestoreTier))
	case o.RestoreTier == "" && restore:
		o.RestoreTier = "Standard"
	}
}

// checkPrefix checks a prefix without its trailing slash; the error
// completes "prefix %q ...".
func checkPrefix(p string) error {
	if strings.HasPrefix(p, "/") {
		return errors.New(`must not start with "/": keys are relative to the bucket's root`)
	}
	if p == "" || backends.CheckKey(p) != nil {
		return errors.New(`must be a relative path such as "2019/", without "." or ".." segments or "//"`)
	}
	return nil
}

// endpoint checks an optional URL attribute; it returns it without a
// trailing slash.
func endpoint(p *backends.Problems, attr, v string) string {
	if v == "" {
		return ""
	}
	u, err := backends.ParseEndpoint(v)
	switch {
	case errors.Is(err, backends.ErrURLUser):
		p.Add(backends.Invalid(attr, "%s must not contain a user name or password; use access_key_id and secret_access_key.", attr))
	case err != nil:
		p.Add(backends.Invalid(attr, `%s must be an http:// or https:// URL such as "https://s3.example.com" or "http://127.0.0.1:7070".`, attr))
	}
	return u
}

// Place is the endpoint and bucket (the namespace) and the prefix.
func (o *Options) Place() (space, path string) {
	return "s3|" + strings.ToLower(o.Endpoint) + "|" + o.Bucket, "/" + o.Prefix
}
