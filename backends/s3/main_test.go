package s3

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"syncer/backends/s3/s3test"
)

// The real-server tests run against versitygw, started here when its
// binary is found ($SYNCER_VERSITYGW, or where scripts/s3-server.sh install
// puts it). Without it they skip, except in CI, where they fail.
var (
	env      *s3test.Env
	envErr   error
	fake     *s3test.Fake
	bucketID atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	fake = s3test.NewFake()
	defer fake.Close()
	if bin := s3test.VersityBinary(); bin != "" {
		dir, err := os.MkdirTemp("", "syncer-s3-test-")
		if err != nil {
			envErr = err
		} else {
			defer os.RemoveAll(dir)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			env, envErr = s3test.StartEnv(ctx, bin, dir)
			cancel()
			if env != nil {
				defer env.Close()
			}
		}
	} else {
		envErr = fmt.Errorf("no versitygw binary: set %s or run scripts/s3-server.sh install", s3test.EnvBinary)
	}
	return m.Run()
}

// needEnv returns the real servers, or skips the test (fails it in CI).
func needEnv(t testing.TB) *s3test.Env {
	t.Helper()
	if env == nil {
		if s3test.InCI() {
			t.Fatalf("real S3 server unavailable in CI: %v", envErr)
		}
		t.Skipf("real S3 server unavailable: %v", envErr)
	}
	return env
}

// newBucket creates a fresh bucket on srv and returns its name.
func newBucket(t testing.TB, srv *s3test.Server) string {
	t.Helper()
	name := fmt.Sprintf("test-%d-%d", os.Getpid(), bucketID.Add(1))
	if err := srv.CreateBucket(t.Context(), name); err != nil {
		t.Fatalf("create bucket %s on %s: %v", name, srv.Endpoint, err)
	}
	return name
}

// testOptions returns options for a backend on srv (through endpoint if
// not "", e.g. a proxy) with fast retries.
func testOptions(srv *s3test.Server, bucket, prefix string) Options {
	return Options{
		Name:            "test",
		Bucket:          bucket,
		Prefix:          prefix,
		Endpoint:        srv.Endpoint,
		AccessKeyID:     srv.AccessKey,
		SecretAccessKey: srv.SecretKey,
		CABundle:        srv.CAFile,
		RetryBaseDelay:  5 * time.Millisecond,
		RetryMaxBackoff: 100 * time.Millisecond,
	}
}

func mustNew(t testing.TB, opts Options) *Backend {
	t.Helper()
	b, err := New(t.Context(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}
