package main

import (
	"fmt"
	"strings"
	"time"

	"syncer/backends"
	"syncer/config"
	"syncer/plan"
	"syncer/views"
	"syncer/views/display"
)

// check compares sources and destinations without the state, as
// `rclone check`: exit 0 when they match, 2 when they differ.
func (c *cli) check(args []string) int {
	fs := c.flags("check", "")
	var co common
	co.register(fs, true)
	download := fs.Bool("download", false, "hash by reading what cannot be compared otherwise")
	asJSON := fs.Bool("json", false, "print JSON lines")
	if !c.parse(fs, args, 0) {
		return exitError
	}
	cfg, ok := c.loadConfigAs(&co, *asJSON)
	if !ok {
		return exitError
	}
	c.setMemoryLimit(cfg.Limits.Memory)
	stop, _, done := c.signals(0, time.Time{})
	defer done()
	syncs, err := plan.Targets(cfg, co.targets)
	if err != nil {
		return c.fail(stop, err)
	}
	current := ""
	report := func(l plan.CheckLine) error {
		if *asJSON {
			return c.view.Write(&views.CheckDifference{Sync: l.Sync, Key: l.Key, Kind: string(l.Kind), Detail: l.Detail})
		}
		if l.Sync != current {
			current = l.Sync
			fmt.Fprintf(c.stdout, "sync %q:\n", l.Sync)
		}
		_, err := fmt.Fprintf(c.stdout, "  %s %s (%s)\n", checkMark[l.Kind], display.Key(l.Key), checkWords(l))
		return err
	}
	sums, err := plan.Check(stop, syncs, c.newOpener(cfg).Open, plan.CheckOptions{Download: *download, Log: c.log}, report)
	if err != nil {
		return c.fail(stop, err)
	}
	var total plan.CheckSummary
	for _, s := range sums {
		total.OnlySource += s.OnlySource
		total.OnlyDestination += s.OnlyDestination
		total.Differ += s.Differ
		total.Match += s.Match
		total.NotHashed += s.NotHashed
		if *asJSON {
			c.view.Write(&views.CheckSummary{Sync: s.Sync, OnlyInSource: s.OnlySource, OnlyInDestination: s.OnlyDestination,
				Differ: s.Differ, Match: s.Match, NotHashed: s.NotHashed})
		}
	}
	if !*asJSON {
		msg := "Check: the destinations match their sources"
		if n := total.Differences(); n > 0 {
			msg = fmt.Sprintf("Check: %d differences (%d only in a source, %d only in a destination, %d differing)",
				n, total.OnlySource, total.OnlyDestination, total.Differ)
		}
		fmt.Fprintf(c.stdout, "%s; %d matching.\n", msg, total.Match+total.NotHashed)
		if total.NotHashed > 0 {
			fmt.Fprintf(c.stdout, "%d of them (equal in size) were not compared by content: a side reports no hash. Run check -download to read and hash them.\n", total.NotHashed)
		}
	}
	if total.Differences() > 0 {
		return exitChanges
	}
	return exitOK
}

var checkMark = map[plan.CheckKind]string{
	plan.OnlySource: "+", plan.OnlyDestination: "-", plan.SizeDiffers: "~", plan.HashDiffers: "~",
}

func checkWords(l plan.CheckLine) string {
	switch l.Kind {
	case plan.OnlySource:
		return "only in source, " + l.Detail
	case plan.OnlyDestination:
		return "only in destination, " + l.Detail
	case plan.SizeDiffers:
		return "size differs: " + l.Detail
	}
	return "content differs: " + l.Detail
}

// ls lists a configured backend's objects, streaming, as `rclone lsl`.
func (c *cli) ls(args []string) int {
	fs := c.flags("ls", "BACKEND [PREFIX]")
	var co common
	co.register(fs, false)
	asJSON := fs.Bool("json", false, "print JSON lines")
	if !c.parseFlags(fs, args) {
		return exitError
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		fs.Usage()
		return exitError
	}
	cfg, ok := c.loadConfigAs(&co, *asJSON)
	if !ok {
		return exitError
	}
	b, err := findBackend(cfg, fs.Arg(0))
	if err != nil {
		c.errorf("%v", err)
		return exitError
	}
	prefix := fs.Arg(1)
	if prefix != "" {
		if err := config.CheckPrefix(prefix); err != nil {
			c.errorf("prefix %q %v", prefix, err)
			return exitError
		}
	}
	stop, _, done := c.signals(0, time.Time{})
	defer done()
	be, err := c.newOpener(cfg).Open(b)
	if err != nil {
		return c.fail(stop, err)
	}
	err = be.List(stop, prefix, func(o backends.Object) error {
		if *asJSON {
			return c.view.Write(&views.Object{Key: o.Key, Size: o.Size, MTime: views.Time(o.ModTime), MD5: o.Hash(backends.MD5)})
		}
		when := "-" // fixed width, so that columns line up
		if !o.ModTime.IsZero() {
			when = o.ModTime.UTC().Format("2006-01-02T15:04:05.000000000Z")
		}
		_, err := fmt.Fprintf(c.stdout, "%12d  %-30s  %s\n", o.Size, when, display.Key(o.Key))
		return err
	})
	if err != nil {
		return c.fail(stop, err)
	}
	return exitOK
}

// findBackend resolves "backend.TYPE.NAME", "TYPE.NAME" or a NAME that only
// one backend has.
func findBackend(cfg *config.Config, ref string) (*config.Backend, error) {
	ref = strings.TrimPrefix(ref, "backend.")
	var found []*config.Backend
	for _, b := range cfg.Backends {
		if ref == b.Type+"."+b.Name || ref == b.Name {
			found = append(found, b)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		var names []string
		for _, b := range cfg.Backends {
			names = append(names, b.Addr())
		}
		return nil, fmt.Errorf("no backend %q in %s (it has %s)", ref, cfg.Path, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("%q names more than one backend; write backend.TYPE.NAME", ref)
}
