package apply_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"syncer/apply"
	"syncer/backends"
	"syncer/backends/local"
	"syncer/config"
	"syncer/plan"
	"syncer/state"
)

// mtime is the modification time test files get.
var mtime = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// env is a config with its state in a fresh temporary folder, and the
// backends its Opener returns (by backend name): local folders unless a
// test replaces them.
type env struct {
	t    *testing.T
	ctx  context.Context
	root string
	cfg  *config.Config
	st   *state.Store

	mu sync.Mutex
	bs map[string]backends.Backend
}

// oneSync is a config with one sync "s" from folder src to folder dst;
// %[1]s is top-level text (limits), %[2]s the sync's body.
const oneSync = `state { path = "syncer.db" }
%[1]s
backend "local" "src" { path = "src" }
backend "local" "dst" { path = "dst" }
sync "s" {
  from = backend.local.src
  to   = backend.local.dst
  %[2]s
}
`

// newEnv makes an env of oneSync with the given top-level text and sync body.
func newEnv(t *testing.T, top, body string) *env {
	t.Helper()
	return newEnvConfig(t, fmt.Sprintf(oneSync, top, body))
}

// newEnvConfig makes an env of any config text.
func newEnvConfig(t *testing.T, src string) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{t: t, ctx: t.Context(), root: root, bs: map[string]backends.Backend{}}
	e.cfg = parseConfig(t, root, src)
	st, err := state.Open(e.ctx, e.cfg.State.Path, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	for _, b := range e.cfg.Backends {
		path := b.Options.(*local.Options).Path
		if err := os.MkdirAll(path, 0o755); err != nil {
			t.Fatal(err)
		}
		e.bs[b.Name] = newLocal(t, b.Name, path)
	}
	return e
}

func parseConfig(t *testing.T, dir, src string) *config.Config {
	t.Helper()
	cfg, diags := config.Parse(filepath.Join(dir, "syncer.hcl"), []byte(src), config.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("config: %v", diags)
	}
	return cfg
}

// reconfigure replaces the env's config (the state and backends stay).
func (e *env) reconfigure(top, body string) {
	e.t.Helper()
	e.cfg = parseConfig(e.t, e.root, fmt.Sprintf(oneSync, top, body))
}

func newLocal(t *testing.T, name, path string) *local.Backend {
	t.Helper()
	b, err := local.New(local.Options{Name: name, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dir returns the folder of a configured local backend.
func (e *env) dir(name string) string {
	for _, b := range e.cfg.Backends {
		if b.Name == name {
			return b.Options.(*local.Options).Path
		}
	}
	e.t.Fatalf("no backend %q", name)
	return ""
}

// local returns the plain local backend of the named folder.
func (e *env) local(name string) *local.Backend { return newLocal(e.t, name, e.dir(name)) }

func (e *env) set(name string, b backends.Backend) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bs[name] = b
}

// open is the Opener: one backend per config block, as main's opener.
func (e *env) open(b *config.Backend) (backends.Backend, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	be, ok := e.bs[b.Name]
	if !ok {
		return nil, fmt.Errorf("no backend for %s", b.Addr())
	}
	return be, nil
}

// plan makes a plan (with refresh), closed when the test ends.
func (e *env) plan() *plan.Plan {
	e.t.Helper()
	p, err := plan.Make(e.ctx, e.cfg, e.st, e.open, plan.Options{Refresh: true, Version: "test"})
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	e.t.Cleanup(func() { p.Close() })
	return p
}

// apply plans and applies as main does (bumping the serial in between),
// under ctx, and closes the plan.
func (e *env) applyCtx(ctx context.Context, opts apply.Options) (apply.Result, error) {
	e.t.Helper()
	p := e.plan()
	defer p.Close()
	if _, err := e.st.BumpSerial(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	if opts.Version == "" {
		opts.Version = "test"
	}
	return apply.Run(ctx, e.cfg, e.st, p, e.open, opts)
}

func (e *env) apply(opts apply.Options) (apply.Result, error) {
	e.t.Helper()
	return e.applyCtx(e.ctx, opts)
}

// mustApply applies and fails the test on an error, a failed object or an
// interruption.
func (e *env) mustApply() apply.Result {
	e.t.Helper()
	res, err := e.apply(apply.Options{})
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	if res.Failed != 0 || res.Interrupted {
		e.t.Fatalf("apply: %+v", res)
	}
	return res
}

// actions returns the plan's actions as "kind key", all kinds.
func actions(t *testing.T, p *plan.Plan) []string {
	t.Helper()
	var out []string
	err := p.Each(t.Context(), "", nil, func(a plan.Action) error {
		out = append(out, string(a.Kind)+" "+a.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// expectNoChanges fails unless a new plan has no actions at all.
func (e *env) expectNoChanges() {
	e.t.Helper()
	p := e.plan()
	defer p.Close()
	if a := actions(e.t, p); len(a) != 0 {
		e.t.Errorf("plan after apply: %q; want no actions", a)
	}
}

// record returns the state record of (sync, key).
func (e *env) record(sync, key string) (state.Record, bool) {
	e.t.Helper()
	r, ok, err := e.st.Get(e.ctx, sync, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return r, ok
}

// recordedKeys returns the keys the state records for sync, sorted.
func (e *env) recordedKeys(sync string) []string {
	e.t.Helper()
	var keys []string
	if err := e.st.Each(e.ctx, sync, func(r state.Record) error {
		keys = append(keys, r.Key)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return keys
}

// writeFile writes data at key under dir with modification time mtime.
func writeFile(t *testing.T, dir, key string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// writeStream writes size bytes from r at key under dir, streaming.
func writeStream(t *testing.T, dir, key string, r io.Reader) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, r); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, dir, key string) ([]byte, bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
	if os.IsNotExist(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return data, true
}

// files returns every regular file under dir (temporary files included)
// by slash key with its content.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sameTree fails unless dst holds exactly the files of src, byte for byte.
func sameTree(t *testing.T, src, dst string) {
	t.Helper()
	s, d := files(t, src), files(t, dst)
	if !slices.Equal(sortedKeys(s), sortedKeys(d)) {
		t.Errorf("destination files %q; want %q", sortedKeys(d), sortedKeys(s))
	}
	for k, data := range s {
		if got, ok := d[k]; ok && !bytes.Equal(got, data) {
			t.Errorf("%s: destination has %d bytes differing from the source's %d", k, len(got), len(data))
		}
	}
}

// noTemps fails if a temporary file is left under dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	for k := range files(t, dir) {
		if strings.HasPrefix(k[strings.LastIndexByte(k, '/')+1:], local.TempPrefix) {
			t.Errorf("temporary file left: %s", k)
		}
	}
}

// fingerprint is what a listing of b reports for key.
func fingerprint(t *testing.T, b backends.Backend, key string) state.Fingerprint {
	t.Helper()
	o, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	fp := state.Fingerprint{Size: o.Size, ETag: o.ETag, MD5: o.Hash(backends.MD5)}
	if !o.ModTime.IsZero() {
		fp.MTime = o.ModTime.UnixNano()
	}
	return fp
}

// logBuf collects JSON log lines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// entries returns the logged records whose message is msg ("" for all).
func (l *logBuf) entries(t *testing.T, msg string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(l.b.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg == "" || m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// openCall is one Open of a hooked backend.
type openCall struct {
	key            string
	offset, length int64
}

// hooked is a local backend that records Opens and Puts and lets a test
// intervene in Put. It keeps the local backend's capabilities (Hasher,
// Precisioner, CleanTemp) by embedding it.
type hooked struct {
	*local.Backend
	// CopyOnHost shadows the local backend's kernel copy, so that a hooked
	// backend (and a test copier built on one) is no HostCopier.
	CopyOnHost struct{}

	// beforePut may replace the data stream or fail the Put.
	beforePut func(ctx context.Context, key string, r io.Reader) (io.Reader, error)
	// afterPut runs once the local Put returned.
	afterPut func(key string, err error)
	delay    time.Duration // before each Put, cut short by ctx
	// afterRead, set before the run, sees the count of every Read of a
	// stream opened on the backend.
	afterRead func(n int)

	mu    sync.Mutex
	opens []openCall
	puts  []string
}

func hook(b *local.Backend) *hooked { return &hooked{Backend: b} }

// CanCopyFrom hides the local backend's kernel copy: a hooked destination
// sees every copy through Put.
func (h *hooked) CanCopyFrom(backends.Backend) bool { return false }

func (h *hooked) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	h.mu.Lock()
	h.opens = append(h.opens, openCall{key, offset, length})
	h.mu.Unlock()
	return h.reading(h.Backend.Open(ctx, key, offset, length))
}

// OpenPinned is recorded as an Open.
func (h *hooked) OpenPinned(ctx context.Context, src backends.Object, offset, length int64) (io.ReadCloser, error) {
	h.mu.Lock()
	h.opens = append(h.opens, openCall{src.Key, offset, length})
	h.mu.Unlock()
	return h.reading(h.Backend.OpenPinned(ctx, src, offset, length))
}

// reading hands the reads of a stream to afterRead, if set.
func (h *hooked) reading(rc io.ReadCloser, err error) (io.ReadCloser, error) {
	if err != nil || h.afterRead == nil {
		return rc, err
	}
	return readCloser{Reader: readFunc(func(p []byte) (int, error) {
		n, err := rc.Read(p)
		h.afterRead(n)
		return n, err
	}), Closer: rc}, nil
}

type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

type readCloser struct {
	io.Reader
	io.Closer
}

func (h *hooked) Put(ctx context.Context, key string, r io.Reader, src backends.Object) (backends.Object, error) {
	h.mu.Lock()
	h.puts = append(h.puts, key)
	h.mu.Unlock()
	if h.delay > 0 {
		select {
		case <-time.After(h.delay):
		case <-ctx.Done():
			return backends.Object{}, ctx.Err()
		}
	}
	if h.beforePut != nil {
		var err error
		if r, err = h.beforePut(ctx, key, r); err != nil {
			if h.afterPut != nil {
				h.afterPut(key, err)
			}
			return backends.Object{}, err
		}
	}
	obj, err := h.Backend.Put(ctx, key, r, src)
	if h.afterPut != nil {
		h.afterPut(key, err)
	}
	return obj, err
}

func (h *hooked) openCalls() []openCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.opens)
}

func (h *hooked) putKeys() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.puts)
}

// flipReader flips the first byte it yields.
type flipReader struct {
	r       io.Reader
	flipped bool
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && !f.flipped {
		p[0] ^= 0xff
		f.flipped = true
	}
	return n, err
}

// numbered returns n keys "f000".."f(n-1)" with contents of varied sizes.
func numbered(n int) (keys []string, data map[string][]byte) {
	data = map[string][]byte{}
	for i := range n {
		k := fmt.Sprintf("f%03d", i)
		keys = append(keys, k)
		data[k] = bytes.Repeat([]byte{byte('a' + i%26)}, 100+i*37)
	}
	return keys, data
}
