package s3

import (
	"bytes"
	"fmt"
	"testing"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/s3/s3test"
)

// A proxy answers 30% of requests with 503 SlowDown and cuts connections
// (before the response, or halfway through its body) on others: Put
// (single-part, multipart, unknown size), PutResumable, List (several
// pages), Open (whole and ranges), Stat, CopyFrom (CopyObject and
// UploadPartCopy) and DeleteBatch still succeed with the right bytes.
func TestFaultInjection(t *testing.T) {
	e := needEnv(t)
	p, via := proxied(t, e.A)
	o := testOptions(via, newBucket(t, e.A), "faults/")
	o.PartSize = 5 * mib
	b := mustNew(t, o)

	// Many small keys first, without faults, for a multi-page listing.
	const nSmall = 1100
	for i := range nSmall {
		data := []byte(fmt.Sprint(i))
		if _, err := b.Put(t.Context(), fmt.Sprintf("list/%04d", i), bytes.NewReader(data), backends.Object{Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
	}
	p.SetFaults(s3test.Faults{SlowDown: 0.3, Reset: 0.05, Cut: 0.1, Seed: 42})
	p.Reset()

	big := []struct {
		key   string
		size  int64
		known bool
	}{{"single", 3*mib + 5, true}, {"multi", 12*mib + 5, true}, {"unknown", 11 * mib, false}}
	for _, c := range big {
		src := backends.Object{Size: c.size}
		if !c.known {
			src.Size = -1
		}
		if _, err := b.Put(t.Context(), c.key, backendtest.RandomReader(c.size, c.size), src); err != nil {
			t.Fatalf("Put(%q): %v", c.key, err)
		}
	}
	if _, err := b.PutResumable(t.Context(), "resumable", rangeOpener(5, resumeSize, nil), backends.Object{Size: resumeSize}, s3test.NewMemJournal()); err != nil {
		t.Fatalf("PutResumable: %v", err)
	}
	for i := range 20 {
		backendtest.PutBytes(t, b, fmt.Sprintf("small/%d", i), backendtest.RandomBytes(int64(i), 1000+i))
	}

	objs := backendtest.ListAll(t, b, "list/")
	if len(objs) != nSmall {
		t.Errorf("List found %d of %d keys", len(objs), nSmall)
	}
	for k, o := range objs {
		var i int
		fmt.Sscanf(k, "list/%04d", &i)
		if o.Size != int64(len(fmt.Sprint(i))) {
			t.Errorf("List: %s size %d", k, o.Size)
		}
	}
	for _, c := range big {
		checkContent(t, b, c.key, c.size, c.size)
		st, err := b.Stat(t.Context(), c.key)
		if err != nil || st.Size != c.size {
			t.Errorf("Stat(%q) = %+v, %v", c.key, st, err)
		}
		want := backendtest.RandomBytes(c.size, int(c.size))
		for _, r := range [][2]int64{{0, 100}, {c.size / 2, mib}, {c.size - 10, -1}} {
			got := backendtest.ReadRange(t, b, c.key, r[0], r[1])
			end := c.size
			if r[1] >= 0 {
				end = r[0] + r[1]
			}
			if !bytes.Equal(got, want[r[0]:end]) {
				t.Errorf("%s range %v: wrong bytes", c.key, r)
			}
		}
	}
	checkContent(t, b, "resumable", 5, resumeSize)

	// Server-side copies, whole and in parts.
	o.Prefix, o.CopyCutoff, o.CopyPartSize = "copies/", 5*mib, 5*mib
	dst := mustNew(t, o)
	for _, c := range big {
		st, err := b.Stat(t.Context(), c.key)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if _, err := dst.CopyFrom(t.Context(), b, c.key, c.key, st); err != nil {
			t.Fatalf("CopyFrom(%q): %v", c.key, err)
		}
		checkContent(t, dst, c.key, c.size, c.size)
	}
	for i := range 20 {
		if got := backendtest.ReadAll(t, b, fmt.Sprintf("small/%d", i)); !bytes.Equal(got, backendtest.RandomBytes(int64(i), 1000+i)) {
			t.Errorf("small/%d: wrong bytes", i)
		}
	}
	keys := backendtest.Keys(backendtest.ListAll(t, b, "small/"))
	if errs, err := b.DeleteBatch(t.Context(), keys); err != nil {
		t.Errorf("DeleteBatch: %v", err)
	} else {
		for i, err := range errs {
			if err != nil {
				t.Errorf("DeleteBatch %s: %v", keys[i], err)
			}
		}
	}
	if n := len(backendtest.ListAll(t, b, "small/")); n != 0 {
		t.Errorf("%d small keys left after DeleteBatch", n)
	}
	t.Logf("faults injected: %d; requests: %v", p.Injected(), p.Counts())
	if p.Injected() < 30 {
		t.Errorf("only %d faults injected; the test is not exercising retries", p.Injected())
	}
}
