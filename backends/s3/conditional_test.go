package s3

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"syncer/backends"
	"syncer/backends/s3/s3test"
)

func putString(t *testing.T, b *Backend, key, s string, cond backends.Cond) (string, error) {
	t.Helper()
	return b.PutIf(t.Context(), key, strings.NewReader(s), int64(len(s)), cond)
}

// versitygw honours If-None-Match and If-Match on PutObject: the
// conditional writes remote state stands on.
func TestConditionalVersity(t *testing.T) {
	e := needEnv(t)
	b := mustNew(t, testOptions(e.A, newBucket(t, e.A), "root/"))
	ctx := t.Context()
	if err := b.CheckConditional(ctx, "state/s.db"); err != nil {
		t.Fatalf("CheckConditional: %v", err)
	}
	var left []string
	b.List(ctx, "", func(o backends.Object) error { left = append(left, o.Key); return nil })
	if len(left) != 0 {
		t.Errorf("the probe left %v", left)
	}

	e1, err := putString(t, b, "k", "one", backends.Cond{IfNoneMatch: true})
	if err != nil || e1 == "" {
		t.Fatalf("create: %q, %v", e1, err)
	}
	if _, err := putString(t, b, "k", "two", backends.Cond{IfNoneMatch: true}); !errors.Is(err, backends.ErrPrecondition) {
		t.Fatalf("create over an existing key: %v, want ErrPrecondition", err)
	}
	e2, err := putString(t, b, "k", "two", backends.Cond{IfMatch: e1})
	if err != nil || e2 == e1 {
		t.Fatalf("replace: %q, %v", e2, err)
	}
	if _, err := putString(t, b, "k", "three", backends.Cond{IfMatch: e1}); !errors.Is(err, backends.ErrPrecondition) {
		t.Fatalf("replace of a stale ETag: %v, want ErrPrecondition", err)
	}
	// The bytes already there, refused: taken for this write's own retry.
	if got, err := putString(t, b, "k", "two", backends.Cond{IfNoneMatch: true}); err != nil || got != e2 {
		t.Fatalf("rewrite of the same bytes: %q, %v", got, err)
	}

	if _, err := putString(t, b, "gone", "x", backends.Cond{IfMatch: e2}); !errors.Is(err, backends.ErrPrecondition) {
		t.Fatalf("If-Match on a missing key: %v, want ErrPrecondition", err)
	}
	rc, info, err := b.GetObject(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	if string(body) != "two" || info.ETag != e2 || info.Size != 3 {
		t.Errorf("GetObject: %q %+v", body, info)
	}
	hi, now, err := b.Head(ctx, "k")
	if err != nil || hi.ETag != e2 || hi.LastModified.IsZero() {
		t.Fatalf("Head: %+v, %v", hi, err)
	}
	if now.IsZero() || now.Sub(hi.LastModified) < -time.Second {
		t.Errorf("server time %v, object written at %v", now, hi.LastModified)
	}
	if _, _, err := b.Head(ctx, "missing"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Head of a missing key: %v", err)
	}
	if _, _, err := b.GetObject(ctx, "missing"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("GetObject of a missing key: %v", err)
	}

	if err := b.DeleteIf(ctx, "k", e1); !errors.Is(err, backends.ErrPrecondition) {
		t.Fatalf("DeleteIf with a stale ETag: %v", err)
	}
	if err := b.DeleteIf(ctx, "k", e2); err != nil {
		t.Fatalf("DeleteIf: %v", err)
	}
	if _, _, err := b.Head(ctx, "k"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("after DeleteIf: %v", err)
	}
	if err := b.DeleteIf(ctx, "k", e2); err != nil {
		t.Errorf("DeleteIf of a missing key: %v", err)
	}
}

// A store that ignores conditional headers is found out.
func TestConditionalIgnored(t *testing.T) {
	ep, stop, err := s3test.NoConditional(fake.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	via := fake.Server
	via.Endpoint = ep
	b := mustNew(t, testOptions(&via, newBucket(t, &fake.Server), ""))
	err = b.CheckConditional(t.Context(), "s.db")
	if !errors.Is(err, backends.ErrNoConditionalWrites) {
		t.Fatalf("CheckConditional: %v, want ErrNoConditionalWrites", err)
	}
	if !strings.Contains(err.Error(), "If-None-Match") {
		t.Errorf("error does not say which header: %v", err)
	}
}

// A missing bucket is a clear error, not a missing key.
func TestConditionalMissingBucket(t *testing.T) {
	e := needEnv(t)
	b := mustNew(t, testOptions(e.A, "no-such-bucket-here", ""))
	err := b.CheckConditional(t.Context(), "s.db")
	if err == nil || !strings.Contains(err.Error(), "the bucket does not exist") {
		t.Fatalf("CheckConditional: %v", err)
	}
}
