// Command syncer is a declarative, Terraform-style sync tool: `syncer plan`
// shows what would change between the configured sources and destinations,
// `syncer apply` makes it so, streaming and resumable.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
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
	"syncer/shard"
	"syncer/views"
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
  check        compare sources and destinations, without the state
  ls           list a configured backend's objects
  fmt          rewrite configuration files in canonical style
  state list   list the objects the state records
  state pull   write the remote state to standard output
  state push   replace the remote state with a state file
  force-unlock remove a remote state's lock by its ID
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
	start          time.Time   // limits.duration counts from here
	shard          shard.Shard // of the loaded config (see loadConfig)
	helped         bool        // -h was asked for: the usage is the answer, exit 0
	noInput        bool        // -input=false: never ask, as without a terminal
	// view, once -json was given, receives the output as JSON lines;
	// errors and warnings count the diagnostics written there.
	view             *views.JSON
	errors, warnings int
	// runReport, with apply -report, is written to reportPath at the end.
	runReport  *views.Report
	reportPath string
	planLines  int // -lines of plan, apply and show; -1: the default
}

// deadline is when limits.duration ends for this process; zero for none.
func (c *cli) deadline(l config.Limits) time.Time {
	if l.Duration <= 0 {
		return time.Time{}
	}
	return c.start.Add(l.Duration)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, log: newLogger(stderr), start: time.Now()}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	args, ok := c.global(args)
	if !ok {
		return exitError
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError
	}
	code := c.dispatch(args[0], args[1:])
	if c.helped {
		return exitOK
	}
	return code
}

// global applies the options that come before the command, as
// Terraform's: -chdir=DIR switches to DIR before anything is read.
func (c *cli) global(args []string) ([]string, bool) {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if name != "chdir" {
			break
		}
		args = args[1:]
		if !hasValue {
			if len(args) == 0 {
				fmt.Fprintln(c.stderr, "Error: -chdir needs a folder: -chdir=DIR")
				return nil, false
			}
			value, args = args[0], args[1:]
		}
		if value == "" {
			fmt.Fprintln(c.stderr, "Error: -chdir needs a folder: -chdir=DIR")
			return nil, false
		}
		if err := os.Chdir(value); err != nil {
			c.errorf("-chdir: %v", err)
			return nil, false
		}
	}
	return args, true
}

func (c *cli) dispatch(cmd string, rest []string) int {
	stderr, stdout := c.stderr, c.stdout
	switch cmd {
	case "validate":
		return c.validate(rest)
	case "plan":
		return c.plan(rest)
	case "apply":
		return c.apply(rest)
	case "show":
		return c.show(rest)
	case "fmt":
		return c.fmtCmd(rest)
	case "check":
		return c.check(rest)
	case "ls":
		return c.ls(rest)
	case "state":
		if len(rest) > 0 {
			switch rest[0] {
			case "list":
				return c.stateList(rest[1:])
			case "pull":
				return c.statePull(rest[1:])
			case "push":
				return c.statePush(rest[1:])
			}
		}
		fmt.Fprintln(stderr, "Usage: syncer state list [-config FILE] [SYNC]\n       syncer state pull [-config FILE] > FILE\n       syncer state push [-config FILE] [-force] FILE")
		return exitError
	case "force-unlock":
		return c.forceUnlock(rest)
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
	config   string
	vars     []config.VarArg // -var and -var-file, in command-line order
	targets  listFlag
	shardArg string       // -shard as given; "" = $SYNCER_SHARD
	shard    shard.Shard  // set by loadConfig
	base     config.State // the state before the shard renamed it; set by loadConfig
}

// varFlag appends one kind of variable argument to a shared ordered list.
type varFlag struct {
	list *[]config.VarArg
	kind config.VarArgKind
}

func (v varFlag) String() string { return "" }
func (v varFlag) Set(s string) error {
	*v.list = append(*v.list, config.VarArg{Kind: v.kind, Value: s})
	return nil
}

func (co *common) register(fs *flag.FlagSet, targets bool) {
	fs.StringVar(&co.config, "config", "", "configuration `file` (default $SYNCER_CONFIG or ./syncer.hcl)")
	fs.Var(varFlag{&co.vars, config.VarArgValue}, "var", "set a variable: `NAME=VALUE` (repeatable; later -var and -var-file win)")
	fs.Var(varFlag{&co.vars, config.VarArgFile}, "var-file", "set variables from an HCL `FILE` of NAME = VALUE lines (repeatable)")
	if targets {
		fs.Var(&co.targets, "target", "plan or apply only this `SYNC` (repeatable)")
	}
	fs.StringVar(&co.shardArg, "shard", "", "work on shard `I/N` of the keys (I from 0) with its own state (default $SYNCER_SHARD)")
}

// parseShard reads -shard, else $SYNCER_SHARD; the flag wins.
func (c *cli) parseShard(co *common) bool {
	what, v := "-shard", co.shardArg
	if v == "" {
		what, v = shard.EnvVar, os.Getenv(shard.EnvVar)
	}
	s, err := shard.Parse(v)
	if err != nil {
		c.errorf("invalid %s: %v", what, err)
		return false
	}
	co.shard = s
	return true
}

// nonNegative reports a negative duration flag.
func (c *cli) nonNegative(flag string, d time.Duration) bool {
	if d < 0 {
		c.errorf("-%s must not be negative (got %s)", flag, d)
		return false
	}
	return true
}

func (c *cli) flags(name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	// Accepted for Terraform users' scripts: syncer prints no colour.
	fs.Bool("no-color", false, "accepted; syncer prints no colour")
	fs.Func("input", "`false`: never ask for input (apply without -auto-approve refuses)", func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		c.noInput = !b
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: syncer %s [flags] %s\n\nFlags:\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// loadConfigAs is loadConfig after switching to JSON output when asJSON,
// so that the config's diagnostics come as JSON lines.
func (c *cli) loadConfigAs(co *common, asJSON bool) (*config.Config, bool) {
	if asJSON {
		c.jsonOut()
	}
	return c.loadConfig(co)
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
	for _, v := range co.vars {
		if name, _, ok := strings.Cut(v.Value, "="); v.Kind == config.VarArgValue && (!ok || name == "") {
			c.errorf("invalid -var %q: expected NAME=VALUE", v.Value)
			return nil, false
		}
	}
	cfg, diags := config.Load(path, config.LoadOptions{VarArgs: co.vars})
	if len(diags) > 0 {
		var files map[string]*hcl.File
		if cfg != nil {
			files = cfg.Files
		}
		if c.view != nil {
			c.hclDiagnostics(diags)
		} else {
			config.WriteDiagnostics(c.stderr, files, diags)
		}
	}
	if diags.HasErrors() {
		return nil, false
	}
	co.base = cfg.State
	if !c.parseShard(co) {
		return nil, false
	}
	c.shard = co.shard
	if co.shard.Sharded() {
		// Each shard has its own state and lock, and its share of the
		// whole sync's max_delete.
		cfg.State.Path = co.shard.Name(cfg.State.Path)
		cfg.State.Key = co.shard.Name(cfg.State.Key)
		cfg.Limits.MaxDelete = co.shard.MaxDelete(cfg.Limits.MaxDelete)
	}
	return cfg, true
}

// parseFlags parses args into fs; -h makes the usage the command's answer.
func (c *cli) parseFlags(fs *flag.FlagSet, args []string) bool {
	err := fs.Parse(args)
	c.helped = errors.Is(err, flag.ErrHelp)
	return err == nil
}

// parse parses args into fs and refuses more than max arguments after the
// flags.
func (c *cli) parse(fs *flag.FlagSet, args []string, max int) bool {
	if !c.parseFlags(fs, args) {
		return false
	}
	if fs.NArg() > max {
		c.errorf("unexpected argument %q", fs.Arg(max))
		return false
	}
	return true
}

func (c *cli) validate(args []string) int {
	fs := c.flags("validate", "")
	var co common
	co.register(fs, false)
	asJSON := fs.Bool("json", false, "print the diagnostics and the result as JSON lines")
	if !c.parse(fs, args, 0) {
		return exitError
	}
	cfg, ok := c.loadConfigAs(&co, *asJSON)
	if *asJSON {
		r := &views.ValidateResult{Valid: ok, ErrorCount: c.errors, WarningCount: c.warnings}
		if ok {
			r.Backends, r.Syncs = len(cfg.Backends), len(cfg.Syncs)
		}
		c.view.Write(r)
	}
	if !ok {
		return exitError
	}
	if *asJSON {
		return exitOK
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

// sameStopRequest reports whether a second signal repeats the first stop
// request rather than asking to abort: a SIGTERM within a second of a
// first SIGTERM, as a shell or timeout(1) signalling the process and its
// group delivers it twice. A second SIGINT (Ctrl-C twice) aborts.
func sameStopRequest(first, second os.Signal, gap time.Duration) bool {
	return first == syscall.SIGTERM && second == syscall.SIGTERM && gap < time.Second
}

// signals returns a context cancelled by the first SIGINT/SIGTERM (stop
// taking work) and one cancelled by the second, or grace after the first
// (abort transfers in flight; state stays consistent).
//
// A non-zero deadline (limits.duration's end) stops the run as the first
// signal does, and aborts it grace after: whatever the size of the objects
// in flight, the process ends within grace of its deadline.
func (c *cli) signals(grace time.Duration, deadline time.Time) (stop, abort context.Context, done func()) {
	base, endDeadline := context.Background(), func() {}
	abortCtx, abortFn := context.WithCancel(context.Background())
	var abortTimer *time.Timer
	if !deadline.IsZero() {
		base, endDeadline = context.WithDeadlineCause(base, deadline, apply.ErrDuration)
		abortTimer = time.AfterFunc(time.Until(deadline)+grace, abortFn)
	}
	stopCtx, stopFn := context.WithCancel(base)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		var first os.Signal
		var firstAt time.Time
		for {
			select {
			case sig := <-ch:
				switch {
				case first == nil:
					first, firstAt = sig, time.Now()
					fmt.Fprintf(c.stderr, "\n%s received: finishing the objects in flight (for up to %s), then stopping. Send it again to abort at once.\n", sig, grace)
					stopFn()
					time.AfterFunc(grace, abortFn)
				case sameStopRequest(first, sig, time.Since(firstAt)):
				default:
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
		if abortTimer != nil {
			abortTimer.Stop()
		}
		endDeadline()
		signal.Stop(ch)
		close(quit)
		stopFn()
		abortFn()
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func defaultConfig() string {
	if p := os.Getenv("SYNCER_CONFIG"); p != "" {
		return p
	}
	return "syncer.hcl"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
