package backends

import (
	"context"
	"errors"
)

// What a sync does with a source object that is archived (Object.Archived):
// the source backend's choice (Archiver.ArchivedPolicy).
const (
	ArchivedSkip    = "skip"    // shown apart, not copied, not a failure
	ArchivedFail    = "fail"    // a failure of the run
	ArchivedRestore = "restore" // apply asks the store to restore it; a later run copies it
)

// ErrArchived is wrapped by the errors of reads (and server-side copies) of
// an object that must be restored before it can be read: an archive storage
// class the listing could not tell, such as S3 Intelligent-Tiering's
// archive tiers, or a restored copy that expired since the plan.
var ErrArchived = errors.New("the object is archived and must be restored before it can be read")

// RestoreState says where a restore of an archived object stands.
type RestoreState int

const (
	RestoreRequested  RestoreState = iota // this call asked for it
	RestoreInProgress                     // asked for before, not done yet
	RestoreDone                           // a restored copy is readable now
)

// Archiver is implemented by backends that may hold archived objects.
type Archiver interface {
	// ArchivedPolicy is ArchivedSkip, ArchivedFail or ArchivedRestore.
	ArchivedPolicy() string
	// Restore asks the store to make key readable for a while. It asks at
	// most once: a restore in progress, or done, is reported, not asked
	// for again.
	Restore(ctx context.Context, key string) (RestoreState, error)
}
