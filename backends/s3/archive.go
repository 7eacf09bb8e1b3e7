package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"syncer/backends"
)

// Archived objects: GLACIER and DEEP_ARCHIVE objects (not GLACIER_IR, which
// reads at once) must be restored before a GET, which otherwise answers
// 403 InvalidObjectState; so must INTELLIGENT_TIERING objects in its
// archive tiers, which only HeadObject (x-amz-archive-status) or the GET
// tell. A restore makes a temporary readable copy; the object keeps its
// storage class.

// archiveClass reports whether objects of class need a restore to be read.
func archiveClass(class string) bool {
	return class == string(types.StorageClassGlacier) || class == string(types.StorageClassDeepArchive)
}

// listedArchive returns Object.Archived and Restoring for a listed object of
// class, from its RestoreStatus (nil: never restored, or the store does not
// say).
func listedArchive(class string, rs *types.RestoreStatus) (string, bool) {
	switch {
	case !archiveClass(class):
		return "", false
	case rs == nil:
		return class, false
	case aws.ToBool(rs.IsRestoreInProgress):
		return class, true
	case rs.RestoreExpiryDate != nil:
		return "", false // a restored copy is readable
	}
	return class, false
}

// headArchive is listedArchive for a HeadObject reply, whose x-amz-restore
// header reads `ongoing-request="true"` while a restore runs and
// `ongoing-request="false", expiry-date="..."` once it is done.
func headArchive(out *s3.HeadObjectOutput) (string, bool) {
	class := string(out.StorageClass)
	archived := archiveClass(class)
	if out.ArchiveStatus != "" {
		class, archived = string(types.StorageClassIntelligentTiering), true
	}
	restore := aws.ToString(out.Restore)
	switch {
	case strings.Contains(restore, `ongoing-request="true"`):
		return firstNonEmpty(class, "archived"), true
	case !archived || strings.Contains(restore, `ongoing-request="false"`):
		return "", false
	}
	return class, false
}

// archivedErr describes a 403 InvalidObjectState: it wraps
// backends.ErrArchived, names the storage class when the reply does, and
// is permanent (an upload in parts that reads it gives up, not resumes).
func (b *Backend) archivedErr(op, key string, err error) error {
	what := "InvalidObjectState"
	var ios *types.InvalidObjectState
	if errors.As(err, &ios) && ios.StorageClass != "" {
		what = string(ios.StorageClass)
		if ios.AccessTier != "" {
			what += " " + string(ios.AccessTier)
		}
	}
	return &backends.PermanentError{Msg: fmt.Sprintf("%s %s: key %q", op, b, key), Err: fmt.Errorf("%w (%s)", backends.ErrArchived, what)}
}

// isArchivedErr reports the store's answer to reading an archived object.
func isArchivedErr(err error) bool { return errorCode(err) == "InvalidObjectState" }

// ArchivedPolicy returns the backend's archived setting.
func (b *Backend) ArchivedPolicy() string { return b.archived }

// Restore asks S3 to restore key for restore_days at restore_tier (no
// days for Intelligent-Tiering, whose restores last until it archives the
// object again). A HeadObject first tells a restore in progress or done,
// which is not asked for again; RestoreAlreadyInProgress, a race with
// another client, is in progress too.
func (b *Backend) Restore(ctx context.Context, key string) (backends.RestoreState, error) {
	k, err := b.objKey(key)
	if err != nil {
		return 0, fmt.Errorf("restore %s: %w", b, err)
	}
	head, err := b.head(ctx, "restore", key, k, "")
	if err != nil {
		return 0, err
	}
	class, restoring := headArchive(head)
	switch {
	case restoring:
		return backends.RestoreInProgress, nil
	case class == "":
		return backends.RestoreDone, nil
	}
	req := &types.RestoreRequest{GlacierJobParameters: &types.GlacierJobParameters{Tier: types.Tier(b.restoreTier)}}
	if class != string(types.StorageClassIntelligentTiering) {
		req.Days = aws.Int32(int32(b.restoreDays))
	}
	out, err := b.client.RestoreObject(ctx, &s3.RestoreObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(k), RestoreRequest: req})
	if err != nil {
		if errorCode(err) == "RestoreAlreadyInProgress" {
			return backends.RestoreInProgress, nil
		}
		return 0, b.wrap(ctx, "restore", key, err)
	}
	// 202 Accepted starts a restore; 200 OK means a restored copy exists
	// (its expiry is pushed back).
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok && raw.StatusCode == http.StatusOK {
		return backends.RestoreDone, nil
	}
	return backends.RestoreRequested, nil
}
