package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"syncer/backends"
)

// errorCode returns the S3 error code of err ("" when none).
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of a failed request (0 when none).
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// isNotFound reports a missing object: NoSuchKey, or a 404 without an
// error document (HEAD responses have no body). Other 404 codes (a missing
// bucket or upload, versitygw's unknown access key) are not.
func isNotFound(err error) bool {
	switch errorCode(err) {
	case "NoSuchKey", "NotFound":
		return true
	case "":
		return httpStatus(err) == http.StatusNotFound
	}
	return false
}

func isNoSuchUpload(err error) bool { return errorCode(err) == "NoSuchUpload" }

// permanentCodes fail at once whatever their status: retrying cannot help.
var permanentCodes = map[string]string{
	"AccessDenied":                  "access denied: check the credentials and the bucket policy",
	"Forbidden":                     "access denied: check the credentials and the bucket policy",
	"AllAccessDisabled":             "all access to the bucket is disabled",
	"InvalidAccessKeyId":            "the access key id is not known to the store",
	"XAdminUserNotFound":            "the access key id is not known to the store",
	"SignatureDoesNotMatch":         "the secret access key does not match the access key id",
	"ExpiredToken":                  "the session token has expired",
	"InvalidToken":                  "the session token is invalid",
	"TokenRefreshRequired":          "the session token must be refreshed",
	"AccountProblem":                "the account has a problem that prevents access",
	"NoSuchBucket":                  "the bucket does not exist",
	"InvalidBucketName":             "the bucket name is invalid",
	"PermanentRedirect":             "the bucket is in another region: set region",
	"AuthorizationHeaderMalformed":  "the request was signed for the wrong region: set region",
	"IllegalLocationConstraint":     "the bucket is in another region: set region",
	"InvalidObjectState":            "the object is archived (e.g. Glacier) and must be restored first",
	"KMS.DisabledException":         "the KMS key is disabled",
	"KMS.NotFoundException":         "the KMS key does not exist",
	"KMS.AccessDeniedException":     "access to the KMS key is denied",
	"InvalidStorageClass":           "the storage class is not valid for this store",
	"NotImplemented":                "the store does not implement this request",
	"MissingContentLength":          "the request lacked a content length",
	"EntityTooLarge":                "the object or part is too large",
	"EntityTooSmall":                "a part is smaller than the store's minimum",
	"InvalidPart":                   "a part is missing or its ETag does not match",
	"InvalidPartOrder":              "the parts are not in ascending order",
	"XAmzContentSHA256Mismatch":     "the data was corrupted in transit",
	"BadDigest":                     "the data was corrupted in transit (Content-MD5 mismatch)",
	"InvalidDigest":                 "the Content-MD5 is invalid",
	"InvalidArgument":               "the store rejected an argument",
	"InvalidRequest":                "the store rejected the request",
	"UnauthorizedAccess":            "access denied",
	"InvalidSecurity":               "the security credentials are invalid",
	"RequestTimeTooSkewed":          "the local clock differs too much from the store's",
	"PreconditionFailed":            "the object changed while it was being read",
	"ServerSideEncryptionMisconfig": "server-side encryption is misconfigured",
}

// IsPermanent reports whether err is an S3 error that retrying will not
// fix: access and credential problems, a missing bucket, invalid requests.
// Transient errors (5xx, throttling, dropped connections, timeouts) and
// cancellations are not permanent.
func IsPermanent(err error) bool { return backends.IsPermanent(err, permanentS3) }

func permanentS3(err error) bool {
	if _, ok := permanentCodes[errorCode(err)]; ok {
		return true
	}
	switch st := httpStatus(err); {
	case st == http.StatusRequestTimeout, st == http.StatusTooManyRequests, st == http.StatusNotFound:
		return false
	case st >= 400 && st < 500:
		return true
	}
	return false
}

// wrap adds the operation, the backend and the key to err. A cancelled ctx
// wins, so callers see an interruption as such; permanent store errors get
// a plain explanation.
func (b *Backend) wrap(ctx context.Context, op, key string, err error) error {
	// Reads and copies send If-Match / x-amz-copy-source-if-match with
	// the version they must see (conditional writes answer 412 before
	// this): a refused condition means the source changed.
	if errorCode(err) == "PreconditionFailed" || httpStatus(err) == http.StatusPreconditionFailed {
		return backends.SourceChanged(op, b, key, "the store refused the version the plan listed (412 Precondition Failed)")
	}
	return backends.Wrap(ctx, op, b, key, err, b.explain)
}

// explain says why err is a permanent store error, naming the bucket; ""
// when it is not one.
func (b *Backend) explain(err error) string {
	code := errorCode(err)
	if why, ok := permanentCodes[code]; ok {
		return fmt.Sprintf("bucket %q: %s (%s)", b.bucket, why, code)
	}
	if st := httpStatus(err); st == http.StatusForbidden || st == http.StatusUnauthorized {
		return fmt.Sprintf("bucket %q: access denied (HTTP %d): check the credentials and the bucket policy", b.bucket, st)
	}
	return ""
}

func (b *Backend) notFound(op, key string) error { return backends.NotFound(op, b, key) }

func (b *Backend) errorf(op, key string, format string, args ...any) error {
	return backends.Errorf(op, b, key, format, args...)
}
