package gdrive

import (
	"context"
	"net/http"

	"syncer/backends"
)

// Messages of the daily caps, as apply prints them when it stops.
const (
	UploadCapReason   = "Google Drive's daily upload limit reached; run again after it resets"
	DownloadCapReason = "Google Drive's daily download limit reached; run again after it resets"
)

// capAttempts is how often a write is tried while Drive answers with the
// daily cap's own wording (see isUploadCap); the per-minute limit is
// retried the full MaxAttempts.
const capAttempts = 3

// uploadCapMessage is how Drive words the 403 userRateLimitExceeded of the
// daily upload cap (about 750 GB a day); rclone's stop_on_upload_limit
// keys on it. The per-minute quota's 403 says "User Rate Limit Exceeded.
// Rate of requests for user exceed configured project quota...".
const uploadCapMessage = "User rate limit exceeded."

// isWriteRequest reports whether req spends the daily upload quota: an
// upload or a server-side copy.
func isWriteRequest(req *http.Request) bool {
	p := req.URL.Path
	return len(p) > 8 && p[:8] == "/upload/" || req.Method == http.MethodPost && len(p) > 5 && p[len(p)-5:] == "/copy"
}

// upCapped reports whether a write err is the daily upload cap: Google's
// upload-limit reason, or a 403 rate limit that outlasted every retry
// (the daily cap is the same 403, which no backoff cures). It marks the
// backend capped.
func (b *Backend) upCapped(err error) bool {
	if err == nil {
		return false
	}
	switch reason(err) {
	case "uploadLimitExceeded":
	case "userRateLimitExceeded", "rateLimitExceeded":
		if statusOf(err) != http.StatusForbidden {
			return false
		}
	default:
		return false
	}
	b.capUp.Store(true)
	return true
}

// stopUp returns the error of a write of key refused by the daily upload
// cap: a *backends.StopError, which makes apply take no new work.
func (b *Backend) stopUp(ctx context.Context, op, key string, err error) error {
	return &backends.StopError{Reason: UploadCapReason, Err: backends.Wrap(ctx, op, b, key, err, nil)}
}

// capUpErr is the error of a write of key once the daily upload cap was
// seen: no request is sent, nil when the cap was not seen.
func (b *Backend) capUpErr(op, key string) error {
	if !b.capUp.Load() {
		return nil
	}
	return &backends.StopError{Reason: UploadCapReason, Err: b.errorf(op, key, "not sent: Drive refused an earlier upload of this run with its daily limit")}
}

// downCapped reports whether a read err is Drive's download quota.
func (b *Backend) downCapped(err error) bool {
	if reason(err) != "downloadQuotaExceeded" {
		return false
	}
	b.capDown.Store(true)
	return true
}
