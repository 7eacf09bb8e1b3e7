package s3test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Faults says which share of requests a Proxy disturbs. Shares are
// probabilities in [0, 1], drawn in this order for each request.
type Faults struct {
	// SlowDown answers 503 SlowDown without forwarding the request.
	SlowDown float64
	// Reset forwards the request, then closes the connection without a
	// response (the store did the work; the client does not know).
	Reset float64
	// Cut forwards the request and closes the connection halfway through
	// the response body (or before the response when it has none).
	Cut float64
	// Stall forwards the request, sends half the response body and then
	// holds the connection open, sending nothing, until the client gives up.
	Stall float64
	// MaxInARow bounds consecutive faults for one request (same method,
	// URI and Range), so a client with enough retries always gets through.
	// 0 means 3.
	MaxInARow int
	// Only, when non-empty, limits faults to these operations (see Op).
	Only []string
	// Seed makes the fault sequence repeatable.
	Seed uint64
}

// Proxy is a reverse proxy in front of an S3 server that counts requests
// per operation and bytes in each direction, and injects faults.
type Proxy struct {
	URL string // the proxy's endpoint

	// OnRequest, when set before requests arrive (SetOnRequest while they
	// may), sees every request (its operation and headers) before it is
	// forwarded or faulted.
	OnRequest func(op string, r *http.Request)
	// Fail, when set before requests arrive, may answer a request with an
	// S3 error instead of forwarding it: a non-zero status and its code.
	Fail func(op string, r *http.Request) (status int, code string)

	onResponse func(op string, r *http.Request, status int)
	detached   bool
	inFlight   atomic.Int64

	srv      *httptest.Server
	upstream *url.URL
	client   *http.Client

	mu       sync.Mutex
	counts   map[string]int
	faults   Faults
	rng      *rand.Rand
	inARow   map[string]int
	injected int

	bytesUp, bytesDown atomic.Int64
}

// NewProxy starts a proxy to upstream (an http:// endpoint) on 127.0.0.1.
func NewProxy(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableCompression = true
	p := &Proxy{
		upstream: u,
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		counts: map[string]int{},
		inARow: map[string]int{},
		rng:    rand.New(rand.NewPCG(1, 2)),
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// SetFaults replaces the fault settings (zero Faults: none).
func (p *Proxy) SetFaults(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
	p.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x5eed))
	p.inARow = map[string]int{}
}

// SetOnRequest sets OnRequest (nil: none) while requests may be arriving.
func (p *Proxy) SetOnRequest(fn func(op string, r *http.Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.OnRequest = fn
}

// SetOnResponse sets a hook (nil: none) that sees each forwarded request
// with the status the server answered, before the client gets it (or,
// with a Reset fault, does not).
func (p *Proxy) SetOnResponse(fn func(op string, r *http.Request, status int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onResponse = fn
}

// SetDetached makes the proxy forward each request to the end even when
// its client goes away meanwhile (killed, or gave up), as a store would
// finish a write whose client vanished, so that SetOnResponse sees it.
func (p *Proxy) SetDetached(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.detached = on
}

// InFlight returns how many requests the proxy is handling.
func (p *Proxy) InFlight() int { return int(p.inFlight.Load()) }

// Reset zeroes the counters.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts = map[string]int{}
	p.injected = 0
	p.bytesUp.Store(0)
	p.bytesDown.Store(0)
}

// Count returns how many requests of operation op (see Op) arrived.
func (p *Proxy) Count(op string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[op]
}

// Counts returns a copy of all counters.
func (p *Proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		m[k] = v
	}
	return m
}

// Injected returns how many faults were injected.
func (p *Proxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// Bytes returns the request and response body bytes that passed through.
func (p *Proxy) Bytes() (up, down int64) { return p.bytesUp.Load(), p.bytesDown.Load() }

// Op names the S3 operation of a path-style request, e.g. "PutObject",
// "UploadPart", "ListObjectsV2".
func Op(r *http.Request) string {
	q := r.URL.Query()
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	has := func(k string) bool { _, ok := q[k]; return ok }
	copySrc := r.Header.Get("X-Amz-Copy-Source") != ""
	switch m := r.Method; {
	case bucket == "":
		return "ListBuckets"
	case has("uploadId"):
		switch m {
		case http.MethodPut:
			if copySrc {
				return "UploadPartCopy"
			}
			return "UploadPart"
		case http.MethodPost:
			return "CompleteMultipartUpload"
		case http.MethodDelete:
			return "AbortMultipartUpload"
		case http.MethodGet:
			return "ListParts"
		}
	case has("uploads"):
		if m == http.MethodPost {
			return "CreateMultipartUpload"
		}
		return "ListMultipartUploads"
	case m == http.MethodPost && has("delete"):
		return "DeleteObjects"
	case m == http.MethodPost && has("restore"):
		return "RestoreObject"
	case key == "":
		switch m {
		case http.MethodPut:
			return "CreateBucket"
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodGet:
			if q.Get("list-type") == "2" {
				return "ListObjectsV2"
			}
			return "ListObjects"
		}
	default:
		switch m {
		case http.MethodPut:
			if copySrc {
				return "CopyObject"
			}
			return "PutObject"
		case http.MethodGet:
			return "GetObject"
		case http.MethodHead:
			return "HeadObject"
		case http.MethodDelete:
			return "DeleteObject"
		}
	}
	return r.Method + " " + r.URL.Path
}

type fault int

const (
	noFault fault = iota
	slowDown
	reset
	cut
	stall
)

// pick counts the request and decides its fault.
func (p *Proxy) pick(op string, r *http.Request) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[op]++
	f := p.faults
	if f.SlowDown == 0 && f.Reset == 0 && f.Cut == 0 && f.Stall == 0 {
		return noFault
	}
	if len(f.Only) > 0 {
		found := false
		for _, o := range f.Only {
			found = found || o == op
		}
		if !found {
			return noFault
		}
	}
	sig := r.Method + " " + r.RequestURI + " " + r.Header.Get("Range")
	maxRow := f.MaxInARow
	if maxRow == 0 {
		maxRow = 3
	}
	if p.inARow[sig] >= maxRow {
		delete(p.inARow, sig)
		return noFault
	}
	x := p.rng.Float64()
	var got fault
	switch {
	case x < f.SlowDown:
		got = slowDown
	case x < f.SlowDown+f.Reset:
		got = reset
	case x < f.SlowDown+f.Reset+f.Cut:
		got = cut
	case x < f.SlowDown+f.Reset+f.Cut+f.Stall:
		got = stall
	}
	if got == noFault {
		delete(p.inARow, sig)
	} else {
		p.inARow[sig]++
		p.injected++
	}
	return got
}

// writeError answers with an S3 error document.
func writeError(w http.ResponseWriter, r *http.Request, status int, code string) {
	io.Copy(io.Discard, r.Body)
	doc := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>` + code + `</Code><Message>injected by the test proxy</Message><RequestId>syncer-fault</RequestId></Error>`
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, doc)
	}
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect"}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	op := Op(r)
	p.mu.Lock()
	hook := p.OnRequest
	ctx := r.Context()
	if p.detached {
		ctx = context.WithoutCancel(ctx)
	}
	p.mu.Unlock()
	if hook != nil {
		hook(op, r)
	}
	f := p.pick(op, r)
	if p.Fail != nil {
		if status, code := p.Fail(op, r); status != 0 {
			writeError(w, r, status, code)
			return
		}
	}
	if f == slowDown {
		writeError(w, r, http.StatusServiceUnavailable, "SlowDown")
		return
	}
	out, err := http.NewRequestWithContext(ctx, r.Method, p.upstream.Scheme+"://"+p.upstream.Host+r.RequestURI, &countingReader{r: r.Body, n: &p.bytesUp})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host // the signature covers the Host header
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.mu.Lock()
	onResp := p.onResponse
	p.mu.Unlock()
	if onResp != nil {
		onResp(op, r, resp.StatusCode)
	}
	if f == reset || (f == cut && resp.ContentLength < 2) {
		io.Copy(io.Discard, resp.Body)
		panic(http.ErrAbortHandler) // close the connection, no response
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	body := io.Reader(resp.Body)
	if f == cut || f == stall {
		body = io.LimitReader(resp.Body, resp.ContentLength/2)
	}
	n, _ := io.Copy(w, body)
	p.bytesDown.Add(n)
	if f == stall {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		<-r.Context().Done() // the client dropped the connection
		panic(http.ErrAbortHandler)
	}
	if f == cut {
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
