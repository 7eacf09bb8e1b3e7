package e2e

import (
	"strings"
	"testing"

	"syncer/backends/s3/s3test"
)

// TestS3PermanentErrors: a wrong secret key or a missing bucket fails at
// once (no retries), with a message that names the backend and the bucket
// and never the secret; so does a server-side copy forced across accounts,
// and its message must not blame the wrong bucket.
func TestS3PermanentErrors(t *testing.T) {
	env := needS3(t)
	l := newLayout(t)
	bucket := newS3Bucket(t, env.A, "perm")
	proxy, err := s3test.NewProxy(env.A.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cases := []struct {
		name, bucket string
		env          []string
		want         []string // in stderr
	}{
		{"wrong secret key", bucket, []string{s3SecretVar("A") + "=wrong-secret-for-the-test"}, []string{`s3 "legacy"`, bucket}},
		{"missing bucket", "e2e-no-such-bucket", nil, []string{`s3 "legacy"`, "e2e-no-such-bucket"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeHCL(t, l.Config, l.State, nil,
				s3Block{Name: "legacy", Srv: env.A, Endpoint: proxy.URL, Bucket: c.bucket}.hcl(env),
				localBlock("dst", l.Dst),
				syncBlock(syncName, "backend.s3.legacy", "backend.local.dst"))
			proxy.Reset()
			res := runSyncer(t, l.Base, s3SyncerEnv(env, c.env...), "plan", "-config", l.Config)
			checkNoSecrets(t, env, res)
			t.Logf("%s: exit %d, requests %v\n%s", c.name, res.Code, proxy.Counts(), tail(res.Stderr, 1500))
			if res.Code != 1 {
				t.Errorf("plan: want exit 1\n%s", res)
			}
			for _, w := range c.want {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("stderr does not name %s\n%s", w, res)
				}
			}
			if strings.Contains(res.Stderr, "wrong-secret-for-the-test") {
				t.Errorf("stderr shows the secret key")
			}
			if n := proxy.Count("ListObjectsV2"); n > 1 {
				t.Errorf("%d ListObjectsV2 requests: a permanent error was retried", n)
			}
		})
	}

	// server_side_copy = "always" across accounts: the destination's
	// server cannot read the source bucket; every copy fails, permanently.
	t.Run("forced server-side copy across accounts", func(t *testing.T) {
		archive := newS3Bucket(t, env.B, "perm-archive")
		proxyB, err := s3test.NewProxy(env.B.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		defer proxyB.Close()
		genTree(t, l.Src, "perm", 3, 10, 100)
		writeHCL(t, l.Config, l.State, nil,
			localBlock("src", l.Src),
			s3Block{Name: "legacy", Srv: env.A, Bucket: bucket}.hcl(env),
			s3Block{Name: "archive", Srv: env.B, Endpoint: proxyB.URL, Bucket: archive, Extra: []string{`server_side_copy = "always"`}}.hcl(env),
			syncBlock("up", "backend.local.src", "backend.s3.legacy"),
			syncBlock("migrate", "backend.s3.legacy", "backend.s3.archive"))
		if res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-target", "up", "-config", l.Config); res.Code != 0 {
			t.Fatalf("upload: want exit 0\n%s", res)
		}
		res := runS3Syncer(t, env, l.Base, "apply", "-auto-approve", "-target", "migrate", "-config", l.Config)
		t.Logf("forced server-side copy across accounts: exit %d, requests to B %v\n%s", res.Code, proxyB.Counts(), tail(res.Stderr, 1500))
		if res.Code != 3 {
			t.Errorf("apply: want exit 3 (objects failed)\n%s", res)
		}
		// (Log lines quote with backslashes: s3 \"archive\".)
		for _, w := range []string{`s3 \"archive\"`, archive, `s3 \"legacy\"`, bucket} {
			if !strings.Contains(res.Stderr, w) {
				t.Errorf("stderr does not name %s\n%s", w, res)
			}
		}
		// What B's server lacks is the source bucket; the destination
		// bucket exists, and the message must not say otherwise.
		if wrong := `bucket \"` + archive + `\": the bucket does not exist`; strings.Contains(res.Stderr, wrong) {
			t.Errorf("the error blames the destination bucket %s, which exists, for the copy source bucket %s missing on the destination's store (%s)", archive, bucket, wrong)
		}
		if n := proxyB.Count("CopyObject"); n > 3 {
			t.Errorf("%d CopyObject requests for 3 objects: a permanent error was retried", n)
		}
		if n := mustStateCount(t, l.State, `SELECT count(*) FROM objects WHERE sync = 'migrate'`); n != 0 {
			t.Errorf("state records %d objects of the failed sync", n)
		}
	})
}
