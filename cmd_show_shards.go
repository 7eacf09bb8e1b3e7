package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"syncer/config"
	"syncer/shard"
	"syncer/state"
	"syncer/views"
	"syncer/views/display"
)

// shardStatus is what show -shards reports of one shard.
type shardStatus struct {
	Shard   string // "I/N"
	State   string // where its state lives
	Exists  bool
	Objects int64
	Bytes   int64
	Syncs   []state.SyncSummary
	LastRun *state.Run
	// Status: "no state", "running", "did not finish", or the last run's
	// outcome (complete, partial, interrupted, failed).
	Status string
	Lock   *state.LockInfo // the holder, when locked
	Locked bool
}

// showShards sums the states of shards 0..n-1 of the configured state.
// Shards are read one at a time: a few SQLite queries (and, for a remote
// state, one download) each.
func (c *cli) showShards(ctx context.Context, cfg *config.Config, base config.State, n int, asJSON bool) int {
	if n < 1 || n > shard.MaxCount {
		c.errorf("-shards %d: the number of shards must be from 1 to %d", n, shard.MaxCount)
		return exitError
	}
	var all []shardStatus
	totals := map[string]*state.SyncSummary{}
	var objects, bytes int64
	var unfinished, locked []string
	for i := range n {
		sh := shard.Shard{Index: i, Count: n}
		s, err := c.readShard(ctx, cfg, base, sh)
		if err != nil {
			return c.fail(ctx, fmt.Errorf("shard %s: %w", sh, err))
		}
		all = append(all, s)
		objects += s.Objects
		bytes += s.Bytes
		for _, ss := range s.Syncs {
			t := totals[ss.Sync]
			if t == nil {
				t = &state.SyncSummary{Sync: ss.Sync}
				totals[ss.Sync] = t
			}
			t.Objects += ss.Objects
			t.Bytes += ss.Bytes
			if ss.Last.After(t.Last) {
				t.Last = ss.Last
			}
		}
		if s.Status != "complete" {
			unfinished = append(unfinished, s.Shard)
		}
		if s.Locked {
			locked = append(locked, s.Shard)
		}
	}
	var syncs []state.SyncSummary
	for _, t := range totals {
		syncs = append(syncs, *t)
	}
	slices.SortFunc(syncs, func(a, b state.SyncSummary) int { return strings.Compare(a.Sync, b.Sync) })
	if asJSON {
		doc := &views.Shards{Shards: n, Objects: objects, Bytes: bytes, Syncs: viewSyncs(syncs),
			Unfinished: nonNil(unfinished), Locked: nonNil(locked), PerShard: make([]views.Shard, 0, len(all))}
		for _, s := range all {
			v := views.Shard{Shard: s.Shard, State: s.State, Exists: s.Exists, Objects: s.Objects, Bytes: s.Bytes,
				Syncs: viewSyncs(s.Syncs), LastRun: viewRun(s.LastRun), Status: s.Status, Locked: s.Locked}
			if l := s.Lock; l != nil {
				v.Lock = &views.Lock{ID: l.ID, Operation: l.Operation, Host: l.Host, PID: l.PID, Pod: l.Pod, Version: l.Version, Started: views.Time(l.Started)}
			}
			doc.PerShard = append(doc.PerShard, v)
		}
		c.jsonOut().Write(doc)
		return exitOK
	}
	pattern, first := base, shard.Shard{Index: 0, Count: n}
	pattern.Path, pattern.Key = first.Name(base.Path), first.Name(base.Key)
	fmt.Fprintf(c.stdout, "State of %d shards: %s\n", n, strings.Replace(pattern.Where(), ".shard-0-of-", ".shard-I-of-", 1))
	fmt.Fprintf(c.stdout, "  %d objects, %s in all\n", objects, display.Bytes(bytes))
	for _, s := range syncs {
		fmt.Fprintf(c.stdout, "  sync %q: %d objects, %s, last written %s\n", s.Sync, s.Objects, display.Bytes(s.Bytes), s.Last.Format(time.RFC3339))
	}
	for _, s := range all {
		line := fmt.Sprintf("  shard %s: %d objects, %s; ", s.Shard, s.Objects, display.Bytes(s.Bytes))
		switch r := s.LastRun; {
		case !s.Exists && !s.Locked:
			line += "no state yet: never applied"
		case s.Status == "running":
			line += "running now"
		case s.Status == "did not finish":
			line += fmt.Sprintf("last %s started at %s and did not finish (its process is gone)", r.Operation, r.Started.Format(time.RFC3339))
		case r != nil:
			line += fmt.Sprintf("last %s %s at %s (%d copied, %d deleted, %d failed)", r.Operation, r.Status,
				r.Started.Format(time.RFC3339), r.Copied, r.Deleted, r.Failed)
		default:
			line += "no run recorded"
		}
		if s.Lock != nil {
			line += "; locked by " + s.Lock.String()
		} else if s.Locked {
			line += "; locked"
		}
		fmt.Fprintln(c.stdout, line)
	}
	if len(unfinished) == 0 {
		fmt.Fprintln(c.stdout, "  every shard finished its last apply")
	} else {
		fmt.Fprintf(c.stdout, "  not finished: %s\n", strings.Join(unfinished, ", "))
	}
	if len(locked) > 0 {
		fmt.Fprintf(c.stdout, "  locked: %s\n", strings.Join(locked, ", "))
	}
	return exitOK
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// readShard reads one shard's state and lock, without taking the lock.
func (c *cli) readShard(ctx context.Context, cfg *config.Config, base config.State, sh shard.Shard) (shardStatus, error) {
	one := *cfg
	one.State = base
	one.State.Path = sh.Name(base.Path)
	one.State.Key = sh.Name(base.Key)
	s := shardStatus{Shard: sh.String(), State: one.State.Where(), Syncs: []state.SyncSummary{}}
	if one.State.Remote() {
		// A first run holds the lock before any state is uploaded.
		cs, err := conditionalStore(&one, c.newOpener(&one).Open)
		if err != nil {
			return s, err
		}
		if s.Lock, err = state.RemoteLockHolder(ctx, cs, one.State.Key); err != nil {
			return s, err
		}
		s.Locked = s.Lock != nil
	}
	st, held, done, err := c.readState(ctx, &one)
	if isNoState(err) {
		s.Status = "no state"
		if s.Locked {
			s.Status = "running"
		}
		return s, nil
	}
	if err != nil {
		return s, err
	}
	defer done()
	s.Exists = true
	if !one.State.Remote() {
		s.Locked = held()
	}
	if s.Syncs, err = st.Summary(ctx); err != nil {
		return s, err
	}
	if s.Syncs == nil {
		s.Syncs = []state.SyncSummary{}
	}
	for _, ss := range s.Syncs {
		s.Objects += ss.Objects
		s.Bytes += ss.Bytes
	}
	if s.LastRun, err = st.LastRun(ctx); err != nil {
		return s, err
	}
	switch r := s.LastRun; {
	case s.Locked:
		s.Status = "running"
	case r == nil:
		s.Status = "no run recorded"
	case r.Status == "running":
		s.Status = "did not finish"
	default:
		s.Status = r.Status
	}
	return s, nil
}
