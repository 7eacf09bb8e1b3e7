// Package e2e holds syncer's end-to-end tests. TestMain builds the syncer
// binary once; the tests drive it with os/exec against real folders: kill -9
// mid-apply and resume, SIGTERM, and the peak memory of the process.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // database/sql driver "sqlite3", to read the state
)

// syncerBin is the binary TestMain builds.
var syncerBin string

// rusageHelperEnv, when set, turns the test binary into the rusage helper
// (see rusageHelper); its value is the file the helper writes its report to.
const rusageHelperEnv = "SYNCER_E2E_RUSAGE_OUT"

// tempPrefix starts the name of the local backend's temporary files.
const tempPrefix = ".syncer-tmp-"

// commandTimeout guards every syncer run against hanging forever. It is a
// safety net, not a timing assertion.
const commandTimeout = 10 * time.Minute

func TestMain(m *testing.M) {
	if out := os.Getenv(rusageHelperEnv); out != "" {
		os.Exit(rusageHelper(out, os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "syncer-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		bin, err := buildSyncer(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building syncer:", err)
			return 1
		}
		syncerBin = bin
		return m.Run()
	}()
	os.Exit(code)
}

// moduleRoot is the folder holding go.mod.
var moduleRoot string

// buildSyncer builds the module's main package into dir.
func buildSyncer(dir string) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module (go env GOMOD is empty)")
	}
	moduleRoot = filepath.Dir(gomod)
	bin := filepath.Join(dir, "syncer")
	cmd := exec.Command("go", "build", "-o", bin, "syncer")
	cmd.Dir = moduleRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, out)
	}
	return bin, nil
}

// rusageReport is what the rusage helper writes.
type rusageReport struct {
	MaxRSSKiB int64         `json:"maxrss_kib"`
	ExitCode  int           `json:"exit_code"`
	Elapsed   time.Duration `json:"elapsed"`
	Err       string        `json:"err,omitempty"`
}

// rusageHelper runs args as a child and writes the child's exit code, wall
// time and ru_maxrss to the file out.
//
// Why a helper: os/exec starts children with vfork (CLONE_VM), and Linux
// folds the high-water RSS of the memory image a process leaves at execve
// into that process's ru_maxrss. A child exec'd by the test process would
// therefore report max(test process's peak RSS, child's own peak). The
// helper is a freshly exec'd, small process, so the syncer it starts carries
// at most the helper's own few MiB as a floor.
func rusageHelper(out string, args []string) int {
	var rep rusageReport
	if len(args) == 0 {
		rep.Err = "rusage helper: no command"
	} else {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, rusageHelperEnv+"=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		// If the helper dies, so does the child.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		start := time.Now()
		err := cmd.Run()
		rep.Elapsed = time.Since(start)
		if cmd.ProcessState == nil {
			rep.Err = fmt.Sprintf("start %s: %v", args[0], err)
		} else {
			rep.ExitCode = cmd.ProcessState.ExitCode()
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rep.MaxRSSKiB = ru.Maxrss // KiB on Linux
			}
			if rep.ExitCode < 0 {
				rep.Err = cmd.ProcessState.String()
			}
		}
	}
	b, _ := json.Marshal(rep)
	if err := os.WriteFile(out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "rusage helper:", err)
		return 1
	}
	return 0
}

// syncerEnv is the environment for a syncer run: the test's own, without
// any SYNCER_* or Kubernetes variables, with SYNCER_LOG=warn, then extra
// (NAME=VALUE; later entries win).
func syncerEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SYNCER_") || strings.HasPrefix(kv, "KUBERNETES_SERVICE_HOST=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "SYNCER_LOG=warn")
	return append(env, extra...)
}

// noteSourceInputs makes `go test` aware of what the tests really depend on.
//
// go test caches a package's result keyed on its test binary plus the files
// and environment variables the test process touched while tests ran. These
// tests depend on the syncer sources through a `go build` subprocess, which
// the cache cannot see, so a source change would otherwise replay a stale
// "ok (cached)". Statting every source file and listing every folder of the
// module from inside a test puts them among the recorded inputs.
var noteSourceInputs sync.Once

func statModuleSources() {
	var walk func(dir string)
	walk = func(dir string) {
		entries, err := os.ReadDir(dir) // opening a folder records its listing
		if err != nil {
			return
		}
		for _, e := range entries {
			name := e.Name()
			p := filepath.Join(dir, name)
			switch {
			case e.IsDir():
				if !strings.HasPrefix(name, ".") && name != "testdata" {
					walk(p)
				}
			case strings.HasSuffix(name, ".go") || name == "go.mod" || name == "go.sum":
				os.Stat(p)
			}
		}
	}
	if moduleRoot != "" {
		walk(moduleRoot)
	}
}

// result is a finished syncer run.
type result struct {
	Code           int
	Stdout, Stderr string
	Elapsed        time.Duration
	MaxRSSKiB      int64 // only from runMeasured
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s\n--- stderr:\n%s", r.Code, tail(r.Stdout, 4000), tail(r.Stderr, 4000))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// runSyncer runs the syncer binary in dir with env (see syncerEnv) and
// returns its exit code and output. It fails the test only when the binary
// cannot run at all or hangs past commandTimeout.
func runSyncer(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, syncerBin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := result{Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("syncer %s: still running after %s; killed\n%s", strings.Join(args, " "), commandTimeout, res)
	}
	if cmd.ProcessState == nil {
		t.Fatalf("syncer %s: %v", strings.Join(args, " "), err)
	}
	res.Code = cmd.ProcessState.ExitCode()
	if res.Code < 0 {
		t.Fatalf("syncer %s: %s\n%s", strings.Join(args, " "), cmd.ProcessState, res)
	}
	if slices.Contains(args, "-json") {
		checkJSONLines(t, args, res.Stdout)
	}
	return res
}

// runMeasured is runSyncer through the rusage helper, so that MaxRSSKiB is
// the peak RSS of the syncer process itself (see rusageHelper).
func runMeasured(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	return runMeasuredCmd(t, dir, env, append([]string{syncerBin}, args...)...)
}

func runMeasuredCmd(t *testing.T, dir string, env []string, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	repPath := filepath.Join(t.TempDir(), "rusage.json")
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, os.Args[0], argv...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), env...), rusageHelperEnv+"="+repPath)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s: still running after %s; killed\n%s", strings.Join(argv, " "), commandTimeout, res)
	}
	if err != nil {
		t.Fatalf("rusage helper for %s: %v\n%s", strings.Join(argv, " "), err, res)
	}
	b, err := os.ReadFile(repPath)
	if err != nil {
		t.Fatalf("rusage helper report: %v", err)
	}
	var rep rusageReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("rusage helper report %q: %v", b, err)
	}
	if rep.Err != "" {
		t.Fatalf("%s: %s\n%s", strings.Join(argv, " "), rep.Err, res)
	}
	res.Code, res.Elapsed, res.MaxRSSKiB = rep.ExitCode, rep.Elapsed, rep.MaxRSSKiB
	return res
}

// syncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a syncer running in the background.
type proc struct {
	cmd            *exec.Cmd
	args           []string
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when Wait returned
	start          time.Time
	elapsed        time.Duration
}

// startSyncer starts syncer in the background. The test's cleanup kills it
// if it is still running.
func startSyncer(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{args: args, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(syncerBin, args...)
	p.cmd.Dir, p.cmd.Env = dir, env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start syncer %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		p.cmd.Wait()
		p.elapsed = time.Since(p.start)
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to end (failing the test after timeout) and
// returns its result; Code is -1 when a signal ended it.
func (p *proc) wait(t *testing.T, timeout time.Duration) result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("syncer %s: still running after %s; killed\n--- stderr:\n%s", strings.Join(p.args, " "), timeout, tail(p.stderr.String(), 4000))
	}
	return result{Code: p.cmd.ProcessState.ExitCode(), Stdout: p.stdout.String(), Stderr: p.stderr.String(), Elapsed: p.elapsed}
}

// waitUntil polls cond every 20 ms until it holds. It fails the test if p
// ends first or timeout (a safety net) passes.
// writing counts the files under dir that the process has open for a write
// in progress: unnamed ones (O_TMPFILE, shown as "dir/#inode (deleted)")
// and those under a temporary name.
func (p *proc) writing(dir string) int {
	fds := fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid)
	entries, _ := os.ReadDir(fds)
	n := 0
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(fds, e.Name()))
		if err != nil || !strings.HasPrefix(target, dir+string(filepath.Separator)) {
			continue
		}
		if strings.HasSuffix(target, " (deleted)") || strings.HasPrefix(filepath.Base(target), tempPrefix) {
			n++
		}
	}
	return n
}

func (p *proc) waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if p.exited() {
			t.Fatalf("syncer %s ended (%s) before %s\n--- stdout:\n%s\n--- stderr:\n%s", strings.Join(p.args, " "),
				p.cmd.ProcessState, what, tail(p.stdout.String(), 4000), tail(p.stderr.String(), 4000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s; giving up\n--- stderr:\n%s", timeout, what, tail(p.stderr.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// config describes a test's syncer.hcl: one sync "data" from a local "src"
// to a local "dst".
type config struct {
	Src, Dst, State string
	Bandwidth       string // limits.bandwidth, e.g. "2MiB/s"; "" = unset
	Workers         int    // limits.workers; 0 = unset (auto)
	Compare         string // sync.compare; "" = default
}

const syncName = "data"

func (c config) write(t *testing.T, path string) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "state {\n  path = %s\n}\n\n", hclString(c.State))
	if c.Bandwidth != "" || c.Workers > 0 {
		b.WriteString("limits {\n")
		if c.Workers > 0 {
			fmt.Fprintf(&b, "  workers = %d\n", c.Workers)
		}
		if c.Bandwidth != "" {
			fmt.Fprintf(&b, "  bandwidth = %s\n", hclString(c.Bandwidth))
		}
		b.WriteString("}\n\n")
	}
	fmt.Fprintf(&b, "backend \"local\" \"src\" {\n  path = %s\n}\n\n", hclString(c.Src))
	fmt.Fprintf(&b, "backend \"local\" \"dst\" {\n  path = %s\n}\n\n", hclString(c.Dst))
	fmt.Fprintf(&b, "sync %q {\n  from = backend.local.src\n  to   = backend.local.dst\n", syncName)
	if c.Compare != "" {
		fmt.Fprintf(&b, "  compare = %s\n", hclString(c.Compare))
	}
	b.WriteString("}\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hclString quotes s as an HCL string literal.
func hclString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "${", "$${", "%{", "%%{")
	return `"` + r.Replace(s) + `"`
}

// layout is a test's folders: base/src, base/dst, base/state/syncer.db and
// base/syncer.hcl.
type layout struct {
	Base, Src, Dst, State, Config string
}

func newLayout(t *testing.T) layout {
	t.Helper()
	noteSourceInputs.Do(statModuleSources)
	base := t.TempDir()
	l := layout{
		Base:   base,
		Src:    filepath.Join(base, "src"),
		Dst:    filepath.Join(base, "dst"),
		State:  filepath.Join(base, "state", "syncer.db"),
		Config: filepath.Join(base, "syncer.hcl"),
	}
	for _, d := range []string{l.Src, l.Dst, filepath.Dir(l.State)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func (l layout) config() config { return config{Src: l.Src, Dst: l.Dst, State: l.State} }

// applySummary is the counts of "Apply complete! N created, N updated, N deleted, ...".
type applySummary struct{ Created, Updated, Deleted int }

var applyCompleteRE = regexp.MustCompile(`(?m)^Apply complete! (\d+) created, (\d+) updated, (\d+) deleted, .*$`)

func parseApplyComplete(t *testing.T, res result) (applySummary, string) {
	t.Helper()
	m := applyCompleteRE.FindStringSubmatch(res.Stdout)
	if m == nil {
		t.Fatalf("no \"Apply complete! ...\" line on stdout\n%s", res)
	}
	var s applySummary
	s.Created, _ = strconv.Atoi(m[1])
	s.Updated, _ = strconv.Atoi(m[2])
	s.Deleted, _ = strconv.Atoi(m[3])
	return s, m[0]
}

// ---- generated data ----

// seedFor derives a ChaCha8 seed from a name, so that data is deterministic.
func seedFor(name string) [32]byte { return sha256.Sum256([]byte("syncer-e2e/" + name)) }

// genTree writes n files with sizes uniform in [minSize, maxSize] below
// root, in nested folders (dNN/eN/), with deterministic pseudo-random
// content. It returns the total bytes written.
func genTree(t *testing.T, root, name string, n, minSize, maxSize int) int64 {
	t.Helper()
	data := rand.NewChaCha8(seedFor(name + "/data"))
	sizes := rand.New(rand.NewPCG(uint64(n), uint64(maxSize)))
	buf := make([]byte, maxSize)
	var total int64
	for i := range n {
		rel := filepath.Join(fmt.Sprintf("d%02d", i%23), fmt.Sprintf("e%d", i%5), fmt.Sprintf("file-%05d.bin", i))
		size := minSize + sizes.IntN(maxSize-minSize+1)
		b := buf[:size]
		data.Read(b)
		writeFile(t, filepath.Join(root, rel), b)
		total += int64(size)
	}
	return total
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ---- comparing trees ----

// hashFile streams path through sha256.
func hashFile(path string, buf []byte) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// assertTreesEqual checks that dst holds exactly the regular files of src,
// byte for byte (sha256, streamed), and no temporary file. It holds no
// per-file state, so it works on any number of files. It returns the number
// of files compared.
func assertTreesEqual(t *testing.T, src, dst string) int {
	t.Helper()
	const maxReports = 10
	problems := 0
	report := func(format string, args ...any) {
		problems++
		if problems <= maxReports {
			t.Errorf(format, args...)
		}
	}
	buf := make([]byte, 256<<10)
	files := 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		files++
		rel, _ := filepath.Rel(src, p)
		q := filepath.Join(dst, rel)
		fi, err := os.Lstat(q)
		if err != nil {
			report("dst is missing %s: %v", rel, err)
			return nil
		}
		if !fi.Mode().IsRegular() {
			report("dst %s is not a regular file (%s)", rel, fi.Mode())
			return nil
		}
		sh, sn, err := hashFile(p, buf)
		if err != nil {
			return err
		}
		if fi.Size() != sn {
			report("dst %s: %d bytes, src has %d", rel, fi.Size(), sn)
			return nil
		}
		dh, _, err := hashFile(q, buf)
		if err != nil {
			return err
		}
		if sh != dh {
			report("dst %s: sha256 %s, src has %s", rel, dh, sh)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", src, err)
	}
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dst, p)
		if strings.HasPrefix(d.Name(), tempPrefix) {
			report("dst holds a temporary file: %s", rel)
			return nil
		}
		if _, err := os.Lstat(filepath.Join(src, rel)); err != nil {
			report("dst holds %s, which src does not have", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dst, err)
	}
	if problems > maxReports {
		t.Errorf("... and %d more differences between %s and %s", problems-maxReports, src, dst)
	}
	return files
}

// fileID identifies one version of a file: a rewrite through a temporary
// file and a rename changes the inode.
type fileID struct {
	Ino   uint64
	MTime time.Time
	CTime time.Time
	Size  int64
}

func statID(path string) (fileID, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, fmt.Errorf("%s: no Stat_t", path)
	}
	return fileID{Ino: st.Ino, MTime: fi.ModTime(), CTime: time.Unix(st.Ctim.Sec, st.Ctim.Nsec), Size: fi.Size()}, nil
}

// dstSnapshot is what the destination folder holds: the finished files by
// key (slash-separated) and the number of temporary files.
type dstSnapshot struct {
	Files map[string]fileID
	Temps []string
}

func snapshotDst(t *testing.T, root string) dstSnapshot {
	t.Helper()
	s := dstSnapshot{Files: map[string]fileID{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(d.Name(), tempPrefix) {
			s.Temps = append(s.Temps, filepath.ToSlash(rel))
			return nil
		}
		id, err := statID(p)
		if err != nil {
			return err
		}
		s.Files[filepath.ToSlash(rel)] = id
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", root, err)
	}
	return s
}

// countFiles counts the regular files below root, excluding temporary ones.
func countFiles(root string) int {
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), tempPrefix) {
			n++
		}
		return nil
	})
	return n
}

// ---- reading the state ----

// openStateRO opens the SQLite state read-only, as a second process would.
func openStateRO(path string) (*sql.DB, error) {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "5000")
	u.RawQuery = q.Encode()
	return sql.Open("sqlite3", u.String())
}

// stateCount runs a count query against the state; errors are returned (the
// file may not exist or have its schema yet).
func stateCount(path, query string) (int, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	db, err := openStateRO(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(query).Scan(&n)
	return n, err
}

func mustStateCount(t *testing.T, path, query string) int {
	t.Helper()
	n, err := stateCount(path, query)
	if err != nil {
		t.Fatalf("state %s: %s: %v", path, query, err)
	}
	return n
}

// recordedKeys returns the keys the state records for the sync.
func recordedKeys(t *testing.T, path, sync string) map[string]bool {
	t.Helper()
	db, err := openStateRO(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT key FROM objects WHERE sync = ?`, sync)
	if err != nil {
		t.Fatalf("state %s: %v", path, err)
	}
	defer rows.Close()
	keys := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// mib formats KiB as MiB.
func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }
