package e2e

// scripts/indexed-job-local.sh runs k8s/indexed-job.yaml's container args
// for each index as a local process, as the Job controller would start its
// pods, against the test S3 server with remote state.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestIndexedJobLocal(t *testing.T) {
	env := needS3(t)
	base := t.TempDir()
	src, work := filepath.Join(base, "src"), filepath.Join(base, "work")
	genTree(t, src, "indexed-job", 400, 1, 8192)
	dst := newS3Bucket(t, env.A, "indexed")
	stateBucket := newS3Bucket(t, env.A, "indexed-state")
	cfg := filepath.Join(base, "syncer.hcl")
	var sb strings.Builder
	sb.WriteString("state {\n  backend = backend.s3.ops\n  key = \"syncer/media.db\"\n}\n\n")
	sb.WriteString(s3Block{Name: "ops", Srv: env.A, Bucket: stateBucket}.hcl(env))
	sb.WriteString(localBlock("src", src))
	sb.WriteString(s3Block{Name: "dst", Srv: env.A, Bucket: dst}.hcl(env))
	sb.WriteString(syncBlock(syncName, "backend.local.src", "backend.s3.dst", `delete = "managed"`))
	if err := os.WriteFile(cfg, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	script, _ := filepath.Abs("../scripts/indexed-job-local.sh")
	manifest, _ := filepath.Abs("../k8s/indexed-job.yaml")
	job := func(round string) {
		t.Helper()
		dir := filepath.Join(work, round)
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", script, manifest, dir)
		cmd.Env = s3SyncerEnv(env, "SYNCER_BIN="+syncerBin, "SYNCER_CONFIG="+cfg)
		out, err := cmd.CombinedOutput()
		var logs bytes.Buffer
		for i := range 4 {
			for _, ext := range []string{"out", "err"} {
				b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("pod-%d.%s", i, ext)))
				fmt.Fprintf(&logs, "--- pod %d %s:\n%s\n", i, ext, tail(string(b), 2000))
			}
		}
		checkNoSecrets(t, env, result{Stdout: string(out), Stderr: logs.String()})
		if err != nil {
			t.Fatalf("indexed-job-local.sh (%s): %v\n%s\n%s", round, err, out, logs.String())
		}
		for i := range 4 {
			if !strings.Contains(string(out), fmt.Sprintf("index %d: exit 0\n", i)) {
				t.Errorf("%s: index %d did not exit 0:\n%s", round, i, out)
			}
		}
		t.Logf("%s:\n%s", round, out)
	}
	job("first")

	// Every index wrote its own shard's state object and released its lock.
	c, err := env.A.Client()
	if err != nil {
		t.Fatal(err)
	}
	listed, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(stateBucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range listed.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	want := "syncer/media.shard-0-of-4.db syncer/media.shard-1-of-4.db syncer/media.shard-2-of-4.db syncer/media.shard-3-of-4.db"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("state bucket holds %q, want %q (one state per shard, no lock left)", got, want)
	}

	// The bucket holds the source, byte for byte (read with the AWS SDK).
	wantDigests := map[string]string{}
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		sum := sha256.Sum256(b)
		wantDigests[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	assertSameDigests(t, "the Job's bucket vs the source", bucketDigests(t, env.A, dst), wantDigests)

	showEnv := s3SyncerEnv(env, "SYNCER_CACHE_DIR="+filepath.Join(work, "show"))
	res := runSyncer(t, base, showEnv, "show", "-config", cfg, "-shards", "4")
	mustCode(t, "show -shards 4", res, 0, "  400 objects, ", "every shard finished its last apply")
	if strings.Contains(res.Stdout, "locked") {
		t.Errorf("show -shards 4 reports a lock after the Job ended:\n%s", res.Stdout)
	}

	// The Job again (a rerun, or a retried index): nothing to copy.
	job("second")
	for i := range 4 {
		b, _ := os.ReadFile(filepath.Join(work, "second", fmt.Sprintf("pod-%d.out", i)))
		if !strings.Contains(string(b), "No changes") && !strings.Contains(string(b), "Apply complete! 0 created, 0 updated, 0 deleted") {
			t.Errorf("index %d of the second Job did something:\n%s", i, b)
		}
	}
}
