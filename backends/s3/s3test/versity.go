// Package s3test runs S3 servers for tests: versitygw (a real
// S3-compatible server, started as a child process on 127.0.0.1), the
// in-process gofakes3, a proxy that counts requests and injects faults, and
// an in-memory upload journal.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersityVersion is the versitygw release the tests run against.
const VersityVersion = "v1.8.0"

// EnvBinary names the environment variable that points at the versitygw
// binary; scripts/s3-server.sh install prints the path to use.
const EnvBinary = "SYNCER_VERSITYGW"

// CachePath returns where scripts/s3-server.sh installs versitygw:
// ${XDG_CACHE_HOME:-$HOME/.cache}/syncer/versitygw-v1.8.0/versitygw.
func CachePath() string {
	dir := os.Getenv("XDG_CACHE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".cache")
	}
	return filepath.Join(dir, "syncer", "versitygw-"+VersityVersion, "versitygw")
}

// VersityBinary returns the versitygw binary to run: $SYNCER_VERSITYGW if
// set, else CachePath() if it exists, else "".
func VersityBinary() string {
	if p := os.Getenv(EnvBinary); p != "" {
		return p
	}
	if p := CachePath(); p != "" {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// InCI reports whether the tests run in CI (CI set to anything but
// "", "0" or "false"), where a missing server is a failure, not a skip.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "0" && v != "false"
}

// Server is one running S3 server.
type Server struct {
	Endpoint  string // e.g. http://127.0.0.1:40123
	AccessKey string
	SecretKey string
	CAFile    string // PEM of the self-signed certificate when TLS, else ""
	Dir       string // data and log folder

	proc *process // nil for servers not started here; shared by copies
}

type process struct {
	cmd     *exec.Cmd
	log     *os.File
	done    chan struct{}
	waitErr error
	once    sync.Once
}

// VersityOptions configures StartVersity.
type VersityOptions struct {
	AccessKey, SecretKey string // default testkey/testsecret
	TLS                  bool   // serve HTTPS with a fresh self-signed certificate
}

// StartVersity starts versitygw (bin) with a posix store in dir/data on a
// free 127.0.0.1 port, and returns once a real PutObject succeeds.
func StartVersity(ctx context.Context, bin, dir string, opts VersityOptions) (*Server, error) {
	if opts.AccessKey == "" {
		opts.AccessKey, opts.SecretKey = "testkey", "testsecret"
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for try := 0; try < 3; try++ {
		s, err := startVersity(ctx, bin, dir, data, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startVersity(ctx context.Context, bin, dir, data string, opts VersityOptions) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &Server{AccessKey: opts.AccessKey, SecretKey: opts.SecretKey, Dir: dir}
	pr := &process{done: make(chan struct{})}
	s.proc = pr
	args := []string{"--port", addr}
	scheme := "http"
	if opts.TLS {
		cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := WriteSelfSignedCert(cert, key); err != nil {
			return nil, err
		}
		args = append(args, "--cert", cert, "--key", key)
		s.CAFile = cert
		scheme = "https"
	}
	args = append(args, "posix", data)
	s.Endpoint = scheme + "://" + addr
	pr.log, err = os.OpenFile(filepath.Join(dir, "versitygw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	pr.cmd = exec.Command(bin, args...)
	pr.cmd.Env = append(cleanEnv(), "ROOT_ACCESS_KEY="+opts.AccessKey, "ROOT_SECRET_KEY="+opts.SecretKey)
	pr.cmd.Stdout, pr.cmd.Stderr = pr.log, pr.log
	setProcAttr(pr.cmd)
	if err := pr.cmd.Start(); err != nil {
		pr.log.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		pr.waitErr = pr.cmd.Wait()
		close(pr.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Close()
		logText, _ := os.ReadFile(pr.log.Name())
		return nil, fmt.Errorf("versitygw on %s: %w\nlog:\n%s", addr, err, tail(logText, 2000))
	}
	return s, nil
}

// cleanEnv is the environment without settings that would change how
// versitygw runs.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "VGW_") || strings.HasPrefix(kv, "ROOT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until a bucket can be created and an object written.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := s.Client()
	if err != nil {
		return err
	}
	for {
		err := func() error {
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			defer acancel()
			if err := createBucket(actx, c, "syncer-ready"); err != nil {
				return err
			}
			_, err := c.PutObject(actx, &s3.PutObjectInput{
				Bucket: aws.String("syncer-ready"), Key: aws.String("ready"),
				Body: bytes.NewReader([]byte("ok")), ContentLength: aws.Int64(2),
			})
			return err
		}()
		if err == nil {
			return nil
		}
		var exited chan struct{}
		if s.proc != nil {
			exited = s.proc.done
		}
		select {
		case <-exited:
			return fmt.Errorf("exited: %v", s.proc.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops the server and waits for it to exit.
func (s *Server) Close() error {
	pr := s.proc
	if pr == nil {
		return nil
	}
	pr.once.Do(func() {
		if pr.cmd != nil && pr.cmd.Process != nil {
			pr.cmd.Process.Signal(os.Interrupt)
			select {
			case <-pr.done:
			case <-time.After(5 * time.Second):
				pr.cmd.Process.Kill()
				<-pr.done
			}
		}
		if pr.log != nil {
			pr.log.Close()
		}
	})
	return nil
}

// Client returns a raw SDK client for the server (path style, static keys,
// the server's CA when TLS), for test set-up and inspection.
func (s *Server) Client() (*s3.Client, error) {
	return NewClient(s.Endpoint, s.AccessKey, s.SecretKey, s.CAFile)
}

// CreateBucket creates a bucket; an existing one is fine.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	return createBucket(ctx, c, name)
}

func createBucket(ctx context.Context, c *s3.Client, name string) error {
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned interface{ ErrorCode() string }
	if err != nil && errors.As(err, &owned) {
		switch owned.ErrorCode() {
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			return nil
		}
	}
	return err
}

// NewClient returns a path-style SDK client for endpoint with static keys,
// trusting caFile (PEM) in addition to the system roots when given.
func NewClient(endpoint, key, secret, caFile string) (*s3.Client, error) {
	var hc *http.Client
	if caFile != "" {
		tr, err := transportWithCA(caFile)
		if err != nil {
			return nil, err
		}
		hc = &http.Client{Transport: tr}
	}
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, ""),
		HTTPClient:   httpClientOrDefault(hc),
		// Raw clients are for set-up and inspection: plain requests.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}), nil
}

func httpClientOrDefault(hc *http.Client) s3.HTTPClient {
	if hc == nil {
		return http.DefaultClient
	}
	return hc
}

// Env is the set of servers the S3 tests use: two plain-HTTP servers with
// different keys (two "accounts" that cannot see each other's buckets) and
// one TLS server with a self-signed certificate.
type Env struct {
	A, B, TLS *Server
}

// StartEnv starts the three servers under dir.
func StartEnv(ctx context.Context, bin, dir string) (*Env, error) {
	e := &Env{}
	var err error
	if e.A, err = StartVersity(ctx, bin, filepath.Join(dir, "a"), VersityOptions{AccessKey: "keyA", SecretKey: "secretA"}); err != nil {
		return nil, err
	}
	if e.B, err = StartVersity(ctx, bin, filepath.Join(dir, "b"), VersityOptions{AccessKey: "keyB", SecretKey: "secretB"}); err != nil {
		e.Close()
		return nil, err
	}
	if e.TLS, err = StartVersity(ctx, bin, filepath.Join(dir, "tls"), VersityOptions{AccessKey: "keyT", SecretKey: "secretT", TLS: true}); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close stops every server.
func (e *Env) Close() {
	for _, s := range []*Server{e.A, e.B, e.TLS} {
		if s != nil {
			s.Close()
		}
	}
}
