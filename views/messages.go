// Package views holds syncer's machine-readable output: the typed JSON
// messages that -json prints, one per line (docs/json-output.md), and the
// writer that prints them. Field names are snake_case; sizes are bytes,
// times RFC 3339 (UTC), durations seconds.
package views

import "time"

// UIVersion is the version of the JSON stream. It changes only when a
// field is removed or changes meaning; new fields and types keep it.
const UIVersion = "1.0"

// Type names a message.
type Type string

// The message types; docs/json-output.md describes each.
const (
	TypeVersion         Type = "version"
	TypeDiagnostic      Type = "diagnostic"
	TypeValidateResult  Type = "validate_result"
	TypePlannedChange   Type = "planned_change"
	TypeChangeSummary   Type = "change_summary"
	TypeApplyStart      Type = "apply_start"
	TypeApplyComplete   Type = "apply_complete"
	TypeApplyErrored    Type = "apply_errored"
	TypeProgress        Type = "progress"
	TypeState           Type = "state"
	TypeStateObject     Type = "state_object"
	TypeFailedObject    Type = "failed_object"
	TypeShards          Type = "shards"
	TypeCheckDifference Type = "check_difference"
	TypeCheckSummary    Type = "check_summary"
	TypeObject          Type = "object"
)

// Message is one line of output; Writer.Write stamps its header.
type Message interface{ header() *Header }

// Header starts every message.
type Header struct {
	Type      Type   `json:"type"`
	Timestamp string `json:"timestamp"` // when the line was written
}

func (h *Header) header() *Header { return h }

// Version is the first line of every -json stream.
type Version struct {
	Header
	Syncer string `json:"syncer"` // syncer's version
	UI     string `json:"ui"`     // UIVersion
}

// Range is where in a configuration file a diagnostic points; lines and
// columns count from 1, byte offsets from 0.
type Range struct {
	Filename string `json:"filename"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end"`
}

// Pos is one end of a Range.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// Diagnostic is an error or a warning.
type Diagnostic struct {
	Header
	Severity string `json:"severity"` // "error" or "warning"
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	Range    *Range `json:"range,omitempty"` // where a config file is the cause
}

// ValidateResult ends validate's stream.
type ValidateResult struct {
	Header
	Valid        bool `json:"valid"`
	ErrorCount   int  `json:"error_count"`
	WarningCount int  `json:"warning_count"`
	Backends     int  `json:"backends"`
	Syncs        int  `json:"syncs"`
}

// PlannedChange is one action of a plan.
type PlannedChange struct {
	Header
	Sync   string `json:"sync"`
	Action string `json:"action"` // create, update, delete, adopt, skip, archived, restore
	Key    string `json:"key"`
	Size   int64  `json:"size"` // -1: unknown
	Reason string `json:"reason"`
}

// PlanSummary is the change_summary that ends a plan's stream
// (operation "plan"): the counts of its actions.
type PlanSummary struct {
	Header
	Operation string `json:"operation"` // "plan"
	Create    int64  `json:"create"`
	Update    int64  `json:"update"`
	Delete    int64  `json:"delete"`
	Bytes     int64  `json:"bytes"` // to transfer
	Skip      int64  `json:"skip"`
	Adopt     int64  `json:"adopt"`
	Archived  int64  `json:"archived"`
	Restore   int64  `json:"restore"`
	Excluded  int64  `json:"excluded"`
	Message   string `json:"message"` // the text summary line
}

// ApplySummary is the change_summary that ends an apply's stream
// (operation "apply"): what was done.
type ApplySummary struct {
	Header
	Operation string `json:"operation"` // "apply"
	Totals
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Interrupted    bool    `json:"interrupted"`
	StopReason     string  `json:"stop_reason,omitempty"`
	Outcome        string  `json:"outcome"` // complete, partial, interrupted, failed
	Message        string  `json:"message"`
}

// Totals are an apply's counts (apply.Result), in its change_summary and
// in its report.
type Totals struct {
	Created          int64 `json:"created"`
	Updated          int64 `json:"updated"`
	Deleted          int64 `json:"deleted"`
	Failed           int64 `json:"failed"`
	Skipped          int64 `json:"skipped"`
	Archived         int64 `json:"archived"`
	RestoresPending  int64 `json:"restores_pending"`
	BackedUp         int64 `json:"backed_up"`
	Bytes            int64 `json:"bytes"`             // sizes of the objects written
	BytesTransferred int64 `json:"bytes_transferred"` // moved, whatever the outcome
}

// ApplyObject is apply_start (no outcome yet), apply_complete and
// apply_errored (with error) for one object.
type ApplyObject struct {
	Header
	Sync           string   `json:"sync"`
	Key            string   `json:"key"`
	Action         string   `json:"action"`
	Bytes          int64    `json:"bytes"`                       // planned size; -1 unknown
	Outcome        string   `json:"outcome,omitempty"`           // apply_complete, apply_errored
	Transferred    *int64   `json:"bytes_transferred,omitempty"` // apply_complete, apply_errored
	ElapsedSeconds *float64 `json:"elapsed_seconds,omitempty"`   // apply_complete, apply_errored
	Error          string   `json:"error,omitempty"`
}

// Progress is apply's periodic count.
type Progress struct {
	Header
	Objects        int64    `json:"objects"`
	ObjectsTotal   int64    `json:"objects_total"`
	Bytes          int64    `json:"bytes"`
	BytesTotal     int64    `json:"bytes_total"`
	Rate           float64  `json:"rate"`        // bytes per second
	ETASeconds     *float64 `json:"eta_seconds"` // null: unknown
	ElapsedSeconds float64  `json:"elapsed_seconds"`
}

// State is show's summary of the state.
type State struct {
	Header
	Path    string        `json:"path"`
	Lineage string        `json:"lineage"`
	Serial  int64         `json:"serial"`
	Syncs   []SyncSummary `json:"syncs"`
	LastRun *Run          `json:"last_run"` // null: none yet
}

// SyncSummary is what the state records for one sync.
type SyncSummary struct {
	Sync        string `json:"sync"`
	Objects     int64  `json:"objects"`
	Bytes       int64  `json:"bytes"`
	LastWritten string `json:"last_written,omitempty"`
}

// Run is one recorded plan or apply.
type Run struct {
	ID        int64  `json:"id"`
	Operation string `json:"operation"`
	Started   string `json:"started"`
	Finished  string `json:"finished,omitempty"`
	Status    string `json:"status"` // running, complete, partial, interrupted, failed
	Copied    int64  `json:"copied"`
	Deleted   int64  `json:"deleted"`
	Failed    int64  `json:"failed"`
	Bytes     int64  `json:"bytes"`
}

// StateObject is one record of state list.
type StateObject struct {
	Header
	Sync    string `json:"sync"`
	Key     string `json:"key"`
	Size    int64  `json:"size"`
	MTime   string `json:"mtime,omitempty"`
	MD5     string `json:"md5,omitempty"`
	ETag    string `json:"etag,omitempty"`
	Written string `json:"written,omitempty"`
}

// FailedObject is one key that failed in the last apply (show -failed).
type FailedObject struct {
	Header
	Run    int64  `json:"run"`
	Sync   string `json:"sync"`
	Key    string `json:"key"`
	Action string `json:"action"`
	Error  string `json:"error"`
	At     string `json:"at"`
}

// Shards is show -shards N -json: the sum of the shards' states.
type Shards struct {
	Header
	Shards     int           `json:"shards"`
	Objects    int64         `json:"objects"`
	Bytes      int64         `json:"bytes"`
	Syncs      []SyncSummary `json:"syncs"`
	PerShard   []Shard       `json:"per_shard"`
	Locked     []string      `json:"locked"`     // shards whose lock is held
	Unfinished []string      `json:"unfinished"` // shards whose last apply did not complete
}

// Shard is one shard's state.
type Shard struct {
	Shard   string        `json:"shard"` // "I/N"
	State   string        `json:"state"` // where its state lives
	Exists  bool          `json:"exists"`
	Objects int64         `json:"objects"`
	Bytes   int64         `json:"bytes"`
	Syncs   []SyncSummary `json:"syncs"`
	LastRun *Run          `json:"last_run"`
	// Status: "no state", "running", "did not finish", or the last run's
	// outcome (complete, partial, interrupted, failed).
	Status string `json:"status"`
	Locked bool   `json:"locked"`
	Lock   *Lock  `json:"lock"` // the holder, when locked
}

// Lock is who holds a state's lock.
type Lock struct {
	ID        string `json:"id,omitempty"` // remote locks: what force-unlock takes
	Operation string `json:"operation"`
	Host      string `json:"host"`
	PID       int    `json:"pid"`
	Pod       string `json:"pod,omitempty"`
	Version   string `json:"version"`
	Started   string `json:"started"`
}

// CheckDifference is one difference check found.
type CheckDifference struct {
	Header
	Sync   string `json:"sync"`
	Key    string `json:"key"`
	Kind   string `json:"kind"` // only_in_source, only_in_destination, size_differs, hash_differs
	Detail string `json:"detail"`
}

// CheckSummary is check's count for one sync.
type CheckSummary struct {
	Header
	Sync              string `json:"sync"`
	OnlyInSource      int64  `json:"only_in_source"`
	OnlyInDestination int64  `json:"only_in_destination"`
	Differ            int64  `json:"differ"`
	Match             int64  `json:"match"`
	NotHashed         int64  `json:"not_hashed"`
}

// Object is one object ls lists.
type Object struct {
	Header
	Key   string `json:"key"`
	Size  int64  `json:"size"`
	MTime string `json:"mtime,omitempty"`
	MD5   string `json:"md5,omitempty"`
}

// Time renders t as the stream does: RFC 3339 in UTC with nanoseconds;
// "" for the zero time.
func Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Seconds returns d in seconds.
func Seconds(d time.Duration) float64 { return d.Seconds() }
