package gdrive

import (
	"net/http"
	"strings"
)

// operation names a Drive API request for metrics, as Google's reference
// does: "files.list", "files.get", "files.export", "changes.list", ...;
// media uploads are "files.create" / "files.update" and their resumable
// chunks "upload".
func operation(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.Contains(p, "/upload/"):
		if r.URL.Query().Get("upload_id") != "" {
			return "upload"
		}
		if r.Method == http.MethodPatch || r.Method == http.MethodPut {
			return "files.update"
		}
		return "files.create"
	case strings.Contains(p, "/changes/startPageToken"):
		return "changes.getStartPageToken"
	case strings.Contains(p, "/changes"):
		return "changes.list"
	case strings.HasSuffix(p, "/generateIds"):
		return "files.generateIds"
	case strings.HasSuffix(p, "/export"):
		return "files.export"
	case strings.HasSuffix(p, "/copy"):
		return "files.copy"
	case strings.Contains(p, "/about"):
		return "about.get"
	case strings.Contains(p, "/drives/"):
		return "drives.get"
	case strings.HasSuffix(p, "/files"):
		if r.Method == http.MethodPost {
			return "files.create"
		}
		return "files.list"
	case strings.Contains(p, "/files/"):
		switch r.Method {
		case http.MethodPatch:
			return "files.update"
		case http.MethodDelete:
			return "files.delete"
		}
		return "files.get"
	}
	return r.Method + " " + p
}
