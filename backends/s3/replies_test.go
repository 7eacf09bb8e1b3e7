package s3

// Replies a real store would not send, from a crafted httptest server: a
// proxy's page instead of a listing, a 200 answer to a Range request, a
// write confirmed by a blank body or a wrong ETag. Each must fail the
// operation (or be checked some other way), never pass for success.

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"syncer/backends"
	"syncer/backends/backendtest"
	"syncer/backends/s3/s3test"
)

// replying starts a server that answers with h and returns a backend on
// its bucket "bkt", with fast retries.
func replying(t *testing.T, h http.HandlerFunc, mod ...func(*Options)) *Backend {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	o := Options{
		Name: "crafted", Bucket: "bkt", Endpoint: srv.URL,
		AccessKeyID: "k", SecretAccessKey: "s", Region: "us-east-1",
		MaxAttempts: 3, RetryBaseDelay: time.Millisecond, RetryMaxBackoff: 5 * time.Millisecond,
	}
	for _, m := range mod {
		m(&o)
	}
	return mustNew(t, o)
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func md5hex(data []byte) string {
	sum := md5.Sum(data)
	return hex.EncodeToString(sum[:])
}

// listingPage is a ListObjectsV2 page of bucket "bkt" holding keys.
func listingPage(truncated bool, next string, keys ...string) string {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix></Prefix><EncodingType>url</EncodingType>`)
	fmt.Fprintf(&sb, "<KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>%v</IsTruncated>", len(keys), truncated)
	if next != "" {
		fmt.Fprintf(&sb, "<NextContinuationToken>%s</NextContinuationToken>", next)
	}
	for _, k := range keys {
		fmt.Fprintf(&sb, `<Contents><Key>%s</Key><LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag><Size>1</Size></Contents>`, k)
	}
	sb.WriteString("</ListBucketResult>")
	return sb.String()
}

func listKeys(t *testing.T, b *Backend) ([]string, error) {
	var keys []string
	err := b.List(t.Context(), "", func(o backends.Object) error {
		keys = append(keys, o.Key)
		return nil
	})
	return keys, err
}

// A 200 reply to ListObjectsV2 that is not a listing of the bucket fails
// the listing: the SDK decodes an empty body, a proxy's HTML page, JSON or
// XML with another root as a page with no keys, which would pass for an
// empty bucket (and a mirror would delete every copy of the source).
func TestListRefusesRepliesThatAreNotListings(t *testing.T) {
	page := listingPage(false, "", "a", "b")
	for _, c := range []struct {
		name, body string
		why        string // "": a listing
		keys       string
	}{
		{"empty body", "", "it has no IsTruncated element", ""},
		{"text", "hello", "it has no IsTruncated element", ""},
		{"HTML page", `<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>Welcome</body></html>`, "it has no IsTruncated element", ""},
		{"JSON", `{"objects": []}`, "it has no IsTruncated element", ""},
		{"XML with another root", `<?xml version="1.0"?><Foo><Bar>1</Bar></Foo>`, "it has no IsTruncated element", ""},
		{"no IsTruncated", strings.Replace(page, "<IsTruncated>false</IsTruncated>", "", 1), "it has no IsTruncated element", ""},
		{"another bucket", strings.Replace(page, "<Name>bkt</Name>", "<Name>other</Name>", 1), `it lists bucket "other"`, ""},
		{"KeyCount above the keys", strings.Replace(page, "<KeyCount>2</KeyCount>", "<KeyCount>3</KeyCount>", 1), "its KeyCount is 3 but it holds 2 keys", ""},
		{"listing", page, "", "a,b"},
		{"listing without Name", strings.Replace(page, "<Name>bkt</Name>", "", 1), "", "a,b"},
		{"listing without KeyCount", strings.Replace(page, "<KeyCount>2</KeyCount>", "", 1), "", "a,b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := replying(t, func(w http.ResponseWriter, r *http.Request) { reply(w, http.StatusOK, c.body) })
			keys, err := listKeys(t, b)
			if c.why == "" {
				if err != nil || strings.Join(keys, ",") != c.keys {
					t.Fatalf("List = %q, %v; want %s", keys, err, c.keys)
				}
				return
			}
			want := fmt.Sprintf(`list %s: the server's reply to ListObjectsV2 is not a listing of bucket "bkt" (%s); stopping rather than taking it for an empty or partial listing`, b, c.why)
			if err == nil || err.Error() != want {
				t.Fatalf("List = %v\nwant %s", err, want)
			}
			if len(keys) != 0 {
				t.Errorf("listed %q from a reply that is not a listing", keys)
			}
		})
	}
}

// Continuation tokens that come back (A, B, A, ...) fail the listing, for
// cycles of up to the 64 tokens listPages remembers; a long listing with
// new tokens throughout is not mistaken for one.
func TestListRefusesCyclingContinuationTokens(t *testing.T) {
	for _, c := range []struct {
		name   string
		cycle  int // tokens t1..tN, then t1 again; 0: 300 pages, no cycle
		errMsg string
	}{
		{"A B A", 2, `("t1" after "t2")`},
		{"64 tokens", 64, `("t1" after "t64")`},
		{"200 tokens", 200, `("t56" after "t55")`}, // longer than the recent tokens: Brent's method
		{"300 pages", 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var requests atomic.Int32
			b := replying(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(requests.Add(1))
				if n > 1000 {
					reply(w, http.StatusInternalServerError, `<Error><Code>InternalError</Code><Message>too many pages</Message></Error>`)
					return
				}
				tok := r.URL.Query().Get("continuation-token")
				i := 0
				if tok != "" {
					i, _ = strconv.Atoi(strings.TrimPrefix(tok, "t"))
				}
				key := fmt.Sprintf("k%03d", n)
				switch {
				case c.cycle == 0 && i == 299:
					reply(w, http.StatusOK, listingPage(false, "", key))
				case c.cycle == 0:
					reply(w, http.StatusOK, listingPage(true, fmt.Sprintf("t%d", i+1), key))
				default:
					reply(w, http.StatusOK, listingPage(true, fmt.Sprintf("t%d", i%c.cycle+1), key))
				}
			}, func(o *Options) { o.MaxAttempts = 1 })
			keys, err := listKeys(t, b)
			if c.cycle == 0 {
				if err != nil || len(keys) != 300 || requests.Load() != 300 {
					t.Fatalf("List: %d keys in %d requests, %v; want 300 keys in 300 requests", len(keys), requests.Load(), err)
				}
				return
			}
			want := fmt.Sprintf("list %s: the server says the listing goes on but gives a continuation token it gave before %s: the listing goes round in circles; stopping rather than trusting it", b, c.errMsg)
			if err == nil || err.Error() != want {
				t.Fatalf("List = %v\nwant %s", err, want)
			}
			if n := int(requests.Load()); c.cycle <= 64 && n != c.cycle+1 || n > 3*c.cycle || len(keys) != n {
				t.Errorf("%d requests, %d keys; want %d of each (at most %d for a long cycle)", n, len(keys), c.cycle+1, 3*c.cycle)
			}
		})
	}
}

// servePartial answers bytes [first, last] of data with 206.
func servePartial(w http.ResponseWriter, data []byte, first, last int) {
	w.Header().Set("ETag", `"`+md5hex(data)+`"`)
	w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
	w.Header().Set("Content-Length", strconv.Itoa(last-first+1))
	w.WriteHeader(http.StatusPartialContent)
	w.Write(data[first : last+1])
}

// serveWhole answers data with 200.
func serveWhole(w http.ResponseWriter, data []byte) {
	w.Header().Set("ETag", `"`+md5hex(data)+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// rangeOf parses the request's "bytes=first-last" or "bytes=first-".
func rangeOf(r *http.Request, size int) (first, last int, ok bool) {
	spec, found := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !found {
		return 0, 0, false
	}
	a, z, _ := strings.Cut(spec, "-")
	first, _ = strconv.Atoi(a)
	last = size - 1
	if z != "" {
		last, _ = strconv.Atoi(z)
	}
	return first, min(last, size-1), true
}

// Open checks that a reply holds the bytes asked for: a ranged GET must be
// answered 206 with a Content-Range that starts at the offset and ends
// where asked (or at the object's end), a whole GET must not be answered
// 206. A server or proxy that ignores Range would otherwise hand out the
// object's first bytes as the bytes from the offset.
func TestOpenChecksTheRangeOfReplies(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	for _, c := range []struct {
		name        string
		off, length int64
		serve       func(w http.ResponseWriter, r *http.Request)
		why         string // "": want data[off:off+length]
	}{
		{"200 to bytes=10-14", 10, 5, func(w http.ResponseWriter, r *http.Request) { serveWhole(w, data) },
			"the server answered a request for bytes=10-14 with HTTP 200, not 206 Partial Content: it ignored the range, so its bytes do not start at offset 10"},
		{"200 to bytes=10-", 10, -1, func(w http.ResponseWriter, r *http.Request) { serveWhole(w, data) },
			"the server answered a request for bytes=10- with HTTP 200, not 206 Partial Content: it ignored the range, so its bytes do not start at offset 10"},
		{"206 from another offset", 10, 5, func(w http.ResponseWriter, r *http.Request) { servePartial(w, data, 0, 4) },
			"the server answered a request for bytes=10-14 with bytes 0-4: they do not start at offset 10"},
		{"206 past the end asked", 10, 5, func(w http.ResponseWriter, r *http.Request) { servePartial(w, data, 10, 19) },
			`the server answered a request for bytes=10-14 with Content-Range "bytes 10-19/20": the range does not end where asked`},
		{"206 short of the end asked", 10, 5, func(w http.ResponseWriter, r *http.Request) { servePartial(w, data, 10, 12) },
			`the server answered a request for bytes=10-14 with Content-Range "bytes 10-12/20": the range does not end where asked`},
		{"206 short of the object's end", 10, -1, func(w http.ResponseWriter, r *http.Request) { servePartial(w, data, 10, 14) },
			`the server answered a request for bytes=10- with Content-Range "bytes 10-14/20": the range does not end where asked`},
		{"206 without Content-Range", 10, 5, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[10:15])
		}, `the server answered a request for bytes=10-14 with Content-Range "", not "bytes first-last/size"`},
		{"206 with another length", 10, 5, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Range", "bytes 10-14/20")
			w.Header().Set("Content-Length", "6")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[10:16])
		}, `the server answered a request for bytes=10-14 with Content-Range "bytes 10-14/20" but 6 bytes`},
		{"206 to a whole GET", 0, -1, func(w http.ResponseWriter, r *http.Request) { servePartial(w, data, 0, 19) },
			`the server answered a request for the whole object with 206 Partial Content (Content-Range "bytes 0-19/20")`},
		{"206 as asked", 10, 5, func(w http.ResponseWriter, r *http.Request) {
			first, last, _ := rangeOf(r, len(data))
			servePartial(w, data, first, last)
		}, ""},
		{"206 to the object's end", 10, -1, func(w http.ResponseWriter, r *http.Request) {
			first, last, _ := rangeOf(r, len(data))
			servePartial(w, data, first, last)
		}, ""},
		{"206 ending with the object", 15, 10, func(w http.ResponseWriter, r *http.Request) {
			first, last, _ := rangeOf(r, len(data))
			servePartial(w, data, first, last)
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := replying(t, c.serve)
			rc, err := b.Open(t.Context(), "k", c.off, c.length)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(rc)
				rc.Close()
			}
			if c.why == "" {
				end := min(int64(len(data)), c.off+c.length)
				if c.length < 0 {
					end = int64(len(data))
				}
				if err != nil || string(got) != string(data[c.off:end]) {
					t.Fatalf("Open(k, %d, %d) read %q, %v; want %q", c.off, c.length, got, err, data[c.off:end])
				}
				return
			}
			want := fmt.Sprintf(`open %s: key "k": %s`, b, c.why)
			if err == nil || err.Error() != want {
				t.Fatalf("Open(k, %d, %d) read %q, %v\nwant error %s", c.off, c.length, got, err, want)
			}
		})
	}
}

// A range of an empty object answered 200 with no body (some servers do
// that instead of 416) reads as empty.
func TestOpenRangeOfEmptyObjectAnswered200(t *testing.T) {
	var gets atomic.Int32
	b := replying(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
		}
		serveWhole(w, nil)
	})
	if got := backendtest.ReadRange(t, b, "k", 0, 5); len(got) != 0 || gets.Load() != 1 {
		t.Errorf("Open(k, 0, 5) read %q in %d GETs; want nothing in 1", got, gets.Load())
	}
	// Any other 200 to a range is refused, as above.
	b = replying(t, func(w http.ResponseWriter, r *http.Request) { serveWhole(w, []byte("x")) })
	if _, err := b.Open(t.Context(), "k", 0, 5); err == nil || !strings.HasSuffix(err.Error(), "with HTTP 200, not 206 Partial Content: it ignored the range, so its bytes do not start at offset 0") {
		t.Errorf("Open of a one-byte object answered 200 = %v; want the ignored-range error", err)
	}
}

// The GET that resumes a read after a dropped connection is checked too:
// a server that answers it with the whole object must not have its first
// bytes spliced in after the bytes already read.
func TestOpenResumeChecksTheRange(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 100)
	for _, c := range []struct {
		name   string
		resume func(w http.ResponseWriter, r *http.Request)
		why    string
	}{
		{"200 whole object", func(w http.ResponseWriter, r *http.Request) { serveWhole(w, data) },
			"the server answered a request for bytes=333- with HTTP 200, not 206 Partial Content: it ignored the range, so its bytes do not start at offset 333"},
		{"206 from the start", func(w http.ResponseWriter, r *http.Request) { servePartial(w, data, 0, len(data)-1) },
			"the server answered a request for bytes=333- with bytes 0-999: they do not start at offset 333"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var gets atomic.Int32
			b := replying(t, func(w http.ResponseWriter, r *http.Request) {
				if gets.Add(1) > 1 {
					c.resume(w, r)
					return
				}
				// The first reply ends after 333 of its 1,000 bytes.
				w.Header().Set("ETag", `"`+md5hex(data)+`"`)
				w.Header().Set("Content-Length", strconv.Itoa(len(data)))
				w.WriteHeader(http.StatusOK)
				w.Write(data[:333])
			})
			rc, err := b.Open(t.Context(), "k", 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if want := fmt.Sprintf(`open %s: key "k": %s`, b, c.why); err == nil || err.Error() != want {
				t.Fatalf("read %d bytes, %v\nwant error %s", len(got), err, want)
			}
			if !bytes.Equal(got, data[:333]) || gets.Load() != 2 {
				t.Errorf("read %d bytes in %d GETs; want the first 333 in 2", len(got), gets.Load())
			}
		})
	}
}

// PutResumable sends each part from a ranged Open of the source: a source
// store that ignores Range fails the upload instead of storing its first
// bytes in every part.
func TestPutResumableFromSourceIgnoringRange(t *testing.T) {
	size := int64(11 * MiB)
	data := backendtest.RandomBytes(7, int(size))
	src := replying(t, func(w http.ResponseWriter, r *http.Request) { serveWhole(w, data) })
	o := testOptions(&fake.Server, newBucket(t, &fake.Server), "")
	o.PartSize, o.UploadCutoff = 5*MiB, 5*MiB
	dst := mustNew(t, o)
	open := func(ctx context.Context, off, length int64) (io.ReadCloser, error) {
		return src.Open(ctx, "k", off, length)
	}
	_, err := dst.PutResumable(t.Context(), "k", open, backends.Object{Size: size}, s3test.NewMemJournal())
	wantErrContains(t, err, fmt.Sprintf(`put %s: key "k": reading the source: open part `, dst),
		fmt.Sprintf(`open %s: key "k": the server answered a request for bytes=`, src), "with HTTP 200, not 206 Partial Content: it ignored the range")
	if _, err := dst.Stat(t.Context(), "k"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Stat after the failed upload = %v; want not found", err)
	}
}

// A PutObject is done only when the store confirms the bytes: its ETag
// must be the MD5 of the bytes sent (in either case), unless the object is
// encrypted with KMS; a reply without an ETag is checked with HeadObject.
// Hashes[MD5] is set only when the MD5 was confirmed.
func TestPutVerifiesETag(t *testing.T) {
	data := []byte("hello")
	sum := md5hex(data) // 5d41402abc4b2a76b9719d911017c592
	const other = "0123456789abcdef0123456789abcdef"
	notMD5 := func(etag string) string {
		return fmt.Sprintf("the store's ETag %q is not the MD5 %s of the bytes sent: the data was corrupted in transit, or the store did not keep them", etag, sum)
	}
	for _, c := range []struct {
		name     string
		etag     string // of the PutObject reply
		sse      string // x-amz-server-side-encryption of the replies
		headSize int    // of HeadObject; -1: 404
		headETag string
		why      string // "": success
		wantETag string
		wantMD5  string
	}{
		{"another MD5", other, "", -1, "", notMD5(other), "", ""},
		{"not hex", "nonsense", "", -1, "", notMD5("nonsense"), "", ""},
		{"another MD5 in capitals", strings.ToUpper(md5hex(nil)), "", -1, "", notMD5(strings.ToUpper(md5hex(nil))), "", ""},
		{"the MD5", sum, "", -1, "", "", sum, sum},
		{"the MD5 in capitals", strings.ToUpper(sum), "", -1, "", "", strings.ToUpper(sum), sum},
		{"no ETag, no object", "", "", -1, "", "PutObject answered without an ETag, and the object is not there", "", ""},
		{"no ETag, another size", "", "", 4, sum, "PutObject answered without an ETag, and the object there has 4 bytes, not 5", "", ""},
		{"no ETag, another ETag", "", "", 5, other, notMD5(other), "", ""},
		{"no ETag anywhere", "", "", 5, "", "the store reports no ETag for the object, neither in the PutObject reply nor in HeadObject: the write cannot be verified", "", ""},
		{"no ETag, HeadObject confirms", "", "", 5, sum, "", sum, sum},
		{"bucket encrypted with KMS", "kms-etag-not-an-md5", "aws:kms", -1, "", "", "kms-etag-not-an-md5", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var heads atomic.Int32
			b := replying(t, func(w http.ResponseWriter, r *http.Request) {
				if c.sse != "" {
					w.Header().Set("X-Amz-Server-Side-Encryption", c.sse)
				}
				switch r.Method {
				case http.MethodPut:
					io.Copy(io.Discard, r.Body)
					if c.etag != "" {
						w.Header().Set("ETag", `"`+c.etag+`"`)
					}
					w.WriteHeader(http.StatusOK)
				case http.MethodHead:
					heads.Add(1)
					if c.headSize < 0 {
						w.WriteHeader(http.StatusNotFound)
						return
					}
					if c.headETag != "" {
						w.Header().Set("ETag", `"`+c.headETag+`"`)
					}
					w.Header().Set("Content-Length", strconv.Itoa(c.headSize))
					w.WriteHeader(http.StatusOK)
				default:
					w.WriteHeader(http.StatusMethodNotAllowed)
				}
			})
			obj, err := b.Put(t.Context(), "k", bytes.NewReader(data), backends.Object{Size: int64(len(data))})
			if c.why != "" {
				if want := fmt.Sprintf(`put %s: key "k": %s`, b, c.why); err == nil || err.Error() != want {
					t.Fatalf("Put = %+v, %v\nwant error %s", obj, err, want)
				}
				return
			}
			if err != nil || obj.ETag != c.wantETag || obj.Hash(backends.MD5) != c.wantMD5 || obj.Size != 5 {
				t.Fatalf("Put = %+v, %v; want ETag %q, md5 %q", obj, err, c.wantETag, c.wantMD5)
			}
			wantHeads := int32(0)
			if c.etag == "" {
				wantHeads = 1
			}
			if heads.Load() != wantHeads {
				t.Errorf("%d HeadObject requests; want %d", heads.Load(), wantHeads)
			}
		})
	}
}

// A CompleteMultipartUpload is done only when the store confirms the
// object: an ETag "<hex>-N" with N the number of parts (and the hex the
// MD5 of the parts' MD5s). A blank reply, or an ETag in another form, is
// checked with HeadObject: size, and the same checks of its ETag.
func TestCompleteMultipartUploadVerified(t *testing.T) {
	size := int64(5*MiB + 10)
	data := backendtest.RandomBytes(1, int(size))
	p1, p2 := md5.Sum(data[:5*MiB]), md5.Sum(data[5*MiB:])
	all := md5.Sum(append(p1[:], p2[:]...))
	want := hex.EncodeToString(all[:]) + "-2"
	const other = "0123456789abcdef0123456789abcdef"
	result := func(etag string) string {
		return `<?xml version="1.0"?><CompleteMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><ETag>"` + etag + `"</ETag></CompleteMultipartUploadResult>`
	}
	noETag := `<?xml version="1.0"?><CompleteMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key></CompleteMultipartUploadResult>`
	for _, c := range []struct {
		name      string
		body      string // of the Complete reply
		headSize  int64  // -1: 404
		headETag  string
		why       string // "": success
		wantETag  string
		wantHeads int32
	}{
		{"the multipart ETag", result(want), -1, "", "", want, 0},
		{"the multipart ETag in capitals", result(strings.ToUpper(want)), -1, "", "", strings.ToUpper(want), 0},
		{"ETag of 3 parts", result(other + "-3"), -1, "", "the multipart ETag " + other + "-3 counts 3 parts; 2 were sent", "", 0},
		{"ETag of other parts", result(other + "-2"), -1, "", "multipart ETag " + other + "-2 differs from " + want + " computed from the parts sent", "", 0},
		{"empty reply, HeadObject confirms", "", size, want, "", want, 1},
		{"blank reply, no object", "\n   \n   ", -1, "", "CompleteMultipartUpload answered without an ETag, and the object is not there", "", 1},
		{"no ETag, another size", noETag, size - 1, want, fmt.Sprintf("CompleteMultipartUpload answered without an ETag, and the object there has %d bytes, not %d", size-1, size), "", 1},
		{"no ETag anywhere", noETag, size, "", "CompleteMultipartUpload answered without an ETag, and HeadObject reports none either: the upload cannot be verified", "", 1},
		{"no ETag, HeadObject's counts 3 parts", noETag, size, other + "-3", "the multipart ETag " + other + "-3 counts 3 parts; 2 were sent", "", 1},
		{"plain ETag, another object", result(other), size, want, `CompleteMultipartUpload answered ETag "` + other + `", not one of a multipart object, but the object there has ETag "` + want + `"`, "", 1},
		{"plain ETag confirmed by HeadObject", result(other), size, other, "", other, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var heads, aborts atomic.Int32
			b := replying(t, func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				switch {
				case r.Method == http.MethodPost && q.Has("uploads"):
					reply(w, http.StatusOK, `<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>`)
				case r.Method == http.MethodPut && q.Has("partNumber"):
					h := md5.New()
					io.Copy(h, r.Body)
					w.Header().Set("ETag", `"`+hex.EncodeToString(h.Sum(nil))+`"`)
					w.WriteHeader(http.StatusOK)
				case r.Method == http.MethodPost && q.Has("uploadId"):
					io.Copy(io.Discard, r.Body)
					reply(w, http.StatusOK, c.body)
				case r.Method == http.MethodHead:
					heads.Add(1)
					if c.headSize < 0 {
						w.WriteHeader(http.StatusNotFound)
						return
					}
					if c.headETag != "" {
						w.Header().Set("ETag", `"`+c.headETag+`"`)
					}
					w.Header().Set("Content-Length", strconv.FormatInt(c.headSize, 10))
					w.WriteHeader(http.StatusOK)
				case r.Method == http.MethodDelete:
					aborts.Add(1)
					w.WriteHeader(http.StatusNoContent)
				default:
					w.WriteHeader(http.StatusMethodNotAllowed)
				}
			}, func(o *Options) { o.PartSize, o.UploadCutoff = 5*MiB, 5*MiB })
			obj, err := b.Put(t.Context(), "k", bytes.NewReader(data), backends.Object{Size: size})
			if heads.Load() != c.wantHeads {
				t.Errorf("%d HeadObject requests; want %d", heads.Load(), c.wantHeads)
			}
			if c.why != "" {
				if want := fmt.Sprintf(`put %s: key "k": %s`, b, c.why); err == nil || err.Error() != want {
					t.Fatalf("Put = %+v, %v\nwant error %s", obj, err, want)
				}
				if aborts.Load() != 1 {
					t.Errorf("%d aborts after the failed upload; want 1", aborts.Load())
				}
				return
			}
			if err != nil || obj.ETag != c.wantETag || obj.Size != size || obj.Hashes != nil {
				t.Fatalf("Put = %+v, %v; want ETag %s", obj, err, c.wantETag)
			}
		})
	}
}

// A CopyObject is done only when the store confirms the copy: a result
// ETag, equal to the source's when that is an MD5 (and the copy is not
// encrypted with KMS); otherwise HeadObject must find the source's size
// and the copy's ETag at the key. An UploadPartCopy needs a result ETag.
func TestCopyObjectVerified(t *testing.T) {
	srcMD5 := md5hex([]byte("abc")) // 900150983cd24fb0d6963f7d28e17f72
	const other = "0123456789abcdef0123456789abcdef"
	copied := func(etag string) string {
		return `<?xml version="1.0"?><CopyObjectResult><ETag>"` + etag + `"</ETag><LastModified>2026-01-02T03:04:05.000Z</LastModified></CopyObjectResult>`
	}
	unconfirmed := `the store answered CopyObject (from %s key "s") without a result ETag: the copy is not confirmed`
	for _, c := range []struct {
		name     string
		srcETag  string
		body     string // of the CopyObject reply
		copySSE  string // x-amz-server-side-encryption of the CopyObject reply
		srcSSE   string // of HeadObject of the source
		dstSize  int    // of HeadObject of the copy; -1: 404
		dstETag  string
		why      string // "": success; %s: the backend
		wantETag string
		wantMD5  string
	}{
		{"empty reply", srcMD5, "", "", "", -1, "", unconfirmed, "", ""},
		{"blank reply", srcMD5, "   \n  ", "", "", -1, "", unconfirmed, "", ""},
		{"result without ETag", srcMD5, `<?xml version="1.0"?><CopyObjectResult><LastModified>2026-01-02T03:04:05.000Z</LastModified></CopyObjectResult>`, "", "", -1, "", unconfirmed, "", ""},
		{"another ETag", srcMD5, copied(other), "", "", 3, other,
			`the copy's ETag "` + other + `" differs from the MD5 ` + srcMD5 + ` of the source (%s key "s"): the store did not copy the source's bytes`, "", ""},
		{"the source's MD5", srcMD5, copied(srcMD5), "", "", -1, "", "", srcMD5, srcMD5},
		{"the source's MD5 in capitals", srcMD5, copied(strings.ToUpper(srcMD5)), "", "", -1, "", "", strings.ToUpper(srcMD5), srcMD5},
		{"another ETag, source encrypted with KMS", srcMD5, copied(other), "", "aws:kms", 3, other, "", other, ""},
		{"copy encrypted with KMS", srcMD5, copied("kms-etag"), "aws:kms", "", 3, "kms-etag", "", "kms-etag", ""},
		{"multipart source", other + "-2", copied(srcMD5), "", "", 3, srcMD5, "", srcMD5, ""},
		{"multipart source, another size", other + "-2", copied(srcMD5), "", "", 2, srcMD5,
			"CopyObject answered an ETag that cannot be checked against the source's, and the object there has 2 bytes, not 3", "", ""},
		{"multipart source, another ETag there", other + "-2", copied(srcMD5), "", "", 3, other,
			`CopyObject answered ETag "` + srcMD5 + `", but the object there has ETag "` + other + `"`, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := replying(t, func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
					if c.copySSE != "" {
						w.Header().Set("X-Amz-Server-Side-Encryption", c.copySSE)
					}
					reply(w, http.StatusOK, c.body)
				case r.Method == http.MethodHead && r.URL.Path == "/bkt/s":
					if c.srcSSE != "" {
						w.Header().Set("X-Amz-Server-Side-Encryption", c.srcSSE)
					}
					w.Header().Set("ETag", `"`+c.srcETag+`"`)
					w.Header().Set("Content-Length", "3")
					w.WriteHeader(http.StatusOK)
				case r.Method == http.MethodHead && r.URL.Path == "/bkt/d" && c.dstSize >= 0:
					w.Header().Set("ETag", `"`+c.dstETag+`"`)
					w.Header().Set("Content-Length", strconv.Itoa(c.dstSize))
					w.WriteHeader(http.StatusOK)
				default:
					w.WriteHeader(http.StatusNotFound)
				}
			})
			obj, err := b.CopyFrom(t.Context(), b, "s", "d", backends.Object{Key: "s", Size: 3, ETag: c.srcETag})
			if c.why != "" {
				why := c.why
				if strings.Contains(why, "%s") {
					why = fmt.Sprintf(why, b)
				}
				if want := fmt.Sprintf(`copy %s: key "d": %s`, b, why); err == nil || err.Error() != want {
					t.Fatalf("CopyFrom = %+v, %v\nwant error %s", obj, err, want)
				}
				return
			}
			if err != nil || obj.ETag != c.wantETag || obj.Hash(backends.MD5) != c.wantMD5 || obj.Size != 3 {
				t.Fatalf("CopyFrom = %+v, %v; want ETag %q, md5 %q", obj, err, c.wantETag, c.wantMD5)
			}
		})
	}

	t.Run("UploadPartCopy without ETag", func(t *testing.T) {
		var aborts atomic.Int32
		size := 6 * MiB
		b := replying(t, func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			switch {
			case r.Method == http.MethodHead:
				w.Header().Set("ETag", `"`+other+`-2"`)
				w.Header().Set("Content-Length", strconv.Itoa(size))
				w.WriteHeader(http.StatusOK)
			case r.Method == http.MethodPost && q.Has("uploads"):
				reply(w, http.StatusOK, `<?xml version="1.0"?><InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>d</Key><UploadId>U1</UploadId></InitiateMultipartUploadResult>`)
			case r.Method == http.MethodPut && q.Has("partNumber"):
				w.WriteHeader(http.StatusOK) // no CopyPartResult
			case r.Method == http.MethodPost && q.Has("uploadId"):
				reply(w, http.StatusOK, `<?xml version="1.0"?><CompleteMultipartUploadResult><ETag>"`+other+`-2"</ETag></CompleteMultipartUploadResult>`)
			case r.Method == http.MethodDelete:
				aborts.Add(1)
				w.WriteHeader(http.StatusNoContent)
			default:
				w.WriteHeader(http.StatusNotFound)
			}
		}, func(o *Options) { o.CopyCutoff, o.CopyPartSize = 5*MiB, 5*MiB })
		obj, err := b.CopyFrom(t.Context(), b, "s", "d", backends.Object{Key: "s", Size: int64(size), ETag: other + "-2"})
		want := fmt.Sprintf(`copy %s: key "d": the store answered UploadPartCopy of part 1 (from %s key "s") without a result ETag: the part is not confirmed`, b, b)
		if err == nil || err.Error() != want {
			t.Fatalf("CopyFrom = %+v, %v\nwant error %s", obj, err, want)
		}
		if aborts.Load() != 1 {
			t.Errorf("%d aborts; want 1", aborts.Load())
		}
	})
}

// DeleteObjects is sent quiet: its reply lists failures only. An error for
// a key that was not sent (spelled otherwise, or none) could be any key's,
// so every key not reported failed is reported unconfirmed.
func TestDeleteBatchErrorForAKeyNotSent(t *testing.T) {
	keys := []string{"a", "b", "c d"}
	stray := func(b *Backend, code, msg, key string) func(string) string {
		return func(k string) string {
			return fmt.Sprintf(`delete %s: key %q: not confirmed: the store reported an error (%s: %s) for key %q, which is none of the keys sent, so it may be this key's`, b, k, code, msg, key)
		}
	}
	for _, c := range []struct {
		name, errors string
		want         func(b *Backend) []string // per key; "" no error
	}{
		{"key spelled otherwise", `<Error><Key>c%20d</Key><Code>AccessDenied</Code><Message>no</Message></Error>`, func(b *Backend) []string {
			s := stray(b, "AccessDenied", "no", "c%20d")
			return []string{s("a"), s("b"), s("c d")}
		}},
		{"no key", `<Error><Code>AccessDenied</Code><Message>no</Message></Error>`, func(b *Backend) []string {
			s := stray(b, "AccessDenied", "no", "")
			return []string{s("a"), s("b"), s("c d")}
		}},
		{"one key's error and a stray one", `<Error><Key>a</Key><Code>InternalError</Code><Message>later</Message></Error><Error><Key>zz</Key><Code>AccessDenied</Code><Message>no</Message></Error>`, func(b *Backend) []string {
			s := stray(b, "AccessDenied", "no", "zz")
			return []string{fmt.Sprintf(`delete %s: key "a": InternalError: later`, b), s("b"), s("c d")}
		}},
		{"stray NoSuchKey", `<Error><Key>zz</Key><Code>NoSuchKey</Code><Message>gone</Message></Error>`, func(b *Backend) []string {
			return []string{"", "", ""}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := replying(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				reply(w, http.StatusOK, `<?xml version="1.0"?><DeleteResult>`+c.errors+`</DeleteResult>`)
			})
			errs, err := b.DeleteBatch(t.Context(), keys)
			if err != nil || len(errs) != len(keys) {
				t.Fatalf("DeleteBatch = %v, %v", errs, err)
			}
			for i, want := range c.want(b) {
				got := ""
				if errs[i] != nil {
					got = errs[i].Error()
				}
				if got != want {
					t.Errorf("key %q: %q\nwant %q", keys[i], got, want)
				}
			}
		})
	}
}

// A server that takes a request and never answers fails it after the
// response header timeout (5 minutes by default), whatever the context;
// server-side copies and Complete, which a store may work on for long
// before answering, get 30 minutes.
func TestResponseHeaderTimeout(t *testing.T) {
	b := replying(t, func(w http.ResponseWriter, r *http.Request) {})
	timeouts := func(c any) time.Duration {
		bc, ok := c.(*awshttp.BuildableClient)
		if !ok {
			t.Fatalf("HTTP client %T", c)
		}
		return bc.GetTransport().ResponseHeaderTimeout
	}
	if got := timeouts(b.client.Options().HTTPClient); got != 5*time.Minute {
		t.Errorf("response header timeout %v; want 5m", got)
	}
	if got := timeouts(b.slowHTTP); got != 30*time.Minute {
		t.Errorf("response header timeout of slow requests %v; want 30m", got)
	}

	srcMD5 := md5hex([]byte("abc"))
	b = replying(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "" {
			time.Sleep(600 * time.Millisecond) // longer than the usual timeout
			reply(w, http.StatusOK, `<?xml version="1.0"?><CopyObjectResult><ETag>"`+srcMD5+`"</ETag></CopyObjectResult>`)
			return
		}
		if r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/s") { // the copy's source
			w.Header().Set("ETag", `"`+srcMD5+`"`)
			w.Header().Set("Content-Length", "3")
			w.Header().Set("X-Amz-Meta-Mtime", "1600000000.5")
			w.WriteHeader(http.StatusOK)
			return
		}
		<-r.Context().Done() // never answers
	}, func(o *Options) { o.ResponseHeaderTimeout, o.MaxAttempts = 200*time.Millisecond, 1 })
	start := time.Now()
	_, err := b.Stat(t.Context(), "k")
	if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf(`stat %s: key "k": `, b)) || !strings.HasSuffix(err.Error(), "net/http: timeout awaiting response headers") {
		t.Errorf("Stat on a server that never answers = %v; want the header timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stat took %v", d)
	}
	obj, err := b.CopyFrom(t.Context(), b, "s", "d", backends.Object{Key: "s", Size: 3, ETag: srcMD5})
	if err != nil || obj.ETag != srcMD5 {
		t.Errorf("CopyFrom answered after 600ms = %+v, %v; want the copy", obj, err)
	}
}

// An upload that a late part brings back after its abort is aborted again
// until ListParts no longer finds it; one that never goes is an error
// naming it after abortChecks aborts.
func TestAbortRepeatsWhileListed(t *testing.T) {
	defer func(d time.Duration) { abortSettle = d }(abortSettle)
	abortSettle = time.Millisecond
	for _, c := range []struct {
		name       string
		listed     int // ListParts finds the upload this many times
		wantAborts int32
		wantErr    string
	}{
		{"gone at once", 0, 1, ""},
		{"back twice", 2, 3, ""},
		{"never gone", 100, abortChecks, "upload U1 is still listed after 5 aborts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var aborts, lists atomic.Int32
			b := replying(t, func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				switch {
				case r.Method == http.MethodDelete && q.Get("uploadId") == "U1":
					aborts.Add(1)
					w.WriteHeader(http.StatusNoContent)
				case r.Method == http.MethodGet && q.Get("uploadId") == "U1":
					if int(lists.Add(1)) > c.listed {
						reply(w, http.StatusNotFound, `<?xml version="1.0"?><Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>`)
						return
					}
					reply(w, http.StatusOK, `<?xml version="1.0"?><ListPartsResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>U1</UploadId><Part><PartNumber>1</PartNumber><ETag>"x"</ETag><Size>5</Size></Part></ListPartsResult>`)
				default:
					w.WriteHeader(http.StatusMethodNotAllowed)
				}
			})
			err := b.AbortUpload(t.Context(), "k", "U1")
			if got := aborts.Load(); got != c.wantAborts {
				t.Errorf("%d aborts; want %d", got, c.wantAborts)
			}
			if c.wantErr == "" && err != nil {
				t.Errorf("AbortUpload: %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("AbortUpload = %v; want an error saying %q", err, c.wantErr)
			}
		})
	}
}
