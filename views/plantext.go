package views

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"

	"syncer/config"
	"syncer/plan"
	"syncer/views/display"
)

// SummaryLine is the closing line of a plan. Keys that cannot be written,
// and archived objects, are counted only when there are some.
func SummaryLine(s plan.Summary) string {
	if !s.Shown() {
		return "No changes."
	}
	skips := ""
	if s.Adopt > 0 {
		skips = fmt.Sprintf(", %d to adopt", s.Adopt)
	}
	if s.Skip > 0 {
		skips += fmt.Sprintf(", %d cannot be written", s.Skip)
	}
	if s.Restore > 0 {
		skips += fmt.Sprintf(", %d to restore", s.Restore)
	}
	if s.Archived > 0 {
		skips += fmt.Sprintf(", %d archived, skipped", s.Archived)
	}
	if s.ArchivedFail > 0 {
		skips += fmt.Sprintf(", %d archived, failing", s.ArchivedFail)
	}
	if s.Excluded > 0 {
		skips += fmt.Sprintf(", %s excluded by filters", display.Count(s.Excluded))
	}
	return fmt.Sprintf("Plan: %d to create, %d to update, %d to delete%s (%s to transfer).",
		s.Create, s.Update, s.Delete, skips, display.Bytes(s.Bytes))
}

// shown are the kinds a plan shows, one line each.
var shown = []plan.Kind{plan.Create, plan.Update, plan.Delete, plan.Adopt, plan.Skip, plan.Archived, plan.Restore}

// PlanText renders the plan p as Terraform does: one `+`, `~` or `-` line per
// key (`!` for one that cannot be written), at most limit lines per sync (0:
// no limit) followed by a count of the rest, then the summary line. Output
// is buffered (a write per line costs a system call per key) and flushed
// before it returns.
func PlanText(ctx context.Context, out io.Writer, p *plan.Plan, cfg *config.Config, limit int) error {
	w := bufio.NewWriter(out)
	err := writePlanText(ctx, w, p, cfg, limit)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return err
}

func writePlanText(ctx context.Context, w io.Writer, p *plan.Plan, cfg *config.Config, limit int) error {
	sum, err := p.Summary(ctx)
	if err != nil {
		return err
	}
	switch {
	case sum.Changes():
		fmt.Fprintln(w, "syncer will perform the following actions:")
	case !sum.Shown():
		excl := ""
		if sum.Excluded > 0 {
			excl = fmt.Sprintf(" (%s excluded by filters)", display.Count(sum.Excluded))
		}
		_, err := fmt.Fprintf(w, "No changes. The destinations match the configuration%s.\n", excl)
		return err
	case sum.Archived+sum.ArchivedFail == 0:
		fmt.Fprintln(w, "No changes, but some source keys cannot be written to their destination:")
	default:
		fmt.Fprintln(w, "No changes, but some source objects cannot be copied:")
	}
	syncs, err := p.Syncs(ctx)
	if err != nil {
		return err
	}
	for _, name := range syncs {
		ss, err := p.SyncSummary(ctx, name)
		if err != nil {
			return err
		}
		if !ss.Shown() {
			continue
		}
		fmt.Fprintln(w)
		header := fmt.Sprintf("sync %q", name)
		backup := false // the sync saves what it overwrites or deletes
		if cfg != nil {
			if i := slices.IndexFunc(cfg.Syncs, func(s *config.Sync) bool { return s.Name == name }); i >= 0 {
				header += fmt.Sprintf(": %s -> %s", cfg.Syncs[i].From.Addr(), cfg.Syncs[i].To.Addr())
				backup = cfg.Syncs[i].Backup != nil && !cfg.Syncs[i].Immutable
			}
		}
		fmt.Fprintf(w, "  # %s\n", header)
		lines := 0
		var line []byte // reused: a million lines, no garbage per line
		err = p.EachLine(ctx, name, shown, func(a plan.Line) error {
			if limit > 0 && lines >= limit {
				return plan.Stop
			}
			lines++
			line = appendAll(line[:0], "  ", a.Kind.Symbol(), " ", display.Key(a.Key))
			size := "size unknown" // e.g. a Google Doc before its export
			if a.Size >= 0 {
				size = display.Bytes(a.Size)
			}
			switch a.Kind {
			case plan.Create:
				line = appendAll(line, " (", size, ")")
			case plan.Update:
				line = appendAll(line, " (", size, ", ", a.Reason, ")")
			case plan.Adopt, plan.Skip, plan.Archived, plan.Restore:
				line = appendAll(line, " (", a.Reason, ")")
			}
			if backup && (a.Kind == plan.Update || a.Kind == plan.Delete) {
				line = append(line, " (backup first)"...)
			}
			_, err := w.Write(append(line, '\n'))
			return err
		})
		if err != nil {
			return err
		}
		if rest := ss.Create + ss.Update + ss.Delete + ss.Adopt + ss.Skip + ss.Archived + ss.ArchivedFail + ss.Restore - int64(lines); rest > 0 {
			fmt.Fprintf(w, "  ... and %d more\n", rest)
		}
	}
	fmt.Fprintln(w)
	_, err = fmt.Fprintln(w, SummaryLine(sum))
	return err
}

// appendAll appends each of parts to b.
func appendAll(b []byte, parts ...string) []byte {
	for _, s := range parts {
		b = append(b, s...)
	}
	return b
}
