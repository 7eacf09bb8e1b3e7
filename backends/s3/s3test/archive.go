package s3test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Archived objects, as AWS documents them (gofakes3 has no storage
// classes): ListObjectsV2 names the class, and with
// x-amz-optional-object-attributes: RestoreStatus a restore's state;
// HeadObject sends x-amz-storage-class (x-amz-archive-status for
// Intelligent-Tiering's archive tiers) and x-amz-restore; GetObject and
// CopyObject of an object not restored answer 403 InvalidObjectState;
// RestoreObject answers 202 Accepted, then 409 RestoreAlreadyInProgress
// while it runs, and 200 OK once done.

type restoreState int

const (
	notRestored restoreState = iota
	restoring
	restored
)

type archivedObj struct {
	class string // GLACIER, DEEP_ARCHIVE or INTELLIGENT_TIERING (in its archive tier); GLACIER_IR reads
	state restoreState
}

// unreadable reports whether a GET of the object answers InvalidObjectState.
func (o *archivedObj) unreadable() bool { return o.class != "GLACIER_IR" && o.state != restored }

type archive struct {
	mu       sync.Mutex
	objs     map[string]*archivedObj // by "bucket/key"
	restores map[string]int          // RestoreObject requests by "bucket/key"
}

// Archive makes key of bucket archived in class: "GLACIER", "DEEP_ARCHIVE",
// or "INTELLIGENT_TIERING" (its Archive Access tier, which listings do not
// tell); "GLACIER_IR" lists as such and reads. The object must exist.
func (f *Fake) Archive(bucket, key, class string) {
	f.arch.mu.Lock()
	defer f.arch.mu.Unlock()
	f.arch.objs[bucket+"/"+key] = &archivedObj{class: class}
}

// FinishRestores makes every restore in progress done: the objects read.
func (f *Fake) FinishRestores() {
	f.arch.mu.Lock()
	defer f.arch.mu.Unlock()
	for _, o := range f.arch.objs {
		if o.state == restoring {
			o.state = restored
		}
	}
}

// Restores returns how many RestoreObject requests arrived, by
// "bucket/key".
func (f *Fake) Restores() map[string]int {
	f.arch.mu.Lock()
	defer f.arch.mu.Unlock()
	m := map[string]int{}
	for k, n := range f.arch.restores {
		m[k] = n
	}
	return m
}

// lookup returns the archived object of a path-style request, if any.
func (a *archive) lookup(r *http.Request) (*archivedObj, string) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	a.mu.Lock()
	defer a.mu.Unlock()
	o := a.objs[name]
	if o == nil {
		return nil, name
	}
	c := *o
	return &c, name
}

func (a *archive) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch op := Op(r); op {
		case "ListObjectsV2":
			a.list(w, r, h)
			return
		case "RestoreObject":
			a.restore(w, r)
			return
		case "GetObject":
			if o, _ := a.lookup(r); o != nil && o.unreadable() {
				invalidObjectState(w, r, o)
				return
			}
		case "CopyObject", "UploadPartCopy":
			src, _ := url.PathUnescape(strings.TrimPrefix(r.Header.Get("X-Amz-Copy-Source"), "/"))
			src, _, _ = strings.Cut(src, "?")
			a.mu.Lock()
			var o *archivedObj
			if p := a.objs[src]; p != nil && p.unreadable() {
				c := *p
				o = &c
			}
			a.mu.Unlock()
			if o != nil {
				invalidObjectState(w, r, o)
				return
			}
		case "HeadObject":
			if o, _ := a.lookup(r); o != nil {
				if o.class == "INTELLIGENT_TIERING" {
					if o.state != restored {
						w.Header().Set("X-Amz-Archive-Status", "ARCHIVE_ACCESS")
					}
				}
				w.Header().Set("X-Amz-Storage-Class", o.class)
				switch o.state {
				case restoring:
					w.Header().Set("X-Amz-Restore", `ongoing-request="true"`)
				case restored:
					w.Header().Set("X-Amz-Restore", `ongoing-request="false", expiry-date="Fri, 01 Jan 2100 00:00:00 GMT"`)
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

func invalidObjectState(w http.ResponseWriter, r *http.Request, o *archivedObj) {
	tier := ""
	if o.class == "INTELLIGENT_TIERING" {
		tier = "<AccessTier>ARCHIVE_ACCESS</AccessTier>"
	}
	doc := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the object's storage class</Message><StorageClass>` +
		o.class + `</StorageClass>` + tier + `<RequestId>syncer-fake</RequestId></Error>`
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusForbidden)
	if r.Method != http.MethodHead {
		w.Write([]byte(doc))
	}
}

func (a *archive) restore(w http.ResponseWriter, r *http.Request) {
	_, name := a.lookup(r)
	a.mu.Lock()
	if a.restores == nil {
		a.restores = map[string]int{}
	}
	a.restores[name]++
	o := a.objs[name]
	var status int
	switch {
	case o == nil:
		a.mu.Unlock()
		writeError(w, r, http.StatusForbidden, "InvalidObjectState")
		return
	case o.state == restoring:
		a.mu.Unlock()
		writeError(w, r, http.StatusConflict, "RestoreAlreadyInProgress")
		return
	case o.state == restored:
		status = http.StatusOK
	default:
		o.state = restoring
		status = http.StatusAccepted
	}
	a.mu.Unlock()
	w.WriteHeader(status)
}

var (
	contentsRE = regexp.MustCompile(`(?s)<Contents>.*?</Contents>`)
	keyRE      = regexp.MustCompile(`<Key>([^<]*)</Key>`)
	classRE    = regexp.MustCompile(`<StorageClass>[^<]*</StorageClass>`)
)

// list rewrites gofakes3's ListObjectsV2 reply: the storage class of
// archived objects, and their RestoreStatus when asked for.
func (a *archive) list(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	bucket := strings.Trim(r.URL.Path, "/")
	withStatus := strings.Contains(r.Header.Get("X-Amz-Optional-Object-Attributes"), "RestoreStatus")
	if rec.Code == http.StatusOK {
		a.mu.Lock()
		body = contentsRE.ReplaceAllFunc(body, func(c []byte) []byte {
			m := keyRE.FindSubmatch(c)
			if m == nil {
				return c
			}
			// gofakes3 does not URL-encode keys, even when asked to.
			key := unescapeXML(string(m[1]))
			o := a.objs[bucket+"/"+key]
			if o == nil {
				return c
			}
			el := "<StorageClass>" + o.class + "</StorageClass>"
			if withStatus {
				switch o.state {
				case restoring:
					el += "<RestoreStatus><IsRestoreInProgress>true</IsRestoreInProgress></RestoreStatus>"
				case restored:
					el += "<RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress><RestoreExpiryDate>2100-01-01T00:00:00.000Z</RestoreExpiryDate></RestoreStatus>"
				}
			}
			if classRE.Match(c) {
				return classRE.ReplaceAll(c, []byte(el))
			}
			return bytes.Replace(c, []byte("</Contents>"), []byte(el+"</Contents>"), 1)
		})
		a.mu.Unlock()
	}
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	w.Write(body)
}

var xmlUnescaper = strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&quot;", `"`, "&#39;", "'", "&apos;", "'")

func unescapeXML(s string) string { return xmlUnescaper.Replace(s) }
