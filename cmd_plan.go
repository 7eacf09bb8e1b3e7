package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"syncer/apply"
	"syncer/config"
	"syncer/plan"
	"syncer/state"
	"syncer/views"
)

type planFlags struct {
	common
	out         string
	json        bool
	detailed    bool
	refresh     bool
	lockTimeout time.Duration
	maxDelete   maxDeleteFlag
	metrics     metricsFlags
	lines       int // -lines; -1: not given
}

// maxDeleteFlag is -max-delete N: limits.max_delete for this run only.
type maxDeleteFlag struct {
	n   int
	set bool
}

func (f *maxDeleteFlag) String() string {
	if !f.set {
		return ""
	}
	return strconv.Itoa(f.n)
}

func (f *maxDeleteFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("want a whole number of 0 or more, got %q", s)
	}
	f.n, f.set = n, true
	return nil
}

// override puts the flag's value, when given, in place of limits.max_delete.
func (f *maxDeleteFlag) override(l *config.Limits) {
	if f.set {
		l.MaxDelete = f.n
	}
}

func (c *cli) plan(args []string) (code int) {
	fs := c.flags("plan", "")
	var pf planFlags
	pf.register(fs, true)
	fs.StringVar(&pf.out, "out", "", "save the plan to `FILE` for a later apply")
	fs.BoolVar(&pf.json, "json", false, "print the plan as JSON lines")
	fs.BoolVar(&pf.detailed, "detailed-exitcode", false, "exit 0 with no changes, 1 on error, 2 with changes")
	fs.BoolVar(&pf.refresh, "refresh", true, "list the destinations; -refresh=false trusts the state")
	fs.DurationVar(&pf.lockTimeout, "lock-timeout", 0, "wait this long for the state lock")
	fs.Var(&pf.maxDelete, "max-delete", "refuse a plan that deletes more than `N` objects (overrides limits.max_delete)")
	pf.metrics.register(fs)
	c.registerLines(fs)
	if !c.parse(fs, args, 0) {
		return exitError
	}
	if !c.nonNegative("lock-timeout", pf.lockTimeout) {
		return exitError
	}
	cfg, ok := c.loadConfigAs(&pf.common, pf.json)
	if !ok {
		return exitError
	}
	pf.maxDelete.override(&cfg.Limits)
	c.setMemoryLimit(cfg.Limits.Memory)
	rm, err := c.startMetrics(pf.metrics, "plan")
	if err != nil {
		return c.fail(context.Background(), err)
	}
	defer func() { c.finishMetrics(rm, code) }()
	stop, _, done := c.signals(0, c.deadline(cfg.Limits))
	defer done()
	open := c.meteredOpener(cfg, rm)
	sh, code := c.openState(stop, cfg, open, "plan", pf.lockTimeout)
	if sh == nil {
		return code
	}
	defer sh.close()
	st := sh.st
	if sh.remote != nil && pf.out == "" {
		// Nothing to save: the lock is needed only to read the state.
		sh.remote.Release(context.WithoutCancel(stop))
	}
	p, err := plan.Make(stop, cfg, st, open, plan.Options{Refresh: pf.refresh, Targets: pf.targets, Version: version, Log: c.log, Shard: pf.shard, Listed: rm.listed(), NoState: sh.none})
	if err != nil {
		return c.fail(stop, err)
	}
	defer p.Close()
	rm.planned(stop, p)
	if len(pf.targets) > 0 {
		c.warnf("targeting is in effect: only sync %s is planned.", strings.Join(pf.targets, ", "))
	}
	if err := c.render(stop, p, cfg, pf.json); err != nil {
		return c.fail(stop, err)
	}
	if pf.out != "" {
		if err := p.Save(stop, pf.out); err != nil {
			return c.fail(stop, err)
		}
		if !pf.json {
			fmt.Fprintf(c.stdout, "\nSaved the plan to %s. To perform exactly these actions, run:\n    syncer apply %s\n", pf.out, pf.out)
		}
	}
	sum, err := p.Summary(stop)
	if err != nil {
		return c.fail(stop, err)
	}
	if pf.detailed && sum.Changes() {
		return exitChanges
	}
	return exitOK
}

func (c *cli) render(ctx context.Context, p *plan.Plan, cfg *config.Config, asJSON bool) error {
	if asJSON {
		return views.WritePlan(ctx, c.jsonOut(), p)
	}
	limit := c.planLines
	if limit < 0 {
		// Not given: a person at a terminal sees the first 100 lines per
		// sync; a pipe or file gets them all.
		limit = 0
		if isTerminal(c.stdout) {
			limit = 100
		}
		if v := os.Getenv("SYNCER_PLAN_LINES"); v != "" {
			fmt.Sscan(v, &limit)
		}
	}
	if err := views.PlanText(ctx, c.stdout, p, cfg, limit); err != nil {
		return err
	}
	if limit > 0 && c.planCut(ctx, p, limit) {
		fmt.Fprintf(c.stdout, "(Only the first %d lines of each sync are shown: -lines 0, or a pipe, shows all.)\n", limit)
	}
	return nil
}

// planCut reports whether some sync of p has more lines than limit.
func (c *cli) planCut(ctx context.Context, p *plan.Plan, limit int) bool {
	syncs, err := p.Syncs(ctx)
	if err != nil {
		return false
	}
	for _, s := range syncs {
		ss, err := p.SyncSummary(ctx, s)
		if err == nil && ss.Create+ss.Update+ss.Delete+ss.Adopt+ss.Skip+ss.Archived+ss.ArchivedFail+ss.Restore > int64(limit) {
			return true
		}
	}
	return false
}

// registerLines adds -lines, which sets c.planLines.
func (c *cli) registerLines(fs *flag.FlagSet) {
	c.planLines = -1
	fs.Func("lines", "show the first `N` changes per sync (0: all; default 100 on a terminal, all otherwise)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want a whole number of 0 or more, got %q", v)
		}
		c.planLines = n
		return nil
	})
}

// stateHandle is the opened, locked state: a local file, or the working
// copy of a remote state.
type stateHandle struct {
	st     *state.Store
	remote *state.Remote // nil for a local state
	none   bool          // no state exists yet; st is an empty stand-in
	close  func()
}

// openState opens the configured state and takes its lock.
func (c *cli) openState(ctx context.Context, cfg *config.Config, open openFunc, op string, timeout time.Duration) (*stateHandle, int) {
	if cfg.State.Remote() {
		return c.openRemoteState(ctx, cfg, open, op, timeout)
	}
	if _, err := os.Lstat(cfg.State.Path); op == "plan" && errors.Is(err, fs.ErrNotExist) {
		return c.noState(ctx)
	}
	st, err := state.Open(ctx, cfg.State.Path, true)
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	unlock, err := st.Lock(ctx, op, version, timeout)
	if err != nil {
		st.Close()
		return nil, c.lockFailed(ctx, err)
	}
	return &stateHandle{st: st, close: func() { unlock(); st.Close() }}, exitOK
}

// noState stands for a local state that does not exist yet: plan never
// creates one (apply does), so it plans against an empty state in a
// temporary folder, with nothing to lock.
func (c *cli) noState(ctx context.Context) (*stateHandle, int) {
	dir, err := os.MkdirTemp("", "syncer-nostate-")
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	st, err := state.Open(ctx, filepath.Join(dir, "state.db"), true)
	if err != nil {
		os.RemoveAll(dir)
		return nil, c.fail(ctx, err)
	}
	return &stateHandle{st: st, none: true, close: func() { st.Close(); os.RemoveAll(dir) }}, exitOK
}

// lockFailed prints why the state lock could not be taken.
func (c *cli) lockFailed(ctx context.Context, err error) int {
	var le *state.LockedError
	if !errors.As(err, &le) {
		return c.fail(ctx, err)
	}
	c.errorf("%v\nAnother syncer is using this state. Wait for it, or pass -lock-timeout to wait.", err)
	if le.Holder != nil && le.Holder.ID != "" {
		cmd := "syncer force-unlock " + le.Holder.ID
		if c.shard.Sharded() {
			cmd = fmt.Sprintf("syncer force-unlock -shard %s %s", c.shard, le.Holder.ID)
		}
		fmt.Fprintf(c.stderr, "If it is gone, its lock is taken over once it goes unrenewed for lock_ttl; or remove it now with: %s\n", cmd)
	}
	return exitError
}

// fail prints err and returns the exit code for it.
func (c *cli) fail(ctx context.Context, err error) int {
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), apply.ErrDuration) {
		fmt.Fprintln(c.stderr, "limits.duration reached before apply began; nothing was changed. Run it again to go on.")
		c.diagnostic("error", "limits.duration reached before apply began; nothing was changed", "", nil)
		return exitInterrupted
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(c.stderr, "Interrupted; nothing was changed by this step.")
		c.diagnostic("error", "interrupted; nothing was changed by this step", "", nil)
		return exitInterrupted
	}
	c.errorf("%v", err)
	return exitError
}
