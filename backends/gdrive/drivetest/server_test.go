package drivetest

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
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
)

// newService returns a Drive client of the real Go library talking to srv.
func newService(t *testing.T, srv *Server, client *http.Client, endpoint string) *drive.Service {
	t.Helper()
	if client == nil {
		client = srv.Client()
	}
	if endpoint == "" {
		endpoint = srv.Endpoint()
	}
	svc, err := drive.NewService(t.Context(), option.WithHTTPClient(client), option.WithEndpoint(endpoint))
	if err != nil {
		t.Fatalf("drive.NewService: %v", err)
	}
	return svc
}

func start(t *testing.T) (*Server, *drive.Service) {
	t.Helper()
	srv := New()
	t.Cleanup(srv.Close)
	return srv, newService(t, srv, nil, "")
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// recorder keeps the method and headers of upload-session requests.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (rec *recorder) hook(r *http.Request) {
	if r.URL.Query().Get("upload_id") == "" {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.reqs = append(rec.reqs, fmt.Sprintf("%s %s no308=%s", r.Method, r.Header.Get("Content-Range"), r.Header.Get("X-GUploader-No-308")))
}

// TestResumableQuirk uploads through the Go client in 256 KiB chunks. The
// client POSTs each chunk with X-GUploader-No-308: yes and takes an
// unfinished chunk's answer to be 200 + X-HTTP-Status-Code-Override: 308;
// had the fake answered a bare 308, or a 200 without the override, the
// upload would fail (see TestClientRejectsBare308).
func TestResumableQuirk(t *testing.T) {
	srv, svc := start(t)
	rec := &recorder{}
	srv.SetHook(rec.hook)
	data := pattern(1<<20 + 5)
	mt := time.Date(2020, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	f, err := svc.Files.Create(&drive.File{Name: "big.bin", ModifiedTime: mt.Format(time.RFC3339Nano)}).
		Media(bytes.NewReader(data), googleapi.ChunkSize(256<<10), googleapi.ContentType("application/octet-stream")).
		Fields("id,name,size,md5Checksum,modifiedTime,parents").Context(t.Context()).Do()
	if err != nil {
		t.Fatalf("resumable create: %v", err)
	}
	if f.Size != int64(len(data)) || f.Md5Checksum != md5hex(data) || f.ModifiedTime != "2020-01-02T03:04:05.678Z" {
		t.Errorf("created %+v", f)
	}
	if len(f.Parents) != 1 || f.Parents[0] != srv.RootID() {
		t.Errorf("parents = %v; want [%s]", f.Parents, srv.RootID())
	}
	got, err := srv.Content(f.Id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored content differs (%v)", err)
	}
	want := []string{
		"POST bytes 0-262143/* no308=yes",
		"POST bytes 262144-524287/* no308=yes",
		"POST bytes 524288-786431/* no308=yes",
		"POST bytes 786432-1048575/* no308=yes",
		"POST bytes 1048576-1048580/1048581 no308=yes",
	}
	if strings.Join(rec.reqs, "\n") != strings.Join(want, "\n") {
		t.Errorf("session requests:\n%s\nwant:\n%s", strings.Join(rec.reqs, "\n"), strings.Join(want, "\n"))
	}
	st := srv.Stats()
	if st.Uploaded != int64(len(data)) || st.MaxChunk != 256<<10 || st.ByKind["upload-init"] != 1 || st.ByKind["upload-chunk"] != 5 {
		t.Errorf("stats = %+v", st)
	}
}

// TestClientRejectsBare308 shows what TestResumableQuirk guards: a server
// answering an unfinished chunk with a real 308 fails the Go client.
func TestClientRejectsBare308(t *testing.T) {
	srv := New()
	defer srv.Close()
	// A proxy that turns the override into the bare 308 of the docs.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := url.Parse(srv.URL + r.URL.RequestURI())
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
		out.Header = r.Header.Clone()
		out.Header.Del("X-GUploader-No-308")
		out.ContentLength = r.ContentLength
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		if loc := resp.Header.Get("Location"); loc != "" {
			w.Header().Set("Location", strings.Replace(loc, srv.URL, "http://"+r.Host, 1))
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	svc := newService(t, srv, proxy.Client(), proxy.URL+"/drive/v3/")
	_, err := svc.Files.Create(&drive.File{Name: "x"}).
		Media(bytes.NewReader(pattern(600<<10)), googleapi.ChunkSize(256<<10)).Context(t.Context()).Do()
	if err == nil || !strings.Contains(err.Error(), "308") {
		t.Fatalf("upload through a bare-308 server = %v; want the client's unexpected 308 error", err)
	}
}

// TestBare308WithoutHeader checks the documented protocol for clients that
// do not send X-GUploader-No-308: 308 Resume Incomplete with Range.
func TestBare308WithoutHeader(t *testing.T) {
	srv := New()
	defer srv.Close()
	c := srv.Client()
	loc := initSession(t, srv, `{"name":"raw.bin"}`, "")
	chunk := pattern(256 << 10)
	resp := do(t, c, "PUT", loc, chunk, map[string]string{"Content-Range": "bytes 0-262143/*"})
	if resp.StatusCode != 308 || resp.Header.Get("Range") != "bytes=0-262143" {
		t.Fatalf("chunk: %d Range=%q; want 308 bytes=0-262143", resp.StatusCode, resp.Header.Get("Range"))
	}
	// With the header: 200 + override.
	resp = do(t, c, "POST", loc, nil, map[string]string{"Content-Range": "bytes */*", "X-GUploader-No-308": "yes"})
	if resp.StatusCode != 200 || resp.Header.Get("X-HTTP-Status-Code-Override") != "308" || resp.Header.Get("Range") != "bytes=0-262143" {
		t.Fatalf("status query with no-308: %d override=%q range=%q", resp.StatusCode, resp.Header.Get("X-HTTP-Status-Code-Override"), resp.Header.Get("Range"))
	}
	// A retried chunk at the same offset is accepted and not stored twice.
	resp = do(t, c, "PUT", loc, chunk, map[string]string{"Content-Range": "bytes 0-262143/*"})
	if resp.StatusCode != 308 || resp.Header.Get("Range") != "bytes=0-262143" {
		t.Fatalf("retried chunk: %d Range=%q", resp.StatusCode, resp.Header.Get("Range"))
	}
	// A gap is refused.
	resp = do(t, c, "PUT", loc, chunk, map[string]string{"Content-Range": "bytes 524288-786431/*"})
	if resp.StatusCode != 400 {
		t.Fatalf("chunk past the end: %d; want 400", resp.StatusCode)
	}
	// A non-final chunk that is not a multiple of 256 KiB is refused.
	resp = do(t, c, "PUT", loc, chunk[:1000], map[string]string{"Content-Range": "bytes 262144-263143/*"})
	if resp.StatusCode != 400 {
		t.Fatalf("short non-final chunk: %d; want 400", resp.StatusCode)
	}
	// The final chunk finishes the file.
	resp = do(t, c, "PUT", loc, chunk[:10], map[string]string{"Content-Range": "bytes 262144-262153/262154"})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"raw.bin"`) {
		t.Fatalf("final chunk: %d %s", resp.StatusCode, body)
	}
	files := srv.Find("", "raw.bin")
	if len(files) != 1 || files[0].Size != 262154 || files[0].MD5 != md5hex(append(append([]byte{}, chunk...), chunk[:10]...)) {
		t.Fatalf("stored: %+v", files)
	}
	if srv.OpenSessions() != 0 {
		t.Errorf("open sessions after finishing: %d", srv.OpenSessions())
	}
}

func initSession(t *testing.T, srv *Server, meta, path string) string {
	t.Helper()
	if path == "" {
		path = "/upload/drive/v3/files"
	}
	method := "POST"
	if path != "/upload/drive/v3/files" {
		method = "PATCH"
	}
	resp := do(t, srv.Client(), method, srv.URL+path+"?uploadType=resumable", []byte(meta), map[string]string{"Content-Type": "application/json", "X-Upload-Content-Type": "application/octet-stream"})
	if resp.StatusCode != 200 || resp.Header.Get("Location") == "" {
		t.Fatalf("init: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return resp.Header.Get("Location")
}

func do(t *testing.T, c *http.Client, method, u string, body []byte, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestExactMultiple: when the content is a multiple of the chunk size the
// client's last request is empty, "bytes */N".
func TestExactMultiple(t *testing.T) {
	srv, svc := start(t)
	rec := &recorder{}
	srv.SetHook(rec.hook)
	data := pattern(512 << 10)
	f, err := svc.Files.Create(&drive.File{Name: "even.bin"}).Media(bytes.NewReader(data), googleapi.ChunkSize(256<<10)).
		Fields("id,size,md5Checksum").Context(t.Context()).Do()
	if err != nil {
		t.Fatal(err)
	}
	if f.Size != int64(len(data)) || f.Md5Checksum != md5hex(data) {
		t.Errorf("created %+v", f)
	}
	if n := len(rec.reqs); n != 3 || rec.reqs[2] != "POST bytes */524288 no308=yes" {
		t.Errorf("session requests = %q", rec.reqs)
	}
}

// TestUpdateInPlace replaces content with a resumable PATCH and a
// multipart PATCH; the id stays, the revision changes.
func TestUpdateInPlace(t *testing.T) {
	srv, svc := start(t)
	id := srv.Add(FileSpec{Name: "doc.bin", Content: []byte("old")})
	before, _ := srv.Get(id)
	data := pattern(700 << 10)
	mt := "2021-06-07T08:09:10.111Z"
	f, err := svc.Files.Update(id, &drive.File{ModifiedTime: mt}).Media(bytes.NewReader(data), googleapi.ChunkSize(256<<10)).
		Fields("id,size,md5Checksum,modifiedTime,headRevisionId,version").Context(t.Context()).Do()
	if err != nil {
		t.Fatal(err)
	}
	if f.Id != id || f.Size != int64(len(data)) || f.ModifiedTime != mt || f.HeadRevisionId == before.HeadRevision || f.Version <= before.Version {
		t.Errorf("updated %+v (before %+v)", f, before)
	}
	small := []byte("small content")
	f, err = svc.Files.Update(id, &drive.File{}).Media(bytes.NewReader(small), googleapi.ChunkSize(0)).Fields("id,size,md5Checksum").Context(t.Context()).Do()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.Content(id); f.Id != id || !bytes.Equal(got, small) || f.Md5Checksum != md5hex(small) {
		t.Errorf("multipart update: %+v, content %q", f, got)
	}
	if st := srv.Stats(); st.ByKind["upload-multipart"] != 1 || st.ByKind["upload-init"] != 1 {
		t.Errorf("kinds = %v", st.ByKind)
	}
	// Parents cannot be set in an update body.
	_, err = svc.Files.Update(id, &drive.File{Parents: []string{"x"}}).Context(t.Context()).Do()
	if reason(err) != "fieldNotWritable" {
		t.Errorf("update with parents = %v; want fieldNotWritable", err)
	}
}

func reason(err error) string {
	var ge *googleapi.Error
	if errors.As(err, &ge) && len(ge.Errors) > 0 {
		return ge.Errors[0].Reason
	}
	return ""
}

func code(err error) int {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge.Code
	}
	return 0
}

func TestListQueryFieldsPaging(t *testing.T) {
	srv, svc := start(t)
	dir := srv.Mkdir("", "dir")
	other := srv.Mkdir("", "other")
	for i := range 250 {
		srv.Add(FileSpec{Name: fmt.Sprintf("f%03d", i), Parent: dir, Content: []byte{byte(i)}})
	}
	srv.Add(FileSpec{Name: "trashed", Parent: dir, Trashed: true})
	srv.Add(FileSpec{Name: "elsewhere", Parent: other})
	sub := srv.Mkdir(dir, "sub")
	srv.Add(FileSpec{Name: "it's", Parent: sub})
	srv.Add(FileSpec{Name: "doc", Parent: dir, MimeType: DocumentMime})

	listAll := func(q string, pageSize int64) ([]*drive.File, int) {
		var out []*drive.File
		pages := 0
		err := svc.Files.List().Q(q).PageSize(pageSize).Fields("nextPageToken,files(id,name,size,mimeType,trashed)").
			Pages(t.Context(), func(fl *drive.FileList) error {
				pages++
				out = append(out, fl.Files...)
				return nil
			})
		if err != nil {
			t.Fatalf("list %q: %v", q, err)
		}
		return out, pages
	}
	files, pages := listAll(fmt.Sprintf("'%s' in parents and trashed = false", dir), 100)
	if len(files) != 252 || pages != 3 {
		t.Errorf("listed %d files in %d pages; want 252 in 3", len(files), pages)
	}
	if files[0].Size != 1 && files[0].MimeType != FolderMime && files[0].MimeType != DocumentMime {
		t.Errorf("size not returned: %+v", files[0])
	}
	files, _ = listAll(fmt.Sprintf("'%s' in parents", dir), 1000)
	if len(files) != 253 {
		t.Errorf("without trashed=false: %d files; want 253 (trashed included)", len(files))
	}
	files, _ = listAll(fmt.Sprintf("'%s' in parents and trashed=false and mimeType != '%s' and not mimeType contains 'google-apps'", dir, FolderMime), 1000)
	if len(files) != 250 {
		t.Errorf("binaries: %d; want 250", len(files))
	}
	files, _ = listAll(fmt.Sprintf("name = 'it\\'s' and '%s' in parents", sub), 10)
	if len(files) != 1 || files[0].Name != "it's" {
		t.Errorf("escaped name: %+v", files)
	}
	files, _ = listAll(fmt.Sprintf("('%s' in parents or '%s' in parents) and (name = 'elsewhere' or name = 'f007')", dir, other), 10)
	if len(files) != 2 {
		t.Errorf("or/parentheses: %d files", len(files))
	}
	// Fields are partial: unrequested fields are absent.
	fl, err := svc.Files.List().Q(fmt.Sprintf("'%s' in parents and name='f001'", dir)).Fields("files(id)").Context(t.Context()).Do()
	if err != nil || len(fl.Files) != 1 || fl.Files[0].Name != "" || fl.Files[0].Id == "" {
		t.Errorf("fields=files(id): %+v %v", fl, err)
	}
	// Unknown fields, bad queries and bad tokens are 400s.
	if _, err := svc.Files.List().Fields("files(nosuchfield)").Context(t.Context()).Do(); code(err) != 400 {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := svc.Files.List().Q("size > 3").Context(t.Context()).Do(); code(err) != 400 {
		t.Errorf("unsupported query: %v", err)
	}
	if _, err := svc.Files.List().PageToken("garbage").Context(t.Context()).Do(); code(err) != 400 {
		t.Errorf("bad token: %v", err)
	}
	// orderBy name sorts case-insensitively.
	srv.Add(FileSpec{Name: "B", Parent: other})
	srv.Add(FileSpec{Name: "a", Parent: other})
	fl, err = svc.Files.List().Q(fmt.Sprintf("'%s' in parents", other)).OrderBy("name").Fields("files(name)").Context(t.Context()).Do()
	if err != nil || len(fl.Files) != 3 || fl.Files[0].Name != "a" || fl.Files[1].Name != "B" {
		t.Errorf("orderBy name: %v %v", fl, err)
	}
}

func TestTrashedFolderHidesChildren(t *testing.T) {
	srv, svc := start(t)
	dir := srv.Mkdir("", "dir")
	child := srv.Add(FileSpec{Name: "child", Parent: dir})
	if _, err := svc.Files.Update(dir, &drive.File{Trashed: true}).Context(t.Context()).Do(); err != nil {
		t.Fatal(err)
	}
	f, err := svc.Files.Get(child).Fields("trashed,explicitlyTrashed").Context(t.Context()).Do()
	if err != nil || !f.Trashed || f.ExplicitlyTrashed {
		t.Errorf("child of a trashed folder: %+v %v", f, err)
	}
	fl, err := svc.Files.List().Q(fmt.Sprintf("'%s' in parents and trashed=false", dir)).Context(t.Context()).Do()
	if err != nil || len(fl.Files) != 0 {
		t.Errorf("listing a trashed folder: %+v %v", fl, err)
	}
	if err := svc.Files.EmptyTrash().Context(t.Context()).Do(); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.Get(child); ok {
		t.Errorf("child survived emptyTrash")
	}
}

func TestDownloadRangeExport(t *testing.T) {
	srv, svc := start(t)
	data := pattern(100000)
	id := srv.Add(FileSpec{Name: "blob", Content: data})
	call := svc.Files.Get(id).Context(t.Context())
	call.Header().Set("Range", "bytes=1000-1999")
	resp, err := call.Download()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != "bytes 1000-1999/100000" || !bytes.Equal(got, data[1000:2000]) {
		t.Errorf("range: %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(got))
	}
	call = svc.Files.Get(id).Context(t.Context())
	call.Header().Set("Range", "bytes=100000-")
	if _, err := call.Download(); code(err) != 416 {
		t.Errorf("range past the end: %v; want 416", err)
	}
	resp, err = svc.Files.Get(id).Context(t.Context()).Download()
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("whole download: %d, %d bytes", resp.StatusCode, len(got))
	}
	if st := srv.Stats(); st.Downloaded != 101000 {
		t.Errorf("downloaded = %d; want 101000", st.Downloaded)
	}

	doc := srv.Add(FileSpec{Name: "Report", MimeType: DocumentMime, Content: []byte("hello")})
	if _, err := svc.Files.Get(doc).Context(t.Context()).Download(); reason(err) != "fileNotDownloadable" {
		t.Errorf("download of a Doc: %v; want fileNotDownloadable", err)
	}
	docx := "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	resp, err = svc.Files.Export(doc, docx).Context(t.Context()).Download()
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, ExportBytes(docx, []byte("hello"))) {
		t.Errorf("export = %q", got)
	}
	if _, err := svc.Files.Export(doc, "image/png").Context(t.Context()).Download(); code(err) != 400 {
		t.Errorf("export to an unsupported format: %v; want 400", err)
	}
	srv.SetExportLimit(10)
	if _, err := svc.Files.Export(doc, docx).Context(t.Context()).Download(); reason(err) != "exportSizeLimitExceeded" || code(err) != 403 {
		t.Errorf("export over the limit: %v; want 403 exportSizeLimitExceeded", err)
	}
	if _, err := svc.Files.Export(id, docx).Context(t.Context()).Download(); code(err) != 403 {
		t.Errorf("export of a binary: %v; want 403", err)
	}
}

func TestFaults(t *testing.T) {
	srv, svc := start(t)
	srv.AddFault(Fault{Status: 403, Count: 1, RetryAfter: 2 * time.Second})
	_, err := svc.Files.List().Context(t.Context()).Do()
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != 403 || len(ge.Errors) != 1 || ge.Errors[0].Reason != "userRateLimitExceeded" || ge.Header.Get("Retry-After") != "2" {
		t.Fatalf("403 fault: %#v", err)
	}
	if _, err := svc.Files.List().Context(t.Context()).Do(); err != nil {
		t.Fatalf("after the fault's count: %v", err)
	}
	srv.AddFault(Fault{Status: 429, Count: 1})
	if _, err := svc.Files.List().Context(t.Context()).Do(); reason(err) != "rateLimitExceeded" || code(err) != 429 {
		t.Errorf("429 fault: %v", err)
	}
	srv.AddFault(Fault{Status: 500, Count: 1, Match: func(r *http.Request, kind string) bool { return kind == "get" }})
	if _, err := svc.Files.List().Context(t.Context()).Do(); err != nil {
		t.Errorf("unmatched kind: %v", err)
	}
	if _, err := svc.Files.Get("root").Context(t.Context()).Do(); code(err) != 500 {
		t.Errorf("500 fault: %v", err)
	}
	srv.ClearFaults()

	srv.AddFault(Fault{Fraction: 1.0 / 3, Status: 403, Count: 1000})
	failed := 0
	for range 300 {
		if _, err := svc.Files.Get("root").Context(t.Context()).Do(); err != nil {
			failed++
		}
	}
	if failed < 60 || failed > 140 {
		t.Errorf("fraction 1/3 failed %d of 300", failed)
	}
	srv.ClearFaults()

	srv.AddFault(Fault{Stall: time.Minute, Count: 1})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if _, err := svc.Files.List().Context(ctx).Do(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled request: %v; want a deadline error", err)
	}

	id := srv.Add(FileSpec{Name: "blob", Content: pattern(200000)})
	srv.AddFault(Fault{CutAfter: 1000, Count: 1})
	resp, err := svc.Files.Get(id).Context(t.Context()).Download()
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil || n >= 200000 {
		t.Errorf("cut download: read %d bytes, err %v; want an error before the end", n, err)
	}
}

func TestExpiredSession(t *testing.T) {
	srv, svc := start(t)
	loc := initSession(t, srv, `{"name":"x"}`, "")
	srv.ExpireSessions(404)
	resp := do(t, srv.Client(), "PUT", loc, pattern(256<<10), map[string]string{"Content-Range": "bytes 0-262143/*"})
	if resp.StatusCode != 404 {
		t.Errorf("expired session: %d; want 404", resp.StatusCode)
	}
	_, err := svc.Files.Create(&drive.File{Name: "y"}).Media(bytes.NewReader(pattern(300<<10)), googleapi.ChunkSize(256<<10)).Context(t.Context()).Do()
	if code(err) != 404 {
		t.Errorf("client upload into an expired session: %v; want 404", err)
	}
	srv.ExpireSessions(410)
	resp = do(t, srv.Client(), "PUT", loc, pattern(256<<10), map[string]string{"Content-Range": "bytes 0-262143/*"})
	if resp.StatusCode != 410 {
		t.Errorf("expired session: %d; want 410", resp.StatusCode)
	}
	if len(srv.Find("", "y")) != 0 {
		t.Errorf("a file appeared from an expired session")
	}
}

func TestSharedDrive(t *testing.T) {
	srv, svc := start(t)
	sd := srv.AddSharedDrive("Team")
	dir := srv.Mkdir(sd, "dir")
	id := srv.Add(FileSpec{Name: "f", Parent: dir, Content: []byte("x")})
	if _, err := svc.Files.Get(id).Context(t.Context()).Do(); code(err) != 404 {
		t.Errorf("shared-drive item without supportsAllDrives: %v; want 404", err)
	}
	f, err := svc.Files.Get(id).SupportsAllDrives(true).Fields("id,driveId").Context(t.Context()).Do()
	if err != nil || f.DriveId != sd {
		t.Errorf("get with supportsAllDrives: %+v %v", f, err)
	}
	fl, err := svc.Files.List().Corpora("drive").DriveId(sd).IncludeItemsFromAllDrives(true).SupportsAllDrives(true).
		Q("trashed=false").Fields("files(id,name)").Context(t.Context()).Do()
	if err != nil || len(fl.Files) != 2 {
		t.Errorf("corpora=drive: %+v %v", fl, err)
	}
	if _, err := svc.Files.List().Corpora("drive").Context(t.Context()).Do(); code(err) != 400 {
		t.Errorf("corpora=drive without driveId: %v", err)
	}
	fl, err = svc.Files.List().Q("trashed=false").Fields("files(id)").Context(t.Context()).Do()
	if err != nil || len(fl.Files) != 0 {
		t.Errorf("My Drive listing shows shared-drive items: %+v %v", fl, err)
	}
	nf, err := svc.Files.Create(&drive.File{Name: "up", Parents: []string{dir}}).Media(strings.NewReader("abc")).
		SupportsAllDrives(true).Fields("id,driveId,size").Context(t.Context()).Do()
	if err != nil || nf.DriveId != sd || nf.Size != 3 {
		t.Errorf("upload into a shared drive: %+v %v", nf, err)
	}
	if _, err := svc.Files.Create(&drive.File{Name: "up", Parents: []string{dir}}).Media(strings.NewReader("abc")).Context(t.Context()).Do(); code(err) != 404 {
		t.Errorf("upload into a shared drive without supportsAllDrives: %v; want 404", err)
	}
}

func TestCopyDeleteShortcutDuplicates(t *testing.T) {
	srv, svc := start(t)
	dir := srv.Mkdir("", "dir")
	id := srv.Add(FileSpec{Name: "a", Parent: dir, Content: []byte("content")})
	cp, err := svc.Files.Copy(id, &drive.File{Name: "a", Parents: []string{dir}}).Fields("id,name,md5Checksum,size").Context(t.Context()).Do()
	if err != nil || cp.Id == id || cp.Md5Checksum != md5hex([]byte("content")) {
		t.Fatalf("copy: %+v %v", cp, err)
	}
	if dups := srv.Find(dir, "a"); len(dups) != 2 {
		t.Errorf("duplicate names: %d items named a; want 2", len(dups))
	}
	sc, err := svc.Files.Create(&drive.File{Name: "link", MimeType: ShortcutMime, Parents: []string{dir}, ShortcutDetails: &drive.FileShortcutDetails{TargetId: dir}}).
		Fields("id,mimeType,shortcutDetails").Context(t.Context()).Do()
	if err != nil || sc.ShortcutDetails == nil || sc.ShortcutDetails.TargetId != dir || sc.ShortcutDetails.TargetMimeType != FolderMime {
		t.Errorf("shortcut: %+v %v", sc, err)
	}
	folder, err := svc.Files.Create(&drive.File{Name: "sub", MimeType: FolderMime, Parents: []string{dir}}).Fields("id,mimeType").Context(t.Context()).Do()
	if err != nil || folder.MimeType != FolderMime {
		t.Fatalf("mkdir: %+v %v", folder, err)
	}
	if err := svc.Files.Delete(dir).Context(t.Context()).Do(); err != nil {
		t.Fatal(err)
	}
	if srv.Count() != 0 {
		t.Errorf("%d items left after deleting their folder", srv.Count())
	}
	if err := svc.Files.Delete(dir).Context(t.Context()).Do(); code(err) != 404 {
		t.Errorf("second delete: %v; want 404", err)
	}
}

// TestMultipartStreams: ChunkSize(0) sends one multipart request with
// chunked transfer encoding, which the fake streams to disk.
func TestMultipartStreams(t *testing.T) {
	srv, svc := start(t)
	var sawLength int64 = -2
	srv.SetHook(func(r *http.Request) {
		if r.URL.Query().Get("uploadType") == "multipart" {
			sawLength = r.ContentLength
		}
	})
	data := pattern(3 << 20)
	f, err := svc.Files.Create(&drive.File{Name: "m"}).Media(bytes.NewReader(data), googleapi.ChunkSize(0)).Fields("id,size,md5Checksum").Context(t.Context()).Do()
	if err != nil || f.Size != int64(len(data)) || f.Md5Checksum != md5hex(data) {
		t.Fatalf("multipart: %+v %v", f, err)
	}
	if sawLength != -1 {
		t.Errorf("multipart Content-Length = %d; want -1 (chunked)", sawLength)
	}
	if st := srv.Stats(); st.Uploaded != int64(len(data)) {
		t.Errorf("uploaded = %d", st.Uploaded)
	}
}

// TestGeneratedIDs: files.generateIds hands out ids that one create (or
// copy) may use; a second use is a conflict, an id not generated is
// refused, and an update may not set one.
func TestGeneratedIDs(t *testing.T) {
	srv, svc := start(t)
	gen, err := svc.Files.GenerateIds().Count(3).Space("drive").Type("files").Context(t.Context()).Do()
	if err != nil {
		t.Fatal(err)
	}
	if len(gen.Ids) != 3 || gen.Space != "drive" || gen.Kind != "drive#generatedIds" {
		t.Fatalf("generateIds = %+v", gen)
	}
	f, err := svc.Files.Create(&drive.File{Id: gen.Ids[0], Name: "a.txt"}).Media(bytes.NewReader([]byte("a"))).
		Fields("id,name").Context(t.Context()).Do()
	if err != nil || f.Id != gen.Ids[0] {
		t.Fatalf("create with a generated id = %+v, %v", f, err)
	}
	_, err = svc.Files.Create(&drive.File{Id: gen.Ids[0], Name: "again.txt"}).Media(bytes.NewReader([]byte("b"))).Context(t.Context()).Do()
	if code(err) != 409 {
		t.Errorf("second create with the id: %v; want 409", err)
	}
	_, err = svc.Files.Create(&drive.File{Id: "1NotGenerated", Name: "x.txt"}).Context(t.Context()).Do()
	if code(err) != 400 {
		t.Errorf("create with an id not generated: %v; want 400", err)
	}
	c, err := svc.Files.Copy(f.Id, &drive.File{Id: gen.Ids[1]}).Fields("id").Context(t.Context()).Do()
	if err != nil || c.Id != gen.Ids[1] {
		t.Errorf("copy with a generated id = %+v, %v", c, err)
	}
	_, err = svc.Files.Update(f.Id, &drive.File{Id: gen.Ids[2]}).Context(t.Context()).Do()
	if code(err) != 403 || reason(err) != "fieldNotWritable" {
		t.Errorf("update setting the id: %v; want 403 fieldNotWritable", err)
	}
	if _, err := svc.Files.GenerateIds().Count(1001).Context(t.Context()).Do(); code(err) != 400 {
		t.Errorf("generateIds count=1001: %v; want 400", err)
	}
	if n := srv.Stats().ByKind["generate-ids"]; n != 2 {
		t.Errorf("generate-ids requests = %d; want 2", n)
	}
}

// TestDropResponse: the request is served but its answer never arrives.
func TestDropResponse(t *testing.T) {
	srv, svc := start(t)
	srv.AddFault(Fault{DropResponse: true, Count: 1, Match: func(r *http.Request, kind string) bool { return kind == "upload-multipart" }})
	_, err := svc.Files.Create(&drive.File{Name: "lost.txt"}).Media(bytes.NewReader([]byte("x"))).Context(t.Context()).Do()
	if err == nil {
		t.Fatal("create whose answer was dropped: no error")
	}
	l, err := svc.Files.List().Q("name = 'lost.txt'").Context(t.Context()).Do()
	if err != nil || len(l.Files) != 1 {
		t.Errorf("after the dropped answer: %v, %v; want the file created once", l, err)
	}
}
