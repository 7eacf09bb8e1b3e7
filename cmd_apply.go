package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"syncer/apply"
	"syncer/plan"
	"syncer/shard"
	"syncer/state"
	"syncer/views"
	"syncer/views/display"
)

// describeShard names a shard for messages.
func describeShard(s shard.Shard) string {
	if !s.Sharded() {
		return "all keys (no shard)"
	}
	return "shard " + s.String()
}

type applyFlags struct {
	planFlags
	autoApprove bool
	grace       time.Duration
	report      string
}

func (c *cli) apply(args []string) (code int) {
	fs := c.flags("apply", "[PLANFILE]")
	var af applyFlags
	af.register(fs, true)
	fs.BoolVar(&af.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	fs.DurationVar(&af.grace, "grace", 25*time.Second, "after SIGINT/SIGTERM, let transfers in flight finish for this long (Kubernetes kills after 30s by default)")
	fs.BoolVar(&af.json, "json", false, "print the plan and the result as JSON lines")
	fs.BoolVar(&af.refresh, "refresh", true, "list the destinations; -refresh=false trusts the state")
	fs.DurationVar(&af.lockTimeout, "lock-timeout", 0, "wait this long for the state lock")
	fs.Var(&af.maxDelete, "max-delete", "refuse a plan that deletes more than `N` objects (overrides limits.max_delete)")
	af.metrics.register(fs)
	c.registerLines(fs)
	fs.StringVar(&af.report, "report", "", "write a JSON report of the run to `FILE` when it ends, however it ends")
	if !c.parse(fs, args, 1) {
		return exitError
	}
	if af.report != "" {
		c.reportPath = af.report
		c.runReport = &views.Report{Syncer: version, UI: views.UIVersion, Operation: "apply", Started: views.Time(time.Now())}
		defer func() {
			if c.runReport != nil { // the run never reached its end
				c.writeReport(nil, code, fmt.Errorf("apply stopped before it began (exit %d); see its error output", code), nil)
			}
		}()
	}
	if !c.nonNegative("lock-timeout", af.lockTimeout) || !c.nonNegative("grace", af.grace) {
		return exitError
	}
	planFile := fs.Arg(0)
	cfg, ok := c.loadConfigAs(&af.common, af.json)
	if !ok {
		return exitError
	}
	af.maxDelete.override(&cfg.Limits)
	// Without a way to ask, refuse before the state is locked or
	// anything is listed.
	if planFile == "" && !af.autoApprove && !c.stdinIsTerminal() {
		fmt.Fprintln(c.stderr, noTerminal)
		return exitError
	}
	c.setMemoryLimit(cfg.Limits.Memory)
	rm, err := c.startMetrics(af.metrics, "apply")
	if err != nil {
		return c.fail(context.Background(), err)
	}
	defer func() { c.finishMetrics(rm, code) }()
	stop, abort, done := c.signals(af.grace, c.deadline(cfg.Limits))
	defer done()
	var p *plan.Plan
	if planFile != "" {
		// Read the plan before touching the state, so a bad plan file
		// leaves no trace.
		if len(af.targets) > 0 {
			c.errorf("-target cannot be used with a saved plan; the plan already says what to do")
			return exitError
		}
		if p, err = plan.Open(stop, planFile); err != nil {
			return c.fail(stop, err)
		}
		defer p.Close()
		if p.Meta.Shard != af.shard {
			c.errorf("the plan %s was made for %s, and this apply is for %s; apply it with the -shard (or %s) it was made with",
				planFile, describeShard(p.Meta.Shard), describeShard(af.shard), shard.EnvVar)
			return exitError
		}
	}
	open := c.meteredOpener(cfg, rm)
	sh, code := c.openState(stop, cfg, open, "apply", af.lockTimeout)
	if sh == nil {
		return code
	}
	defer sh.close()
	st := sh.st
	fail := func(err error) int {
		if sh.remote != nil && sh.remote.Err() != nil {
			err = sh.remote.Err() // the cause of the stop
		}
		return c.fail(stop, err)
	}
	if sh.remote != nil {
		// A run whose remote lock is lost stops at once, transfers in
		// flight aborted: another syncer now owns the state.
		var cancelStop, cancelAbort context.CancelFunc
		stop, cancelStop = sh.remote.Guard(stop)
		abort, cancelAbort = sh.remote.Guard(abort)
		defer cancelStop()
		defer cancelAbort()
	}

	if planFile != "" {
		v, err := st.Version(stop)
		if err != nil {
			return fail(err)
		}
		if err := p.CheckFresh(v, cfg.Hash); err != nil {
			return fail(err)
		}
	} else {
		if p, err = plan.Make(stop, cfg, st, open, plan.Options{Refresh: af.refresh, Targets: af.targets, Version: version, Log: c.log, Shard: af.shard, Listed: rm.listed()}); err != nil {
			return fail(err)
		}
		defer p.Close()
		if err := c.render(stop, p, cfg, af.json); err != nil {
			return fail(err)
		}
	}
	sum, err := p.Summary(stop)
	if err != nil {
		return fail(err)
	}
	if planFile == "" && sum.Changes() && !af.autoApprove {
		if code, ok := c.confirm(); !ok {
			return code
		}
	}
	// A plan over max_delete is refused before the serial moves: the
	// refused apply changed nothing, so a saved plan stays fresh.
	if err := p.CheckMaxDelete(stop, cfg.Limits.MaxDelete); err != nil {
		return fail(err)
	}
	// A run with nothing to do, not even a record to adopt or forget,
	// leaves the serial, so that a plan saved for review stays fresh.
	if syncs, err := p.Syncs(stop); err != nil {
		return fail(err)
	} else if len(syncs) > 0 {
		if _, err := st.BumpSerial(stop); err != nil {
			return fail(err)
		}
	}
	stopCheckpoints := c.checkpoints(sh.remote, cfg.State.Checkpoint)
	opts := apply.Options{
		Log: c.log, Stop: stop, Progress: c.stderr, Terminal: isTerminal(c.stderr), Version: version, Deadline: c.deadline(cfg.Limits),
	}
	var obs []apply.Observer
	if af.json {
		obs = append(obs, views.ApplyObserver{J: c.view})
	}
	counts := &views.SyncCounter{}
	if c.runReport != nil {
		obs = append(obs, counts)
	}
	if rm != nil {
		rm.planned(stop, p)
		obs = append(obs, rm.Observer())
	}
	opts.Observer = apply.Observers(obs...)
	res, err := apply.Run(abort, cfg, st, p, open, opts)
	stopCheckpoints()
	if sh.remote != nil {
		// At the end, and when a signal stopped the run: upload what it did
		// (nothing when the state is unchanged; the lock is renewed anyway).
		if _, cerr := sh.remote.Checkpoint(context.WithoutCancel(stop)); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	code = c.report(res, err, af.json)
	if c.runReport != nil {
		c.runReport.Syncs = counts.Counts()
		c.writeReport(&res, code, err, st)
	}
	return code
}

// writeReport writes -report's file, once: the result (nil when the run
// never started), its failures streamed from the state.
func (c *cli) writeReport(res *apply.Result, code int, err error, st *state.Store) {
	r := c.runReport
	c.runReport = nil
	now := time.Now()
	r.Finished = views.Time(now)
	if started, perr := time.Parse(time.RFC3339Nano, r.Started); perr == nil {
		r.DurationSeconds = now.Sub(started).Seconds()
	}
	switch code {
	case exitOK:
		r.Outcome = "complete"
	case exitPartial:
		r.Outcome = "partial"
	case exitInterrupted:
		r.Outcome, r.Interrupted = "interrupted", true
	default:
		r.Outcome = "failed"
	}
	if err != nil {
		r.Error = err.Error()
	}
	if res != nil {
		r.SetResult(*res)
		if r.DurationSeconds > 0 {
			r.Throughput = float64(res.Bytes) / r.DurationSeconds
		}
	}
	var each func(func(views.ReportFailure) error) error
	if st != nil {
		each = func(fn func(views.ReportFailure) error) error {
			return st.EachFailure(context.Background(), func(f state.Failure) error {
				return fn(views.ReportFailure{Sync: f.Sync, Key: f.Key, Action: f.Action, Error: f.Error, At: views.Time(f.At)})
			})
		}
	}
	if werr := views.WriteReport(c.reportPath, r, each); werr != nil {
		c.errorf("%v", werr)
	}
}

const noTerminal = "Error: apply needs confirmation, but standard input is not a terminal (or -input=false was given).\nPass -auto-approve to apply without asking, or apply a plan saved with `syncer plan -out FILE`."

// stdinIsTerminal reports whether apply may ask; -input=false says never.
func (c *cli) stdinIsTerminal() bool {
	if c.noInput {
		return false
	}
	f, ok := c.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks for "yes" on a terminal; without one it refuses at once.
func (c *cli) confirm() (int, bool) {
	if !c.stdinIsTerminal() {
		fmt.Fprintln(c.stderr, noTerminal)
		return exitError, false
	}
	fmt.Fprint(c.stdout, "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	line, _ := bufio.NewReader(c.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		fmt.Fprintln(c.stdout, "\nApply cancelled.")
		return exitError, false
	}
	fmt.Fprintln(c.stdout)
	return exitOK, true
}

// formatElapsed renders d as "45ms", "1.2s" or "3m4s".
func formatElapsed(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func (c *cli) report(res apply.Result, err error, asJSON bool) int {
	skipped := ""
	if res.Skipped > 0 {
		skipped = fmt.Sprintf(", %d skipped (cannot be written)", res.Skipped)
	}
	switch {
	case res.Restoring > 0:
		skipped += fmt.Sprintf(", %d archived (%d restores pending; a later apply copies them)", res.Archived, res.Restoring)
	case res.Archived > 0:
		skipped += fmt.Sprintf(", %d archived, skipped", res.Archived)
	}
	if res.BackedUp > 0 {
		skipped += fmt.Sprintf(", %d backed up first", res.BackedUp)
	}
	summary := fmt.Sprintf("%d created, %d updated, %d deleted%s, %s in %s",
		res.Created, res.Updated, res.Deleted, skipped, display.Bytes(res.Transferred), formatElapsed(res.Elapsed))
	code := exitOK
	var msg string
	outcome := "complete"
	switch {
	case err != nil:
		c.errorf("%v", err)
		code, msg, outcome = exitError, "Apply failed: "+summary+".", "failed"
	case res.Interrupted:
		code, msg, outcome = exitInterrupted, fmt.Sprintf("Apply %s: %s. Run syncer apply again to resume; finished objects will not be copied again.", res.StopReason, summary), "interrupted"
	case res.Failed > 0:
		code, msg, outcome = exitPartial, fmt.Sprintf("Apply finished with errors: %d objects failed; %s. Run syncer apply again to retry them.", res.Failed, summary), "partial"
	default:
		msg = "Apply complete! " + summary + "."
	}
	if asJSON {
		c.view.Write(views.ApplyResult(res, outcome, msg))
	} else if code == exitError {
		fmt.Fprintln(c.stderr, "\n"+msg)
	} else { // a result, even when partial or interrupted
		fmt.Fprintln(c.stdout, "\n"+msg)
	}
	return code
}
