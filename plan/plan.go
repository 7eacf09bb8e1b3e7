// Package plan lists both sides of each sync into SQLite, diffs them against
// the state in SQL, and keeps the resulting actions in a plan database that
// apply reads and `-out` saves. No Go map or slice holds one entry per object.
package plan

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"syncer/backends"
	"syncer/config"
	"syncer/shard"
	"syncer/sqlitefile"
	"syncer/state"
	"syncer/views/display"
)

// Kind is what an action does to one destination key.
type Kind string

const (
	Create Kind = "create"
	Update Kind = "update"
	Delete Kind = "delete"
	// Forget drops a state record whose key is gone from both sides; it
	// touches no backend and is not shown.
	Forget Kind = "forget"
	// Adopt records a destination object that already matches the source
	// but that the state does not record (a destination filled by another
	// tool, a lost state, an interrupted apply): apply records it and
	// copies nothing. Shown with "=".
	Adopt Kind = "adopt"
	// Skip is a source key the destination can never hold (see
	// backends.KeyRefuser): shown, never run. The key stays a source key,
	// so its copy at the destination, if any, is neither deleted nor
	// forgotten.
	Skip Kind = "skip"
	// Archived is a copy of a source object that must be restored before
	// it can be read (backends.Object.Archived): shown with "!". In phase
	// Never (archived = "skip", or a restore in progress) apply skips it
	// and does not count it as a failure, and its key stays a source key
	// (no delete); in phase Copies (archived = "fail") apply counts it as
	// failed.
	Archived Kind = "archived"
	// Restore is an Archived copy for which apply asks the source to
	// restore the object (archived = "restore"); a later run copies it.
	// Shown with "!".
	Restore Kind = "restore"
)

// Symbol is the Terraform-style marker for the kind.
func (k Kind) Symbol() string {
	switch k {
	case Create:
		return "+"
	case Update:
		return "~"
	case Delete:
		return "-"
	case Adopt:
		return "="
	case Skip, Archived, Restore:
		return "!"
	}
	return " "
}

// Phase says when apply runs an action within its sync.
type Phase int

const (
	// BeforeCopies holds the deletes that stand where a copy needs to go
	// (see InTheWay).
	BeforeCopies Phase = iota
	// Copies holds create, update and adopt.
	Copies
	// AfterCopies holds the other deletes and forgets, which run only once
	// every copy of the sync succeeded.
	AfterCopies
	// Never holds the skips, which apply does not run.
	Never
)

// Action is one planned change.
type Action struct {
	ID   int64
	Sync string
	Kind Kind
	Key  string
	// Size is the bytes to transfer for create/update, the destination
	// object's size for delete (-1 if unknown).
	Size int64
	// Src is the source fingerprint the plan saw (create/update). Apply
	// refuses to record a copy whose source no longer matches it.
	Src state.Fingerprint
	// Dst is the destination fingerprint the plan saw (adopt only).
	Dst state.Fingerprint
	// Reason says why, for people; code steers by Phase and Kept.
	Reason string
	Phase  Phase
	// Kept marks a forget of a copy that delete = "managed" keeps because
	// it changed at the destination since apply wrote it.
	Kept bool
}

// Meta describes a plan and what it was made against.
type Meta struct {
	Lineage    string
	Serial     int64
	ConfigHash string
	Version    string // syncer version that made it
	Created    time.Time
	Refresh    bool
	Targets    []string
	Shard      shard.Shard // the part of the keys planned; zero = all
}

// formatVersion is the plan file schema. 2 added the actions' phase and
// kept columns, 3 the skip kind, 4 the archived and restore kinds, 5 the
// copies' src_id; an older file is refused (Open), not misread.
const formatVersion = 5

// planAppID marks a SQLite file as a syncer plan ("SYPL").
const planAppID = 0x5359504c

// Plan is a computed plan backed by a SQLite file.
type Plan struct {
	Meta Meta
	db   *sql.DB
	path string
	temp bool

	// sums caches SyncSummary by sync ("" for all) and syncs the syncs
	// with actions in plan order, all made by one scan of the actions: a
	// plan's actions do not change once Make returns.
	mu    sync.Mutex
	sums  map[string]Summary
	syncs []string
}

// Opener returns the backend a config block describes.
type Opener func(*config.Backend) (backends.Backend, error)

// Options steer Make.
type Options struct {
	Refresh bool     // list the destination; false trusts the state alone
	Targets []string // sync names; empty means all
	Version string   // syncer version, recorded in the plan
	Log     *slog.Logger
	// Shard plans only the keys of this shard, on both sides: listed
	// keys of other shards are dropped as they arrive.
	Shard shard.Shard
	// Listed, when set, hears how many objects each side of each sync
	// listed ("source", "destination"), once each listing ends (metrics).
	Listed func(sync, side string, n int64)
	// NoState: st stands in for a state that does not exist yet; a saved
	// plan then records no lineage (see CheckFresh).
	NoState bool
}

// Make computes the plan for cfg against st. The plan lives in a temporary
// file beside the state until Close; Save keeps a copy.
func Make(ctx context.Context, cfg *config.Config, st *state.Store, open Opener, opts Options) (*Plan, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	syncs, err := Targets(cfg, opts.Targets)
	if err != nil {
		return nil, err
	}
	ver, err := st.Version(ctx)
	if err != nil {
		return nil, err
	}
	// The work file sits beside the state (a Kubernetes pod's /tmp may be
	// small or read-only). The caller holds the state lock, so any work
	// file of this state left by a killed run is garbage.
	pattern := filepath.Base(st.Path()) + ".plan-*.tmp"
	if old, _ := filepath.Glob(filepath.Join(filepath.Dir(st.Path()), pattern)); len(old) > 0 {
		for _, o := range old {
			os.Remove(o)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(st.Path()), pattern)
	if err != nil {
		return nil, fmt.Errorf("plan: create work file: %w", err)
	}
	f.Close()
	if opts.NoState {
		ver.Lineage = ""
	}
	p := &Plan{path: f.Name(), temp: true, Meta: Meta{
		Lineage: ver.Lineage, Serial: ver.Serial, ConfigHash: cfg.Hash, Version: opts.Version,
		Created: time.Now().UTC(), Refresh: opts.Refresh, Targets: opts.Targets, Shard: opts.Shard,
	}}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	p.db, err = sql.Open("sqlite3", sqlitefile.DSN(p.path, "rw", map[string]string{"_journal_mode": "OFF", "_synchronous": "OFF"}))
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	p.db.SetMaxOpenConns(1)
	if err := p.create(ctx); err != nil {
		return nil, err
	}
	if err := p.diff(ctx, st, syncs, open, opts, log); err != nil {
		return nil, err
	}
	if err := p.checkSharedKeys(ctx, syncs); err != nil {
		return nil, err
	}
	if err := p.CheckMaxDelete(ctx, cfg.Limits.MaxDelete); err != nil {
		return nil, err
	}
	ok = true
	return p, nil
}

// Targets returns the syncs named by targets (all when empty), in config order.
func Targets(cfg *config.Config, targets []string) ([]*config.Sync, error) {
	if len(targets) == 0 {
		return cfg.Syncs, nil
	}
	for _, t := range targets {
		if !slices.ContainsFunc(cfg.Syncs, func(s *config.Sync) bool { return s.Name == t }) {
			return nil, fmt.Errorf("-target %q: no sync of that name in %s", t, cfg.Path)
		}
	}
	var out []*config.Sync
	for _, s := range cfg.Syncs {
		if slices.Contains(targets, s.Name) {
			out = append(out, s)
		}
	}
	return out, nil
}

// diff plans each sync on one connection of the plan database, the one the
// state is attached to: its views are that connection's alone.
func (p *Plan) diff(ctx context.Context, st *state.Store, syncs []*config.Sync, open Opener, opts Options, log *slog.Logger) error {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	defer conn.Close()
	detach, err := st.AttachTo(ctx, conn, "st")
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	// A state left attached only keeps the file open until Close.
	defer detach(context.WithoutCancel(ctx))
	for _, s := range syncs {
		from, err := open(s.From)
		if err != nil {
			return fmt.Errorf("sync %q: %w", s.Name, err)
		}
		to, err := open(s.To)
		if err != nil {
			return fmt.Errorf("sync %q: %w", s.Name, err)
		}
		d := &differ{conn: conn, s: s, from: from, to: to, refresh: opts.Refresh, log: log, shard: opts.Shard, now: p.Meta.Created, listed: opts.Listed, sortedOK: true}
		if err := d.run(ctx); err != nil {
			// The diff reads the state's views: their errors may say
			// that the state is damaged, which the state explains.
			return st.Explain(fmt.Errorf("sync %q: %w", s.Name, err))
		}
	}
	return nil
}

func (p *Plan) create(ctx context.Context) error {
	targets, _ := json.Marshal(p.Meta.Targets)
	stmts := []string{
		fmt.Sprintf("PRAGMA application_id = %d", planAppID),
		`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
		`CREATE TABLE actions (
			id        INTEGER PRIMARY KEY,
			sync      TEXT NOT NULL,
			kind      TEXT NOT NULL,
			key       TEXT NOT NULL,
			size      INTEGER NOT NULL,
			src_mtime INTEGER NOT NULL DEFAULT 0,
			src_etag  TEXT NOT NULL DEFAULT '',
			src_md5   TEXT NOT NULL DEFAULT '',
			src_id    TEXT NOT NULL DEFAULT '',
			dst_size  INTEGER NOT NULL DEFAULT 0,
			dst_mtime INTEGER NOT NULL DEFAULT 0,
			dst_etag  TEXT NOT NULL DEFAULT '',
			dst_md5   TEXT NOT NULL DEFAULT '',
			reason    TEXT NOT NULL DEFAULT '',
			phase     INTEGER NOT NULL,
			kept      INTEGER NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX actions_sync_kind ON actions (sync, kind, id)`,
		`CREATE INDEX actions_sync_phase ON actions (sync, phase, id)`,
		`CREATE INDEX actions_sync_key ON actions (sync, key)`,
	}
	for _, q := range stmts {
		if _, err := p.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("plan: init: %w", err)
		}
	}
	meta := map[string]string{
		"format_version": strconv.Itoa(formatVersion),
		"lineage":        p.Meta.Lineage,
		"serial":         strconv.FormatInt(p.Meta.Serial, 10),
		"config_hash":    p.Meta.ConfigHash,
		"version":        p.Meta.Version,
		"created":        p.Meta.Created.Format(time.RFC3339Nano),
		"refresh":        strconv.FormatBool(p.Meta.Refresh),
		"targets":        string(targets),
		"shard":          p.Meta.Shard.String(), // "" (or absent, before shards) = all keys
	}
	for k, v := range meta {
		if _, err := p.db.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES (?, ?)`, k, v); err != nil {
			return fmt.Errorf("plan: init: %w", err)
		}
	}
	return nil
}

// Open reads a plan file saved with Save.
func Open(ctx context.Context, path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("plan file: %w", err)
	}
	c, _ := sqlitefile.Sniff(f)
	f.Close()
	if c != sqlitefile.SQLite {
		return nil, fmt.Errorf("plan file %s is not a syncer plan", path)
	}
	db, err := sql.Open("sqlite3", sqlitefile.DSN(path, "ro", nil))
	if err != nil {
		return nil, fmt.Errorf("plan file %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	p := &Plan{db: db, path: path}
	if err := p.readMeta(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("plan file %s: %w", path, err)
	}
	return p, nil
}

func (p *Plan) readMeta(ctx context.Context) error {
	var appID int64
	if err := p.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return err
	}
	if appID != planAppID {
		return errors.New("not a syncer plan")
	}
	rows, err := p.db.QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return err
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		m[k] = v
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if fv, _ := strconv.Atoi(m["format_version"]); fv != formatVersion {
		return fmt.Errorf("plan format %q is not supported by this syncer (wants %d)", m["format_version"], formatVersion)
	}
	p.Meta.Lineage = m["lineage"]
	p.Meta.Serial, err = strconv.ParseInt(m["serial"], 10, 64)
	if err != nil {
		return fmt.Errorf("bad serial %q", m["serial"])
	}
	p.Meta.ConfigHash = m["config_hash"]
	p.Meta.Version = m["version"]
	p.Meta.Created, _ = time.Parse(time.RFC3339Nano, m["created"])
	p.Meta.Refresh = m["refresh"] == "true"
	if err := json.Unmarshal([]byte(m["targets"]), &p.Meta.Targets); err != nil {
		return fmt.Errorf("bad targets %q", m["targets"])
	}
	if p.Meta.Shard, err = shard.Parse(m["shard"]); err != nil {
		return fmt.Errorf("bad shard: %w", err)
	}
	return nil
}

// Save writes the plan to path (0600), compacted: to a temporary file beside
// it, renamed over path when complete, so a failed save keeps what was
// there. It overwrites only an earlier plan or an empty file: anything else
// at path (a state, a config, a folder) is refused untouched.
func (p *Plan) Save(ctx context.Context, path string) error {
	if err := checkSaveTarget(path); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	// VACUUM INTO accepts an empty file, which CreateTemp made 0600.
	if _, err := p.db.ExecContext(ctx, `VACUUM INTO ?`, tmp.Name()); err != nil {
		return fmt.Errorf("save plan %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return nil
}

// checkSaveTarget refuses a path that holds something other than nothing,
// an empty file, or a syncer plan (told by its SQLite application_id).
func checkSaveTarget(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a folder", path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is a %s, not a regular file; not overwriting it", path, sqlitefile.Kind(fi.Mode()))
	case fi.Size() == 0:
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if c, id := sqlitefile.Sniff(f); c != sqlitefile.SQLite || id != planAppID {
		return fmt.Errorf("%s exists and is not a syncer plan; not overwriting it (remove it, or choose another name)", path)
	}
	return nil
}

// Close releases the plan; a temporary plan file is removed.
func (p *Plan) Close() error {
	var err error
	if p.db != nil {
		err = p.db.Close()
	}
	if p.temp {
		for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
			os.Remove(p.path + suffix)
		}
	}
	return err
}

// InTheWay is the reason shown for a delete in phase BeforeCopies: its key
// is a folder of a key the plan copies, or the reverse (see markInTheWay).
const InTheWay = "not in source, and in the way of a folder the copies need"

// StaleError says a saved plan no longer fits the state or the config.
type StaleError struct{ Reason string }

func (e *StaleError) Error() string {
	return "saved plan is stale: " + e.Reason + "; run syncer plan again"
}

// CheckFresh returns a *StaleError unless the plan was made against state
// version v and the config whose hash is configHash.
func (p *Plan) CheckFresh(v state.Version, configHash string) error {
	switch {
	case p.Meta.Lineage == "" && v.Serial != 0:
		// Made when no state existed: good for a state nothing was applied to.
		return &StaleError{fmt.Sprintf("it was made before any state existed, and the state has been applied to since (serial %d)", v.Serial)}
	case p.Meta.Lineage != "" && p.Meta.Lineage != v.Lineage:
		return &StaleError{fmt.Sprintf("it was made for another state (lineage %s, the state's is %s)", p.Meta.Lineage, v.Lineage)}
	case p.Meta.Serial != v.Serial:
		return &StaleError{fmt.Sprintf("the state changed since it was made (serial %d, now %d)", p.Meta.Serial, v.Serial)}
	case p.Meta.ConfigHash != configHash:
		return &StaleError{"the configuration changed since it was made"}
	}
	return nil
}

// Summary counts a plan's actions.
type Summary struct {
	Create, Update, Delete int64
	// Adopt counts pairs already in place that apply records without
	// copying; they are changes (to the state), with no bytes to move.
	Adopt int64
	Bytes int64 // to transfer (create + update)
	// Skip counts the source keys the destination cannot hold; they are
	// not changes.
	Skip int64
	// Archived counts the archived copies apply skips (phase Never), and
	// ArchivedFail those it counts as failed (archived = "fail"); neither
	// are changes. Restore counts the restores apply asks for: changes.
	Archived, ArchivedFail, Restore int64
	// Excluded counts the source objects the sync's filters left out; not
	// changes.
	Excluded int64
}

// Changes reports whether the plan does anything visible.
func (s Summary) Changes() bool { return s.Create+s.Update+s.Delete+s.Adopt+s.Restore > 0 }

// Shown reports whether the plan has lines to show: changes, or keys that
// are not copied (Skip, Archived, ArchivedFail).
func (s Summary) Shown() bool { return s.Changes() || s.Skip+s.Archived+s.ArchivedFail > 0 }

// Summary counts the actions of one sync, or of all when sync is "".
func (p *Plan) SyncSummary(ctx context.Context, sync string) (Summary, error) {
	if err := p.summarize(ctx); err != nil {
		return Summary{}, err
	}
	return p.sums[sync], nil // a sync with no actions and no exclusions: zero
}

// summarize fills p.sums and p.syncs once.
func (p *Plan) summarize(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sums != nil {
		return nil
	}
	sums, syncs, err := p.summaries(ctx)
	if err != nil {
		return err
	}
	p.sums, p.syncs = sums, syncs
	return nil
}

// summaries counts the actions of every sync, and of all under "", in one
// pass over the actions, and returns the syncs in the order of their first
// action.
func (p *Plan) summaries(ctx context.Context) (map[string]Summary, []string, error) {
	sums := map[string]Summary{}
	add := func(sync string, f func(*Summary)) {
		for _, name := range []string{sync, ""} {
			s := sums[name]
			f(&s)
			sums[name] = s
		}
	}
	// Grouped as the (sync, kind) index orders the rows, so SQLite need not
	// sort them (half the time in a plan of a million).
	rows, err := p.db.QueryContext(ctx, `SELECT sync, kind, count(*), sum(phase = ?), coalesce(sum(max(size, 0)), 0), min(id)
		FROM actions GROUP BY sync, kind`, int(Never))
	if err != nil {
		return nil, nil, fmt.Errorf("plan summary: %w", err)
	}
	defer rows.Close()
	first := map[string]int64{} // sync -> its first action's id
	for rows.Next() {
		var sync, k string
		var n, never, b, id int64
		if err := rows.Scan(&sync, &k, &n, &never, &b, &id); err != nil {
			return nil, nil, fmt.Errorf("plan summary: %w", err)
		}
		if f, ok := first[sync]; !ok || id < f {
			first[sync] = id
		}
		add(sync, func(s *Summary) {
			switch Kind(k) {
			case Create:
				s.Create, s.Bytes = s.Create+n, s.Bytes+b
			case Update:
				s.Update, s.Bytes = s.Update+n, s.Bytes+b
			case Delete:
				s.Delete += n
			case Adopt:
				s.Adopt += n
			case Skip:
				s.Skip += n
			case Archived:
				s.Archived += never
				s.ArchivedFail += n - never
			case Restore:
				s.Restore += n
			}
		})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("plan summary: %w", err)
	}
	rows.Close()
	syncs := slices.SortedFunc(maps.Keys(first), func(a, b string) int { return cmp.Compare(first[a], first[b]) })
	// Plans saved before filters counted exclusions have no such rows: 0.
	rows, err = p.db.QueryContext(ctx, `SELECT substr(key, length(?) + 1), CAST(value AS INTEGER) FROM meta
		WHERE substr(key, 1, length(?)) = ?`, excludedMetaKey, excludedMetaKey, excludedMetaKey)
	if err != nil {
		return nil, nil, fmt.Errorf("plan summary: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var sync string
		var n int64
		if err := rows.Scan(&sync, &n); err != nil {
			return nil, nil, fmt.Errorf("plan summary: %w", err)
		}
		add(sync, func(s *Summary) { s.Excluded += n })
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("plan summary: %w", err)
	}
	return sums, syncs, nil
}

// Summary counts all actions.
func (p *Plan) Summary(ctx context.Context) (Summary, error) { return p.SyncSummary(ctx, "") }

// CheckMaxDelete refuses a plan that deletes more than limit objects
// (limits.max_delete; < 0 means no cap).
func (p *Plan) CheckMaxDelete(ctx context.Context, limit int) error {
	if limit < 0 {
		return nil
	}
	sum, err := p.Summary(ctx)
	if err != nil {
		return err
	}
	if sum.Delete <= int64(limit) {
		return nil
	}
	list, err := p.listDeletes(ctx, maxDeleteLines)
	if err != nil {
		return err
	}
	if p.Meta.Shard.Sharded() {
		return fmt.Errorf("plan of shard %s deletes %d objects, more than its share of limits.max_delete (%d: ceil(max_delete / %d), as max_delete bounds the whole sync); refusing (raise max_delete if this is intended)%s",
			p.Meta.Shard, sum.Delete, limit, p.Meta.Shard.Count, list)
	}
	return fmt.Errorf("plan deletes %d objects, more than limits.max_delete = %d; refusing (raise max_delete if this is intended)%s", sum.Delete, limit, list)
}

// maxDeleteLines is how many deletes per sync a max_delete refusal lists.
const maxDeleteLines = 100

// listDeletes renders the plan's deletes, the first limit per sync and a
// count of the rest, one "  - key" line each under a sync header.
func (p *Plan) listDeletes(ctx context.Context, limit int) (string, error) {
	syncs, err := p.Syncs(ctx)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, name := range syncs {
		ss, err := p.SyncSummary(ctx, name)
		if err != nil {
			return "", err
		}
		if ss.Delete == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n  sync %q would delete:", name)
		n := 0
		err = p.Each(ctx, name, []Kind{Delete}, func(a Action) error {
			if n == limit {
				return Stop
			}
			n++
			fmt.Fprintf(&b, "\n  - %s", display.Key(a.Key))
			return nil
		})
		if err != nil {
			return "", err
		}
		if rest := ss.Delete - int64(n); rest > 0 {
			fmt.Fprintf(&b, "\n  ... and %d more", rest)
		}
	}
	return b.String(), nil
}

// Syncs returns the names of syncs that have actions, in plan order.
func (p *Plan) Syncs(ctx context.Context) ([]string, error) {
	if err := p.summarize(ctx); err != nil {
		return nil, err
	}
	return slices.Clone(p.syncs), nil
}

// Stop, returned by the fn of a walk of the actions (Each, EachPage,
// EachLine, EachInPhase), ends the walk early without an error.
var Stop = errors.New("stop the walk")

// Each calls fn for the actions of sync ("" for all) whose kind is in kinds,
// in plan order.
func (p *Plan) Each(ctx context.Context, sync string, kinds []Kind, fn func(Action) error) error {
	return p.EachPage(ctx, sync, kinds, oneByOne(fn))
}

// oneByOne calls fn for each of a page's items.
func oneByOne[T any](fn func(T) error) func([]T) error {
	return func(page []T) error {
		for _, t := range page {
			if err := fn(t); err != nil {
				return err
			}
		}
		return nil
	}
}

// EachPage is Each in pages of at most 512 actions; fn must not keep page.
// No query is open while fn runs, so fn may take its time.
func (p *Plan) EachPage(ctx context.Context, sync string, kinds []Kind, fn func([]Action) error) error {
	where, args := kindsWhere(sync, kinds)
	return p.eachPage(ctx, where, args, fn)
}

// allKinds are the kinds an action can have.
var allKinds = []Kind{Create, Update, Delete, Forget, Adopt, Skip, Archived, Restore}

// kindsWhere selects the actions of sync ("" for all) whose kind is in kinds
// (all kinds if empty). It names the kinds left out when they are fewer: a
// view shows all kinds but one, and every row of a page is tested.
func kindsWhere(sync string, kinds []Kind) (string, []any) {
	var in, out []string
	for _, k := range allKinds {
		if len(kinds) == 0 || slices.Contains(kinds, k) {
			in = append(in, "'"+string(k)+"'")
		} else {
			out = append(out, "'"+string(k)+"'")
		}
	}
	where := `kind IN (` + strings.Join(in, ",") + `)`
	switch {
	case len(out) == 0:
		where = `1`
	case len(out) < len(in):
		where = `kind NOT IN (` + strings.Join(out, ",") + `)`
	}
	if sync == "" {
		return where, nil
	}
	// The unary + keeps SQLite off the (sync, kind) and (sync, phase)
	// indexes: with them a page ordered by id sorts every action of the sync.
	return `+sync = ? AND ` + where, []any{sync}
}

// EachInPhase is EachPage for the actions of sync in phase ph.
func (p *Plan) EachInPhase(ctx context.Context, sync string, ph Phase, fn func([]Action) error) error {
	return p.eachPage(ctx, `sync = ? AND phase = ?`, []any{sync, int(ph)}, fn)
}

// eachPage pages through the actions that where (with args) selects.
func (p *Plan) eachPage(ctx context.Context, where string, args []any, fn func([]Action) error) error {
	return eachPageOf(ctx, p, `id, sync, kind, key, size, src_mtime, src_etag, src_md5,
		dst_size, dst_mtime, dst_etag, dst_md5, reason, phase, kept, src_id`, where, args,
		func(rows *sql.Rows, a *Action) (int64, error) {
			err := rows.Scan(&a.ID, &a.Sync, &a.Kind, &a.Key, &a.Size, &a.Src.MTime, &a.Src.ETag, &a.Src.MD5,
				&a.Dst.Size, &a.Dst.MTime, &a.Dst.ETag, &a.Dst.MD5, &a.Reason, &a.Phase, &a.Kept, &a.Src.ID)
			a.Src.Size = a.Size
			return a.ID, err
		}, fn)
}

// Line is what the plan's views show of an action.
type Line struct {
	Sync   string
	Kind   Kind
	Key    string
	Size   int64
	Reason string
}

// EachLine is Each for the views: it reads only what a Line holds, a third
// of an action's columns (a plan of a million keys renders in a few seconds
// fewer).
func (p *Plan) EachLine(ctx context.Context, sync string, kinds []Kind, fn func(Line) error) error {
	where, args := kindsWhere(sync, kinds)
	return eachPageOf(ctx, p, `id, sync, kind, key, size, reason`, where, args,
		func(rows *sql.Rows, l *Line) (int64, error) {
			var id int64
			var kind string // Scan reaches a named type by reflection
			err := rows.Scan(&id, &l.Sync, &kind, &l.Key, &l.Size, &l.Reason)
			l.Kind = Kind(kind)
			return id, err
		}, oneByOne(fn))
}

// eachPageOf pages through the actions that where (with args) selects, in
// plan order, 512 at a time: scan reads cols of a row into a T and returns
// the row's id. No query is open while fn runs.
func eachPageOf[T any](ctx context.Context, p *Plan, cols, where string, args []any,
	scan func(*sql.Rows, *T) (int64, error), fn func([]T) error) error {
	stmt, err := p.db.PrepareContext(ctx, `SELECT `+cols+` FROM actions WHERE id > ? AND `+where+` ORDER BY id LIMIT 512`)
	if err != nil {
		return fmt.Errorf("read plan: %w", err)
	}
	defer stmt.Close()
	var last int64
	page := make([]T, 0, 512)
	for {
		page = page[:0]
		rows, err := stmt.QueryContext(ctx, append([]any{last}, args...)...)
		if err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		for rows.Next() {
			var t T
			id, err := scan(rows, &t)
			if err != nil {
				rows.Close()
				return fmt.Errorf("read plan: %w", err)
			}
			last = id
			page = append(page, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read plan: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			if err == Stop {
				return nil
			}
			return err
		}
	}
}

// SizeStats describes the sizes of the planned copies, for the tuner.
type SizeStats struct {
	Count      int64
	Bytes      int64
	Small      int64 // objects under 1 MiB
	Large      int64 // objects of 64 MiB or more
	LargeBytes int64
	Unknown    int64 // size not known in advance
}

// CopyStats summarizes the sizes of the create and update actions of sync
// ("" for all).
func (p *Plan) CopyStats(ctx context.Context, sync string) (SizeStats, error) {
	var s SizeStats
	err := p.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(max(size, 0)), 0),
		coalesce(sum(size >= 0 AND size < 1048576), 0),
		coalesce(sum(size >= 67108864), 0),
		coalesce(sum(CASE WHEN size >= 67108864 THEN size ELSE 0 END), 0),
		coalesce(sum(size < 0), 0)
		FROM actions WHERE kind IN ('create', 'update') AND (? = '' OR sync = ?)`, sync, sync).
		Scan(&s.Count, &s.Bytes, &s.Small, &s.Large, &s.LargeBytes, &s.Unknown)
	if err != nil {
		return s, fmt.Errorf("plan stats: %w", err)
	}
	return s, nil
}
