package s3

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/s3/s3test"
)

// proxied starts a counting proxy in front of srv and returns it with a
// copy of srv whose endpoint is the proxy.
func proxied(t testing.TB, srv *s3test.Server) (*s3test.Proxy, *s3test.Server) {
	t.Helper()
	p, err := s3test.NewProxy(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	via := *srv
	via.Endpoint = p.URL
	return p, &via
}

// checkContent compares the object at key with RandomReader(seed, size).
func checkContent(t testing.TB, b backends.Backend, key string, seed, size int64) {
	t.Helper()
	rc, err := b.Open(t.Context(), key, 0, -1)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	n, sum, err := backendtest.SHA256(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if n != size || sum != backendtest.RandomSHA256(seed, size) {
		t.Fatalf("%q: %d bytes, sha256 %s; want %d bytes, %s", key, n, sum, size, backendtest.RandomSHA256(seed, size))
	}
}

// rangeOpener opens ranges of RandomReader(seed, size), counting opens.
func rangeOpener(seed, size int64, opens *int) backends.RangeOpener {
	var mu sync.Mutex
	return func(ctx context.Context, off, length int64) (io.ReadCloser, error) {
		if opens != nil {
			mu.Lock()
			*opens++
			mu.Unlock()
		}
		r := backendtest.RandomReader(seed, size)
		if _, err := io.CopyN(io.Discard, r, off); err != nil {
			return nil, err
		}
		if length >= 0 {
			r = io.LimitReader(r, length)
		}
		return io.NopCloser(r), nil
	}
}

// uploads lists the multipart uploads in progress in b's bucket.
func uploads(t testing.TB, srv *s3test.Server, bucket string) []string {
	t.Helper()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	var ids []string
	for _, u := range out.Uploads {
		ids = append(ids, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
	}
	return ids
}

func wantErrContains(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

// attempts counts the HTTP attempts b's client makes per operation and
// records each attempt's x-amz-content-sha256 header.
type attempts struct {
	mu     sync.Mutex
	counts map[string]int
	sha    map[string][]string
	parts  []string // partNumber of every UploadPart attempt
}

func (a *attempts) partNumbers() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.parts)
}

func (a *attempts) count(op string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.counts[op]
}

func (a *attempts) payloadHashes(op string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.sha[op])
}

func (a *attempts) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.counts)
	clear(a.sha)
	a.parts = nil
}

// countAttempts makes b's client report every signed attempt to the
// returned counter.
func countAttempts(b *Backend) *attempts {
	a := &attempts{counts: map[string]int{}, sha: map[string][]string{}}
	b.client = s3.New(b.client.Options(), func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("countAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					op := middleware.GetOperationName(ctx)
					a.mu.Lock()
					a.counts[op]++
					if req, ok := in.Request.(*smithyhttp.Request); ok {
						a.sha[op] = append(a.sha[op], req.Header.Get("X-Amz-Content-Sha256"))
						if op == "UploadPart" {
							a.parts = append(a.parts, req.URL.Query().Get("partNumber"))
						}
					}
					a.mu.Unlock()
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	})
	return a
}
