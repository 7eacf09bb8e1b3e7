package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"syncer/backends"
	"syncer/config"
	"syncer/plan"
	"syncer/state"
)

type openFunc = plan.Opener

// cacheDir is where remote states' working copies live:
// $SYNCER_CACHE_DIR, or the user cache folder's syncer/.
func cacheDir() (string, error) {
	if d := os.Getenv("SYNCER_CACHE_DIR"); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no folder for the remote state's working copy: set SYNCER_CACHE_DIR (%w)", err)
	}
	return filepath.Join(d, "syncer"), nil
}

// conditionalStore opens the remote state's backend.
func conditionalStore(cfg *config.Config, open openFunc) (backends.ConditionalStore, error) {
	be, err := open(cfg.State.Backend)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	cs, ok := be.(backends.ConditionalStore)
	if !ok {
		return nil, fmt.Errorf("state: %s cannot hold remote state: it has no conditional writes", cfg.State.Backend.Addr())
	}
	return cs, nil
}

func remoteOptions(cfg *config.Config, op string, timeout time.Duration) (state.RemoteOptions, error) {
	dir, err := cacheDir()
	if err != nil {
		return state.RemoteOptions{}, err
	}
	return state.RemoteOptions{
		Key: cfg.State.Key, CacheDir: filepath.Join(dir, "state"), Operation: op, Version: version,
		LockTTL: cfg.State.LockTTL, LockTimeout: timeout,
	}, nil
}

// openRemoteState takes the remote state's lock and downloads it.
func (c *cli) openRemoteState(ctx context.Context, cfg *config.Config, open openFunc, op string, timeout time.Duration) (*stateHandle, int) {
	cs, err := conditionalStore(cfg, open)
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	opts, err := remoteOptions(cfg, op, timeout)
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	opts.Log = c.log
	r, err := state.OpenRemote(ctx, cs, opts)
	if err != nil {
		return nil, c.lockFailed(ctx, err)
	}
	c.log.Debug("remote state opened", "state", r.Where(), "lock_id", r.LockID(), "existed", r.Existed())
	// No state object yet: a plan saved now records no lineage (the
	// first apply makes the state), as with a local state (noState).
	return &stateHandle{st: r.Store(), remote: r, none: !r.Existed(), close: func() { r.Close(context.Background()) }}, exitOK
}

// checkpoints uploads r every `every` until the returned func is called
// (a no-op without remote state). A failed upload is logged and tried
// again at the next tick; a lost lock stops the run through r.Lost.
func (c *cli) checkpoints(r *state.Remote, every time.Duration) (stop func()) {
	if r == nil || every <= 0 {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-r.Lost():
				return
			case <-t.C:
				if up, err := r.Checkpoint(context.Background()); err != nil {
					if r.Err() != nil {
						c.log.Error("state checkpoint failed; stopping", "error", err)
						return
					}
					c.log.Warn("state checkpoint failed; trying again at the next", "error", err)
				} else if up {
					c.log.Info("state checkpoint uploaded", "state", r.Where())
				}
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// readState opens the configured state for reading: the local file, or a
// downloaded copy of the remote one (without the lock). A missing state is
// an error wrapping state.ErrNoState or state.ErrNoRemoteState. held
// reports whether a live process holds the lock.
func (c *cli) readState(ctx context.Context, cfg *config.Config) (st *state.Store, held func() bool, done func(), err error) {
	if !cfg.State.Remote() {
		st, err := state.Open(ctx, cfg.State.Path, false)
		if err != nil {
			return nil, nil, nil, err
		}
		return st, func() bool { h, _ := st.Held(); return h }, func() { st.Close() }, nil
	}
	cs, err := conditionalStore(cfg, c.newOpener(cfg).Open)
	if err != nil {
		return nil, nil, nil, err
	}
	dir, err := cacheDir()
	if err != nil {
		return nil, nil, nil, err
	}
	st, done, err = state.ReadRemote(ctx, cs, cfg.State.Key, filepath.Join(dir, "state"))
	if err != nil {
		return nil, nil, nil, err
	}
	held = func() bool { h, err := state.RemoteLockHolder(ctx, cs, cfg.State.Key); return err == nil && h != nil }
	return st, held, done, nil
}

func isNoState(err error) bool {
	return errors.Is(err, state.ErrNoState) || errors.Is(err, state.ErrNoRemoteState)
}

// remoteOnly loads the config of a command that needs remote state.
func (c *cli) remoteOnly(co *common, cmd string) (*config.Config, backends.ConditionalStore, bool) {
	cfg, ok := c.loadConfig(co)
	if !ok {
		return nil, nil, false
	}
	if !cfg.State.Remote() {
		fmt.Fprintf(c.stderr, "Error: syncer %s works on remote state (state { backend = ... key = ... }); this configuration's state is the local file %s", cmd, cfg.State.Path)
		if cmd == "force-unlock" {
			fmt.Fprint(c.stderr, ", whose lock is released by the system when its holder exits")
		}
		fmt.Fprintln(c.stderr, ".")
		return nil, nil, false
	}
	cs, err := conditionalStore(cfg, c.newOpener(cfg).Open)
	if err != nil {
		c.fail(context.Background(), err)
		return nil, nil, false
	}
	return cfg, cs, true
}

// statePull streams the remote state object to stdout.
func (c *cli) statePull(args []string) int {
	fs := c.flags("state pull", "> FILE")
	var co common
	co.register(fs, false)
	if !c.parse(fs, args, 0) {
		return exitError
	}
	cfg, cs, ok := c.remoteOnly(&co, "state pull")
	if !ok {
		return exitError
	}
	ctx := context.Background()
	w := bufio.NewWriterSize(c.stdout, 1<<20)
	if err := state.Pull(ctx, cs, cfg.State.Key, w); err != nil {
		return c.fail(ctx, err)
	}
	if err := w.Flush(); err != nil {
		return c.fail(ctx, fmt.Errorf("write the state to standard output: %w", err))
	}
	return exitOK
}

// statePush replaces the remote state with a local state file.
func (c *cli) statePush(args []string) int {
	fs := c.flags("state push", "FILE")
	var co common
	co.register(fs, false)
	force := fs.Bool("force", false, "push a state of another lineage, or an older serial")
	lockTimeout := fs.Duration("lock-timeout", 0, "wait this long for the state lock")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError
	}
	if !c.nonNegative("lock-timeout", *lockTimeout) {
		return exitError
	}
	cfg, cs, ok := c.remoteOnly(&co, "state push")
	if !ok {
		return exitError
	}
	ctx := context.Background()
	opts, err := remoteOptions(cfg, "push", *lockTimeout)
	if err != nil {
		return c.fail(ctx, err)
	}
	opts.Log = c.log
	res, err := state.Push(ctx, cs, fs.Arg(0), state.PushOptions{RemoteOptions: opts, Force: *force})
	if err != nil {
		return c.lockFailed(ctx, err)
	}
	if res.Existed {
		fmt.Fprintf(c.stdout, "Pushed %s (lineage %s, serial %d) to %s, replacing lineage %s, serial %d.\n",
			fs.Arg(0), res.From.Lineage, res.From.Serial, cfg.State.Where(), res.To.Lineage, res.To.Serial)
	} else {
		fmt.Fprintf(c.stdout, "Pushed %s (lineage %s, serial %d) to %s.\n", fs.Arg(0), res.From.Lineage, res.From.Serial, cfg.State.Where())
	}
	return exitOK
}

// forceUnlock removes the remote state's lock by its ID.
func (c *cli) forceUnlock(args []string) int {
	fs := c.flags("force-unlock", "LOCK_ID")
	var co common
	co.register(fs, false)
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError
	}
	cfg, cs, ok := c.remoteOnly(&co, "force-unlock")
	if !ok {
		return exitError
	}
	ctx := context.Background()
	holder, err := state.ForceUnlock(ctx, cs, cfg.State.Key, fs.Arg(0))
	if err != nil {
		return c.fail(ctx, err)
	}
	fmt.Fprintf(c.stdout, "Removed the lock on %s: %s.\n", cfg.State.Where(), holder)
	return exitOK
}
