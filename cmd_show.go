package main

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"time"

	"syncer/config"
	"syncer/plan"
	"syncer/state"
	"syncer/views"
	"syncer/views/display"
)

// viewSyncs converts the state's per-sync totals for JSON.
func viewSyncs(sums []state.SyncSummary) []views.SyncSummary {
	out := make([]views.SyncSummary, 0, len(sums))
	for _, s := range sums {
		out = append(out, views.SyncSummary{Sync: s.Sync, Objects: s.Objects, Bytes: s.Bytes, LastWritten: views.Time(s.Last)})
	}
	return out
}

// viewRun converts a recorded run for JSON; nil stays nil.
func viewRun(r *state.Run) *views.Run {
	if r == nil {
		return nil
	}
	return &views.Run{ID: r.ID, Operation: r.Operation, Started: views.Time(r.Started), Finished: views.Time(r.Finished),
		Status: r.Status, Copied: r.Copied, Deleted: r.Deleted, Failed: r.Failed, Bytes: r.Bytes}
}

func (c *cli) show(args []string) int {
	fs := c.flags("show", "[PLANFILE]")
	var co common
	co.register(fs, false)
	asJSON := fs.Bool("json", false, "print JSON")
	c.registerLines(fs)
	failed := fs.Bool("failed", false, "list the keys that failed in the last apply, with their errors")
	shards := fs.Int("shards", 0, "sum the states of shards 0..`N`-1 (see -shard): objects, bytes, last runs, unfinished and locked shards")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if *failed && (*shards != 0 || fs.NArg() > 0) {
		fmt.Fprintln(c.stderr, "Error: -failed lists the last apply's failures from the state; it takes neither a plan file nor -shards")
		return exitError
	}
	if *shards != 0 && (fs.NArg() > 0 || co.shardArg != "") {
		fmt.Fprintln(c.stderr, "Error: -shards sums the shards' states; it takes neither a plan file nor -shard")
		return exitError
	}
	ctx := context.Background()
	if fs.NArg() > 1 {
		c.errorf("unexpected argument %q", fs.Arg(1))
		return exitError
	}
	if *asJSON {
		c.jsonOut()
	}
	if fs.NArg() > 0 {
		p, err := plan.Open(ctx, fs.Arg(0))
		if err != nil {
			return c.fail(ctx, err)
		}
		defer p.Close()
		var cfg *config.Config
		if co.config != "" || fileExists(defaultConfig()) {
			// Only for the sync headers, but an error printed is an error.
			var ok bool
			if cfg, ok = c.loadConfig(&co); !ok {
				return exitError
			}
		}
		if err := c.render(ctx, p, cfg, *asJSON); err != nil {
			return c.fail(ctx, err)
		}
		return exitOK
	}
	cfg, ok := c.loadConfig(&co)
	if !ok {
		return exitError
	}
	if *shards != 0 {
		return c.showShards(ctx, cfg, co.base, *shards, *asJSON)
	}
	st, held, closeState, err := c.readState(ctx, cfg)
	if isNoState(err) && *failed {
		if !*asJSON {
			fmt.Fprintf(c.stdout, "No state yet at %s: nothing has been applied.\n", cfg.State.Where())
		}
		return exitOK
	}
	if isNoState(err) {
		if *asJSON {
			c.view.Write(&views.State{Path: cfg.State.Where(), Syncs: []views.SyncSummary{}})
			return exitOK
		}
		fmt.Fprintf(c.stdout, "No state yet at %s: nothing has been applied.\n", cfg.State.Where())
		return exitOK
	}
	if err != nil {
		return c.fail(ctx, err)
	}
	defer closeState()
	if *failed {
		return c.showFailed(ctx, st, *asJSON)
	}
	v, err := st.Version(ctx)
	if err != nil {
		return c.fail(ctx, err)
	}
	sums, err := st.Summary(ctx)
	if err != nil {
		return c.fail(ctx, err)
	}
	last, err := st.LastRun(ctx)
	if err != nil {
		return c.fail(ctx, err)
	}
	if *asJSON {
		c.view.Write(&views.State{Path: cfg.State.Where(), Lineage: v.Lineage, Serial: v.Serial, Syncs: viewSyncs(sums), LastRun: viewRun(last)})
		return exitOK
	}
	fmt.Fprintf(c.stdout, "State %s\n  lineage %s, serial %d\n", cfg.State.Where(), v.Lineage, v.Serial)
	switch {
	case last != nil && last.Status == "running" && !held():
		// Its counts are written at the end, which never came.
		fmt.Fprintf(c.stdout, "  last %s: started at %s and did not finish (its process is gone); run apply again to resume\n",
			last.Operation, last.Started.Format(time.RFC3339))
	case last != nil:
		fmt.Fprintf(c.stdout, "  last %s: %s at %s (%d copied, %d deleted, %d failed, %s)\n", last.Operation, last.Status,
			last.Started.Format(time.RFC3339), last.Copied, last.Deleted, last.Failed, display.Bytes(last.Bytes))
	}
	if len(sums) == 0 {
		fmt.Fprintln(c.stdout, "  no objects recorded")
	}
	for _, s := range sums {
		fmt.Fprintf(c.stdout, "  sync %q: %d objects, %s, last written %s\n", s.Sync, s.Objects, display.Bytes(s.Bytes), s.Last.Format(time.RFC3339))
	}
	return exitOK
}

func (c *cli) stateList(args []string) int {
	fs := c.flags("state list", "[SYNC]")
	var co common
	co.register(fs, false)
	asJSON := fs.Bool("json", false, "print one JSON line per record")
	if !c.parse(fs, args, 1) {
		return exitError
	}
	cfg, ok := c.loadConfigAs(&co, *asJSON)
	if !ok {
		return exitError
	}
	name := fs.Arg(0)
	known := name == "" || slices.ContainsFunc(cfg.Syncs, func(s *config.Sync) bool { return s.Name == name })
	ctx := context.Background()
	st, _, closeState, err := c.readState(ctx, cfg)
	if isNoState(err) {
		if !known {
			c.errorf("no sync %q in the configuration", name)
			return exitError
		}
		return exitOK // nothing recorded yet
	}
	if err != nil {
		return c.fail(ctx, err)
	}
	defer closeState()
	w := bufio.NewWriter(c.stdout)
	defer w.Flush()
	n := 0
	err = st.Each(ctx, name, func(r state.Record) error {
		n++
		if *asJSON {
			o := &views.StateObject{Sync: r.Sync, Key: r.Key, Size: r.Dst.Size, MD5: r.Dst.MD5, ETag: r.Dst.ETag, Written: views.Time(r.Written)}
			if r.Dst.MTime != 0 {
				o.MTime = views.Time(time.Unix(0, r.Dst.MTime))
			}
			return c.view.Write(o)
		}
		_, err := fmt.Fprintf(w, "%s\t%s\t%d\n", r.Sync, display.Key(r.Key), r.Dst.Size)
		return err
	})
	if err != nil {
		return c.fail(ctx, err)
	}
	if n == 0 && !known { // a sync dropped from the config may still have records
		c.errorf("no sync %q in the configuration or the state", name)
		return exitError
	}
	return exitOK
}

// showFailed lists the last apply's failed keys and errors, streaming.
func (c *cli) showFailed(ctx context.Context, st *state.Store, asJSON bool) int {
	w := bufio.NewWriter(c.stdout)
	defer w.Flush()
	n := 0
	err := st.EachFailure(ctx, func(f state.Failure) error {
		n++
		if asJSON {
			return c.view.Write(&views.FailedObject{Run: f.Run, Sync: f.Sync, Key: f.Key, Action: f.Action, Error: f.Error, At: views.Time(f.At)})
		}
		if n == 1 {
			fmt.Fprintf(w, "Failed in the last apply (run %d):\n", f.Run)
		}
		_, err := fmt.Fprintf(w, "  sync %q: %s %s: %s\n", f.Sync, f.Action, display.Key(f.Key), f.Error)
		return err
	})
	if err != nil {
		w.Flush()
		return c.fail(ctx, err)
	}
	if n == 0 && !asJSON {
		fmt.Fprintln(w, "No failures in the last apply.")
	}
	return exitOK
}
