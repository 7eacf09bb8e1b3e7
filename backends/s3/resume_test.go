package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/s3/s3test"
)

// 18 MiB + a bit in 5 MiB parts: four parts.
const resumeSize = 18*mib + 12345

// Parts 1-2 of a 4-part object are sent, one at a time, then the run is "killed" (its
// context cancelled right after the journal records part 2, no abort). A
// second PutResumable with the same journal sends only parts 3 and 4, and
// the object is right. Over plain HTTP and TLS.
func TestPutResumableResume(t *testing.T) {
	e := needEnv(t)
	for _, c := range []struct {
		srv         *s3test.Server
		payloadHash string
	}{
		{e.A, "UNSIGNED-PAYLOAD"},
		{e.TLS, "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
	} {
		t.Run(strings.SplitN(c.srv.Endpoint, ":", 2)[0], func(t *testing.T) {
			o := testOptions(c.srv, newBucket(t, c.srv), "r/")
			o.PartSize = 5 * mib
			o.UploadConcurrency = 1 // parts in order, so the "kill" lands after part 2
			var logs lockedBuf
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			b := mustNew(t, o)
			att := countAttempts(b)
			src := backends.Object{Size: resumeSize}
			j := s3test.NewMemJournal()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			j.OnPartDone = func(key string, p backends.Part) {
				if p.Number == 2 {
					cancel()
				}
			}
			_, err := b.PutResumable(ctx, "big.bin", rangeOpener(3, resumeSize, nil), src, j)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("first PutResumable = %v; want context.Canceled", err)
			}
			id, parts := j.Upload("big.bin")
			if id == "" || len(parts) != 2 {
				t.Fatalf("journal after the kill: id %q, parts %+v; want an id and 2 parts", id, parts)
			}
			if ups := uploads(t, c.srv, o.Bucket); len(ups) != 1 || !strings.HasSuffix(ups[0], id) {
				t.Fatalf("uploads after the kill = %q; want the recorded one (not aborted)", ups)
			}
			backendtest.AssertNotFound(t, b, "big.bin")
			if got := att.payloadHashes("UploadPart"); len(got) == 0 || got[0] != c.payloadHash {
				t.Errorf("UploadPart payload hash %q; want %q", got, c.payloadHash)
			}

			att.reset()
			j.OnPartDone = nil
			opens := 0
			obj, err := b.PutResumable(t.Context(), "big.bin", rangeOpener(3, resumeSize, &opens), src, j)
			if err != nil {
				t.Fatalf("resumed PutResumable: %v", err)
			}
			if got := att.partNumbers(); !slices.Equal(got, []string{"3", "4"}) {
				t.Errorf("resumed run sent parts %q; want [3 4]", got)
			}
			if !strings.Contains(logs.String(), `msg="resuming upload of big.bin at part 3 of 4"`) {
				t.Errorf("the resume is not logged:\n%s", logs.String())
			}
			if att.count("ListParts") != 1 || att.count("CreateMultipartUpload") != 0 || opens != 2 {
				t.Errorf("resumed run: %d ListParts, %d CreateMultipartUpload, %d source opens; want 1, 0, 2",
					att.count("ListParts"), att.count("CreateMultipartUpload"), opens)
			}
			if obj.Size != resumeSize || !strings.HasSuffix(obj.ETag, "-4") {
				t.Errorf("PutResumable = %+v; want size %d, ETag ending in -4", obj, resumeSize)
			}
			checkContent(t, b, "big.bin", 3, resumeSize)
			if id, _ := j.Upload("big.bin"); id != "" || j.Calls("Finished") != 1 {
				t.Errorf("journal still has upload %q (Finished called %d times)", id, j.Calls("Finished"))
			}
			if ups := uploads(t, c.srv, o.Bucket); len(ups) != 0 {
				t.Errorf("uploads left: %q", ups)
			}
		})
	}
}

// A recorded upload the server no longer knows is started over.
func TestPutResumableNoSuchUpload(t *testing.T) {
	e := needEnv(t)
	o := testOptions(e.A, newBucket(t, e.A), "")
	o.PartSize = 5 * mib
	b := mustNew(t, o)
	att := countAttempts(b)
	j := s3test.NewMemJournal()
	j.Record("k", "no-such-upload-id", 5*mib, backends.Part{Number: 1, Size: 5 * mib, ETag: "x"})
	obj, err := b.PutResumable(t.Context(), "k", rangeOpener(4, resumeSize, nil), backends.Object{Size: resumeSize}, j)
	if err != nil {
		t.Fatalf("PutResumable: %v", err)
	}
	if att.count("CreateMultipartUpload") != 1 || att.count("UploadPart") != 4 || j.Calls("Started") != 1 {
		t.Errorf("%d CreateMultipartUpload, %d UploadPart, %d Started; want 1, 4, 1",
			att.count("CreateMultipartUpload"), att.count("UploadPart"), j.Calls("Started"))
	}
	if obj.Size != resumeSize {
		t.Errorf("Size = %d", obj.Size)
	}
	checkContent(t, b, "k", 4, resumeSize)
}

// Only parts that the server lists and the journal recorded with the same
// size and ETag are kept: a part the server lists at full size but the
// journal lacks (cut short when a run died; versitygw lists such parts at
// their declared size, padded) is sent again, as is a short one.
func TestPutResumableUnrecordedParts(t *testing.T) {
	e := needEnv(t)
	o := testOptions(e.A, newBucket(t, e.A), "")
	o.PartSize = 5 * mib
	b := mustNew(t, o)
	c, err := e.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	cu, err := c.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(o.Bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	const size = 17 * mib
	data := backendtest.RandomBytes(5, size)
	j := s3test.NewMemJournal()
	j.Record("k", aws.ToString(cu.UploadId), 5*mib)
	for _, part := range []struct {
		num    int32
		body   []byte
		record bool
	}{
		{1, data[:5*mib], true},           // good and recorded: kept
		{2, make([]byte, 5*mib), false},   // full size, wrong bytes, unrecorded: sent again
		{3, data[10*mib : 11*mib], false}, // short: sent again
		{5, data[:mib], false},            // past the end: dropped
	} {
		out, err := c.UploadPart(t.Context(), &s3.UploadPartInput{
			Bucket: aws.String(o.Bucket), Key: aws.String("k"), UploadId: cu.UploadId, PartNumber: aws.Int32(part.num),
			Body: bytes.NewReader(part.body), ContentLength: aws.Int64(int64(len(part.body))),
		})
		if err != nil {
			t.Fatal(err)
		}
		if part.record {
			j.PartDone(t.Context(), "k", backends.Part{Number: part.num, Size: int64(len(part.body)), ETag: aws.ToString(out.ETag)})
		}
	}
	att := countAttempts(b)
	if _, err := b.PutResumable(t.Context(), "k", rangeOpener(5, size, nil), backends.Object{Size: size}, j); err != nil {
		t.Fatalf("PutResumable: %v", err)
	}
	if got := att.partNumbers(); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"2", "3", "4"}) {
		t.Errorf("sent parts %q; want 2, 3 and 4", got)
	}
	checkContent(t, b, "k", 5, size)
}

// A permanent error aborts the upload and clears the journal; a transient
// one is retried by re-opening the part's range; a failing source leaves
// the upload for the next run.
func TestPutResumableErrors(t *testing.T) {
	e := needEnv(t)
	p, via := proxied(t, e.A)
	o := testOptions(via, newBucket(t, e.A), "")
	o.PartSize = 5 * mib
	b := mustNew(t, o)
	src := backends.Object{Size: resumeSize}
	partIs := func(r *http.Request, n string) bool { return r.URL.Query().Get("partNumber") == n }

	t.Run("permanent", func(t *testing.T) {
		p.Fail = func(op string, r *http.Request) (int, string) {
			if op == "UploadPart" && partIs(r, "3") {
				return http.StatusForbidden, "AccessDenied"
			}
			return 0, ""
		}
		defer func() { p.Fail = nil }()
		j := s3test.NewMemJournal()
		_, err := b.PutResumable(t.Context(), "perm", rangeOpener(6, resumeSize, nil), src, j)
		if !IsPermanent(err) {
			t.Fatalf("PutResumable = %v; want a permanent error", err)
		}
		wantErrContains(t, err, `s3 "test"`, o.Bucket, "AccessDenied")
		if id, _ := j.Upload("perm"); id != "" {
			t.Errorf("journal kept upload %q after a permanent error", id)
		}
		if ups := uploads(t, e.A, o.Bucket); len(ups) != 0 {
			t.Errorf("uploads left: %q", ups)
		}
	})

	t.Run("transient", func(t *testing.T) {
		fails := 0
		p.Fail = func(op string, r *http.Request) (int, string) {
			if op == "UploadPart" && partIs(r, "2") && fails < 3 {
				fails++
				return http.StatusServiceUnavailable, "SlowDown"
			}
			return 0, ""
		}
		defer func() { p.Fail = nil }()
		opens := 0
		j := s3test.NewMemJournal()
		if _, err := b.PutResumable(t.Context(), "trans", rangeOpener(7, resumeSize, &opens), src, j); err != nil {
			t.Fatalf("PutResumable: %v", err)
		}
		if opens != 4+3 {
			t.Errorf("source opened %d times; want 7 (4 parts, 3 retries)", opens)
		}
		checkContent(t, b, "trans", 7, resumeSize)
	})

	t.Run("source", func(t *testing.T) {
		j := s3test.NewMemJournal()
		open := func(ctx context.Context, off, length int64) (io.ReadCloser, error) {
			r := backendtest.RandomReader(8, resumeSize)
			io.CopyN(io.Discard, r, off)
			if off >= 10*mib {
				return io.NopCloser(&backendtest.FailingReader{R: r, N: mib}), nil
			}
			return io.NopCloser(io.LimitReader(r, length)), nil
		}
		_, err := b.PutResumable(t.Context(), "src", open, src, j)
		if !errors.Is(err, backendtest.ErrInjected) || IsPermanent(err) {
			t.Fatalf("PutResumable = %v; want the source's error, not permanent", err)
		}
		id, parts := j.Upload("src")
		if id == "" || len(parts) != 2 {
			t.Errorf("journal: %q %+v; want the upload with 2 parts kept", id, parts)
		}
		backendtest.AssertNotFound(t, b, "src")
		// The next run finishes it.
		if _, err := b.PutResumable(t.Context(), "src", rangeOpener(8, resumeSize, nil), src, j); err != nil {
			t.Fatalf("resumed PutResumable: %v", err)
		}
		checkContent(t, b, "src", 8, resumeSize)
	})

	t.Run("small", func(t *testing.T) {
		j := s3test.NewMemJournal()
		p.Reset()
		const size = 3 * mib
		if _, err := b.PutResumable(t.Context(), "small", rangeOpener(9, size, nil), backends.Object{Size: size}, j); err != nil {
			t.Fatalf("PutResumable: %v", err)
		}
		if p.Count("PutObject") != 1 || j.Calls("Started") != 0 {
			t.Errorf("%d PutObject, %d Started; want one PutObject and no journal", p.Count("PutObject"), j.Calls("Started"))
		}
		checkContent(t, b, "small", 9, size)
	})
}

// AbortUploads cleans up uploads a killed run left behind, sparing those
// keep claims.
func TestAbortUploads(t *testing.T) {
	e := needEnv(t)
	o := testOptions(e.A, newBucket(t, e.A), "root/")
	o.PartSize = 5 * mib
	b := mustNew(t, o)
	for _, key := range []string{"a", "b/c"} {
		ctx, cancel := context.WithCancel(t.Context())
		j := s3test.NewMemJournal()
		j.OnPartDone = func(string, backends.Part) { cancel() }
		b.PutResumable(ctx, key, rangeOpener(1, resumeSize, nil), backends.Object{Size: resumeSize}, j)
		cancel()
	}
	if ups := uploads(t, e.A, o.Bucket); len(ups) != 2 {
		t.Fatalf("uploads = %q; want 2", ups)
	}
	if n, err := b.AbortUploads(t.Context(), time.Hour, nil); err != nil || n != 0 {
		t.Fatalf("AbortUploads(older than an hour) = %d, %v; want 0", n, err)
	}
	n, err := b.AbortUploads(t.Context(), 0, func(u Upload) bool { return u.Key == "b/c" })
	if err != nil || n != 1 {
		t.Fatalf("AbortUploads = %d, %v; want 1", n, err)
	}
	ups := uploads(t, e.A, o.Bucket)
	if len(ups) != 1 || !strings.HasPrefix(ups[0], "root/b/c ") {
		t.Fatalf("uploads = %q; want root/b/c's", ups)
	}
	// UploadAborter: abandon one upload by id; a missing one is fine.
	if err := b.AbortUpload(t.Context(), "b/c", strings.TrimPrefix(ups[0], "root/b/c ")); err != nil {
		t.Fatalf("AbortUpload: %v", err)
	}
	if err := b.AbortUpload(t.Context(), "b/c", "no-such-upload"); err != nil {
		t.Errorf("AbortUpload of a missing upload: %v", err)
	}
	if err := b.AbortUpload(t.Context(), "../x", "id"); err == nil {
		t.Error("AbortUpload of an invalid key: no error")
	}
	if ups := uploads(t, e.A, o.Bucket); len(ups) != 0 {
		t.Errorf("uploads left: %q", ups)
	}
}

// Parts of one upload go UploadConcurrency at a time: the source is read
// as that many ranges at once, never more, and the object is whole.
func TestPutResumableConcurrentParts(t *testing.T) {
	e := needEnv(t)
	o := testOptions(e.A, newBucket(t, e.A), "")
	o.PartSize = 5 * mib
	o.UploadConcurrency = 3
	b := mustNew(t, o)
	const size = 6*5*mib - 7 // six parts
	var (
		mu                      sync.Mutex
		opened, active, maxSeen int
	)
	inner := rangeOpener(11, size, nil)
	open := func(ctx context.Context, off, length int64) (io.ReadCloser, error) {
		rc, err := inner(ctx, off, length)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		opened++
		active++
		maxSeen = max(maxSeen, active)
		first := opened <= 3
		mu.Unlock()
		// The first three ranges wait for each other: they can only all
		// be open if three parts are in flight at once.
		for deadline := time.Now().Add(30 * time.Second); first; {
			mu.Lock()
			all := opened >= 3
			mu.Unlock()
			if all {
				break
			}
			if time.Now().After(deadline) {
				rc.Close()
				return nil, errors.New("the parts were not sent concurrently")
			}
			time.Sleep(5 * time.Millisecond)
		}
		return &closeHook{ReadCloser: rc, close: func() { mu.Lock(); active--; mu.Unlock() }}, nil
	}
	j := s3test.NewMemJournal()
	obj, err := b.PutResumable(t.Context(), "c", open, backends.Object{Size: size}, j)
	if err != nil {
		t.Fatalf("PutResumable: %v", err)
	}
	if maxSeen != 3 {
		t.Errorf("at most %d ranges open at once; want 3 (upload_concurrency)", maxSeen)
	}
	if obj.Size != size || !strings.HasSuffix(obj.ETag, "-6") || j.Calls("PartDone") != 6 {
		t.Errorf("PutResumable = %+v with %d parts journaled; want %d bytes in 6 parts", obj, j.Calls("PartDone"), size)
	}
	checkContent(t, b, "c", 11, size)
}

type closeHook struct {
	io.ReadCloser
	close func()
}

func (c *closeHook) Close() error {
	c.close()
	return c.ReadCloser.Close()
}

// lockedBuf is a log sink safe for the upload's goroutines.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
