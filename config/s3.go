package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
)

// S3 limits and defaults, as the s3 backend applies them.
const (
	S3MinPartSize     = 5 << 20
	S3MaxPartSize     = 5 << 30 // also the largest PutObject
	S3DefaultPartSize = 16 << 20

	// Parts of one upload sent at once (as rclone's --s3-upload-concurrency).
	S3DefaultUploadConcurrency = 4
	S3MaxUploadConcurrency     = 16
	s3DefaultRegion            = "us-east-1"
)

// Server-side copy policies of an s3 backend.
const (
	S3CopyAuto   = "auto"
	S3CopyAlways = "always"
	S3CopyNever  = "never"
)

// s3StorageClasses are the storage classes S3 knows; anything else is
// most likely a typo.
var s3StorageClasses = []string{
	"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
	"GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS", "SNOW", "EXPRESS_ONEZONE",
}

// S3Backend is a bucket (or a prefix in one) of Amazon S3 or an
// S3-compatible store. Empty strings mean "not set". It holds secrets:
// String and GoString hide them, and Config.Hash records only whether they
// are set.
type S3Backend struct {
	Bucket string // required
	// Prefix is the root inside the bucket: "" or a relative slash path
	// ending in "/" (added when missing).
	Prefix string
	// Region: as configured; us-east-1 when an endpoint is set without
	// one; otherwise "" (the SDK's default chain decides).
	Region         string
	Endpoint       string // e.g. "http://127.0.0.1:7070"; "" = AWS
	ForcePathStyle bool
	Profile        string // shared config profile; "" = the default chain
	// Static credentials (all "" to use the default chain or the profile).
	AccessKeyID, SecretAccessKey, SessionToken string
	CABundle                                   string // absolute path of a PEM file, or ""
	RoleARN, ExternalID                        string // AssumeRole
	STSEndpoint                                string // AssumeRole's STS endpoint; "" = AWS
	StorageClass                               string // on writes; "" = the bucket's default
	SSE                                        string // "", "AES256" or "aws:kms"
	SSEKMSKeyID                                string // only with SSE "aws:kms"
	PartSize                                   int64  // bytes; default 16 MiB, 5 MiB .. 5 GiB
	UploadCutoff                               int64  // bytes; PutObject below, multipart at or above; default PartSize
	UploadConcurrency                          int    // parts of one resumable upload in flight; default 4, 1..16
	ServerSideCopy                             string // "auto" (default), "always" or "never"
	InsecureSkipVerify                         bool   // TLS certificates are verified unless true
}

// String describes the backend without its secrets.
func (s S3Backend) String() string {
	return fmt.Sprintf("S3Backend{Bucket:%q Prefix:%q Region:%q Endpoint:%q Profile:%q AccessKeyID:%q SecretAccessKey:%s SessionToken:%s RoleARN:%q}",
		s.Bucket, s.Prefix, s.Region, s.Endpoint, s.Profile, s.AccessKeyID,
		sensitive(s.SecretAccessKey), sensitive(s.SessionToken), s.RoleARN)
}

// GoString is String, so %#v hides the secrets too.
func (s S3Backend) GoString() string { return s.String() }

func sensitive(v string) string {
	if v == "" {
		return "(unset)"
	}
	return "(sensitive)"
}

// s3Settings is what Config.Hash records of an s3 backend: every setting
// but the secrets, of which only their presence.
type s3Settings struct {
	Bucket, Prefix, Region, Endpoint string
	ForcePathStyle                   bool
	Profile, AccessKeyID             string
	SecretSet, SessionTokenSet       bool
	CABundle, RoleARN, ExternalID    string
	STSEndpoint                      string
	StorageClass, SSE, SSEKMSKeyID   string
	PartSize, UploadCutoff           int64
	ServerSideCopy                   string
	InsecureSkipVerify               bool
}

func s3HashSettings(b *Backend) any {
	s := b.S3
	if s == nil {
		return nil
	}
	return s3Settings{
		Bucket: s.Bucket, Prefix: s.Prefix, Region: s.Region, Endpoint: s.Endpoint,
		ForcePathStyle: s.ForcePathStyle, Profile: s.Profile, AccessKeyID: s.AccessKeyID,
		SecretSet: s.SecretAccessKey != "", SessionTokenSet: s.SessionToken != "",
		CABundle: s.CABundle, RoleARN: s.RoleARN, ExternalID: s.ExternalID, STSEndpoint: s.STSEndpoint,
		StorageClass: s.StorageClass, SSE: s.SSE, SSEKMSKeyID: s.SSEKMSKeyID,
		PartSize: s.PartSize, UploadCutoff: s.UploadCutoff,
		ServerSideCopy: s.ServerSideCopy, InsecureSkipVerify: s.InsecureSkipVerify,
	}
}

// s3Place is endpoint and bucket (the namespace) and the prefix (the path),
// for the check that a sync does not read its own output.
func s3Place(b *Backend) (string, string, bool) {
	if b.S3 == nil {
		return "", "", false
	}
	ep := strings.ToLower(strings.TrimRight(b.S3.Endpoint, "/"))
	return "s3|" + ep + "|" + b.S3.Bucket, "/" + b.S3.Prefix, true
}

type s3Schema struct {
	Bucket             hcl.Expression `hcl:"bucket"`
	Prefix             hcl.Expression `hcl:"prefix,optional"`
	Region             hcl.Expression `hcl:"region,optional"`
	Endpoint           hcl.Expression `hcl:"endpoint,optional"`
	ForcePathStyle     hcl.Expression `hcl:"force_path_style,optional"`
	Profile            hcl.Expression `hcl:"profile,optional"`
	AccessKeyID        hcl.Expression `hcl:"access_key_id,optional"`
	SecretAccessKey    hcl.Expression `hcl:"secret_access_key,optional"`
	SessionToken       hcl.Expression `hcl:"session_token,optional"`
	CABundle           hcl.Expression `hcl:"ca_bundle,optional"`
	RoleARN            hcl.Expression `hcl:"role_arn,optional"`
	ExternalID         hcl.Expression `hcl:"external_id,optional"`
	STSEndpoint        hcl.Expression `hcl:"sts_endpoint,optional"`
	StorageClass       hcl.Expression `hcl:"storage_class,optional"`
	SSE                hcl.Expression `hcl:"sse,optional"`
	SSEKMSKeyID        hcl.Expression `hcl:"sse_kms_key_id,optional"`
	PartSize           hcl.Expression `hcl:"part_size,optional"`
	UploadCutoff       hcl.Expression `hcl:"upload_cutoff,optional"`
	UploadConcurrency  hcl.Expression `hcl:"upload_concurrency,optional"`
	ServerSideCopy     hcl.Expression `hcl:"server_side_copy,optional"`
	InsecureSkipVerify hcl.Expression `hcl:"insecure_skip_verify,optional"`
}

// s3Decoder collects one block's values; ok turns false on any error.
type s3Decoder struct {
	d  *decoder
	ok bool
}

func (sd *s3Decoder) str(expr hcl.Expression, attr string) string {
	s, _, ok := sd.d.optString(expr, attr)
	sd.ok = sd.ok && ok
	return s
}

func (sd *s3Decoder) boolean(expr hcl.Expression, attr string) bool {
	v, ok := sd.d.eval(expr, cty.Bool, attr)
	sd.ok = sd.ok && ok
	return ok && !v.IsNull() && v.True()
}

// size evaluates an optional size attribute; def when absent.
func (sd *s3Decoder) size(expr hcl.Expression, attr string, def int64) int64 {
	s, set, ok := sd.d.optString(expr, attr)
	if !ok {
		sd.ok = false
		return def
	}
	if !set {
		return def
	}
	n, err := ParseSize(s)
	if err != nil {
		sd.fail(expr, "Invalid "+attr, "%s.", err)
		return def
	}
	return n
}

// endpoint reads an optional http(s) URL attribute, without a trailing
// slash.
func (sd *s3Decoder) endpoint(expr hcl.Expression, attr string) string {
	v := sd.str(expr, attr)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		sd.fail(expr, "Invalid "+attr, `%s must be an http:// or https:// URL such as "https://s3.example.com" or "http://127.0.0.1:7070".`, attr)
	} else if u.User != nil {
		sd.fail(expr, "Invalid "+attr, "%s must not contain a user name or password; use access_key_id and secret_access_key.", attr)
	}
	return strings.TrimRight(v, "/")
}

func (sd *s3Decoder) fail(expr hcl.Expression, summary, format string, args ...any) {
	sd.d.errorf(expr.Range().Ptr(), summary, format, args...)
	sd.ok = false
}

func decodeS3(d *decoder, b *Backend, body hcl.Body) {
	var s s3Schema
	diags := gohcl.DecodeBody(body, nil, &s)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	sd := &s3Decoder{d: d, ok: true}
	c := &S3Backend{}

	bucket, ok := d.reqString(s.Bucket, "bucket")
	sd.ok = sd.ok && ok
	c.Bucket = bucket
	if ok && (bucket == "" || strings.ContainsAny(bucket, "/ \t\n")) {
		sd.fail(s.Bucket, "Invalid bucket", "bucket must be a bucket name, without slashes or spaces; got %q. Put a path inside the bucket in prefix.", bucket)
	}

	c.Prefix = sd.str(s.Prefix, "prefix")
	if c.Prefix != "" {
		p := strings.TrimSuffix(c.Prefix, "/")
		if err := checkPrefix(p); err != nil || p == "" || strings.HasSuffix(p, "/") || p == "." || strings.HasSuffix(p, "/.") {
			msg := "must be a relative path such as \"2019/\""
			if err != nil {
				msg = err.Error()
			}
			sd.fail(s.Prefix, "Invalid prefix", "prefix %q %s.", c.Prefix, msg)
		} else {
			c.Prefix = p + "/"
		}
	}

	c.Endpoint = sd.endpoint(s.Endpoint, "endpoint")
	c.Region = sd.str(s.Region, "region")
	if c.Region == "" && c.Endpoint != "" {
		c.Region = s3DefaultRegion
	}
	c.ForcePathStyle = sd.boolean(s.ForcePathStyle, "force_path_style")
	c.Profile = sd.str(s.Profile, "profile")

	c.AccessKeyID = sd.str(s.AccessKeyID, "access_key_id")
	c.SecretAccessKey = sd.str(s.SecretAccessKey, "secret_access_key")
	c.SessionToken = sd.str(s.SessionToken, "session_token")
	switch {
	case c.AccessKeyID == "" && c.SecretAccessKey != "":
		sd.fail(s.SecretAccessKey, "Incomplete static credentials", "secret_access_key is set but access_key_id is not. Set both, or neither to use the default credential chain or profile.")
	case c.AccessKeyID != "" && c.SecretAccessKey == "":
		sd.fail(s.AccessKeyID, "Incomplete static credentials", "access_key_id is set but secret_access_key is empty. Set both, or neither to use the default credential chain or profile.")
	case c.AccessKeyID == "" && c.SessionToken != "":
		sd.fail(s.SessionToken, "Incomplete static credentials", "session_token is set without access_key_id and secret_access_key.")
	}
	if c.AccessKeyID != "" && c.Profile != "" {
		sd.fail(s.Profile, "Conflicting credentials", "profile and access_key_id are both set; use one source of credentials.")
	}

	if p := sd.str(s.CABundle, "ca_bundle"); p != "" {
		c.CABundle = d.absPath(p)
	}
	c.RoleARN = sd.str(s.RoleARN, "role_arn")
	if c.RoleARN != "" && !strings.HasPrefix(c.RoleARN, "arn:") {
		sd.fail(s.RoleARN, "Invalid role_arn", `role_arn must be an ARN such as "arn:aws:iam::123456789012:role/name"; got %q.`, c.RoleARN)
	}
	c.ExternalID = sd.str(s.ExternalID, "external_id")
	if c.ExternalID != "" && c.RoleARN == "" {
		sd.fail(s.ExternalID, "external_id without role_arn", "external_id is only used when assuming a role: set role_arn too.")
	}
	c.STSEndpoint = sd.endpoint(s.STSEndpoint, "sts_endpoint")
	if c.STSEndpoint != "" && c.RoleARN == "" {
		sd.fail(s.STSEndpoint, "sts_endpoint without role_arn", "sts_endpoint is only used when assuming a role: set role_arn too.")
	}

	c.StorageClass = sd.str(s.StorageClass, "storage_class")
	if c.StorageClass != "" && !contains(s3StorageClasses, c.StorageClass) {
		sd.fail(s.StorageClass, "Invalid storage_class", "storage_class %q is not an S3 storage class; use one of %s.", c.StorageClass, strings.Join(s3StorageClasses, ", "))
	}
	c.SSE = sd.str(s.SSE, "sse")
	switch c.SSE {
	case "", "AES256", "aws:kms":
	default:
		sd.fail(s.SSE, "Invalid sse", `sse must be "AES256" or "aws:kms"; got %q.`, c.SSE)
	}
	c.SSEKMSKeyID = sd.str(s.SSEKMSKeyID, "sse_kms_key_id")
	if c.SSEKMSKeyID != "" && c.SSE != "aws:kms" {
		sd.fail(s.SSEKMSKeyID, "sse_kms_key_id without KMS", `sse_kms_key_id needs sse = "aws:kms".`)
	}

	c.PartSize = sd.size(s.PartSize, "part_size", S3DefaultPartSize)
	if c.PartSize < S3MinPartSize || c.PartSize > S3MaxPartSize {
		sd.fail(s.PartSize, "Invalid part_size", "part_size must be between 5MiB and 5GiB (S3's limits); got %d bytes.", c.PartSize)
	}
	c.UploadConcurrency = S3DefaultUploadConcurrency
	if n, set, ok := d.optWhole(s.UploadConcurrency, "upload_concurrency", 1); !ok {
		sd.ok = false
	} else if set && n > S3MaxUploadConcurrency {
		sd.fail(s.UploadConcurrency, "Invalid upload_concurrency", "upload_concurrency must be at most %d; got %d.", S3MaxUploadConcurrency, n)
	} else if set {
		c.UploadConcurrency = n
	}
	c.UploadCutoff = sd.size(s.UploadCutoff, "upload_cutoff", c.PartSize)
	if c.UploadCutoff < 1 || c.UploadCutoff > S3MaxPartSize {
		sd.fail(s.UploadCutoff, "Invalid upload_cutoff", "upload_cutoff must be more than 0 and at most 5GiB (the largest single PutObject); got %d bytes.", c.UploadCutoff)
	}
	c.ServerSideCopy = sd.str(s.ServerSideCopy, "server_side_copy")
	switch c.ServerSideCopy {
	case "":
		c.ServerSideCopy = S3CopyAuto
	case S3CopyAuto, S3CopyAlways, S3CopyNever:
	default:
		sd.fail(s.ServerSideCopy, "Invalid server_side_copy", `server_side_copy must be "auto", "always" or "never"; got %q.`, c.ServerSideCopy)
	}
	c.InsecureSkipVerify = sd.boolean(s.InsecureSkipVerify, "insecure_skip_verify")

	if sd.ok {
		b.S3 = c
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
