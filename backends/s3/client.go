package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"syncer/backends"
)

// newClient builds the SDK client: HTTP transport (CA bundle, TLS
// verification), credentials (static keys, profile or the default chain,
// then AssumeRole), retries and endpoint.
func newClient(ctx context.Context, b *Backend, opts *Options) (*s3.Client, error) {
	tlsConf := func(tc *tls.Config) {}
	if opts.CABundle != "" || opts.InsecureSkipVerify {
		var pool *x509.CertPool
		if opts.CABundle != "" {
			pem, err := os.ReadFile(opts.CABundle)
			if err != nil {
				return nil, fmt.Errorf("ca_bundle: %w", err)
			}
			if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("ca_bundle %s: no PEM certificate found", opts.CABundle)
			}
		}
		tlsConf = func(tc *tls.Config) {
			if pool != nil {
				// The SDK appends AWS_CA_BUNDLE, if set, to this pool.
				tc.RootCAs = pool
			}
			tc.InsecureSkipVerify = opts.InsecureSkipVerify
		}
	}
	headerTimeout := opts.ResponseHeaderTimeout
	if headerTimeout <= 0 {
		headerTimeout = DefaultResponseHeaderTimeout
	}
	idle := opts.IdleTimeout
	if idle <= 0 {
		idle = backends.DefaultIdleTimeout
	}
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = backends.IdleDialer(idle)
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		tlsConf(tr.TLSClientConfig)
		tr.MaxIdleConnsPerHost = 32
		tr.ResponseHeaderTimeout = headerTimeout
	})

	retryer := b.newRetryer(opts)
	b.retry = retryer()
	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(retryer),
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.AccessKeyID != "" {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, opts.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	b.region = cfg.Region
	if opts.RoleARN != "" {
		stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
			if opts.STSEndpoint != "" {
				o.BaseEndpoint = aws.String(opts.STSEndpoint)
			}
		})
		session := "syncer-" + sessionName(opts.Name)
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, opts.RoleARN,
			func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = session
				if opts.ExternalID != "" {
					o.ExternalID = aws.String(opts.ExternalID)
				}
			}))
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if b.endpoint != "" {
			o.BaseEndpoint = aws.String(b.endpoint)
		}
		o.UsePathStyle = pathStyle(b.endpoint, opts.ForcePathStyle)
		// Ranged and multipart GETs carry no whole-object checksum; do not
		// log about it on every read.
		o.DisableLogOutputChecksumValidationSkipped = true
		// Response checksums are validated where we ask for them: whole
		// GETs (see getter.get), never ranges.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if opts.RequestsPerSecond > 0 {
			pacers := opts.Pacers
			if pacers == nil {
				pacers = &backends.Pacers{}
			}
			o.APIOptions = append(o.APIOptions, paceRequests(pacers.Get(b.account(), opts.RequestsPerSecond)))
		}
		if opts.Requests != nil {
			o.APIOptions = append(o.APIOptions, hookRequests(opts.Name, opts.Requests))
		}
	})
	// Requests that may work long before the first header (see slowOp) go
	// through a copy of the client's HTTP client, as the SDK resolved it
	// (AWS_CA_BUNDLE included), with a longer header timeout.
	if bc, ok := client.Options().HTTPClient.(*awshttp.BuildableClient); ok {
		slow := max(headerTimeout, SlowResponseHeaderTimeout)
		b.slowHTTP = bc.WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = slow
			// Such a request may move no byte until the store is done.
			tr.DialContext = backends.IdleDialer(max(idle, slow))
		})
	}
	return client, nil
}

// slowOp configures a request the store may work on for long before it
// answers: CopyObject, UploadPartCopy (server-side copies of up to 5 GiB)
// and CompleteMultipartUpload. AWS sends their 200 headers at once and
// keeps the connection alive with spaces, but S3-compatible stores may
// answer only when done, so they get SlowResponseHeaderTimeout instead of
// the usual ResponseHeaderTimeout.
func (b *Backend) slowOp(o *s3.Options) {
	if b.slowHTTP != nil {
		o.HTTPClient = b.slowHTTP
	}
}

// sessionName keeps the characters AssumeRole allows in a session name.
func sessionName(name string) string {
	var sb strings.Builder
	for _, r := range name {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@-_", r)) {
			sb.WriteRune(r)
		}
	}
	s := sb.String()
	if len(s) > 50 {
		s = s[:50]
	}
	return s
}

// newRetryer returns the SDK retryer: the standard one (5xx, throttling
// such as SlowDown, connection resets, timeouts), with more attempts, no
// client-side retry quota (a long run must not stop retrying after a bad
// minute), and dropped connections (EOF) counted as transient. Errors from
// the data source are never retried: they are not the store's.
func (b *Backend) newRetryer(opts *Options) func() aws.Retryer {
	maxAttempts := b.maxAttempts
	maxBackoff := opts.RetryMaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 20 * time.Second
	}
	base := opts.RetryBaseDelay
	return func() aws.Retryer {
		std := retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
			so.MaxBackoff = maxBackoff
			so.RateLimiter = ratelimit.None
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(notSourceError)},
				append(so.Retryables, retry.IsErrorRetryableFunc(droppedConnection))...)
			if base > 0 {
				so.Backoff = jitterBackoff{base: base, max: maxBackoff}
			}
		})
		if opts.Retries == nil {
			return std
		}
		return countingRetryer{RetryerV2: std, backend: opts.Name, hook: opts.Retries}
	}
}

// countingRetryer tells hook of each retry: the SDK's retry middleware
// and our own loops (sleep) ask RetryDelay once per retry decided.
type countingRetryer struct {
	aws.RetryerV2
	backend string
	hook    backends.RetryHook
}

func (r countingRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	r.hook(r.backend, retryReason(err))
	return r.RetryerV2.RetryDelay(attempt, err)
}

// throttles are the SDK's throttling errors (SlowDown, 429, Throttling...).
var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// retryReason classifies a retried S3 error (backends.RetryReasons).
func retryReason(err error) string {
	if throttles.IsErrorThrottle(err) == aws.TrueTernary {
		return backends.RetryThrottled
	}
	status := 0
	if re, ok := errors.AsType[*smithyhttp.ResponseError](err); ok {
		status = re.HTTPStatusCode()
	}
	return backends.RetryReason(status, err)
}

// notSourceError keeps the SDK from retrying a failure of the data source.
func notSourceError(err error) aws.Ternary {
	var se *backends.SourceError
	if errors.As(err, &se) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// droppedConnection treats a connection closed before or during a response
// as transient.
func droppedConnection(err error) aws.Ternary {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

// jitterBackoff is full-jitter exponential backoff from base, for every
// retryable error (throttling included), capped at max.
type jitterBackoff struct{ base, max time.Duration }

func (j jitterBackoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	d := j.max
	if attempt >= 1 && attempt < 30 {
		if e := j.base << (attempt - 1); e > 0 && e < j.max {
			d = e
		}
	}
	return time.Duration(rand.Int64N(int64(d) + 1)), nil
}

// streamOptions configures one request whose body is an unseekable stream
// (a PutObject over HTTPS, an UploadPart of PutResumable).
//
// The SDK cannot rewind such a body, so it must not retry the request (we
// retry by re-opening the source where we can), and by default it refuses
// one over plain HTTP, since it would have to read the body twice: once
// for the CRC32 header, once for the signed payload hash. The choice:
//
//   - HTTPS keeps the SDK's defaults: the body goes out aws-chunked with a
//     trailing CRC32 and STREAMING-UNSIGNED-PAYLOAD-TRAILER, what AWS
//     expects; the store verifies the checksum, and a body cut short never
//     completes its framing, so it is rejected.
//   - Plain HTTP (S3-compatible stores on a private network) cannot carry
//     trailing checksums, so checksums are computed only where an operation
//     requires them (never for PutObject/UploadPart) and the payload is
//     sent as UNSIGNED-PAYLOAD (headers still signed). We compute the MD5
//     while streaming and compare it with the part's ETag before the part
//     counts. A store may keep a part cut short by a failing source, but
//     its size then differs, so a resumed upload sends it again, and a
//     multipart object only appears on Complete. Single PutObjects are
//     never streamed over plain HTTP for that reason (see Put).
func (b *Backend) streamOptions(o *s3.Options) {
	o.RetryMaxAttempts = 1
	if !b.https {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
}

// retryable reports whether err from a request is worth another attempt.
func (b *Backend) retryable(err error) bool {
	return b.retry.IsErrorRetryable(err)
}

// sleep waits before attempt+1 of a request of ours; false if ctx ended.
func (b *Backend) sleep(ctx context.Context, attempt int, err error) bool {
	d, derr := b.retry.RetryDelay(attempt, err)
	if derr != nil {
		d = time.Second
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
