package drivetest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Modes in which the fake behaves as the real Drive does and a naive
// client would not expect (issue 17). Each is off until a test sets it.

// dailyCap is Drive's answer once an account's daily upload (about 750 GB)
// or a file's download quota is used up: the same 403 on every such
// request until the quota resets, whatever the backoff.
type dailyCap struct {
	upAt, downAt int64 // absolute Stats.Uploaded / Downloaded; <0: off
}

// SetDailyCaps makes the fake refuse uploads (multipart, media, resumable
// init and chunks, and files.copy) once up more media bytes were received,
// and downloads (alt=media) once down more bytes were sent, as Drive's
// daily caps do: uploads with 403 userRateLimitExceeded "User rate limit
// exceeded." (the daily-cap form, which rclone's stop_on_upload_limit
// recognises; the per-minute limit words it differently), downloads with
// 403 downloadQuotaExceeded. A negative value turns a cap off; 0 refuses
// at once.
func (s *Server) SetDailyCaps(up, down int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caps = dailyCap{upAt: -1, downAt: -1}
	if up >= 0 {
		s.caps.upAt = s.uploaded.Load() + up
	}
	if down >= 0 {
		s.caps.downAt = s.downloaded.Load() + down
	}
}

// UploadCapMessage is the message of the daily upload cap's 403.
const UploadCapMessage = "User rate limit exceeded."

// capError returns the daily cap's answer to a request of kind, if any.
// s.mu must be held.
func (s *Server) capError(kind string) *apiError {
	switch kind {
	case "upload-multipart", "upload-media", "upload-init", "upload-chunk", "copy":
		if s.caps.upAt >= 0 && s.uploaded.Load() >= s.caps.upAt {
			return &apiError{Code: 403, Domain: "usageLimits", Reason: "userRateLimitExceeded", Message: UploadCapMessage}
		}
	case "media":
		if s.caps.downAt >= 0 && s.downloaded.Load() >= s.caps.downAt {
			return &apiError{Code: 403, Domain: "usageLimits", Reason: "downloadQuotaExceeded", Message: "The download quota for this file has been exceeded."}
		}
	}
	return nil
}

// realFault is the answer of the realistic modes to r, if any; it is
// checked before the injected faults and counted in Stats.Faults.
func (s *Server) realFault(r *http.Request, kind string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.capError(kind); e != nil {
		s.injected.Add(1)
		return e
	}
	return nil
}

// errNotOwner is Drive's answer to trashing or deleting a My Drive file
// that another account owns.
func errNotOwner() *apiError {
	return &apiError{Code: 403, Reason: "insufficientFilePermissions", Message: "The user does not have sufficient permissions for this file."}
}

// SetServiceAccount makes the fake answer as Drive does a service account
// without domain-wide delegation: it may create folders, but a file in My
// Drive (uploaded, copied or a Doc) answers 403 storageQuotaExceeded,
// since service accounts have no storage quota. Shared drives work.
func (s *Server) SetServiceAccount(on bool) {
	s.mu.Lock()
	s.serviceAccount = on
	s.mu.Unlock()
}

// ServiceAccountMessage is Drive's message for a service account's file
// in My Drive.
const ServiceAccountMessage = "Service Accounts do not have storage quota. Leverage shared drives (https://developers.google.com/workspace/drive/api/guides/about-shareddrives), or use OAuth delegation (http://support.google.com/a/answer/7281227) instead."

// noStorage refuses a new item under p when the fake plays a service
// account and it would take storage in My Drive. s.mu must be held.
func (s *Server) noStorage(p *file, mimeType string, m *meta) error {
	if !s.serviceAccount || p.DriveID != "" {
		return nil
	}
	if m.MimeType != "" {
		mimeType = m.MimeType
	}
	if mimeType == FolderMime || mimeType == ShortcutMime {
		return nil
	}
	return &apiError{Code: 403, Domain: "usageLimits", Reason: "storageQuotaExceeded", Message: ServiceAccountMessage}
}

// SetPageTokenLife makes a files.list page token expire once more than n
// requests (of any kind) reached the fake after it was handed out; an
// expired token answers 400 invalid "Invalid Value" at pageToken, as
// Drive's tokens do after hours on a huge tree. 0 turns expiry off. Such
// answers count in Stats.Faults.
func (s *Server) SetPageTokenLife(n int64) {
	s.mu.Lock()
	s.tokenLife = n
	s.mu.Unlock()
}

// tokenExpired reports whether a token handed out at request count issued
// has expired.
func (s *Server) tokenExpired(issued int64) bool {
	s.mu.Lock()
	life := s.tokenLife
	s.mu.Unlock()
	return life > 0 && s.requests.Load()-issued > life
}

// pause waits for d or until done is closed.
func pause(d time.Duration, done <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// stallReader reads left bytes of a request body, then pauses once
// (Fault.StallAfter): a server that stops taking an upload mid-body.
type stallReader struct {
	r     io.ReadCloser
	left  int64
	stall time.Duration
	done  <-chan struct{}
}

func (s *stallReader) Read(p []byte) (int, error) {
	if s.left == 0 {
		pause(s.stall, s.done)
		s.left = -1
	}
	if s.left > 0 && int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	if s.left > 0 {
		s.left -= int64(n)
	}
	return n, err
}

func (s *stallReader) Close() error { return s.r.Close() }

// stallWriter sends left bytes of an answer's body, then pauses once
// with them flushed (Fault.StallAfter): a download stalled mid-body.
type stallWriter struct {
	http.ResponseWriter
	left  int64
	stall time.Duration
	done  <-chan struct{}
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if s.left < 0 || int64(len(p)) < s.left {
		n, err := s.ResponseWriter.Write(p)
		if s.left > 0 {
			s.left -= int64(n)
		}
		return n, err
	}
	n, err := s.ResponseWriter.Write(p[:s.left])
	if err != nil {
		return n, err
	}
	s.Flush()
	pause(s.stall, s.done)
	s.left = -1
	m, err := s.ResponseWriter.Write(p[n:])
	return n + m, err
}

func (s *stallWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack lets a fault drop the connection through the wrapper.
func (s *stallWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := s.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, http.ErrNotSupported
}

// change is one entry of the fake's change log (changes.list).
type change struct {
	id      string
	driveID string
	removed bool // deleted for good: Drive then sends no file
}

// changed logs a change of f. s.mu must be held.
func (s *Server) changed(f *file) {
	if f.isRoot {
		return
	}
	s.changeLog = append(s.changeLog, change{id: f.ID, driveID: f.DriveID})
}

// changedRemoved logs the permanent deletion of f. s.mu must be held.
func (s *Server) changedRemoved(f *file) {
	s.changeLog = append(s.changeLog, change{id: f.ID, driveID: f.DriveID, removed: true})
}

// changesStart serves changes.getStartPageToken: the position after the
// last change.
func (s *Server) changesStart(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	n := len(s.changeLog)
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"kind": "drive#startPageToken", "startPageToken": strconv.Itoa(n + 1)})
	return nil
}

// changesList serves changes.list from pageToken (a position in the log):
// one entry per change (Drive may fold several changes of a file into
// one; the fake does not), with the file as it is now unless removed.
// driveId restricts them to a shared drive; without it, shared-drive
// items are included only with includeItemsFromAllDrives and
// supportsAllDrives.
func (s *Server) changesList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	pos, err := strconv.Atoi(q.Get("pageToken"))
	if err != nil || pos < 1 {
		return errInvalid("pageToken", "Invalid Value")
	}
	pageSize := 100
	if v := q.Get("pageSize"); v != "" {
		if pageSize, err = strconv.Atoi(v); err != nil || pageSize < 1 {
			return errInvalid("pageSize", "Invalid value for pageSize: "+v)
		}
		pageSize = min(pageSize, 1000)
	}
	driveID := q.Get("driveId")
	all := boolParam(r, "includeItemsFromAllDrives") && allDrives(r)
	includeRemoved := q.Get("includeRemoved") != "false"
	s.mu.Lock()
	defer s.mu.Unlock()
	if pos > len(s.changeLog)+1 {
		return errInvalid("pageToken", "Invalid Value")
	}
	out := []any{}
	i := pos - 1
	for ; i < len(s.changeLog) && len(out) < pageSize; i++ {
		c := s.changeLog[i]
		switch {
		case driveID != "" && c.driveID != driveID:
			continue
		case driveID == "" && c.driveID != "" && !all:
			continue
		}
		f := s.files[c.id]
		if c.removed || f == nil {
			if includeRemoved {
				out = append(out, map[string]any{"kind": "drive#change", "changeType": "file", "fileId": c.id, "removed": true})
			}
			continue
		}
		out = append(out, map[string]any{"kind": "drive#change", "changeType": "file", "fileId": c.id, "removed": false, "file": s.fileJSON(f)})
	}
	resp := map[string]any{"kind": "drive#changeList", "changes": out}
	if i < len(s.changeLog) {
		resp["nextPageToken"] = strconv.Itoa(i + 1)
	} else {
		resp["newStartPageToken"] = strconv.Itoa(len(s.changeLog) + 1)
	}
	writeJSON(w, 200, resp)
	return nil
}

// SetNameLag makes files.list queries with a name term ignore items
// created less than d ago, as Drive's search index lags behind creates
// (seconds to minutes); files.get by id and listings by parent alone see
// them at once. 0 turns the lag off.
func (s *Server) SetNameLag(d time.Duration) {
	s.mu.Lock()
	s.nameLag = d
	s.mu.Unlock()
}

// NameQueries returns how many files.list requests had a name term.
func (s *Server) NameQueries() int64 { return s.nameQueries.Load() }

// lagging reports whether f is too young for a name query. s.mu must be
// held.
func (s *Server) lagging(f *file, now time.Time) bool {
	return s.nameLag > 0 && now.Sub(f.CreatedTime) < s.nameLag
}
