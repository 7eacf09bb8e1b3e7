package views

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// JSON writes messages as JSON lines. It is safe for concurrent use; each
// line is written whole. The first write error is kept and later writes
// are dropped (a closed pipe must not fail the run).
type JSON struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
	now func() time.Time
}

// NewJSON returns a writer to w and writes the version line.
func NewJSON(w io.Writer, syncerVersion string) *JSON {
	j := &JSON{enc: json.NewEncoder(w), now: time.Now}
	j.enc.SetEscapeHTML(false)
	j.Write(&Version{Syncer: syncerVersion, UI: UIVersion})
	return j
}

// Write stamps m's header (type and timestamp) and writes it as one line.
func (j *JSON) Write(m Message) error {
	h := m.header()
	h.Type = typeOf(m)
	h.Timestamp = j.now().UTC().Format(time.RFC3339Nano)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	j.err = j.enc.Encode(m)
	return j.err
}

// Err returns the first write error.
func (j *JSON) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// typeOf names m's message type; an ApplyObject's depends on its outcome.
func typeOf(m Message) Type {
	switch m := m.(type) {
	case *Version:
		return TypeVersion
	case *Diagnostic:
		return TypeDiagnostic
	case *ValidateResult:
		return TypeValidateResult
	case *PlannedChange:
		return TypePlannedChange
	case *PlanSummary, *ApplySummary:
		return TypeChangeSummary
	case *ApplyObject:
		switch m.Outcome {
		case "":
			return TypeApplyStart
		case "failed":
			return TypeApplyErrored
		}
		return TypeApplyComplete
	case *Progress:
		return TypeProgress
	case *State:
		return TypeState
	case *StateObject:
		return TypeStateObject
	case *FailedObject:
		return TypeFailedObject
	case *Shards:
		return TypeShards
	case *CheckDifference:
		return TypeCheckDifference
	case *CheckSummary:
		return TypeCheckSummary
	case *Object:
		return TypeObject
	}
	return "unknown" // not reached: every message type is listed above
}
