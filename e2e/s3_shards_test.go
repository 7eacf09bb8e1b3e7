package e2e

// Shards (issue 13): N syncer processes, each with -shard I/N, copy a tree
// to a bucket of the real S3 server through a counting proxy. Their union
// must equal one unsharded run's bucket byte for byte (read back with the
// AWS SDK, not syncer), every key written exactly once, by one shard.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends/s3/s3test"
	"syncer/shard"
)

// shardRig is a local source, a bucket behind a counting proxy, and a
// working folder holding syncer.hcl and the shards' local states.
type shardRig struct {
	env    *s3test.Env
	proxy  *s3test.Proxy
	bucket string
	src    string
	work   string
	state  string // the unsharded state path; shards add their suffix

	mu      sync.Mutex
	writes  map[string]int // key -> PutObject + CompleteMultipartUpload
	parts   map[string]int // key -> UploadPart
	deletes map[string]int // key -> DeleteObject, or a key in a DeleteObjects
}

func newShardRig(t *testing.T, what string) *shardRig {
	t.Helper()
	env := needS3(t)
	base := t.TempDir()
	r := &shardRig{env: env, bucket: newS3Bucket(t, env.A, what), src: filepath.Join(base, "src"),
		work: filepath.Join(base, "work"), state: filepath.Join(base, "work", "syncer.db")}
	if err := os.MkdirAll(r.work, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	r.proxy = p
	r.reset()
	p.SetOnRequest(r.observe)
	return r
}

func (r *shardRig) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes, r.parts, r.deletes = map[string]int{}, map[string]int{}, map[string]int{}
	r.proxy.Reset()
}

// observe counts the writes and deletes per key of the bucket.
func (r *shardRig) observe(op string, req *http.Request) {
	_, key, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/"), "/")
	var batch []string
	if op == "DeleteObjects" {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		var d struct {
			Objects []struct{ Key string } `xml:"Object"`
		}
		xml.Unmarshal(body, &d)
		for _, o := range d.Objects {
			batch = append(batch, o.Key)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch op {
	case "PutObject", "CompleteMultipartUpload":
		r.writes[key]++
	case "UploadPart":
		r.parts[key]++
	case "DeleteObject":
		r.deletes[key]++
	case "DeleteObjects":
		for _, k := range batch {
			r.deletes[k]++
		}
	}
}

func (r *shardRig) counts() (writes, parts, deletes map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cp := func(m map[string]int) map[string]int {
		out := make(map[string]int, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return cp(r.writes), cp(r.parts), cp(r.deletes)
}

// config writes syncer.hcl: local src -> the bucket through the proxy, in
// 5 MiB parts from 5 MiB up, with the sync's extra attributes.
func (r *shardRig) config(t *testing.T, limits []string, attrs ...string) {
	t.Helper()
	writeHCL(t, filepath.Join(r.work, "syncer.hcl"), r.state, limits,
		localBlock("src", r.src),
		s3Block{Name: "bucket", Srv: r.env.A, Endpoint: r.proxy.URL, Bucket: r.bucket, PartSize: "5MiB",
			Extra: []string{`upload_cutoff = "5MiB"`}}.hcl(r.env),
		syncBlock(syncName, "backend.local.src", "backend.s3.bucket", attrs...))
}

// applyShards runs shards 0..n-1 of apply as n concurrent processes and
// returns their results.
func (r *shardRig) applyShards(t *testing.T, n int, extra ...string) []result {
	t.Helper()
	procs := make([]*proc, n)
	for i := range n {
		args := append([]string{"apply", "-auto-approve", "-shard", fmt.Sprintf("%d/%d", i, n)}, extra...)
		procs[i] = startSyncer(t, r.work, s3SyncerEnv(r.env), args...)
	}
	out := make([]result, n)
	for i, p := range procs {
		out[i] = p.wait(t, commandTimeout)
		checkNoSecrets(t, r.env, out[i])
		if out[i].Code != 0 {
			t.Fatalf("shard %d/%d: exit %d\n%s", i, n, out[i].Code, out[i])
		}
	}
	return out
}

func (r *shardRig) shardState(i, n int) string {
	return shard.Shard{Index: i, Count: n}.Name(r.state)
}

// genShardSource writes small files and a few multipart-sized ones.
func genShardSource(t *testing.T, root string, small, large int) (keys int) {
	t.Helper()
	genTree(t, root, "shards", small, 1, 4096)
	for i := range large {
		name := fmt.Sprintf("large/video-%d.bin", i)
		genPartedFile(t, filepath.Join(root, name), "shards/"+name, int64(6<<20+i*(3<<20)), 5<<20)
	}
	return small + large
}

// bucketDigests reads every object of bucket with the AWS SDK: key ->
// sha256 of its bytes.
func bucketDigests(t *testing.T, srv *s3test.Server, bucket string) map[string]string {
	t.Helper()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := map[string]string{}
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("list %s: %v", bucket, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatalf("get %s/%s: %v", bucket, key, err)
			}
			h := sha256.New()
			n, err := io.Copy(h, obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatalf("read %s/%s: %v", bucket, key, err)
			}
			if n != aws.ToInt64(o.Size) {
				t.Errorf("%s/%s: read %d bytes, listed %d", bucket, key, n, aws.ToInt64(o.Size))
			}
			out[key] = hex.EncodeToString(h.Sum(nil))
		}
	}
	return out
}

// assertSameDigests reports keys missing, extra or different in got.
func assertSameDigests(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			if bad++; bad <= 10 {
				t.Errorf("%s: %q is %q (present %v), want %q", what, k, g, ok, w)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("%s: %q should not be there", what, k)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d keys differ (of %d wanted, %d present)", what, bad, len(want), len(got))
	}
}

// unshardedReference copies src into a fresh bucket with one unsharded
// apply (no proxy) and returns its digests.
func unshardedReference(t *testing.T, env *s3test.Env, src string) map[string]string {
	t.Helper()
	bucket := newS3Bucket(t, env.A, "unsharded")
	dir := t.TempDir()
	writeHCL(t, filepath.Join(dir, "syncer.hcl"), filepath.Join(dir, "syncer.db"), nil,
		localBlock("src", src),
		s3Block{Name: "bucket", Srv: env.A, Bucket: bucket, PartSize: "5MiB", Extra: []string{`upload_cutoff = "5MiB"`}}.hcl(env),
		syncBlock(syncName, "backend.local.src", "backend.s3.bucket"))
	res := runS3Syncer(t, env, dir, "apply", "-auto-approve")
	if res.Code != 0 {
		t.Fatalf("unsharded apply: exit %d\n%s", res.Code, res)
	}
	return bucketDigests(t, env.A, bucket)
}

// checkShardStates checks that the shards' states record disjoint key
// sets, each key in the shard its hash names, together all of want.
func (r *shardRig) checkShardStates(t *testing.T, n int, want map[string]string) {
	t.Helper()
	owner := map[string]int{}
	for i := range n {
		for k := range recordedKeys(t, r.shardState(i, n), syncName) {
			if j, dup := owner[k]; dup {
				t.Errorf("%q is recorded by shards %d and %d of %d", k, j, i, n)
			}
			owner[k] = i
			if of := shard.Of(k, n); of != i {
				t.Errorf("shard %d of %d recorded %q, which belongs to shard %d", i, n, k, of)
			}
		}
	}
	for k := range want {
		if _, ok := owner[k]; !ok {
			t.Errorf("no shard of %d records %q", n, k)
		}
	}
	if len(owner) != len(want) {
		t.Errorf("the %d shards record %d keys, want %d", n, len(owner), len(want))
	}
}

// TestS3ShardsUnionIsOneRun: 4 concurrent shards over ~3,000 objects (a few
// multipart) write what one unsharded run writes, each key exactly once;
// then N = 3 copies nothing.
func TestS3ShardsUnionIsOneRun(t *testing.T) {
	r := newShardRig(t, "shards")
	total := genShardSource(t, r.src, 3000, 3)
	want := unshardedReference(t, r.env, r.src)
	if len(want) != total {
		t.Fatalf("the unsharded run wrote %d objects, want %d", len(want), total)
	}
	r.config(t, nil)

	start := time.Now()
	results := r.applyShards(t, 4)
	created := 0
	for i, res := range results {
		s, line := parseApplyComplete(t, res)
		t.Logf("shard %d/4: %s", i, line)
		created += s.Created
	}
	t.Logf("4 shards: %d objects in %.1fs; requests %v", total, time.Since(start).Seconds(), r.proxy.Counts())
	if created != total {
		t.Errorf("the shards created %d objects together, want %d", created, total)
	}
	writes, parts, _ := r.counts()
	for k := range want {
		if writes[k] != 1 {
			t.Errorf("%q was written %d times, want once", k, writes[k])
		}
	}
	for k, n := range writes {
		if _, ok := want[k]; !ok {
			t.Errorf("%q was written %d times and is not a source key", k, n)
		}
	}
	for i := range 3 {
		k := fmt.Sprintf("large/video-%d.bin", i)
		if wantParts := (6<<20 + i*(3<<20) + 5<<20 - 1) / (5 << 20); parts[k] != wantParts {
			t.Errorf("%q: %d UploadPart requests, want %d (a multipart upload of 5 MiB parts)", k, parts[k], wantParts)
		}
	}
	assertSameDigests(t, "the 4 shards' bucket vs the unsharded run's", bucketDigests(t, r.env.A, r.bucket), want)
	r.checkShardStates(t, 4, want)

	// show -shards 4 sums them.
	res := runS3Syncer(t, r.env, r.work, "show", "-shards", "4")
	mustCode(t, "show -shards 4", res, 0, fmt.Sprintf("  %d objects, ", total), "every shard finished its last apply")

	// N from 4 to 3: the new shards adopt what is in place, copying nothing.
	r.reset()
	for i, res := range r.applyShards(t, 3) {
		if s, line := parseApplyComplete(t, res); s.Created+s.Updated+s.Deleted != 0 {
			t.Errorf("shard %d/3 after 4 shards: %s; want nothing copied", i, line)
		}
	}
	c := r.proxy.Counts()
	for _, op := range []string{"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "CopyObject", "DeleteObject", "DeleteObjects"} {
		if c[op] != 0 {
			t.Errorf("3 shards after 4: %d %s requests, want none (requests %v)", c[op], op, c)
		}
	}
	r.checkShardStates(t, 3, want)
	for i := range 3 {
		if res := runS3Syncer(t, r.env, r.work, "plan", "-detailed-exitcode", "-shard", fmt.Sprintf("%d/3", i)); res.Code != 0 {
			t.Errorf("plan -shard %d/3 after adopting: exit %d, want 0 (no changes)\n%s", i, res.Code, res)
		}
	}
}

// TestS3ShardsMirrorDeletes: with delete = "all", 4 shards delete each
// extra destination key exactly once, each by the shard its hash names;
// max_delete bounds the whole sync, so each shard gets ceil(max/4).
func TestS3ShardsMirrorDeletes(t *testing.T) {
	r := newShardRig(t, "shards-mirror")
	total := genShardSource(t, r.src, 300, 0)
	r.config(t, nil, `delete = "all"`)
	r.applyShards(t, 4)

	c, err := r.env.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	const extra = 60
	perShard := make([]int, 4)
	for i := range extra {
		k := fmt.Sprintf("stale/old-%03d.txt", i)
		perShard[shard.Of(k, 4)]++
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(k),
			Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	most := 0
	for _, n := range perShard {
		most = max(most, n)
	}

	// A max_delete of the extras' count is too little once split in 4
	// (the busiest shard holds more than a quarter): that shard refuses.
	r.config(t, []string{fmt.Sprintf("max_delete = %d", 4*(most-1))}, `delete = "all"`)
	res := runS3Syncer(t, r.env, r.work, "plan", "-shard", fmt.Sprintf("%d/4", indexOf(perShard, most)))
	mustCode(t, "plan of the busiest shard", res, 1, fmt.Sprintf("deletes %d objects, more than its share of limits.max_delete (%d: ceil(max_delete / 4)", most, most-1))

	r.config(t, []string{fmt.Sprintf("max_delete = %d", extra)}, `delete = "all"`)
	r.reset()
	for i, res := range r.applyShards(t, 4) {
		s, line := parseApplyComplete(t, res)
		if s.Deleted != perShard[i] || s.Created+s.Updated != 0 {
			t.Errorf("shard %d/4: %s; want %d deleted, nothing copied", i, line, perShard[i])
		}
	}
	_, _, deletes := r.counts()
	for i := range extra {
		k := fmt.Sprintf("stale/old-%03d.txt", i)
		if deletes[k] != 1 {
			t.Errorf("%q was deleted %d times, want once", k, deletes[k])
		}
	}
	if len(deletes) != extra {
		t.Errorf("%d keys were deleted, want the %d extras: %v", len(deletes), extra, deletes)
	}
	if got := len(bucketDigests(t, r.env.A, r.bucket)); got != total {
		t.Errorf("the bucket holds %d objects after the mirror, want %d", got, total)
	}
}

func indexOf(s []int, v int) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// TestS3ShardKilledResumes: 4 shards run at once; the one holding a
// multipart object is slowed and killed with SIGKILL mid-upload, then
// started again. It resumes the upload (only the unrecorded parts are
// sent) and the union equals one unsharded run.
func TestS3ShardKilledResumes(t *testing.T) {
	r := newShardRig(t, "shards-kill")
	total := genShardSource(t, r.src, 600, 1)
	const big = "large/video-0.bin" // 6 MiB: 2 parts of 5 MiB
	want := unshardedReference(t, r.env, r.src)
	if len(want) != total {
		t.Fatalf("the unsharded run wrote %d objects, want %d", len(want), total)
	}
	victim := shard.Of(big, 4)
	r.config(t, nil)

	// The others run freely, the victim throttled, so the kill lands
	// within its multipart upload.
	others := make([]*proc, 0, 3)
	for i := range 4 {
		if i != victim {
			others = append(others, startSyncer(t, r.work, s3SyncerEnv(r.env), "apply", "-auto-approve", "-shard", fmt.Sprintf("%d/4", i)))
		}
	}
	slow := filepath.Join(r.work, "slow.hcl")
	data, err := os.ReadFile(filepath.Join(r.work, "syncer.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	// Same syncs, same config hash: limits are not part of it.
	if err := os.WriteFile(slow, append([]byte("limits {\n  bandwidth = \"1MiB/s\"\n}\n"), data...), 0o644); err != nil {
		t.Fatal(err)
	}
	state := r.shardState(victim, 4)
	// -config slow.hcl keeps the state path: it is set in the file.
	p := startSyncer(t, r.work, s3SyncerEnv(r.env), "apply", "-auto-approve", "-config", slow, "-shard", fmt.Sprintf("%d/4", victim))
	p.waitUntil(t, "a part of "+big+" recorded", waitGuard, func() bool {
		n, err := stateCount(state, `SELECT count(*) FROM upload_parts`)
		return err == nil && n >= 1
	})
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first := p.wait(t, waitGuard)
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the shard was not killed by SIGKILL: %s\n%s", p.cmd.ProcessState, first)
	}
	for _, o := range others {
		if res := o.wait(t, commandTimeout); res.Code != 0 {
			t.Fatalf("another shard: exit %d\n%s", res.Code, res)
		}
	}
	if _, _, err := headObject(t, r.env.A, r.bucket, big); err == nil {
		t.Errorf("%s is visible before its upload completed", big)
	}
	res := runS3Syncer(t, r.env, r.work, "show", "-shards", "4")
	mustCode(t, "show -shards 4 after the kill", res, 0, fmt.Sprintf("  not finished: %d/4", victim))

	_, partsBefore, _ := r.counts()
	recorded := mustStateCount(t, state, `SELECT count(*) FROM upload_parts`)
	again := runS3Syncer(t, r.env, r.work, "apply", "-auto-approve", "-shard", fmt.Sprintf("%d/4", victim))
	mustCode(t, "the killed shard again", again, 0, "Apply complete!")
	writes, parts, _ := r.counts()
	t.Logf("killed shard %d/4 with %d of 2 parts recorded; resumed: %d UploadPart requests in all for %s", victim, recorded, parts[big], big)
	if sent := parts[big] - partsBefore[big]; sent > 2-recorded {
		t.Errorf("the resumed shard sent %d parts of %s; %d of 2 were recorded, so at most %d were due", sent, big, recorded, 2-recorded)
	}
	if writes[big] != 1 {
		t.Errorf("%s was completed %d times, want once", big, writes[big])
	}
	for k := range want {
		if writes[k] < 1 {
			t.Errorf("%q was never written", k)
		}
	}
	assertSameDigests(t, "the shards' bucket after the kill vs the unsharded run's", bucketDigests(t, r.env.A, r.bucket), want)
	r.checkShardStates(t, 4, want)
	if ups := multipartUploads(t, r.env.A, r.bucket); len(ups) != 0 {
		t.Errorf("multipart uploads left in progress: %q", ups)
	}
}
