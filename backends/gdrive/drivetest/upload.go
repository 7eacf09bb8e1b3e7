package drivetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// chunkGranularity: every resumable chunk but the last is a multiple of it.
const chunkGranularity = 256 << 10

// maxMetaSize bounds a JSON metadata body.
const maxMetaSize = 1 << 20

// meta is the writable metadata of a create, update or copy request.
type meta struct {
	ID             string // from files.generateIds; create and copy only
	Name           *string
	MimeType       string
	Parents        []string
	ModifiedTime   *time.Time
	Trashed        *bool
	ShortcutTarget string
}

// readOnlyFields may not be set by clients (Drive: 403 fieldNotWritable).
var readOnlyFields = []string{"id", "size", "md5Checksum", "sha1Checksum", "sha256Checksum", "version", "headRevisionId", "driveId", "kind", "explicitlyTrashed", "fileExtension"}

func errNotWritable(field, msg string) *apiError {
	if msg == "" {
		msg = "The resource body includes fields which are not directly writable."
	}
	return &apiError{Code: 403, Reason: "fieldNotWritable", Message: msg, Loc: field, LocType: "other"}
}

// parseMeta decodes a metadata body; update forbids parents.
func parseMeta(body []byte, update bool) (*meta, error) {
	m := &meta{}
	if len(strings.TrimSpace(string(body))) == 0 {
		return m, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, errBadRequest("Invalid JSON payload received. " + err.Error())
	}
	for _, f := range readOnlyFields {
		if _, ok := raw[f]; ok && (update || f != "id") {
			return nil, errNotWritable(f, "")
		}
	}
	dec := func(key string, v any) error {
		if b, ok := raw[key]; ok {
			if err := json.Unmarshal(b, v); err != nil {
				return errBadRequest(fmt.Sprintf("Invalid value for %s: %s", key, b))
			}
		}
		return nil
	}
	if err := dec("id", &m.ID); err != nil {
		return nil, err
	}
	if _, ok := raw["name"]; ok {
		var n string
		if err := dec("name", &n); err != nil {
			return nil, err
		}
		m.Name = &n
	}
	if err := dec("mimeType", &m.MimeType); err != nil {
		return nil, err
	}
	if _, ok := raw["parents"]; ok {
		if update {
			return nil, errNotWritable("parents", "The parents field is not directly writable in update requests. Use the addParents and removeParents parameters instead.")
		}
		if err := dec("parents", &m.Parents); err != nil {
			return nil, err
		}
	}
	if _, ok := raw["modifiedTime"]; ok {
		var s string
		if err := dec("modifiedTime", &s); err != nil {
			return nil, err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, errBadRequest("Invalid value for modifiedTime: " + s)
		}
		t = msTime(t)
		m.ModifiedTime = &t
	}
	if _, ok := raw["trashed"]; ok {
		var t bool
		if err := dec("trashed", &t); err != nil {
			return nil, err
		}
		m.Trashed = &t
	}
	if _, ok := raw["shortcutDetails"]; ok {
		var sd struct {
			TargetID string `json:"targetId"`
		}
		if err := dec("shortcutDetails", &sd); err != nil {
			return nil, err
		}
		m.ShortcutTarget = sd.TargetID
	}
	return m, nil
}

func readMeta(r io.Reader, update bool) (*meta, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxMetaSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxMetaSize {
		return nil, errBadRequest("Metadata too large.")
	}
	return parseMeta(body, update)
}

// parentFor checks the parent a new item goes into. s.mu must be held.
func (s *Server) parentFor(m *meta, all bool) (*file, error) {
	pid := s.rootID
	switch len(m.Parents) {
	case 0:
	case 1:
		pid = m.Parents[0]
	default:
		return nil, &apiError{Code: 403, Reason: "cannotAddParent", Message: "Increasing the number of parents is not allowed."}
	}
	p, err := s.lookupID(pid, all)
	if err != nil {
		return nil, err
	}
	if !p.isFolder() {
		return nil, &apiError{Code: 400, Reason: "invalid", Message: "The specified parent is not a folder."}
	}
	return p, nil
}

// newFile builds (but does not store) an item from m under parent p.
// s.mu must be held.
func (s *Server) newFile(m *meta, p *file, mimeType string) (*file, error) {
	if err := s.noStorage(p, mimeType, m); err != nil {
		return nil, err
	}
	id := m.ID
	if id == "" {
		id = s.newID()
	} else if err := s.takeGenerated(id); err != nil {
		return nil, err
	}
	now := msTime(time.Now())
	f := &file{
		ID:           id,
		Name:         "Untitled",
		MimeType:     mimeType,
		Parents:      []string{p.ID},
		DriveID:      p.DriveID,
		CreatedTime:  now,
		ModifiedTime: now,
		Version:      1,
	}
	if m.Name != nil {
		f.Name = *m.Name
	}
	if m.MimeType != "" {
		f.MimeType = m.MimeType
	}
	if f.MimeType == "" {
		f.MimeType = "application/octet-stream"
	}
	if m.ModifiedTime != nil {
		f.ModifiedTime = *m.ModifiedTime
	}
	if m.Trashed != nil {
		f.Trashed = *m.Trashed
	}
	if f.MimeType == ShortcutMime {
		t := s.files[m.ShortcutTarget]
		if t == nil {
			return nil, &apiError{Code: 400, Reason: "shortcutTargetInvalid", Message: "The shortcut target is invalid."}
		}
		f.ShortcutTarget, f.ShortcutTargetMime = t.ID, t.MimeType
	}
	return f, nil
}

func (s *Server) store(f *file) {
	s.files[f.ID] = f
	s.addChild(f.Parents[0], f.ID)
	s.changed(f)
}

// applyUpdate applies m and the add/removeParents parameters to f.
// s.mu must be held.
func (s *Server) applyUpdate(f *file, m *meta, q url.Values, all bool) error {
	if add := q.Get("addParents"); add != "" {
		if strings.Contains(add, ",") {
			return &apiError{Code: 403, Reason: "cannotAddParent", Message: "Increasing the number of parents is not allowed."}
		}
		p, err := s.lookupID(add, all)
		if err != nil {
			return err
		}
		if !p.isFolder() {
			return &apiError{Code: 400, Reason: "invalid", Message: "The specified parent is not a folder."}
		}
		rm := q.Get("removeParents")
		if len(f.Parents) > 0 && rm != f.Parents[0] {
			return &apiError{Code: 403, Reason: "cannotAddParent", Message: "Increasing the number of parents is not allowed."}
		}
		if len(f.Parents) > 0 {
			s.removeChild(f.Parents[0], f.ID)
		}
		f.Parents = []string{p.ID}
		s.addChild(p.ID, f.ID)
	}
	if m.Name != nil {
		f.Name = *m.Name
	}
	if m.ModifiedTime != nil {
		f.ModifiedTime = *m.ModifiedTime
	}
	if m.Trashed != nil {
		if f.notOwned && f.DriveID == "" && *m.Trashed != f.Trashed {
			return errNotOwner()
		}
		f.Trashed = *m.Trashed
	}
	f.Version++
	s.changed(f)
	return nil
}

func (s *Server) createMeta(w http.ResponseWriter, r *http.Request) error {
	m, err := readMeta(r.Body, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.parentFor(m, allDrives(r))
	if err != nil {
		return err
	}
	f, err := s.newFile(m, p, "")
	if err != nil {
		return err
	}
	if f.isGoogle() {
		f.DocContent = []byte{}
	} else if err := s.writeBlob(f, nil); err != nil {
		return err
	}
	out, err := s.renderFields(r.URL.Query().Get("fields"), f)
	if err != nil {
		return err
	}
	s.store(f)
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) updateMeta(w http.ResponseWriter, r *http.Request, id string) error {
	m, err := readMeta(r.Body, true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.lookup(r, id)
	if err != nil {
		return err
	}
	if err := s.applyUpdate(f, m, r.URL.Query(), allDrives(r)); err != nil {
		return err
	}
	out, err := s.renderFields(r.URL.Query().Get("fields"), f)
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

func (s *Server) copy(w http.ResponseWriter, r *http.Request, id string) error {
	m, err := readMeta(r.Body, false)
	if err != nil {
		return err
	}
	all := allDrives(r)
	s.mu.Lock()
	src, err := s.lookupID(id, all)
	if err == nil && src.isFolder() {
		err = &apiError{Code: 403, Reason: "cannotCopyFile", Message: "This file cannot be copied by the user."}
	}
	var dst *file
	if err == nil {
		if len(m.Parents) == 0 && len(src.Parents) > 0 {
			m.Parents = []string{src.Parents[0]}
		}
		if m.Name == nil {
			name := src.Name
			m.Name = &name
		}
		var p *file
		if p, err = s.parentFor(m, all); err == nil {
			dst, err = s.newFile(m, p, src.MimeType)
		}
	}
	var blob string
	if err == nil {
		dst.ShortcutTarget, dst.ShortcutTargetMime = src.ShortcutTarget, src.ShortcutTargetMime
		if src.isGoogle() {
			dst.DocContent = append([]byte(nil), src.DocContent...)
		} else if src.HasBlob {
			blob = s.blobPath(src.ID)
		}
	}
	var fh *os.File
	if err == nil && blob != "" {
		fh, err = os.Open(blob)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if fh != nil {
		defer fh.Close()
		tmp, h, n, err := s.receive(fh, 0, false)
		if err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.installBlob(dst, tmp, n, h); err != nil {
			return err
		}
	} else {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	if _, err := s.lookupID(dst.Parents[0], all); err != nil {
		return err
	}
	out, err := s.renderFields(r.URL.Query().Get("fields"), dst)
	if err != nil {
		return err
	}
	s.store(dst)
	writeJSON(w, 200, out)
	return nil
}

// receive streams r into a new temporary file, hashing it, and returns
// its name, hasher and size. Bytes count as uploaded when upload is set.
// skip bytes are read and dropped first.
func (s *Server) receive(r io.Reader, skip int64, upload bool) (string, *hasher, int64, error) {
	tmp, err := os.CreateTemp(s.dir, "tmp-")
	if err != nil {
		return "", nil, 0, err
	}
	h := newHasher()
	n, err := s.appendTo(tmp, h, r, skip, upload)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", nil, 0, err
	}
	return tmp.Name(), h, n, nil
}

// appendTo copies r (after dropping skip bytes) to f and h; it returns
// the bytes appended.
func (s *Server) appendTo(f *os.File, h *hasher, r io.Reader, skip int64, upload bool) (int64, error) {
	var cr io.Reader = r
	if upload {
		cr = &countingReader{r: r, n: &s.uploaded}
	}
	buf := make([]byte, 32<<10)
	if skip > 0 {
		if _, err := io.CopyBuffer(io.Discard, io.LimitReader(cr, skip), buf); err != nil {
			return 0, err
		}
	}
	return io.CopyBuffer(io.MultiWriter(f, h), cr, buf)
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n interface{ Add(int64) int64 }
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// session is a resumable upload in progress.
type session struct {
	mu          sync.Mutex
	id          string
	target      string // files.update: the file id; "" for create
	meta        *meta
	query       url.Values // of the init request (fields, add/removeParents, supportsAllDrives)
	contentType string
	declared    int64 // X-Upload-Content-Length, -1 when not sent
	tmp         *os.File
	h           *hasher
	received    int64
	result      string // id of the finished file, "" while open
}

// upload serves files.create and files.update with uploadType media,
// multipart or resumable.
func (s *Server) upload(w http.ResponseWriter, r *http.Request, kind string) error {
	target := ""
	if rest, ok := strings.CutPrefix(r.URL.Path, "/upload/drive/v3/files/"); ok {
		target = rest
		if r.Method != http.MethodPatch {
			return errBadRequest("Uploads to an existing file use PATCH.")
		}
	} else if r.Method != http.MethodPost {
		return errBadRequest("Uploads of new files use POST.")
	}
	update := target != ""
	all := allDrives(r)
	q := r.URL.Query()

	// Check the target or the parent before receiving any content.
	check := func(m *meta) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if update {
			_, err := s.lookupID(target, all)
			return err
		}
		p, err := s.parentFor(m, all)
		if err != nil {
			return err
		}
		return s.noStorage(p, "application/octet-stream", m)
	}

	switch kind {
	case "upload-init":
		m, err := readMeta(r.Body, update)
		if err != nil {
			return err
		}
		if err := check(m); err != nil {
			return err
		}
		declared := int64(-1)
		if v := r.Header.Get("X-Upload-Content-Length"); v != "" {
			if declared, err = strconv.ParseInt(v, 10, 64); err != nil || declared < 0 {
				return errBadRequest("Invalid X-Upload-Content-Length.")
			}
		}
		tmp, err := os.CreateTemp(s.dir, "session-")
		if err != nil {
			return err
		}
		s.mu.Lock()
		sess := &session{
			id: "ABPtcP" + s.newID(), target: target, meta: m, query: q,
			contentType: r.Header.Get("X-Upload-Content-Type"), declared: declared,
			tmp: tmp, h: newHasher(),
		}
		s.sessions[sess.id] = sess
		s.mu.Unlock()
		loc := url.Values{"uploadType": {"resumable"}, "upload_id": {sess.id}}
		for _, k := range []string{"fields", "supportsAllDrives", "supportsTeamDrives"} {
			if v := q.Get(k); v != "" {
				loc.Set(k, v)
			}
		}
		w.Header().Set("Location", "http://"+r.Host+r.URL.Path+"?"+loc.Encode())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(200)
		return nil

	case "upload-multipart":
		ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || ct != "multipart/related" || params["boundary"] == "" {
			return errBadRequest("Multipart uploads need Content-Type multipart/related with a boundary.")
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		p1, err := mr.NextPart()
		if err != nil {
			return errBadRequest("Missing metadata part: " + err.Error())
		}
		m, err := readMeta(p1, update)
		if err != nil {
			return err
		}
		if err := check(m); err != nil {
			return err
		}
		p2, err := mr.NextPart()
		if err != nil {
			return errBadRequest("Missing media part: " + err.Error())
		}
		tmp, h, n, err := s.receive(p2, 0, true)
		if err != nil {
			return err
		}
		if _, err := mr.NextPart(); err != io.EOF {
			os.Remove(tmp)
			return errBadRequest("Malformed multipart body.")
		}
		return s.finish(w, target, m, q, p2.Header.Get("Content-Type"), tmp, h, n)

	default: // media
		tmp, h, n, err := s.receive(r.Body, 0, true)
		if err != nil {
			return err
		}
		if err := check(&meta{}); err != nil {
			os.Remove(tmp)
			return err
		}
		return s.finish(w, target, &meta{}, q, r.Header.Get("Content-Type"), tmp, h, n)
	}
}

// finish creates or updates a file with finished content tmp and answers
// with it.
func (s *Server) finish(w http.ResponseWriter, target string, m *meta, q url.Values, contentType, tmp string, h *hasher, n int64) error {
	f, err := s.commit(target, m, q, contentType, tmp, h, n)
	if err != nil {
		return err
	}
	s.mu.Lock()
	out, err := s.renderFields(q.Get("fields"), f)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

// commit makes tmp the content of a new file (target "") or of target.
func (s *Server) commit(target string, m *meta, q url.Values, contentType, tmp string, h *hasher, n int64) (*file, error) {
	all := q.Get("supportsAllDrives") == "true" || q.Get("supportsTeamDrives") == "true"
	s.mu.Lock()
	defer s.mu.Unlock()
	if ct, _, err := mime.ParseMediaType(contentType); err == nil {
		contentType = ct
	} else {
		contentType = ""
	}
	var f *file
	if target != "" {
		var err error
		if f, err = s.lookupID(target, all); err != nil {
			os.Remove(tmp)
			return nil, err
		}
		if f.isGoogle() || f.isFolder() {
			os.Remove(tmp)
			return nil, &apiError{Code: 403, Reason: "fileNotUploadable", Message: "Content cannot be uploaded to this kind of file."}
		}
		if err := s.applyUpdate(f, m, q, all); err != nil {
			os.Remove(tmp)
			return nil, err
		}
		if m.ModifiedTime == nil {
			f.ModifiedTime = msTime(time.Now())
		}
	} else {
		p, err := s.parentFor(m, all)
		if err == nil {
			f, err = s.newFile(m, p, contentType)
		}
		if err != nil {
			os.Remove(tmp)
			return nil, err
		}
		if f.isGoogle() {
			// Drive would convert (import); the fake keeps the bytes as
			// the document's source.
			data, err := os.ReadFile(tmp)
			os.Remove(tmp)
			if err != nil {
				return nil, err
			}
			f.DocContent = data
			s.store(f)
			return f, nil
		}
	}
	if err := s.installBlob(f, tmp, n, h); err != nil {
		return nil, err
	}
	if target == "" {
		s.store(f)
	}
	return f, nil
}

// contentRange is a parsed Content-Range request header.
type contentRange struct {
	query      bool  // "bytes */…": a status query or a final empty request
	first, end int64 // the chunk's bytes [first, end] when !query
	total      int64 // -1 for "*"
}

func parseContentRange(h string) (contentRange, error) {
	cr := contentRange{total: -1}
	spec, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return cr, fmt.Errorf("bad Content-Range %q", h)
	}
	rng, tot, ok := strings.Cut(spec, "/")
	if !ok {
		return cr, fmt.Errorf("bad Content-Range %q", h)
	}
	if tot != "*" {
		n, err := strconv.ParseInt(tot, 10, 64)
		if err != nil || n < 0 {
			return cr, fmt.Errorf("bad Content-Range %q", h)
		}
		cr.total = n
	}
	if rng == "*" {
		cr.query = true
		return cr, nil
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return cr, fmt.Errorf("bad Content-Range %q", h)
	}
	var err1, err2 error
	cr.first, err1 = strconv.ParseInt(a, 10, 64)
	cr.end, err2 = strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || cr.first < 0 || cr.end < cr.first {
		return cr, fmt.Errorf("bad Content-Range %q", h)
	}
	if cr.total >= 0 && cr.end >= cr.total {
		return cr, fmt.Errorf("Content-Range %q ends past the total", h)
	}
	return cr, nil
}

// chunk serves a request to a resumable session URI: a chunk of content,
// or a status query.
func (s *Server) chunk(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		return errBadRequest("Session requests use PUT (or POST).")
	}
	id := r.URL.Query().Get("upload_id")
	s.mu.Lock()
	sess := s.sessions[id]
	expire := s.expireCode
	s.mu.Unlock()
	if expire != 0 || sess == nil {
		code := expire
		if code == 0 {
			code = 404
		}
		io.Copy(io.Discard, r.Body)
		return &apiError{Code: code, Reason: "notFound", Message: "No active upload session " + id + "; the upload must be restarted."}
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.result != "" {
		io.Copy(io.Discard, r.Body)
		s.mu.Lock()
		f := s.files[sess.result]
		var out any
		var err error
		if f == nil {
			err = errNotFound(sess.result)
		} else {
			out, err = s.renderFields(sess.query.Get("fields"), f)
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		writeJSON(w, 200, out)
		return nil
	}

	var cr contentRange
	if h := r.Header.Get("Content-Range"); h != "" {
		var err error
		if cr, err = parseContentRange(h); err != nil {
			return errBadRequest(err.Error())
		}
	} else {
		// The whole content in one request.
		if r.ContentLength < 0 {
			return errBadRequest("A request without Content-Range needs a Content-Length.")
		}
		cr = contentRange{first: 0, end: r.ContentLength - 1, total: r.ContentLength}
		if r.ContentLength == 0 {
			cr = contentRange{query: true, total: 0}
		}
	}
	if cr.query {
		if r.ContentLength > 0 {
			return errBadRequest("A status query has no body.")
		}
		if cr.total >= 0 && cr.total < sess.received {
			return errBadRequest(fmt.Sprintf("The total %d is less than the %d bytes received.", cr.total, sess.received))
		}
		if cr.total >= 0 && cr.total == sess.received {
			return s.complete(w, sess)
		}
		s.incomplete(w, r, sess)
		return nil
	}

	size := cr.end - cr.first + 1
	if r.ContentLength >= 0 && r.ContentLength != size {
		return errBadRequest(fmt.Sprintf("Content-Range says %d bytes but the body has %d.", size, r.ContentLength))
	}
	if cr.first > sess.received {
		return errBadRequest(fmt.Sprintf("Invalid request. According to the Content-Range header, the upload offset is %d byte(s), which exceeds already uploaded size of %d byte(s).", cr.first, sess.received))
	}
	final := cr.total >= 0 && cr.end+1 == cr.total
	if !final && size%chunkGranularity != 0 {
		return errBadRequest(fmt.Sprintf("Invalid request. The number of bytes uploaded is required to be equal or greater than 262144, except for the final request (it's recommended to be the exact multiple of 262144). The received request contained %d bytes, which does not meet this requirement.", size))
	}
	if cr.total >= 0 && sess.declared >= 0 && cr.total != sess.declared {
		return errBadRequest(fmt.Sprintf("The total %d differs from X-Upload-Content-Length %d.", cr.total, sess.declared))
	}
	for {
		old := s.maxChunk.Load()
		if size <= old || s.maxChunk.CompareAndSwap(old, size) {
			break
		}
	}
	skip := sess.received - cr.first // a retried chunk overlaps what we have
	n, err := s.appendTo(sess.tmp, sess.h, io.LimitReader(r.Body, size), min(skip, size), true)
	if err == nil && skip+n < size && skip < size {
		err = errors.New("short chunk body")
	}
	if err != nil {
		// Keep only what was stored before this request.
		sess.tmp.Truncate(sess.received)
		sess.tmp.Seek(sess.received, io.SeekStart)
		sess.h = rehash(sess.tmp, sess.received)
		return errBadRequest("Failed to read the chunk: " + err.Error())
	}
	sess.received += n
	if final {
		return s.complete(w, sess)
	}
	s.incomplete(w, r, sess)
	return nil
}

// rehash recomputes the hash of the first n bytes of f.
func rehash(f *os.File, n int64) *hasher {
	h := newHasher()
	io.Copy(h, io.NewSectionReader(f, 0, n))
	return h
}

// incomplete answers "308 Resume Incomplete", in the form the client asked
// for.
func (s *Server) incomplete(w http.ResponseWriter, r *http.Request, sess *session) {
	if sess.received > 0 {
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", sess.received-1))
	}
	w.Header().Set("Content-Length", "0")
	if strings.EqualFold(r.Header.Get("X-GUploader-No-308"), "yes") {
		w.Header().Set("X-HTTP-Status-Code-Override", "308")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusPermanentRedirect)
}

// complete finishes sess and answers with the file.
func (s *Server) complete(w http.ResponseWriter, sess *session) error {
	if sess.declared >= 0 && sess.received != sess.declared {
		return errBadRequest(fmt.Sprintf("Received %d bytes but X-Upload-Content-Length was %d.", sess.received, sess.declared))
	}
	name := sess.tmp.Name()
	if err := sess.tmp.Close(); err != nil {
		return err
	}
	f, err := s.commit(sess.target, sess.meta, sess.query, sess.contentType, name, sess.h, sess.received)
	if err != nil {
		s.mu.Lock()
		delete(s.sessions, sess.id)
		s.mu.Unlock()
		return err
	}
	sess.result = f.ID
	s.mu.Lock()
	out, err := s.renderFields(sess.query.Get("fields"), f)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, 200, out)
	return nil
}

// OpenSessions returns the number of resumable sessions not yet finished.
func (s *Server) OpenSessions() int {
	s.mu.Lock()
	var all []*session
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	n := 0
	for _, sess := range all {
		sess.mu.Lock()
		if sess.result == "" {
			n++
		}
		sess.mu.Unlock()
	}
	return n
}
