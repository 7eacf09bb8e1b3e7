// Command syncer is a declarative, Terraform-style sync tool: `syncer plan`
// shows what would change between the configured sources and destinations,
// `syncer apply` makes it so, streaming and resumable.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"syncer/apply"
	"syncer/backends"
	"syncer/backends/registry"
	"syncer/config"
	"syncer/plan"
	"syncer/state"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitChanges     = 2 // plan -detailed-exitcode found changes
	exitPartial     = 3 // apply finished, some objects failed
	exitInterrupted = 130
)

const usage = `Usage: syncer <command> [flags]

Commands:
  validate     check the configuration without touching any backend
  plan         show what apply would do
  apply        make the destinations match the configuration
  show         show a saved plan, or a summary of the state
  state list   list the objects the state records
  version      print the version

The configuration defaults to ./syncer.hcl; -config or SYNCER_CONFIG override
it. Run "syncer <command> -h" for a command's flags.
`

func main() {
	// SYNCER_CPUPROFILE=FILE writes a CPU profile (for developers).
	if path := os.Getenv("SYNCER_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// cli carries a command's streams and logger.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	log            *slog.Logger
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, log: newLogger(stderr)}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "validate":
		return c.validate(rest)
	case "plan":
		return c.plan(rest)
	case "apply":
		return c.apply(rest)
	case "show":
		return c.show(rest)
	case "state":
		if len(rest) > 0 && rest[0] == "list" {
			return c.stateList(rest[1:])
		}
		fmt.Fprintln(stderr, "Usage: syncer state list [-config FILE] [SYNC]")
		return exitError
	case "version", "-version", "--version", "-v":
		if len(rest) > 0 {
			fmt.Fprintf(stderr, "Error: unexpected argument %q\n", rest[0])
			return exitError
		}
		fmt.Fprintf(stdout, "syncer %s (%s %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "syncer: unknown command %q\n\n%s", cmd, usage)
	return exitError
}

// newLogger logs to stderr: text, or JSON when SYNCER_LOG_FORMAT=json or in
// a Kubernetes pod; level from SYNCER_LOG (debug, info, warn, error).
func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if v := os.Getenv("SYNCER_LOG"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			fmt.Fprintf(w, "syncer: ignoring SYNCER_LOG=%q: %v\n", v, err)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	if isTerminal(w) {
		// A person reading along needs no timestamps.
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		}
	}
	format := os.Getenv("SYNCER_LOG_FORMAT")
	if format == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		format = "json"
	}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	if !slices.Contains(*l, v) { // -target s -target s is one target
		*l = append(*l, v)
	}
	return nil
}

// common flags of the commands that read a config.
type common struct {
	config  string
	vars    listFlag
	targets listFlag
}

func (co *common) register(fs *flag.FlagSet, targets bool) {
	fs.StringVar(&co.config, "config", "", "configuration `file` (default $SYNCER_CONFIG or ./syncer.hcl)")
	fs.Var(&co.vars, "var", "set a variable: `NAME=VALUE` (repeatable)")
	if targets {
		fs.Var(&co.targets, "target", "plan or apply only this `SYNC` (repeatable)")
	}
}

// nonNegative reports a negative duration flag.
func (c *cli) nonNegative(flag string, d time.Duration) bool {
	if d < 0 {
		fmt.Fprintf(c.stderr, "Error: -%s must not be negative (got %s)\n", flag, d)
		return false
	}
	return true
}

func (c *cli) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: syncer %s [flags] %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// loadConfig reads the config named by -config, SYNCER_CONFIG or the default,
// printing diagnostics.
func (c *cli) loadConfig(co *common) (*config.Config, bool) {
	path := co.config
	if path == "" {
		path = os.Getenv("SYNCER_CONFIG")
	}
	if path == "" {
		path = "syncer.hcl"
	}
	vars := map[string]string{}
	for _, v := range co.vars {
		name, value, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			fmt.Fprintf(c.stderr, "Error: invalid -var %q: expected NAME=VALUE\n", v)
			return nil, false
		}
		vars[name] = value
	}
	cfg, diags := config.Load(path, config.LoadOptions{Vars: vars})
	if len(diags) > 0 {
		var files map[string]*hcl.File
		if cfg != nil {
			files = cfg.Files
		}
		config.WriteDiagnostics(c.stderr, files, diags)
	}
	if diags.HasErrors() {
		return nil, false
	}
	return cfg, true
}

func (c *cli) validate(args []string) int {
	fs := c.flags("validate", "")
	var co common
	co.register(fs, false)
	if fs.Parse(args) != nil {
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	cfg, ok := c.loadConfig(&co)
	if !ok {
		return exitError
	}
	fmt.Fprintf(c.stdout, "Success! The configuration is valid (%d backends, %d syncs).\n", len(cfg.Backends), len(cfg.Syncs))
	return exitOK
}

// opener opens each configured backend once; the backends share env.
type opener struct {
	mu   sync.Mutex
	open map[*config.Backend]backends.Backend
	env  *registry.Env
}

func (c *cli) newOpener(cfg *config.Config) *opener {
	return &opener{
		open: map[*config.Backend]backends.Backend{},
		env:  &registry.Env{Logger: c.log, RequestsPerSecond: cfg.Limits.RequestsPerSecond},
	}
}

func (o *opener) Open(b *config.Backend) (backends.Backend, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if be, ok := o.open[b]; ok {
		return be, nil
	}
	// Background: Drive's credentials keep this context to refresh tokens,
	// so it must outlive the first SIGINT.
	be, err := registry.Open(context.Background(), b.Type, b.Name, b.Options, o.env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Addr(), err)
	}
	o.open[b] = be
	return be, nil
}

// signals returns a context cancelled by the first SIGINT/SIGTERM (stop
// taking work) and one cancelled by the second, or grace after the first
// (abort transfers in flight; state stays consistent).
func (c *cli) signals(grace time.Duration) (stop, abort context.Context, done func()) {
	stopCtx, stopFn := context.WithCancel(context.Background())
	abortCtx, abortFn := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		n := 0
		for {
			select {
			case sig := <-ch:
				n++
				if n == 1 {
					fmt.Fprintf(c.stderr, "\n%s received: finishing the objects in flight (for up to %s), then stopping. Send it again to abort at once.\n", sig, grace)
					stopFn()
					time.AfterFunc(grace, abortFn)
				} else {
					fmt.Fprintf(c.stderr, "\nSecond %s: aborting transfers in flight.\n", sig)
					abortFn()
					return
				}
			case <-quit:
				return
			}
		}
	}()
	return stopCtx, abortCtx, func() {
		signal.Stop(ch)
		close(quit)
		stopFn()
		abortFn()
	}
}

type planFlags struct {
	common
	out         string
	json        bool
	detailed    bool
	refresh     bool
	lockTimeout time.Duration
}

func (c *cli) plan(args []string) int {
	fs := c.flags("plan", "")
	var pf planFlags
	pf.register(fs, true)
	fs.StringVar(&pf.out, "out", "", "save the plan to `FILE` for a later apply")
	fs.BoolVar(&pf.json, "json", false, "print the plan as JSON lines")
	fs.BoolVar(&pf.detailed, "detailed-exitcode", false, "exit 0 with no changes, 1 on error, 2 with changes")
	fs.BoolVar(&pf.refresh, "refresh", true, "list the destinations; -refresh=false trusts the state")
	fs.DurationVar(&pf.lockTimeout, "lock-timeout", 0, "wait this long for the state lock")
	if fs.Parse(args) != nil {
		return exitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "Error: unexpected argument %q\n", fs.Arg(0))
		return exitError
	}
	if !c.nonNegative("lock-timeout", pf.lockTimeout) {
		return exitError
	}
	cfg, ok := c.loadConfig(&pf.common)
	if !ok {
		return exitError
	}
	if cfg.Limits.Memory > 0 {
		debug.SetMemoryLimit(cfg.Limits.Memory)
	}
	stop, _, done := c.signals(0)
	defer done()
	st, unlock, code := c.openState(stop, cfg, "plan", pf.lockTimeout)
	if st == nil {
		return code
	}
	defer st.Close()
	defer unlock()
	p, err := plan.Make(stop, cfg, st, c.newOpener(cfg).Open, plan.Options{Refresh: pf.refresh, Targets: pf.targets, Version: version, Log: c.log})
	if err != nil {
		return c.fail(stop, err)
	}
	defer p.Close()
	if len(pf.targets) > 0 {
		fmt.Fprintf(c.stderr, "Warning: targeting is in effect: only sync %s is planned.\n", strings.Join(pf.targets, ", "))
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
		return p.WriteJSON(ctx, c.stdout)
	}
	limit := 100
	if v := os.Getenv("SYNCER_PLAN_LINES"); v != "" {
		fmt.Sscan(v, &limit)
	}
	return p.WriteText(ctx, c.stdout, cfg, limit)
}

// openState opens the configured state and takes its lock.
func (c *cli) openState(ctx context.Context, cfg *config.Config, op string, timeout time.Duration) (*state.Store, func(), int) {
	st, err := state.Open(ctx, cfg.State.Path, true)
	if err != nil {
		return nil, nil, c.fail(ctx, err)
	}
	unlock, err := st.Lock(ctx, op, version, timeout)
	if err != nil {
		st.Close()
		var le *state.LockedError
		if errors.As(err, &le) {
			fmt.Fprintf(c.stderr, "Error: %v\nAnother syncer is using this state. Wait for it, or pass -lock-timeout to wait.\n", err)
			return nil, nil, exitError
		}
		return nil, nil, c.fail(ctx, err)
	}
	return st, unlock, exitOK
}

// fail prints err and returns the exit code for it.
func (c *cli) fail(ctx context.Context, err error) int {
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(c.stderr, "Interrupted; nothing was changed by this step.")
		return exitInterrupted
	}
	fmt.Fprintf(c.stderr, "Error: %v\n", err)
	return exitError
}

type applyFlags struct {
	planFlags
	autoApprove bool
	grace       time.Duration
}

func (c *cli) apply(args []string) int {
	fs := c.flags("apply", "[PLANFILE]")
	var af applyFlags
	af.register(fs, true)
	fs.BoolVar(&af.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	fs.DurationVar(&af.grace, "grace", 25*time.Second, "after SIGINT/SIGTERM, let transfers in flight finish for this long (Kubernetes kills after 30s by default)")
	fs.BoolVar(&af.json, "json", false, "print the plan and the result as JSON lines")
	fs.BoolVar(&af.refresh, "refresh", true, "list the destinations; -refresh=false trusts the state")
	fs.DurationVar(&af.lockTimeout, "lock-timeout", 0, "wait this long for the state lock")
	if fs.Parse(args) != nil {
		return exitError
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(c.stderr, "Error: unexpected argument %q\n", fs.Arg(1))
		return exitError
	}
	if !c.nonNegative("lock-timeout", af.lockTimeout) || !c.nonNegative("grace", af.grace) {
		return exitError
	}
	planFile := fs.Arg(0)
	cfg, ok := c.loadConfig(&af.common)
	if !ok {
		return exitError
	}
	if cfg.Limits.Memory > 0 {
		debug.SetMemoryLimit(cfg.Limits.Memory)
	}
	stop, abort, done := c.signals(af.grace)
	defer done()
	var p *plan.Plan
	var err error
	if planFile != "" {
		// Read the plan before touching the state, so a bad plan file
		// leaves no trace.
		if len(af.targets) > 0 {
			fmt.Fprintln(c.stderr, "Error: -target cannot be used with a saved plan; the plan already says what to do")
			return exitError
		}
		if p, err = plan.Open(stop, planFile); err != nil {
			return c.fail(stop, err)
		}
		defer p.Close()
	}
	st, unlock, code := c.openState(stop, cfg, "apply", af.lockTimeout)
	if st == nil {
		return code
	}
	defer st.Close()
	defer unlock()
	open := c.newOpener(cfg).Open

	if planFile != "" {
		v, err := st.Version(stop)
		if err != nil {
			return c.fail(stop, err)
		}
		if err := p.CheckFresh(v, cfg.Hash); err != nil {
			return c.fail(stop, err)
		}
	} else {
		if p, err = plan.Make(stop, cfg, st, open, plan.Options{Refresh: af.refresh, Targets: af.targets, Version: version, Log: c.log}); err != nil {
			return c.fail(stop, err)
		}
		defer p.Close()
		if err := c.render(stop, p, cfg, af.json); err != nil {
			return c.fail(stop, err)
		}
	}
	sum, err := p.Summary(stop)
	if err != nil {
		return c.fail(stop, err)
	}
	if planFile == "" && sum.Changes() && !af.autoApprove {
		if code, ok := c.confirm(); !ok {
			return code
		}
	}
	if _, err := st.BumpSerial(stop); err != nil {
		return c.fail(stop, err)
	}
	res, err := apply.Run(abort, cfg, st, p, open, apply.Options{
		Log: c.log, Stop: stop, Progress: c.stderr, Terminal: isTerminal(c.stderr), Version: version,
	})
	return c.report(res, err, af.json)
}

// confirm asks for "yes" on a terminal; without one it refuses at once.
func (c *cli) confirm() (int, bool) {
	if f, ok := c.stdin.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		fmt.Fprintln(c.stderr, "Error: apply needs confirmation, but standard input is not a terminal.\nPass -auto-approve to apply without asking, or apply a plan saved with `syncer plan -out FILE`.")
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (c *cli) report(res apply.Result, err error, asJSON bool) int {
	summary := fmt.Sprintf("%d created, %d updated, %d deleted, %s in %s",
		res.Created, res.Updated, res.Deleted, plan.FormatBytes(res.Bytes), formatElapsed(res.Elapsed))
	code := exitOK
	var msg string
	switch {
	case err != nil:
		fmt.Fprintf(c.stderr, "Error: %v\n", err)
		code, msg = exitError, "Apply failed: "+summary+"."
	case res.Interrupted:
		code, msg = exitInterrupted, fmt.Sprintf("Apply %s: %s. Run syncer apply again to resume; finished objects will not be copied again.", res.StopReason, summary)
	case res.Failed > 0:
		code, msg = exitPartial, fmt.Sprintf("Apply finished with errors: %d objects failed; %s. Run syncer apply again to retry them.", res.Failed, summary)
	default:
		msg = "Apply complete! " + summary + "."
	}
	if asJSON {
		json.NewEncoder(c.stdout).Encode(map[string]any{
			"type": "apply_complete", "created": res.Created, "updated": res.Updated, "deleted": res.Deleted,
			"failed": res.Failed, "bytes": res.Bytes, "elapsed_seconds": res.Elapsed.Seconds(),
			"interrupted": res.Interrupted, "message": msg,
		})
	} else if code == exitError {
		fmt.Fprintln(c.stderr, "\n"+msg)
	} else { // a result, even when partial or interrupted
		fmt.Fprintln(c.stdout, "\n"+msg)
	}
	return code
}

func (c *cli) show(args []string) int {
	fs := c.flags("show", "[PLANFILE]")
	var co common
	co.register(fs, false)
	asJSON := fs.Bool("json", false, "print JSON")
	if fs.Parse(args) != nil {
		return exitError
	}
	ctx := context.Background()
	if fs.NArg() > 1 {
		fmt.Fprintf(c.stderr, "Error: unexpected argument %q\n", fs.Arg(1))
		return exitError
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
	st, err := state.Open(ctx, cfg.State.Path, false)
	if errors.Is(err, state.ErrNoState) {
		fmt.Fprintf(c.stdout, "No state yet at %s: nothing has been applied.\n", cfg.State.Path)
		return exitOK
	}
	if err != nil {
		return c.fail(ctx, err)
	}
	defer st.Close()
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
		json.NewEncoder(c.stdout).Encode(map[string]any{"lineage": v.Lineage, "serial": v.Serial, "syncs": sums, "last_run": last})
		return exitOK
	}
	fmt.Fprintf(c.stdout, "State %s\n  lineage %s, serial %d\n", cfg.State.Path, v.Lineage, v.Serial)
	switch held, _ := st.Held(); {
	case last != nil && last.Status == "running" && !held:
		// Its counts are written at the end, which never came.
		fmt.Fprintf(c.stdout, "  last %s: started at %s and did not finish (its process is gone); run apply again to resume\n",
			last.Operation, last.Started.Format(time.RFC3339))
	case last != nil:
		fmt.Fprintf(c.stdout, "  last %s: %s at %s (%d copied, %d deleted, %d failed, %s)\n", last.Operation, last.Status,
			last.Started.Format(time.RFC3339), last.Copied, last.Deleted, last.Failed, plan.FormatBytes(last.Bytes))
	}
	if len(sums) == 0 {
		fmt.Fprintln(c.stdout, "  no objects recorded")
	}
	for _, s := range sums {
		fmt.Fprintf(c.stdout, "  sync %q: %d objects, %s, last written %s\n", s.Sync, s.Objects, plan.FormatBytes(s.Bytes), s.Last.Format(time.RFC3339))
	}
	return exitOK
}

func defaultConfig() string {
	if p := os.Getenv("SYNCER_CONFIG"); p != "" {
		return p
	}
	return "syncer.hcl"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func (c *cli) stateList(args []string) int {
	fs := c.flags("state list", "[SYNC]")
	var co common
	co.register(fs, false)
	if fs.Parse(args) != nil {
		return exitError
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(c.stderr, "Error: unexpected argument %q\n", fs.Arg(1))
		return exitError
	}
	cfg, ok := c.loadConfig(&co)
	if !ok {
		return exitError
	}
	name := fs.Arg(0)
	known := name == "" || slices.ContainsFunc(cfg.Syncs, func(s *config.Sync) bool { return s.Name == name })
	ctx := context.Background()
	st, err := state.Open(ctx, cfg.State.Path, false)
	if errors.Is(err, state.ErrNoState) {
		if !known {
			fmt.Fprintf(c.stderr, "Error: no sync %q in the configuration\n", name)
			return exitError
		}
		return exitOK // nothing recorded yet
	}
	if err != nil {
		return c.fail(ctx, err)
	}
	defer st.Close()
	w := bufio.NewWriter(c.stdout)
	defer w.Flush()
	n := 0
	err = st.Each(ctx, name, func(r state.Record) error {
		n++
		_, err := fmt.Fprintf(w, "%s\t%s\t%d\n", r.Sync, plan.DisplayKey(r.Key), r.Dst.Size)
		return err
	})
	if err != nil {
		return c.fail(ctx, err)
	}
	if n == 0 && !known { // a sync dropped from the config may still have records
		fmt.Fprintf(c.stderr, "Error: no sync %q in the configuration or the state\n", name)
		return exitError
	}
	return exitOK
}
