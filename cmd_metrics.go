package main

import (
	"context"
	"flag"

	"syncer/config"
	"syncer/metrics"
	"syncer/plan"
)

// metricsFlags are plan's and apply's -metrics-addr and -metrics-push.
type metricsFlags struct {
	addr, push string
}

func (m *metricsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.addr, "metrics-addr", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics while the run goes on")
	fs.StringVar(&m.push, "metrics-push", "", "push the metrics to the Prometheus Pushgateway at `URL` every 30 s and at the end (job syncer, grouped by shard)")
}

// runMetrics is a run's metrics with their server and pusher.
type runMetrics struct {
	*metrics.Run
	stopServe func()
	push      func() error
}

// startMetrics starts what the flags ask for; nil when neither is set.
func (c *cli) startMetrics(m metricsFlags, operation string) (*runMetrics, error) {
	if m.addr == "" && m.push == "" {
		return nil, nil
	}
	rm := &runMetrics{Run: metrics.New(operation)}
	if m.addr != "" {
		stop, err := rm.Serve(m.addr, c.log)
		if err != nil {
			return nil, err
		}
		rm.stopServe = stop
	}
	if m.push != "" {
		shard := ""
		if c.shard.Sharded() {
			shard = c.shard.String()
		}
		push, err := rm.Push(m.push, "syncer", shard, c.log)
		if err != nil {
			if rm.stopServe != nil {
				rm.stopServe()
			}
			return nil, err
		}
		rm.push = push
	}
	return rm, nil
}

// planned records p's actions; nil-safe.
func (rm *runMetrics) planned(ctx context.Context, p *plan.Plan) {
	if rm != nil {
		rm.Planned(ctx, p)
	}
}

// finish records the outcome, pushes a last time and stops serving;
// nil-safe. A failed push is printed, not a failure of the run.
func (c *cli) finishMetrics(rm *runMetrics, code int) {
	if rm == nil {
		return
	}
	outcome := "failed"
	switch code {
	case exitOK, exitChanges:
		outcome = "complete"
	case exitPartial:
		outcome = "partial"
	case exitInterrupted:
		outcome = "interrupted"
	}
	rm.Finish(outcome)
	if rm.push != nil {
		if err := rm.push(); err != nil {
			c.warnf("%v", err)
		}
	}
	if rm.stopServe != nil {
		rm.stopServe()
	}
}

// opener is c.newOpener(cfg).Open, with the remote backends' requests
// and retries counted when the run has metrics.
func (c *cli) meteredOpener(cfg *config.Config, rm *runMetrics) plan.Opener {
	o := c.newOpener(cfg)
	if rm != nil {
		o.env.Requests, o.env.Retries = rm.RequestHook(), rm.RetryHook()
	}
	return o.Open
}

// listed is plan.Options.Listed for the run's metrics; nil without them.
func (rm *runMetrics) listed() func(sync, side string, n int64) {
	if rm == nil {
		return nil
	}
	return rm.Listed
}
