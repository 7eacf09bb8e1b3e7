package e2e

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"syncer/backends/s3/s3test"
)

// getObject reads bucket/key on srv with the SDK.
func getObject(t *testing.T, srv *s3test.Server, bucket, key string) []byte {
	t.Helper()
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	return b
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]int64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestS3Backup: a sync into an S3 bucket with a backup block saves the
// overwritten and the deleted versions, and only those, under
// prefix/${run}/ before it writes: into another bucket of the same account
// (a server-side copy) and into a bucket of another account (streamed).
// The destination ends as the source; the backups hold the old bytes.
func TestS3Backup(t *testing.T) {
	env := needS3(t)
	needRclone(t)
	for _, c := range []struct {
		name   string
		srv    *s3test.Server
		acct   string
		copies int // CopyObject requests: the two backups, server-side
	}{{"same account", env.A, "A", 2}, {"other account", env.B, "B", 0}} {
		t.Run(c.name, func(t *testing.T) {
			l := newLayout(t)
			// Both buckets through one proxy, which counts the requests.
			proxy, err := s3test.NewProxy(env.A.Endpoint)
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			archEndpoint := proxy.URL
			if c.srv != env.A {
				archEndpoint = ""
			}
			dst := newS3Bucket(t, env.A, "backupdst")
			arch := newS3Bucket(t, c.srv, "backuparch")
			writeFile(t, filepath.Join(l.Src, "a.txt"), []byte("old a"))
			writeFile(t, filepath.Join(l.Src, "b.txt"), []byte("old b"))
			writeFile(t, filepath.Join(l.Src, "c.txt"), []byte("c stays"))
			writeHCL(t, l.Config, l.State, nil,
				localBlock("src", l.Src),
				s3Block{Name: "dst", Srv: env.A, Endpoint: proxy.URL, Bucket: dst}.hcl(env),
				s3Block{Name: "archive", Srv: c.srv, Endpoint: archEndpoint, Bucket: arch}.hcl(env),
				syncBlock(syncName, "backend.local.src", "backend.s3.dst", `delete = "all"`,
					"backup {\n    to     = backend.s3.archive\n    prefix = \"replaced/${run}/\"\n  }"))
			if res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code != 0 {
				t.Fatalf("first apply: want exit 0\n%s", res)
			}
			arc := remote{c.acct, c.srv}
			if got := rcloneList(t, arc, arch); len(got) != 0 {
				t.Fatalf("creates need no backup, but the archive holds %v", sortedKeys(got))
			}

			writeFile(t, filepath.Join(l.Src, "a.txt"), []byte("new a, longer"))
			later := time.Now().Add(time.Hour)
			os.Chtimes(filepath.Join(l.Src, "a.txt"), later, later)
			if err := os.Remove(filepath.Join(l.Src, "b.txt")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(l.Src, "d.txt"), []byte("d is new"))

			res := runS3Syncer(t, env, l.Base, "plan", "-config", l.Config)
			lines := planLines(res.Stdout)
			if res.Code != 0 || len(lines["~"]) != 1 || !strings.HasPrefix(lines["~"][0], "a.txt (") || !strings.HasSuffix(lines["~"][0], "(backup first)") ||
				!slices.Equal(lines["-"], []string{"b.txt (backup first)"}) || len(lines["+"]) != 1 || strings.Contains(lines["+"][0], "backup") {
				t.Fatalf("plan: want ~ a.txt (backup first), - b.txt (backup first), + d.txt\n%s", res)
			}
			proxy.Reset()
			res = runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config)
			if res.Code != 0 {
				t.Fatalf("second apply: want exit 0\n%s", res)
			}
			if n := proxy.Counts()["CopyObject"]; n != c.copies {
				t.Errorf("second apply sent %d CopyObject requests; want %d (requests %v)", n, c.copies, proxy.Counts())
			}
			if sum, line := parseApplyComplete(t, res); sum != (applySummary{1, 1, 1}) {
				t.Errorf("second apply: %s; want 1 created, 1 updated, 1 deleted", line)
			}
			assertBucketMatchesDir(t, remote{"A", env.A}, dst, l.Src)

			got := sortedKeys(rcloneList(t, arc, arch))
			re := regexp.MustCompile(`^replaced/(\d{8}T\d{6}Z)/(a|b)\.txt$`)
			if len(got) != 2 || !re.MatchString(got[0]) || !re.MatchString(got[1]) ||
				re.FindStringSubmatch(got[0])[1] != re.FindStringSubmatch(got[1])[1] {
				t.Fatalf("archive holds %q; want exactly replaced/RUN/a.txt and replaced/RUN/b.txt of one run", got)
			}
			for _, k := range got {
				want := []byte("old " + strings.TrimSuffix(filepath.Base(k), ".txt"))
				if b := getObject(t, c.srv, arch, k); !bytes.Equal(b, want) {
					t.Errorf("backup %s holds %q; want the overwritten version %q", k, b, want)
				}
			}
		})
	}
}

// TestS3Filters: a sync from an S3 bucket with max_size and files_from,
// delete = "all": exactly the listed keys within the size bound are copied;
// the rest is counted as excluded and never deleted at the destination.
func TestS3Filters(t *testing.T) {
	env := needS3(t)
	l := newLayout(t)
	src := newS3Bucket(t, env.A, "filtersrc")
	putObject(t, env.A, src, "in/a.txt", []byte("a"))
	putObject(t, env.A, src, "in/big.bin", bytes.Repeat([]byte("x"), 4096))
	putObject(t, env.A, src, "in/sub/c.txt", []byte("c"))
	putObject(t, env.A, src, "in/unlisted.txt", []byte("u"))
	writeFile(t, filepath.Join(l.Dst, "in", "big.bin"), []byte("an older big.bin, kept"))
	writeFile(t, filepath.Join(l.Dst, "in", "unlisted.txt"), []byte("unlisted, kept"))
	writeFile(t, filepath.Join(l.Dst, "in", "gone.txt"), []byte("listed, gone from the source: deleted"))
	list := filepath.Join(l.Base, "keys.txt")
	writeFile(t, list, []byte("# wanted\na.txt\nbig.bin\nsub/c.txt\ngone.txt\n"))
	writeHCL(t, l.Config, l.State, nil,
		s3Block{Name: "src", Srv: env.A, Bucket: src}.hcl(env),
		localBlock("dst", l.Dst),
		syncBlock(syncName, "backend.s3.src", "backend.local.dst", `prefix = "in/"`, `max_size = "1KiB"`,
			`files_from = "keys.txt"`, `delete = "all"`))
	res := runS3Syncer(t, env, l.Base, "plan", "-config", l.Config)
	lines := planLines(res.Stdout)
	if res.Code != 0 || len(lines["+"]) != 2 || !strings.HasPrefix(lines["+"][0], "in/a.txt ") || !strings.HasPrefix(lines["+"][1], "in/sub/c.txt ") ||
		!slices.Equal(lines["-"], []string{"in/gone.txt"}) || len(lines["~"]) != 0 ||
		!strings.Contains(res.Stdout, "Plan: 2 to create, 0 to update, 1 to delete, 2 excluded by filters (") {
		t.Fatalf("plan: want + in/a.txt, + in/sub/c.txt, - in/gone.txt, 2 excluded\n%s", res)
	}
	if res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-config", l.Config); res.Code != 0 {
		t.Fatalf("apply: want exit 0\n%s", res)
	}
	want := map[string]string{
		"in/a.txt": "a", "in/sub/c.txt": "c",
		"in/big.bin": "an older big.bin, kept", "in/unlisted.txt": "unlisted, kept",
	}
	var got []string
	filepath.WalkDir(l.Dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(l.Dst, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(got)
	if !slices.Equal(got, []string{"in/a.txt", "in/big.bin", "in/sub/c.txt", "in/unlisted.txt"}) {
		t.Fatalf("destination holds %q", got)
	}
	for k, v := range want {
		if b, _ := os.ReadFile(filepath.Join(l.Dst, k)); string(b) != v {
			t.Errorf("%s holds %q; want %q", k, b, v)
		}
	}
}
