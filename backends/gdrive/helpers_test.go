package gdrive

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"syncer/backends/gdrive/drivetest"
)

var folderSeq atomic.Int64

// testOptions returns options for a backend on srv rooted at folder, with
// fast retries and a small chunk size.
func testOptions(srv *drivetest.Server, folder string) Options {
	return Options{
		Name:           "test",
		FolderID:       folder,
		Endpoint:       srv.URL,
		ChunkSize:      1 << 20,
		RetryBaseDelay: 2 * time.Millisecond,
		RetryMaxDelay:  20 * time.Millisecond,
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

// newFake starts a fake Drive for the test.
func newFake(t testing.TB) *drivetest.Server {
	t.Helper()
	srv := drivetest.New()
	t.Cleanup(srv.Close)
	return srv
}

// newFolder makes a fresh root folder for a backend.
func newFolder(srv *drivetest.Server) string {
	return srv.Mkdir("", fmt.Sprintf("run-%d", folderSeq.Add(1)))
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) Count(s string) int { return strings.Count(l.String(), s) }

func newLogger(l *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
