package e2e

// Helpers of the S3 end-to-end tests: the versitygw servers (started once
// per test binary), buckets, configurations pointing syncer at them, and
// rclone from Debian's packages as the independent client that checks what
// syncer wrote.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends/s3/s3test"
)

// s3RSSLimitKiB bounds the peak RSS of a syncer streaming a large object to
// or from S3 (issue 3: under 96 MiB whatever the object's size).
const s3RSSLimitKiB = 96 << 10

// s3DirPrefix starts the name of the folder holding the servers' data.
const s3DirPrefix = "syncer-e2e-s3-"

var (
	s3Once   sync.Once
	s3Env    *s3test.Env
	s3EnvErr error
	s3Seq    atomic.Int64 // bucket names
)

// needS3 returns the servers, started on first use: two plain-HTTP
// versitygw instances with different keys (A and B, two "accounts" that
// cannot see each other's buckets) and one over TLS. Without a versitygw
// binary the test is skipped, except in CI, where it fails.
//
// The servers live as long as the test binary: they are started with
// Pdeathsig, and a later run removes the data folders of runs that died.
func needS3(t *testing.T) *s3test.Env {
	t.Helper()
	noteSourceInputs.Do(statModuleSources)
	s3Once.Do(func() { s3Env, s3EnvErr = startS3Env() })
	if s3Env == nil {
		if s3test.InCI() {
			t.Fatalf("real S3 servers unavailable in CI: %v", s3EnvErr)
		}
		t.Skipf("real S3 servers unavailable: %v", s3EnvErr)
	}
	return s3Env
}

func startS3Env() (*s3test.Env, error) {
	bin := s3test.VersityBinary()
	if bin == "" {
		return nil, fmt.Errorf("no versitygw binary: set %s or run scripts/s3-server.sh install", s3test.EnvBinary)
	}
	sweepStaleS3Dirs()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", s3DirPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env, err := s3test.StartEnv(ctx, bin, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return env, nil
}

// sweepStaleS3Dirs removes the server folders of earlier test binaries
// that are no longer running.
func sweepStaleS3Dirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), s3DirPrefix+"*"))
	for _, m := range matches {
		rest := strings.TrimPrefix(filepath.Base(m), s3DirPrefix)
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			os.RemoveAll(m)
		}
	}
}

// s3Account is the name of the environment variables that hold a server's
// keys for syncer (configs read them with env()).
func s3Account(env *s3test.Env, srv *s3test.Server) string {
	switch srv {
	case env.A:
		return "A"
	case env.B:
		return "B"
	case env.TLS:
		return "TLS"
	}
	panic("unknown S3 server " + srv.Endpoint)
}

func s3KeyVar(acct string) string    { return "E2E_S3_" + acct + "_KEY_ID" }
func s3SecretVar(acct string) string { return "E2E_S3_" + acct + "_SECRET" }

// s3SyncerEnv is syncerEnv with every account's keys in the environment
// and logs at info level (so the copy mode is logged), then extra.
func s3SyncerEnv(env *s3test.Env, extra ...string) []string {
	var kv []string
	for _, srv := range []*s3test.Server{env.A, env.B, env.TLS} {
		acct := s3Account(env, srv)
		kv = append(kv, s3KeyVar(acct)+"="+srv.AccessKey, s3SecretVar(acct)+"="+srv.SecretKey)
	}
	kv = append(kv, "SYNCER_LOG=info")
	return syncerEnv(append(kv, extra...)...)
}

// runS3Syncer runs syncer with s3SyncerEnv and checks that no secret key
// shows in its output.
func runS3Syncer(t *testing.T, env *s3test.Env, dir string, args ...string) result {
	t.Helper()
	res := runSyncer(t, dir, s3SyncerEnv(env), args...)
	checkNoSecrets(t, env, res)
	return res
}

// checkNoSecrets fails the test if a secret key appears in res's output.
func checkNoSecrets(t *testing.T, env *s3test.Env, res result) {
	t.Helper()
	for _, srv := range []*s3test.Server{env.A, env.B, env.TLS} {
		if strings.Contains(res.Stdout, srv.SecretKey) || strings.Contains(res.Stderr, srv.SecretKey) {
			t.Errorf("syncer printed the secret access key of %s", srv.Endpoint)
		}
	}
}

// newS3Bucket creates a fresh bucket on srv. The test's cleanup removes its
// folder from the server's store (data and multipart uploads alike).
func newS3Bucket(t *testing.T, srv *s3test.Server, what string) string {
	t.Helper()
	name := fmt.Sprintf("e2e-%d-%s", s3Seq.Add(1), what)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.CreateBucket(ctx, name); err != nil {
		t.Fatalf("create bucket %s on %s: %v", name, srv.Endpoint, err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Join(srv.Dir, "data", name)) })
	return name
}

// headObject returns the size and ETag (unquoted) of bucket/key on srv.
func headObject(t *testing.T, srv *s3test.Server, bucket, key string) (int64, string, error) {
	t.Helper()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return 0, "", err
	}
	return aws.ToInt64(out.ContentLength), strings.Trim(aws.ToString(out.ETag), `"`), nil
}

// multipartUploads lists the multipart uploads in progress in bucket.
func multipartUploads(t *testing.T, srv *s3test.Server, bucket string) []string {
	t.Helper()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list multipart uploads of %s: %v", bucket, err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// ---- configurations ----

// s3Block is a `backend "s3"` block for one of the test servers.
type s3Block struct {
	Name     string
	Srv      *s3test.Server
	Endpoint string // "" = Srv.Endpoint; e.g. a proxy in front of it
	Bucket   string
	Prefix   string
	PartSize string // e.g. "8MiB"; "" = default
	Extra    []string
}

func (b s3Block) hcl(env *s3test.Env) string {
	ep := b.Endpoint
	if ep == "" {
		ep = b.Srv.Endpoint
	}
	acct := s3Account(env, b.Srv)
	var sb strings.Builder
	fmt.Fprintf(&sb, "backend \"s3\" %q {\n", b.Name)
	fmt.Fprintf(&sb, "  bucket            = %s\n", hclString(b.Bucket))
	if b.Prefix != "" {
		fmt.Fprintf(&sb, "  prefix            = %s\n", hclString(b.Prefix))
	}
	fmt.Fprintf(&sb, "  endpoint          = %s\n", hclString(ep))
	sb.WriteString("  force_path_style  = true\n")
	fmt.Fprintf(&sb, "  access_key_id     = env(%q)\n", s3KeyVar(acct))
	fmt.Fprintf(&sb, "  secret_access_key = env(%q)\n", s3SecretVar(acct))
	if b.Srv.CAFile != "" {
		fmt.Fprintf(&sb, "  ca_bundle         = %s\n", hclString(b.Srv.CAFile))
	}
	if b.PartSize != "" {
		fmt.Fprintf(&sb, "  part_size         = %s\n", hclString(b.PartSize))
	}
	for _, line := range b.Extra {
		fmt.Fprintf(&sb, "  %s\n", line)
	}
	sb.WriteString("}\n")
	return sb.String()
}

func localBlock(name, path string) string {
	return fmt.Sprintf("backend \"local\" %q {\n  path = %s\n}\n", name, hclString(path))
}

// syncBlock is a sync block; attrs are extra lines such as `delete = "managed"`.
func syncBlock(name, from, to string, attrs ...string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "sync %q {\n  from = %s\n  to   = %s\n", name, from, to)
	for _, a := range attrs {
		fmt.Fprintf(&sb, "  %s\n", a)
	}
	sb.WriteString("}\n")
	return sb.String()
}

// writeHCL writes a config: the state, a limits block when limits has
// lines, then blocks.
func writeHCL(t *testing.T, path, state string, limits []string, blocks ...string) {
	t.Helper()
	var sb strings.Builder
	fmt.Fprintf(&sb, "state {\n  path = %s\n}\n\n", hclString(state))
	if len(limits) > 0 {
		sb.WriteString("limits {\n")
		for _, l := range limits {
			fmt.Fprintf(&sb, "  %s\n", l)
		}
		sb.WriteString("}\n\n")
	}
	for _, b := range blocks {
		sb.WriteString(b)
		sb.WriteString("\n")
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// planLines returns the action lines ("+ key", "~ key (...)", "- key")
// of a plan's text output, by symbol.
func planLines(stdout string) map[string][]string {
	m := map[string][]string{}
	for _, line := range strings.Split(stdout, "\n") {
		for _, sym := range []string{"+", "~", "-"} {
			if strings.HasPrefix(line, "  "+sym+" ") {
				m[sym] = append(m[sym], strings.TrimPrefix(line, "  "+sym+" "))
			}
		}
	}
	return m
}

// ---- rclone, the independent client ----

// needRclone returns the rclone binary (Debian's package; .ci/run
// installs it). Missing, it skips the test, except in CI, where it fails.
func needRclone(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("rclone")
	if err != nil {
		if s3test.InCI() {
			t.Fatalf("rclone is needed to check S3 contents independently and is not installed (apt-get install rclone): %v", err)
		}
		t.Skipf("rclone not installed (apt-get install rclone): %v", err)
	}
	return p
}

// remote is an rclone remote for one of the test servers, configured
// through the environment only.
type remote struct {
	Name string // upper case, e.g. "A"
	Srv  *s3test.Server
}

func (r remote) path(bucket string, key ...string) string {
	p := r.Name + ":" + bucket
	if len(key) > 0 {
		p += "/" + strings.Join(key, "/")
	}
	return p
}

// rcloneCmd builds an rclone command over remotes. AWS_CA_BUNDLE is unset:
// rclone 1.60 fails with it; a TLS server's certificate goes in --ca-cert.
func rcloneCmd(t *testing.T, remotes []remote, args ...string) *exec.Cmd {
	t.Helper()
	bin := needRclone(t)
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "RCLONE_") {
			continue
		}
		env = append(env, kv)
	}
	pre := []string{"--config", os.DevNull, "--expect-continue-timeout", "0"}
	for _, r := range remotes {
		p := "RCLONE_CONFIG_" + r.Name + "_"
		env = append(env, p+"TYPE=s3", p+"PROVIDER=Other", p+"ENDPOINT="+r.Srv.Endpoint,
			p+"ACCESS_KEY_ID="+r.Srv.AccessKey, p+"SECRET_ACCESS_KEY="+r.Srv.SecretKey, p+"REGION=us-east-1")
		if r.Srv.CAFile != "" {
			pre = append(pre, "--ca-cert", r.Srv.CAFile)
		}
	}
	cmd := exec.Command(bin, append(pre, args...)...)
	cmd.Env = env
	return cmd
}

// rclone runs rclone and returns its stdout; a non-zero exit fails the test.
func rclone(t *testing.T, remotes []remote, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := rcloneCmd(t, remotes, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rclone %s: %v\n%s", strings.Join(args, " "), err, tail(stderr.String(), 4000))
	}
	return stdout.String()
}

// rcloneList returns the keys of bucket (recursively) with their sizes.
func rcloneList(t *testing.T, r remote, bucket string) map[string]int64 {
	t.Helper()
	out := rclone(t, []remote{r}, "lsjson", "-R", "--files-only", r.path(bucket))
	var entries []struct {
		Path string
		Size int64
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("rclone lsjson: %v\n%s", err, tail(out, 2000))
	}
	m := make(map[string]int64, len(entries))
	for _, e := range entries {
		m[e.Path] = e.Size
	}
	return m
}

// rcloneSHA256 streams bucket/key through `rclone cat` into sha256.
func rcloneSHA256(t *testing.T, r remote, bucket, key string) (string, int64) {
	t.Helper()
	h := sha256.New()
	cw := &countWriter{w: h}
	var stderr bytes.Buffer
	cmd := rcloneCmd(t, []remote{r}, "cat", r.path(bucket, key))
	cmd.Stdout, cmd.Stderr = cw, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rclone cat %s: %v\n%s", r.path(bucket, key), err, tail(stderr.String(), 2000))
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// assertBucketMatchesDir checks with rclone that bucket holds exactly the
// regular files below dir, key for path, byte for byte (sha256 of `rclone
// cat`). It returns the number of keys compared.
func assertBucketMatchesDir(t *testing.T, r remote, bucket, dir string) int {
	t.Helper()
	keys := rcloneList(t, r, bucket)
	buf := make([]byte, 256<<10)
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		key := filepath.ToSlash(rel)
		size, ok := keys[key]
		if !ok {
			t.Errorf("bucket %s lacks %q", bucket, key)
			return nil
		}
		delete(keys, key)
		n++
		want, wantSize, err := hashFile(p, buf)
		if err != nil {
			return err
		}
		if size != wantSize {
			t.Errorf("bucket %s: %q is %d bytes, the local file %d", bucket, key, size, wantSize)
			return nil
		}
		got, gotSize := rcloneSHA256(t, r, bucket, key)
		if got != want || gotSize != wantSize {
			t.Errorf("bucket %s: %q has sha256 %s (%d bytes), the local file %s (%d bytes)", bucket, key, got, gotSize, want, wantSize)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking %s: %v", dir, err)
	}
	for k := range keys {
		t.Errorf("bucket %s holds %q, which %s does not have", bucket, k, dir)
	}
	return n
}

// assertBucketsEqual checks with rclone that two buckets hold the same keys
// with the same bytes (`rclone check --download` reads both sides).
func assertBucketsEqual(t *testing.T, src remote, srcBucket string, dst remote, dstBucket string) {
	t.Helper()
	remotes := []remote{src}
	if dst.Name != src.Name {
		remotes = append(remotes, dst)
	}
	var stdout, stderr bytes.Buffer
	cmd := rcloneCmd(t, remotes, "check", "--download", src.path(srcBucket), dst.path(dstBucket))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("rclone check --download %s %s: %v (the buckets differ)\n%s", src.path(srcBucket), dst.path(dstBucket), err, tail(stderr.String(), 4000))
	}
	a, b := rcloneList(t, src, srcBucket), rcloneList(t, dst, dstBucket)
	if len(a) != len(b) {
		t.Errorf("%s holds %d keys, %s %d", src.path(srcBucket), len(a), dst.path(dstBucket), len(b))
	}
	for k, sz := range a {
		if bsz, ok := b[k]; !ok || bsz != sz {
			t.Errorf("%q: %d bytes in %s, %d (present: %v) in %s", k, sz, src.path(srcBucket), bsz, ok, dst.path(dstBucket))
		}
	}
}

// ---- data ----

// writeSeeded writes size bytes of deterministic pseudo-random data
// (seeded by name) to path, creating folders.
func writeSeeded(t *testing.T, path, name string, size int) {
	t.Helper()
	writeFile(t, path, seeded(name, size))
}

// largeFile is a generated file and the digests the tests check it by.
type largeFile struct {
	Path   string
	Size   int64
	SHA256 string
	// ETag is the multipart ETag (md5 of the part md5s, "-N") that an
	// upload in parts of PartSize produces.
	ETag     string
	PartSize int64
}

// genPartedFile streams size bytes of deterministic pseudo-random data
// (seeded by name) to path through a 1 MiB buffer, computing its sha256
// and its multipart ETag for partSize.
func genPartedFile(t *testing.T, path, name string, size, partSize int64) largeFile {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	whole := sha256.New()
	pe := &partETagWriter{size: partSize, part: md5.New(), all: md5.New()}
	w := bufio.NewWriterSize(io.MultiWriter(f, whole, pe), 1<<20)
	if _, err := io.CopyN(w, rand.NewChaCha8(seedFor(name)), size); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return largeFile{Path: path, Size: size, SHA256: hex.EncodeToString(whole.Sum(nil)), ETag: pe.etag(), PartSize: partSize}
}

// md5File returns the hex MD5 of a file.
func md5File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// multipartETagOf computes the multipart ETag of a file for partSize.
func multipartETagOf(t *testing.T, path string, partSize int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pe := &partETagWriter{size: partSize, part: md5.New(), all: md5.New()}
	if _, err := io.CopyBuffer(pe, f, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	return pe.etag()
}

// partETagWriter computes md5(md5(part 1) || md5(part 2) || ...)-N.
type partETagWriter struct {
	size, inPart int64
	parts        int
	part, all    interface {
		io.Writer
		Sum([]byte) []byte
		Reset()
	}
}

func (p *partETagWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		k := min(int64(len(b)), p.size-p.inPart)
		p.part.Write(b[:k])
		p.inPart += k
		b = b[k:]
		if p.inPart == p.size {
			p.endPart()
		}
	}
	return n, nil
}

func (p *partETagWriter) endPart() {
	p.all.Write(p.part.Sum(nil))
	p.part.Reset()
	p.inPart = 0
	p.parts++
}

func (p *partETagWriter) etag() string {
	if p.inPart > 0 || p.parts == 0 {
		p.endPart()
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(p.all.Sum(nil)), p.parts)
}

// requireS3FreeSpace fails (never skips) when the filesystem of any of dirs
// has less than need bytes available.
func requireS3FreeSpace(t *testing.T, need int64, what string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatalf("statfs %s: %v", dir, err)
		}
		if avail := int64(st.Bavail) * int64(st.Bsize); avail < need {
			t.Fatalf("this test needs %.1f GiB free under %s (%s); only %.1f GiB available. Free some space or point TMPDIR elsewhere.",
				float64(need)/(1<<30), dir, what, float64(avail)/(1<<30))
		}
	}
}

// checkS3RSS fails the test when a measured run reached s3RSSLimitKiB.
func checkS3RSS(t *testing.T, what string, res result) {
	t.Helper()
	if res.MaxRSSKiB <= 0 {
		t.Errorf("%s: no peak RSS measured", what)
	} else if res.MaxRSSKiB >= s3RSSLimitKiB {
		t.Errorf("%s: peak RSS %s, want < %s", what, mib(res.MaxRSSKiB), mib(s3RSSLimitKiB))
	}
}
