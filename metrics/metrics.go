// Package metrics exposes a run's Prometheus metrics: served at /metrics
// while plan or apply runs (-metrics-addr), and pushed to a Pushgateway
// (-metrics-push) every 30 s and at the end.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"

	"syncer/apply"
	"syncer/backends"
	"syncer/plan"
)

// Run holds one run's metrics in its own registry.
type Run struct {
	reg      *prometheus.Registry
	objects  *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	inflight prometheus.Gauge
	workers  prometheus.Gauge
	planned  *prometheus.GaugeVec
	start    prometheus.Gauge
	end      prometheus.Gauge
	outcome  *prometheus.GaugeVec
	requests *prometheus.CounterVec
	throttle *prometheus.CounterVec
	retries  *prometheus.CounterVec
	listed   *prometheus.GaugeVec
	addr     string // where Serve listens
}

// Addr is the address Serve listens on ("" before).
func (r *Run) Addr() string { return r.addr }

// outcomes are the values of syncer_run_outcome's label.
var outcomes = []string{"complete", "partial", "interrupted", "failed"}

// New registers the metrics of a run of operation (plan or apply).
func New(operation string) *Run {
	r := &Run{reg: prometheus.NewRegistry()}
	constLabels := prometheus.Labels{"operation": operation}
	r.objects = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncer_objects_total", Help: "Objects whose action finished, by sync and result (created, updated, deleted, adopted, forgotten, archived, restore_requested, failed, stopped).",
		ConstLabels: constLabels}, []string{"sync", "result"})
	r.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncer_bytes_total", Help: "Bytes transferred (read from sources, or copied server-side; a resumed upload counts only the parts sent), by sync and the result of the object's action.",
		ConstLabels: constLabels}, []string{"sync", "result"})
	r.inflight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "syncer_objects_in_flight", Help: "Actions started and not finished.", ConstLabels: constLabels})
	r.workers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "syncer_workers", Help: "Workers the apply runs (tuned or limits.workers).", ConstLabels: constLabels})
	r.planned = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "syncer_planned_objects", Help: "Actions of the plan, by sync and action.", ConstLabels: constLabels},
		[]string{"sync", "action"})
	r.start = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "syncer_run_start_time_seconds", Help: "When the run started, in Unix seconds.", ConstLabels: constLabels})
	r.end = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "syncer_run_end_time_seconds", Help: "When the run ended, in Unix seconds; 0 while it runs.", ConstLabels: constLabels})
	r.outcome = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "syncer_run_outcome", Help: "1 for the run's outcome (complete, partial, interrupted, failed) once it ended, else 0.", ConstLabels: constLabels},
		[]string{"outcome"})
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncer_backend_requests_total", Help: "HTTP requests sent to remote backends, each attempt of a retried one counted, by backend, API request (its operation) and HTTP status code (0: no response).",
		ConstLabels: constLabels}, []string{"backend", "request", "code"})
	r.throttle = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncer_backend_throttled_total", Help: "Requests a remote backend answered 429 or 503 (slow down; retried after a backoff), by backend and API request.",
		ConstLabels: constLabels}, []string{"backend", "request"})
	r.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "syncer_backend_retries_total", Help: "Retries of remote backends' requests (the SDK's and syncer's own: parts re-sent, downloads resumed), by backend and reason (throttled, server_error, timeout, idle_timeout, connection, other).",
		ConstLabels: constLabels}, []string{"backend", "reason"})
	r.listed = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "syncer_listed_objects", Help: "Objects listed by the plan, by sync and side (source, destination).", ConstLabels: constLabels},
		[]string{"sync", "side"})
	r.reg.MustRegister(r.objects, r.bytes, r.inflight, r.workers, r.planned, r.start, r.end, r.outcome, r.requests, r.throttle, r.retries, r.listed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r.start.SetToCurrentTime()
	for _, o := range outcomes {
		r.outcome.WithLabelValues(o)
	}
	return r
}

// RequestHook counts the remote backends' requests (see
// backends.RequestHook).
func (r *Run) RequestHook() backends.RequestHook {
	return func(backend, operation string, status int) {
		r.requests.WithLabelValues(backend, operation, strconv.Itoa(status)).Inc()
		if status == 429 || status == 503 {
			r.throttle.WithLabelValues(backend, operation).Inc()
		}
	}
}

// RetryHook counts the remote backends' retries (see backends.RetryHook).
func (r *Run) RetryHook() backends.RetryHook {
	return func(backend, reason string) { r.retries.WithLabelValues(backend, reason).Inc() }
}

// Listed records how many objects a plan listed on one side of a sync
// (see plan.Options.Listed).
func (r *Run) Listed(sync, side string, n int64) {
	r.listed.WithLabelValues(sync, side).Set(float64(n))
}

// Registry is the run's registry (for tests and extra collectors).
func (r *Run) Registry() *prometheus.Registry { return r.reg }

// Planned sets the planned actions of p, per sync.
func (r *Run) Planned(ctx context.Context, p *plan.Plan) error {
	syncs, err := p.Syncs(ctx)
	if err != nil {
		return err
	}
	for _, s := range syncs {
		sum, err := p.SyncSummary(ctx, s)
		if err != nil {
			return err
		}
		for action, n := range map[string]int64{"create": sum.Create, "update": sum.Update, "delete": sum.Delete,
			"adopt": sum.Adopt, "skip": sum.Skip, "archived": sum.Archived + sum.ArchivedFail, "restore": sum.Restore} {
			r.planned.WithLabelValues(s, action).Set(float64(n))
		}
	}
	return nil
}

// Finish records the run's end and outcome.
func (r *Run) Finish(outcome string) {
	r.end.SetToCurrentTime()
	for _, o := range outcomes {
		v := 0.0
		if o == outcome {
			v = 1
		}
		r.outcome.WithLabelValues(o).Set(v)
	}
}

// Observer counts apply's actions.
func (r *Run) Observer() apply.Observer { return observer{r} }

type observer struct{ r *Run }

func (o observer) RunStarted(r apply.RunInfo) { o.r.workers.Set(float64(r.Workers)) }
func (o observer) ObjectStarted(apply.Object) { o.r.inflight.Inc() }
func (o observer) Progress(apply.Progress)    {}

func (o observer) ObjectFinished(x apply.Object) {
	o.r.inflight.Dec()
	o.r.objects.WithLabelValues(x.Sync, string(x.Outcome)).Inc()
	if x.Transferred > 0 {
		o.r.bytes.WithLabelValues(x.Sync, string(x.Outcome)).Add(float64(x.Transferred))
	}
}

// Serve serves /metrics on addr until the returned stop is called. The
// listener is bound before Serve returns (a taken port is an error now);
// Addr then says where it listens.
func (r *Run) Serve(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", "err", err)
		}
	}()
	r.addr = ln.Addr().String()
	log.Info("serving metrics", "addr", "http://"+r.addr+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	}, nil
}

// PushEvery is how often Push sends the metrics while the run goes on.
const PushEvery = 30 * time.Second

// Push pushes the metrics to the Pushgateway at rawURL, grouped by job
// and shard ("" when not sharded: "all"), every PushEvery; the returned
// finish pushes a last time and stops. Failed pushes are logged. A user
// and password in the URL are sent as basic auth and never printed.
func (r *Run) Push(rawURL, job, shard string, log *slog.Logger) (finish func() error, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-metrics-push: want an http(s) URL of a Pushgateway, got %q", redact(rawURL))
	}
	user := u.User
	u.User = nil
	where := u.String()
	if shard == "" {
		shard = "all"
	}
	p := push.New(where, job).Gatherer(r.reg).Grouping("shard", shard)
	if user != nil {
		pw, _ := user.Password()
		p = p.BasicAuth(user.Username(), pw)
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(PushEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if err := p.Push(); err != nil {
					log.Warn("pushing metrics failed; trying again later", "url", where, "err", err)
				}
			}
		}
	})
	return func() error {
		close(quit)
		wg.Wait()
		if err := p.Push(); err != nil {
			return fmt.Errorf("pushing metrics to %s: %w", where, err)
		}
		return nil
	}, nil
}

// redact hides a URL's password.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	return raw
}
