package s3

import (
	"fmt"
	"testing"

	"syncer/backends"
	"syncer/backends/backendtest"
)

func TestConformanceFake(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		return mustNew(t, testOptions(&fake.Server, newBucket(t, &fake.Server), ""))
	})
}

func TestConformanceVersity(t *testing.T) {
	e := needEnv(t)
	bucket := newBucket(t, e.A)
	n := 0
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		n++
		return mustNew(t, testOptions(e.A, bucket, fmt.Sprintf("run/%d/", n)))
	})
}

// TestConformanceVersityTLS runs the suite over HTTPS with a self-signed
// certificate; a small part size and a high cutoff send some objects as
// streamed (unseekable) PutObject bodies too.
func TestConformanceVersityTLS(t *testing.T) {
	e := needEnv(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		o := testOptions(e.TLS, newBucket(t, e.TLS), "")
		o.PartSize = 5 << 20
		o.UploadCutoff = 64 << 20
		return mustNew(t, o)
	})
}

// TestConformanceVersityStreamed runs the suite over plain HTTP with the
// same streamed PutObject path.
func TestConformanceVersityStreamed(t *testing.T) {
	e := needEnv(t)
	backendtest.Run(t, func(t *testing.T) backends.Backend {
		o := testOptions(e.A, newBucket(t, e.A), "")
		o.PartSize = 5 << 20
		o.UploadCutoff = 64 << 20
		return mustNew(t, o)
	})
}
