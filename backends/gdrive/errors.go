package gdrive

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/api/googleapi"

	"syncer/backends"
)

// apiError returns the Drive API error in err, if any.
func apiError(err error) *googleapi.Error {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		return ge
	}
	return nil
}

// reason returns the first error reason Drive gave ("" when none).
func reason(err error) string {
	if ge := apiError(err); ge != nil {
		for _, it := range ge.Errors {
			if it.Reason != "" {
				return it.Reason
			}
		}
	}
	return ""
}

func statusOf(err error) int {
	if ge := apiError(err); ge != nil {
		return ge.Code
	}
	return 0
}

func isNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// permanentReasons explain Drive errors that retrying cannot fix.
var permanentReasons = map[string]string{
	"notFound":                           "not found (deleted, or not shared with these credentials; shared drives need the drive_id)",
	"insufficientPermissions":            "insufficient permissions: the credentials cannot do this (check sharing and the OAuth scope)",
	"insufficientFilePermissions":        "insufficient permissions on the file: share it with the account (as editor to write)",
	"insufficientParentPermissions":      "insufficient permissions on the parent folder",
	"storageQuotaExceeded":               "the account's Drive storage is full (if these are service-account credentials: " + noStorageFix + ")",
	"quotaExceeded":                      "the account's Drive storage quota is exceeded (if these are service-account credentials: " + noStorageFix + ")",
	"cannotDownloadAbusiveFile":          "Drive flags the file as malware or spam and refuses to download it; to download it anyway, set acknowledge_abuse = true on the gdrive backend (Drive allows that to the file's owner or a shared drive's organizer)",
	"teamDriveFileLimitExceeded":         "the shared drive's item limit is exceeded",
	"numChildrenInNonRootLimitExceeded":  "the folder holds too many items (Drive's 500,000 limit)",
	"exportSizeLimitExceeded":            "the Google Doc is too large to export (Drive's 10 MB export limit); export it by hand, or set skip_google_docs",
	"fileNotDownloadable":                "the file has no binary content to download",
	"cannotDownloadFile":                 "the owner disabled downloads of this file",
	"dailyLimitExceeded":                 "the project's daily API quota is exceeded",
	"domainPolicy":                       "the Google Workspace domain's policy forbids this",
	"appNotAuthorizedToFile":             "the app is not authorized to this file",
	"authError":                          "the credentials were refused",
	"fileNotExportable":                  "the file cannot be exported",
	"badRequest":                         "Drive refused the request",
	"invalid":                            "Drive refused a value in the request",
	"fieldNotWritable":                   "Drive refused to set a field",
	"cannotCopyFile":                     "the file cannot be copied",
	"sharingRateLimitExceeded":           "too many sharing changes",
	"activeItemCreationLimitExceeded":    "the account has created too many items",
	"teamDriveHierarchyTooDeep":          "the shared drive's folders are nested too deeply",
	"uploadBrokenConnection":             "the upload connection broke",
	"cannotModifyViewersCanCopyContent":  "Drive refused to change the file's settings",
	"shortcutTargetInvalid":              "the shortcut's target is invalid",
	"teamDrivesFolderMoveInNotSupported": "folders cannot be moved into a shared drive",
}

// IsPermanent reports whether err is a Drive error that retrying will not
// fix: permissions, quotas, missing items, refused requests, Docs too
// large to export. Transient errors and cancellations are not permanent.
func IsPermanent(err error) bool { return backends.IsPermanent(err, permanentDrive) }

func permanentDrive(err error) bool {
	ge := apiError(err)
	if ge == nil {
		return false
	}
	if _, ok := permanentReasons[reason(err)]; ok {
		return true
	}
	switch {
	case ge.Code == http.StatusRequestTimeout, ge.Code == http.StatusTooManyRequests:
		return false
	case ge.Code == http.StatusForbidden:
		r := reason(err)
		return r != "userRateLimitExceeded" && r != "rateLimitExceeded"
	case ge.Code >= 400 && ge.Code < 500:
		return true
	}
	return false
}

// wrap adds the operation, the backend and the key to err. A cancelled ctx
// wins, so callers see an interruption as such; permanent Drive errors get
// a plain explanation.
func (b *Backend) wrap(ctx context.Context, op, key string, err error) error {
	return backends.Wrap(ctx, op, b, key, err, explain)
}

// explain says why err is a permanent Drive error; "" when it is not one.
func explain(err error) string {
	r := reason(err)
	if why := explainFix(err, r); why != "" {
		return fmt.Sprintf("%s (%s)", why, r)
	}
	if why, ok := permanentReasons[r]; ok {
		return fmt.Sprintf("%s (%s)", why, r)
	}
	if ge := apiError(err); ge != nil && (ge.Code == http.StatusUnauthorized || ge.Code == http.StatusForbidden) && r != "userRateLimitExceeded" && r != "rateLimitExceeded" {
		return fmt.Sprintf("access denied (HTTP %d): check the credentials and that the folder is shared with them", ge.Code)
	}
	return ""
}

func (b *Backend) notFound(op, key string) error { return backends.NotFound(op, b, key) }

func (b *Backend) errorf(op, key string, format string, args ...any) error {
	return backends.Errorf(op, b, key, format, args...)
}

// noStorageFix is what a service account without storage can do.
const noStorageFix = "a service account has no Drive storage of its own, so it cannot own files in My Drive: write into a shared drive it is a member of (drive_id), or impersonate a user with subject (domain-wide delegation)"

// explainFix is the explanation of errors whose fix depends on Drive's
// message; "" when the generic one applies.
func explainFix(err error, r string) string {
	ge := apiError(err)
	if ge == nil {
		return ""
	}
	switch r {
	case "storageQuotaExceeded", "quotaExceeded":
		msg := ge.Message
		for _, it := range ge.Errors {
			msg += " " + it.Message
		}
		if strings.Contains(strings.ToLower(msg), "service account") {
			return "Drive refused to store the file: " + noStorageFix
		}
	}
	return ""
}

// explainRemove explains a refused trash or delete (Delete, or the file a
// copy replaces); "" when explain's reading applies.
func (b *Backend) explainRemove(err error) string {
	if reason(err) != "insufficientFilePermissions" {
		return ""
	}
	if b.deleteMode == DeleteTrash {
		return `only the file's owner may move it to the trash, and these credentials do not own it: make their account the file's owner, or set delete_mode = "permanent" if they may delete it (in a shared drive, organizers may) (insufficientFilePermissions)`
	}
	return `these credentials may not delete the file: only its owner (in a shared drive, an organizer) may; make their account the file's owner or give it that role (insufficientFilePermissions)`
}

// wrapRemove is wrap for a refused trash or delete of key.
func (b *Backend) wrapRemove(ctx context.Context, op, key string, err error) error {
	return backends.Wrap(ctx, op, b, key, err, func(err error) string {
		if why := b.explainRemove(err); why != "" {
			return why
		}
		return explain(err)
	})
}
