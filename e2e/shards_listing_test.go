package e2e

// The listing cost of key-hash shards: every shard lists the whole source.
// A synthetic S3 endpoint answers ListObjectsV2 for a bucket of K keys
// generated on the fly (no store behind it, so K can be a million), after
// an optional delay per request that stands for a real region's latency.
// Each shard's plan of the whole source into an empty local folder is
// timed and its requests counted.
//
// SYNCER_LISTING_KEYS (default 20,000) and SYNCER_LISTING_LATENCY (default
// 0, e.g. 20ms) scale it; README "Scaling out" quotes a run at 1,000,000
// keys. Only the request counts are asserted: timing is reported, never
// checked.

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// synthBucket serves ListObjectsV2 over keys "objects/%07d.bin" 0..n-1.
type synthBucket struct {
	name     string
	n        int
	latency  time.Duration
	lists    atomic.Int64
	others   atomic.Int64
	lastPath atomic.Value
}

func (s *synthBucket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(s.latency)
	q := r.URL.Query()
	if r.Method != http.MethodGet || strings.Trim(r.URL.Path, "/") != s.name || q.Get("list-type") != "2" {
		s.others.Add(1)
		s.lastPath.Store(r.Method + " " + r.URL.String())
		w.WriteHeader(http.StatusNotImplemented)
		return
	}
	s.lists.Add(1)
	start := 0
	if tok := q.Get("continuation-token"); tok != "" {
		start, _ = strconv.Atoi(tok)
	}
	maxKeys := 1000
	if v, err := strconv.Atoi(q.Get("max-keys")); err == nil && v > 0 && v < maxKeys {
		maxKeys = v
	}
	end := min(start+maxKeys, s.n)
	if !strings.HasPrefix("objects/", q.Get("prefix")) && !strings.HasPrefix(q.Get("prefix"), "objects/") {
		end = start // no key has that prefix
	}
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	fmt.Fprintf(&b, "<Name>%s</Name><Prefix>%s</Prefix><MaxKeys>%d</MaxKeys><KeyCount>%d</KeyCount>", s.name, q.Get("prefix"), maxKeys, end-start)
	if q.Get("encoding-type") == "url" {
		b.WriteString("<EncodingType>url</EncodingType>")
	}
	if end < s.n && end > start {
		fmt.Fprintf(&b, "<IsTruncated>true</IsTruncated><NextContinuationToken>%d</NextContinuationToken>", end)
	} else {
		b.WriteString("<IsTruncated>false</IsTruncated>")
	}
	for i := start; i < end; i++ {
		fmt.Fprintf(&b, `<Contents><Key>objects/%07d.bin</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>"%032x"</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>`,
			i, i, 100+i%1000)
	}
	b.WriteString("</ListBucketResult>")
	w.Header().Set("Content-Type", "application/xml")
	w.Write([]byte(b.String()))
}

var planCreatesRE = regexp.MustCompile(`(?m)^Plan: (\d+) to create`)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

func TestShardListingCost(t *testing.T) {
	keys := envInt(t, "SYNCER_LISTING_KEYS", 20000)
	var latency time.Duration
	if v := os.Getenv("SYNCER_LISTING_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SYNCER_LISTING_LATENCY=%q: %v", v, err)
		}
		latency = d
	}
	noteSourceInputs.Do(statModuleSources)
	sb := &synthBucket{name: "big", n: keys, latency: latency}
	srv := httptest.NewServer(sb)
	defer srv.Close()

	base := t.TempDir()
	dst := filepath.Join(base, "dst")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	hcl := fmt.Sprintf(`state {
  path = %s
}

backend "s3" "src" {
  bucket            = "big"
  endpoint          = %s
  region            = "us-east-1"
  force_path_style  = true
  access_key_id     = "synthetic"
  secret_access_key = "synthetic"
}

backend "local" "dst" {
  path = %s
}

sync "big" {
  from = backend.s3.src
  to   = backend.local.dst
}
`, hclString(filepath.Join(base, "syncer.db")), hclString(srv.URL), hclString(dst))
	if err := os.WriteFile(filepath.Join(base, "syncer.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	wantRequests := int64((keys + 999) / 1000)
	planned := 0
	for _, n := range []int{1, 4} {
		for i := range n {
			args := []string{"plan"}
			label := "unsharded"
			if n > 1 {
				args = append(args, "-shard", fmt.Sprintf("%d/%d", i, n))
				label = fmt.Sprintf("shard %d/%d", i, n)
			}
			sb.lists.Store(0)
			res := runMeasured(t, base, syncerEnv(), args...)
			if res.Code != 0 {
				t.Fatalf("%s: plan: exit %d\n%s", label, res.Code, res)
			}
			m := planCreatesRE.FindStringSubmatch(res.Stdout)
			if m == nil {
				t.Fatalf("%s: no \"Plan: N to create\" line\n%s", label, res)
			}
			creates, _ := strconv.Atoi(m[1])
			if n > 1 {
				planned += creates
			}
			got := sb.lists.Load()
			t.Logf("%s: %d keys listed with %d ListObjectsV2 requests (latency %s) in %.2fs, %d planned, peak RSS %s",
				label, keys, got, latency, res.Elapsed.Seconds(), creates, mib(res.MaxRSSKiB))
			if got != wantRequests {
				t.Errorf("%s: %d ListObjectsV2 requests, want %d (the whole source, 1,000 keys a page)", label, got, wantRequests)
			}
		}
	}
	if planned != keys {
		t.Errorf("the 4 shards planned %d creates together, want %d", planned, keys)
	}
	if n := sb.others.Load(); n > 0 {
		t.Errorf("%d requests other than ListObjectsV2 (last: %v)", n, sb.lastPath.Load())
	}
}
