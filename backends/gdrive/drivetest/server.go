// Package drivetest is an in-process fake of the Google Drive v3 REST API,
// faithful to the wire protocol as google.golang.org/api/drive/v3 speaks
// it, for tests of the gdrive backend.
//
// It serves, on 127.0.0.1:
//
//   - files.list with q (see query.go for the grammar), fields (partial
//     responses; an unknown field is a 400), pageSize (1..1000, default
//     100), pageToken, orderBy (folder, name, name_natural, createdTime,
//     modifiedTime, each optionally "desc"; names sort case-insensitively,
//     as Drive does; SetIgnoreOrder ignores it, as Drive may for very large
//     drives), corpora, driveId, includeItemsFromAllDrives and
//     supportsAllDrives. Trashed items are listed unless q excludes them.
//   - files.get, with alt=media and Range (206 + Content-Range; 416 past
//     the end); Google Docs answer 403 fileNotDownloadable.
//   - files.export for Google Docs, Sheets, Slides and Drawings in Drive's
//     export formats; output over the export limit (10 MB by default)
//     answers 403 exportSizeLimitExceeded.
//   - files.create and files.update, metadata only or with content by
//     uploadType=media, multipart or resumable. Resumable sessions answer
//     the init request with a session URI in Location; chunks (PUT, or POST
//     as the Go client sends them) carry Content-Range "bytes a-b/total",
//     "bytes a-b/*", or "bytes */total" for status queries. An unfinished
//     session answers 308 with a Range header, or, when the request says
//     X-GUploader-No-308: yes (the Go client always does), 200 with
//     X-HTTP-Status-Code-Override: 308. A chunk starting before the stored
//     end is a retry and its overlap is skipped; non-final chunks must be
//     multiples of 256 KiB. ExpireSessions makes sessions answer 404 (or
//     410).
//   - files.copy, files.delete (folders with their contents), trashing by
//     files.update {"trashed": true}, files.emptyTrash, about.get.
//   - Shared drives (AddSharedDrive): their items answer 404 unless the
//     request says supportsAllDrives=true, as Drive does.
//
// Faults (AddFault) answer a share or a number of matching requests with
// Drive's error bodies (403 userRateLimitExceeded, 429, 5xx), stall them,
// or cut downloads short. Stats counts requests by kind and the media
// bytes received and sent, so tests can prove that transfers stream.
// Content is kept in files in a temporary folder, so the fake's own memory
// stays small whatever the objects' sizes.
package drivetest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a fake Drive. Its zero value is not usable: call New.
type Server struct {
	// URL is the server's base URL, e.g. "http://127.0.0.1:41234".
	URL string

	srv *httptest.Server
	dir string

	mu          sync.Mutex
	files       map[string]*file
	children    map[string]map[string]struct{}
	sessions    map[string]*session
	rootID      string
	nextID      int64
	rng         *rand.Rand
	faults      []*faultState
	exportLimit int64
	hook        func(*http.Request)
	expireCode  int             // sessions answer this status when non-zero
	generated   map[string]bool // ids from files.generateIds not used yet
	ignoreOrder bool
	caps        dailyCap // SetDailyCaps
	// serviceAccount: files in My Drive answer storageQuotaExceeded
	// (SetServiceAccount).
	serviceAccount bool
	tokenLife      int64 // SetPageTokenLife; 0: tokens never expire
	changeLog      []change
	nameLag        time.Duration // SetNameLag

	requests    atomic.Int64
	uploaded    atomic.Int64
	downloaded  atomic.Int64
	maxChunk    atomic.Int64
	injected    atomic.Int64
	nameQueries atomic.Int64
	kindsMu     sync.Mutex
	kinds       map[string]int64
}

// New starts a fake Drive on 127.0.0.1 with an empty My Drive.
func New() *Server {
	dir, err := os.MkdirTemp("", "drivetest-")
	if err != nil {
		panic("drivetest: " + err.Error())
	}
	s := &Server{
		dir:         dir,
		files:       map[string]*file{},
		children:    map[string]map[string]struct{}{},
		sessions:    map[string]*session{},
		generated:   map[string]bool{},
		rng:         rand.New(rand.NewPCG(1, 2)),
		exportLimit: DefaultExportLimit,
		kinds:       map[string]int64{},
		caps:        dailyCap{upAt: -1, downAt: -1},
	}
	s.mu.Lock()
	s.rootID = "0AMyDriveRootFolder0000000"
	if _, err := s.addLocked(FileSpec{ID: s.rootID, Name: "My Drive", MimeType: FolderMime, isRoot: true}); err != nil {
		panic(err)
	}
	s.mu.Unlock()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server and removes its stored content.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
	os.RemoveAll(s.dir)
}

// Endpoint is the base URL to give the Go client (option.WithEndpoint).
func (s *Server) Endpoint() string { return s.URL + "/drive/v3/" }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// RootID is the id of My Drive's root folder (alias "root").
func (s *Server) RootID() string { return s.rootID }

// AddSharedDrive creates a shared drive and returns its id, which is also
// the id of its root folder.
func (s *Server) AddSharedDrive(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := "0A" + s.newID()[1:]
	if _, err := s.addLocked(FileSpec{ID: id, Name: name, MimeType: FolderMime, isRoot: true, driveID: id}); err != nil {
		panic(err)
	}
	return id
}

// SetExportLimit sets the largest export the fake serves (bytes).
func (s *Server) SetExportLimit(n int64) {
	s.mu.Lock()
	s.exportLimit = n
	s.mu.Unlock()
}

// SetIgnoreOrder makes files.list ignore orderBy (answering in id order),
// as Drive may for accounts of about a million files.
func (s *Server) SetIgnoreOrder(ignore bool) {
	s.mu.Lock()
	s.ignoreOrder = ignore
	s.mu.Unlock()
}

// SetHook calls fn (nil: nothing) with every request before it is served.
func (s *Server) SetHook(fn func(*http.Request)) {
	s.mu.Lock()
	s.hook = fn
	s.mu.Unlock()
}

// ExpireSessions makes every resumable session, open or future, answer
// status code (404 or 410; 0 restores normal service).
func (s *Server) ExpireSessions(code int) {
	s.mu.Lock()
	s.expireCode = code
	s.mu.Unlock()
}

// Stats are the fake's counters.
type Stats struct {
	Requests   int64            // every request, faults included
	Uploaded   int64            // media bytes received (multipart, media, chunks)
	Downloaded int64            // media bytes sent (alt=media, export)
	MaxChunk   int64            // largest resumable chunk body received
	Faults     int64            // requests answered by an injected fault
	ByKind     map[string]int64 // list, get, media, export, create, update, upload-multipart, upload-media, upload-init, upload-chunk, upload-status, copy, delete, empty-trash, about
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Requests:   s.requests.Load(),
		Uploaded:   s.uploaded.Load(),
		Downloaded: s.downloaded.Load(),
		MaxChunk:   s.maxChunk.Load(),
		Faults:     s.injected.Load(),
		ByKind:     map[string]int64{},
	}
	s.kindsMu.Lock()
	for k, v := range s.kinds {
		st.ByKind[k] = v
	}
	s.kindsMu.Unlock()
	return st
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	if s.caps.upAt >= 0 {
		s.caps.upAt = max(0, s.caps.upAt-s.uploaded.Load())
	}
	if s.caps.downAt >= 0 {
		s.caps.downAt = max(0, s.caps.downAt-s.downloaded.Load())
	}
	s.mu.Unlock()
	s.requests.Store(0)
	s.uploaded.Store(0)
	s.downloaded.Store(0)
	s.maxChunk.Store(0)
	s.injected.Store(0)
	s.nameQueries.Store(0)
	s.kindsMu.Lock()
	s.kinds = map[string]int64{}
	s.kindsMu.Unlock()
}

func (s *Server) count(kind string) {
	s.kindsMu.Lock()
	s.kinds[kind]++
	s.kindsMu.Unlock()
}

// Fault describes an injected failure.
type Fault struct {
	// Status is the HTTP status to answer (403, 429, 500, 503, ...); 0
	// with Stall set only delays the request, which is then served.
	Status int
	// Reason is the error reason in the body; default
	// userRateLimitExceeded for 403, rateLimitExceeded for 429,
	// backendError for 5xx.
	Reason string
	// RetryAfter, when set, is sent as a Retry-After header (seconds).
	RetryAfter time.Duration
	// Stall delays the answer (until the client gives up, at most Stall).
	Stall time.Duration
	// StallAfter, with Stall, serves the request but pauses its body
	// mid-transfer on the open connection for Stall: after StallAfter
	// bytes of the answer sent (downloads, exports) or of the request
	// body read (uploads), whichever the request has.
	StallAfter int64
	// CutAfter, for downloads (alt=media, export), sends that many bytes
	// of the body and then drops the connection. Status is ignored.
	CutAfter int64
	// Fraction (0 < f ≤ 1) injects into that share of matching requests,
	// chosen by a seeded generator; 0 means every matching request.
	Fraction float64
	// Count, when > 0, stops the fault after that many injections.
	Count int
	// DropResponse serves the request (its change is made) and then drops
	// the connection instead of answering: a reply lost on the way.
	DropResponse bool
	// Rewrite serves the request (its change is made) and passes the JSON
	// object of a successful answer through Rewrite before sending it: a
	// Drive that reports something other than what it did.
	Rewrite func(body map[string]any)
	// Match selects requests; nil matches every request. Kind gives the
	// request's kind as counted in Stats.ByKind.
	Match func(r *http.Request, kind string) bool
}

type faultState struct {
	Fault
	used int
}

// AddFault installs f; faults are tried in the order added.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, &faultState{Fault: f})
	s.mu.Unlock()
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

// pickFault returns the fault to inject into r, if any.
func (s *Server) pickFault(r *http.Request, kind string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Count > 0 && f.used >= f.Count {
			continue
		}
		if f.CutAfter > 0 && kind != "media" && kind != "export" {
			continue
		}
		if f.Match != nil && !f.Match(r, kind) {
			continue
		}
		if f.Fraction > 0 && s.rng.Float64() >= f.Fraction {
			continue
		}
		f.used++
		c := f.Fault
		return &c
	}
	return nil
}

// apiError is Drive's JSON error body.
type apiError struct {
	Code    int
	Reason  string
	Message string
	Domain  string
	Loc     string
	LocType string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Reason, e.Message) }

func errNotFound(id string) *apiError {
	return &apiError{Code: 404, Reason: "notFound", Message: "File not found: " + id + ".", Loc: "fileId", LocType: "parameter"}
}

func errBadRequest(msg string) *apiError {
	return &apiError{Code: 400, Reason: "badRequest", Message: msg}
}

func errInvalid(loc, msg string) *apiError {
	return &apiError{Code: 400, Reason: "invalid", Message: msg, Loc: loc, LocType: "parameter"}
}

func writeError(w http.ResponseWriter, e *apiError) {
	domain := e.Domain
	if domain == "" {
		domain = "global"
	}
	item := map[string]any{"domain": domain, "reason": e.Reason, "message": e.Message}
	if e.Loc != "" {
		item["location"] = e.Loc
		item["locationType"] = e.LocType
	}
	body := map[string]any{"error": map[string]any{
		"code":    e.Code,
		"message": e.Message,
		"errors":  []any{item},
	}}
	writeJSON(w, e.Code, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// faultError is the body Drive sends for a fault's status.
func faultError(f *Fault) *apiError {
	reason := f.Reason
	e := &apiError{Code: f.Status, Domain: "global"}
	switch {
	case f.Status == 403:
		if reason == "" {
			reason = "userRateLimitExceeded"
		}
		e.Domain = "usageLimits"
		// The per-minute quota's wording; the daily cap's is
		// UploadCapMessage (SetDailyCaps).
		e.Message = "User Rate Limit Exceeded. Rate of requests for user exceed configured project quota. You may consider re-evaluating expected per-user traffic to the API and adjust project quota limits accordingly."
	case f.Status == 429:
		if reason == "" {
			reason = "rateLimitExceeded"
		}
		e.Domain = "usageLimits"
		e.Message = "Rate Limit Exceeded"
	case f.Status >= 500:
		if reason == "" {
			reason = "backendError"
		}
		e.Message = "Backend Error"
	default:
		if reason == "" {
			reason = "badRequest"
		}
		e.Message = "Injected error"
	}
	e.Reason = reason
	return e
}

// classify names the kind of a request, as counted in Stats.ByKind.
func classify(r *http.Request) string {
	p := r.URL.Path
	q := r.URL.Query()
	switch {
	case strings.HasPrefix(p, "/upload/drive/v3/files"):
		if q.Get("upload_id") != "" {
			if strings.HasPrefix(r.Header.Get("Content-Range"), "bytes */") {
				return "upload-status"
			}
			return "upload-chunk"
		}
		switch q.Get("uploadType") {
		case "resumable":
			return "upload-init"
		case "multipart":
			return "upload-multipart"
		}
		return "upload-media"
	case p == "/drive/v3/changes/startPageToken":
		return "changes-start"
	case p == "/drive/v3/changes":
		return "changes"
	case p == "/drive/v3/about":
		return "about"
	case p == "/drive/v3/files":
		if r.Method == http.MethodPost {
			return "create"
		}
		return "list"
	case p == "/drive/v3/files/generateIds":
		return "generate-ids"
	case p == "/drive/v3/files/trash" && r.Method == http.MethodDelete:
		return "empty-trash"
	case strings.HasSuffix(p, "/export"):
		return "export"
	case strings.HasSuffix(p, "/copy"):
		return "copy"
	case strings.HasPrefix(p, "/drive/v3/files/"):
		switch r.Method {
		case http.MethodGet:
			if q.Get("alt") == "media" {
				return "media"
			}
			return "get"
		case http.MethodPatch:
			return "update"
		case http.MethodDelete:
			return "delete"
		}
	}
	return "other"
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	kind := classify(r)
	s.count(kind)
	s.mu.Lock()
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	var cut int64
	var rewrite func(map[string]any)
	if e := s.realFault(r, kind); e != nil {
		io.Copy(io.Discard, r.Body)
		writeError(w, e)
		return
	}
	if f := s.pickFault(r, kind); f != nil {
		if f.Stall > 0 && f.StallAfter > 0 {
			s.injected.Add(1)
			r.Body = &stallReader{r: r.Body, left: f.StallAfter, stall: f.Stall, done: r.Context().Done()}
			w = &stallWriter{ResponseWriter: w, left: f.StallAfter, stall: f.Stall, done: r.Context().Done()}
		} else if f.Stall > 0 {
			t := time.NewTimer(f.Stall)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		switch {
		case f.DropResponse:
			s.injected.Add(1)
			s.route(httptest.NewRecorder(), r, kind, 0)
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
			return
		case f.Rewrite != nil:
			rewrite = f.Rewrite
			s.injected.Add(1)
		case f.CutAfter > 0:
			cut = f.CutAfter
			s.injected.Add(1)
		case f.Status != 0:
			s.injected.Add(1)
			// Read what the client sends, as Drive does, so it sees our
			// answer rather than a reset connection.
			io.Copy(io.Discard, r.Body)
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
			}
			writeError(w, faultError(f))
			return
		}
	}
	if rewrite == nil {
		s.routeOrError(w, r, kind, cut)
		return
	}
	rec := httptest.NewRecorder()
	s.routeOrError(rec, r, kind, cut)
	var body map[string]any
	if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &body) == nil {
		rewrite(body)
		writeJSON(w, http.StatusOK, body)
		return
	}
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// routeOrError serves r, or answers the error route returns as Drive would.
func (s *Server) routeOrError(w http.ResponseWriter, r *http.Request, kind string, cut int64) {
	if err := s.route(w, r, kind, cut); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{Code: 500, Reason: "internalError", Message: err.Error()}
		}
		io.Copy(io.Discard, r.Body)
		writeError(w, ae)
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, kind string, cut int64) error {
	q := r.URL.Query()
	p := r.URL.Path
	if alt := q.Get("alt"); alt != "" && alt != "json" && alt != "media" {
		return errInvalid("alt", "Invalid value for alt: "+alt)
	}
	switch kind {
	case "list":
		if r.Method != http.MethodGet {
			break
		}
		return s.list(w, r)
	case "create":
		return s.createMeta(w, r)
	case "about":
		writeJSON(w, 200, map[string]any{"kind": "drive#about", "user": map[string]any{"kind": "drive#user", "displayName": "Fake User", "emailAddress": "fake@example.com"}})
		return nil
	case "empty-trash":
		return s.emptyTrash(w, r)
	case "generate-ids":
		if r.Method != http.MethodGet {
			break
		}
		return s.generateIDs(w, r)
	case "changes-start", "changes":
		if r.Method != http.MethodGet {
			break
		}
		if kind == "changes" {
			return s.changesList(w, r)
		}
		return s.changesStart(w, r)
	case "upload-init", "upload-multipart", "upload-media":
		return s.upload(w, r, kind)
	case "upload-chunk", "upload-status":
		return s.chunk(w, r)
	}
	rest, ok := strings.CutPrefix(p, "/drive/v3/files/")
	if !ok {
		return &apiError{Code: 404, Reason: "notFound", Message: "Not Found: " + p}
	}
	id, op, _ := strings.Cut(rest, "/")
	switch {
	case op == "" && r.Method == http.MethodGet && kind == "media":
		return s.download(w, r, id, cut)
	case op == "" && r.Method == http.MethodGet:
		return s.get(w, r, id)
	case op == "" && r.Method == http.MethodPatch:
		return s.updateMeta(w, r, id)
	case op == "" && r.Method == http.MethodDelete:
		return s.delete(w, r, id)
	case op == "export" && r.Method == http.MethodGet:
		return s.export(w, r, id, cut)
	case op == "copy" && r.Method == http.MethodPost:
		return s.copy(w, r, id)
	}
	return &apiError{Code: 404, Reason: "notFound", Message: "Not Found: " + r.Method + " " + p}
}

func boolParam(r *http.Request, name string) bool {
	v := r.URL.Query().Get(name)
	return v == "true" || v == "1"
}

// allDrives reports whether r says supportsAllDrives=true.
func allDrives(r *http.Request) bool {
	return boolParam(r, "supportsAllDrives") || boolParam(r, "supportsTeamDrives")
}

// lookup finds id for a request, honouring shared-drive visibility.
// s.mu must be held.
func (s *Server) lookup(r *http.Request, id string) (*file, error) {
	return s.lookupID(id, allDrives(r))
}

// lookupID finds id; shared-drive items are visible only when all is set.
// s.mu must be held.
func (s *Server) lookupID(id string, all bool) (*file, error) {
	f := s.files[s.resolveAlias(id)]
	if f == nil {
		return nil, errNotFound(id)
	}
	if f.DriveID != "" && !all {
		return nil, errNotFound(id)
	}
	return f, nil
}

// render applies the request's fields selector to a File.
func (s *Server) render(r *http.Request, f *file) (any, error) {
	return s.renderFields(r.URL.Query().Get("fields"), f)
}

// renderFields applies a fields selector to a File. s.mu must be held.
func (s *Server) renderFields(spec string, f *file) (any, error) {
	if spec == "" {
		spec = "kind,id,name,mimeType"
	}
	sel, err := parseFields(spec)
	if err != nil {
		return nil, errInvalid("fields", "Invalid field selection "+spec)
	}
	out, err := sel.apply(s.fileJSON(f), func(p string) bool { return knownFileFields[p] }, "")
	if err != nil {
		return nil, errInvalid("fields", "Invalid field selection "+spec)
	}
	return out, nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, id string) error {
	s.mu.Lock()
	f, err := s.lookup(r, id)
	var out any
	if err == nil {
		out, err = s.render(r, f)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

// pageToken is the content of a files.list page token.
type pageToken struct {
	Offset int    `json:"o"`
	Query  string `json:"q"`
	Issued int64  `json:"i,omitempty"` // Stats.Requests when it was handed out
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	match, err := parseQuery(q.Get("q"))
	if err != nil {
		return errInvalid("q", "Invalid Value")
	}
	pageSize := 100
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errInvalid("pageSize", "Invalid value for pageSize: "+v)
		}
		pageSize = min(n, 1000)
	}
	less, err := orderFunc(q.Get("orderBy"))
	if err != nil {
		return errInvalid("orderBy", "Invalid Value")
	}
	allDrives := boolParam(r, "includeItemsFromAllDrives") && boolParam(r, "supportsAllDrives")
	corpora, driveID := q.Get("corpora"), q.Get("driveId")
	switch corpora {
	case "", "user", "domain", "allDrives":
		if driveID != "" {
			return errInvalid("corpora", "The corpora parameter must be 'drive' when driveId is set.")
		}
	case "drive":
		if driveID == "" {
			return errInvalid("driveId", "The driveId parameter is required when corpora is 'drive'.")
		}
		if !allDrives {
			return &apiError{Code: 403, Reason: "teamDriveIdRequiresIncludeItemsFromAllDrives", Message: "includeItemsFromAllDrives and supportsAllDrives must be true when corpora is 'drive'."}
		}
	default:
		return errInvalid("corpora", "Invalid value for corpora: "+corpora)
	}
	identity := q.Get("q") + "|" + q.Get("orderBy") + "|" + corpora + "|" + driveID
	offset := 0
	if tok := q.Get("pageToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		var pt pageToken
		if err != nil || json.Unmarshal(b, &pt) != nil || pt.Query != identity || pt.Offset < 0 {
			return errInvalid("pageToken", "Invalid Value")
		}
		if s.tokenExpired(pt.Issued) {
			s.injected.Add(1)
			return errInvalid("pageToken", "Invalid Value")
		}
		offset = pt.Offset
	}
	fieldSpec := q.Get("fields")
	if fieldSpec == "" {
		fieldSpec = "kind,nextPageToken,incompleteSearch,files(kind,id,name,mimeType)"
	}
	sel, err := parseFields(fieldSpec)
	if err != nil {
		return errInvalid("fields", "Invalid field selection "+fieldSpec)
	}

	s.mu.Lock()
	if s.ignoreOrder {
		less, _ = orderFunc("")
	}
	var candidates []*file
	if parent := requiredParent(q.Get("q")); parent != "" {
		for id := range s.children[s.resolveAlias(parent)] {
			candidates = append(candidates, s.files[id])
		}
	} else {
		for _, f := range s.files {
			candidates = append(candidates, f)
		}
	}
	names := requiredNames(q.Get("q"))
	byName := hasNameTerm(q.Get("q"))
	if byName {
		s.nameQueries.Add(1)
	}
	now := time.Now()
	var hits []*file
	for _, f := range candidates {
		if f.isRoot || names != nil && !names[f.Name] || byName && s.lagging(f, now) {
			continue
		}
		switch {
		case corpora == "drive" && f.DriveID != driveID:
			continue
		case f.DriveID != "" && !allDrives:
			continue
		}
		if match(f, s) {
			hits = append(hits, f)
		}
	}
	sort.Slice(hits, func(i, j int) bool { return less(hits[i], hits[j]) })
	var page []any
	end := min(offset+pageSize, len(hits))
	if offset < end {
		for _, f := range hits[offset:end] {
			page = append(page, s.fileJSON(f))
		}
	}
	s.mu.Unlock()

	resp := map[string]any{"kind": "drive#fileList", "incompleteSearch": false, "files": page}
	if page == nil {
		resp["files"] = []any{}
	}
	if end < len(hits) {
		b, _ := json.Marshal(pageToken{Offset: end, Query: identity, Issued: s.requests.Load()})
		resp["nextPageToken"] = base64.RawURLEncoding.EncodeToString(b)
	}
	out, err := sel.apply(resp, func(p string) bool {
		switch p {
		case "kind", "nextPageToken", "incompleteSearch", "files":
			return true
		}
		f, ok := strings.CutPrefix(p, "files.")
		return ok && knownFileFields[f]
	}, "")
	if err != nil {
		return errInvalid("fields", "Invalid field selection "+fieldSpec)
	}
	writeJSON(w, 200, out)
	return nil
}

// hasNameTerm reports whether q has a name term (name = / contains ...).
func hasNameTerm(q string) bool {
	toks, err := tokenize(q)
	if err != nil {
		return false
	}
	for _, t := range toks {
		if t.kind == "word" && t.text == "name" {
			return true
		}
	}
	return false
}

// requiredParent returns X when q is an and-chain (at the top level)
// containing "'X' in parents", so the listing can look at X's children
// only; "" otherwise.
func requiredParent(q string) string {
	toks, err := tokenize(q)
	if err != nil {
		return ""
	}
	depth, found := 0, ""
	for i, t := range toks {
		switch t.kind {
		case "(":
			depth++
		case ")":
			depth--
		case "word":
			if depth == 0 && strings.EqualFold(t.text, "or") {
				return ""
			}
		case "str":
			if depth == 0 && i+2 < len(toks) && toks[i+1].kind == "word" && toks[i+1].text == "in" && toks[i+2].text == "parents" {
				if i > 0 && toks[i-1].kind == "word" && strings.EqualFold(toks[i-1].text, "not") {
					return ""
				}
				found = t.text
			}
		}
	}
	return found
}

// requiredNames returns the names a query requires when it is an
// and-chain at the top level with a "name = 'x'" term or a parenthesized
// or-chain of such terms; nil when it does not (a shortcut only: the query
// itself still decides).
func requiredNames(q string) map[string]bool {
	toks, err := tokenize(q)
	if err != nil {
		return nil
	}
	for _, t := range toks {
		if t.kind == "word" && strings.EqualFold(t.text, "not") {
			return nil
		}
	}
	depth := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == "word" && depth == 0 && strings.EqualFold(t.text, "or"):
			return nil
		case t.kind == "(":
			depth++
			if depth != 1 {
				continue
			}
			// An or-chain of name = 'x' up to the matching ")"?
			names := map[string]bool{}
			j := i + 1
			for ; j+2 < len(toks); j += 4 {
				if toks[j].kind != "word" || toks[j].text != "name" || toks[j+1].text != "=" || toks[j+2].kind != "str" {
					break
				}
				names[toks[j+2].text] = true
				if j+3 < len(toks) && toks[j+3].kind == ")" {
					if i == 0 || toks[i-1].kind == "word" && strings.EqualFold(toks[i-1].text, "and") {
						return names
					}
					break
				}
				if j+3 >= len(toks) || toks[j+3].kind != "word" || !strings.EqualFold(toks[j+3].text, "or") {
					break
				}
			}
		case t.kind == ")":
			depth--
		case depth == 0 && t.kind == "word" && t.text == "name" && i+2 < len(toks) && toks[i+1].text == "=" && toks[i+2].kind == "str":
			return map[string]bool{toks[i+2].text: true}
		}
	}
	return nil
}

// orderFunc returns the ordering of an orderBy value; ties fall back to
// the id, so paging is stable.
func orderFunc(orderBy string) (func(a, b *file) bool, error) {
	type key struct {
		name string
		desc bool
	}
	var keys []key
	for _, part := range strings.Split(orderBy, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Fields(part)
		k := key{name: f[0]}
		if len(f) == 2 && strings.EqualFold(f[1], "desc") {
			k.desc = true
		} else if len(f) != 1 {
			return nil, fmt.Errorf("bad orderBy %q", part)
		}
		switch k.name {
		case "folder", "name", "name_natural", "createdTime", "modifiedTime":
		default:
			return nil, fmt.Errorf("unsupported orderBy key %q", k.name)
		}
		keys = append(keys, k)
	}
	return func(a, b *file) bool {
		for _, k := range keys {
			c := 0
			switch k.name {
			case "folder":
				switch {
				case a.isFolder() && !b.isFolder():
					c = -1
				case !a.isFolder() && b.isFolder():
					c = 1
				}
			case "name", "name_natural":
				c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
			case "createdTime":
				c = a.CreatedTime.Compare(b.CreatedTime)
			case "modifiedTime":
				c = a.ModifiedTime.Compare(b.ModifiedTime)
			}
			if k.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return a.ID < b.ID
	}, nil
}

// parseRange parses a Range header "bytes=a-b", "bytes=a-" or "bytes=-n"
// for an object of size n. ok is false for an unsatisfiable range.
func parseRange(h string, size int64) (start, end int64, ok bool, err error) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, fmt.Errorf("unsupported range %q", h)
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, fmt.Errorf("bad range %q", h)
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, fmt.Errorf("bad range %q", h)
		}
		if n > size {
			n = size
		}
		return size - n, size - 1, size > 0, nil
	}
	start, err = strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false, fmt.Errorf("bad range %q", h)
	}
	end = size - 1
	if b != "" {
		end, err = strconv.ParseInt(b, 10, 64)
		if err != nil || end < start {
			return 0, 0, false, fmt.Errorf("bad range %q", h)
		}
		if end > size-1 {
			end = size - 1
		}
	}
	if start >= size {
		return 0, 0, false, nil
	}
	return start, end, true, nil
}

// countingWriter counts bytes sent and drops the connection after cut
// bytes when cut > 0.
type countingWriter struct {
	w   io.Writer
	n   *atomic.Int64
	cut int64
	out int64
}

var errCut = errors.New("drivetest: injected cut")

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.cut > 0 && c.out+int64(len(p)) > c.cut {
		p = p[:c.cut-c.out]
		n, _ := c.w.Write(p)
		c.out += int64(n)
		c.n.Add(int64(n))
		return n, errCut
	}
	n, err := c.w.Write(p)
	c.out += int64(n)
	c.n.Add(int64(n))
	return n, err
}

// sendBody streams r (n bytes) to w, cutting it short when asked.
func (s *Server) sendBody(w http.ResponseWriter, r io.Reader, cut int64) {
	cw := &countingWriter{w: w, n: &s.downloaded, cut: cut}
	buf := make([]byte, 32<<10)
	if _, err := io.CopyBuffer(cw, r, buf); errors.Is(err, errCut) {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, id string, cut int64) error {
	s.mu.Lock()
	f, err := s.lookup(r, id)
	var path string
	var size int64
	if err == nil {
		switch {
		case f.isGoogle():
			err = &apiError{Code: 403, Reason: "fileNotDownloadable", Message: "Only files with binary content can be downloaded. Use Export with Docs Editors files.", Loc: "alt", LocType: "parameter"}
		case !f.HasBlob:
			err = &apiError{Code: 403, Reason: "fileNotDownloadable", Message: "Only files with binary content can be downloaded.", Loc: "alt", LocType: "parameter"}
		case f.abusive && !boolParam(r, "acknowledgeAbuse"):
			err = &apiError{Code: 403, Reason: "cannotDownloadAbusiveFile", Message: "This file has been identified as malware or spam and cannot be downloaded.", Loc: "acknowledgeAbuse", LocType: "parameter"}
		default:
			path, size = s.blobPath(f.ID), f.Size
		}
	}
	var fh *os.File
	if err == nil {
		// Open under the lock: a concurrent update renames a new blob in,
		// and this handle keeps the old one.
		fh, err = os.Open(path)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	defer fh.Close()
	start, end := int64(0), size-1
	status := http.StatusOK
	if h := r.Header.Get("Range"); h != "" {
		var ok bool
		start, end, ok, err = parseRange(h, size)
		if err != nil {
			return errBadRequest(err.Error())
		}
		if !ok {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			return &apiError{Code: 416, Reason: "requestedRangeNotSatisfiable", Message: "Request range not satisfiable"}
		}
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	}
	n := end - start + 1
	if size == 0 {
		n = 0
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(status)
	if n > 0 {
		s.sendBody(w, io.NewSectionReader(fh, start, n), cut)
	}
	return nil
}

func (s *Server) export(w http.ResponseWriter, r *http.Request, id string, cut int64) error {
	mime := r.URL.Query().Get("mimeType")
	s.mu.Lock()
	// files.export has no supportsAllDrives parameter: Drive exports Docs
	// in shared drives without it.
	f, err := s.lookupID(id, true)
	var data []byte
	limit := s.exportLimit
	if err == nil {
		types, isDoc := exportTypes[f.MimeType]
		switch {
		case !isDoc:
			err = &apiError{Code: 403, Reason: "fileNotExportable", Message: "Export only supports Docs Editors files."}
		case mime == "":
			err = &apiError{Code: 400, Reason: "required", Message: "Required parameter: mimeType", Loc: "mimeType", LocType: "parameter"}
		case !slices.Contains(types, mime):
			err = errBadRequest("The requested conversion is not supported.")
		default:
			data = ExportBytes(mime, f.DocContent)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return &apiError{Code: 403, Reason: "exportSizeLimitExceeded", Message: "This file is too large to be exported."}
	}
	w.Header().Set("Content-Type", mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(200)
	s.sendBody(w, strings.NewReader(string(data)), cut)
	return nil
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, id string) error {
	s.mu.Lock()
	f, err := s.lookup(r, id)
	if err == nil && f.isRoot {
		err = &apiError{Code: 403, Reason: "cannotDeleteRoot", Message: "The root folder cannot be deleted."}
	}
	if err == nil && f.notOwned && f.DriveID == "" {
		err = errNotOwner()
	}
	if err == nil {
		s.deleteLocked(f)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) emptyTrash(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	var doomed []*file
	for _, f := range s.files {
		if f.Trashed && f.DriveID == "" {
			doomed = append(doomed, f)
		}
	}
	for _, f := range doomed {
		if s.files[f.ID] != nil {
			s.deleteLocked(f)
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
