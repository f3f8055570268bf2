package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/leptonmesh/lepton/internal/version"
)

// Client defaults.
const (
	// DefaultAddr is where an agent serves its API unless configured otherwise.
	DefaultAddr = "http://127.0.0.1:7948"
	// DefaultTimeout bounds one request, from dial to the last byte of the answer.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes bounds how much of an answer the client reads.
	DefaultMaxResponseBytes = 16 << 20
)

// Client talks to one agent's HTTP API. It is safe for concurrent use.
type Client struct {
	base     string // scheme://host[:port][/prefix], no trailing slash
	token    string
	http     *http.Client
	maxBytes int64
}

// Option tunes a Client.
type Option func(*Client)

// WithTimeout bounds each request; d <= 0 keeps DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.http.Timeout = d
		}
	}
}

// WithHTTPClient replaces the underlying http.Client, for example to trust a
// private CA on https. A zero Timeout in hc is replaced by DefaultTimeout so
// requests stay bounded.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc == nil {
			return
		}
		copied := *hc
		if copied.Timeout <= 0 {
			copied.Timeout = c.http.Timeout
		}
		c.http = &copied
	}
}

// WithMaxResponseBytes bounds how many bytes of an answer are read; n <= 0
// keeps DefaultMaxResponseBytes.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// NewClient returns a client for the agent API at addr, such as
// "http://127.0.0.1:7948". An address without a scheme ("127.0.0.1:7948")
// gets http://. A non-empty token is sent as "Authorization: Bearer TOKEN".
func NewClient(addr, token string, opts ...Option) (*Client, error) {
	base, err := normalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	token = strings.TrimSpace(token)
	for _, r := range token {
		if r < 0x21 || r > 0x7e {
			return nil, errors.New("API token contains spaces or control characters")
		}
	}
	c := &Client{
		base:     base,
		token:    token,
		http:     &http.Client{Timeout: DefaultTimeout},
		maxBytes: DefaultMaxResponseBytes,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

func normalizeAddr(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("agent address is empty")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("agent address %q is not a URL: %w", addr, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("agent address %q has scheme %q; use http:// or https://", addr, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("agent address %q has no host", addr)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("agent address %q must not have a query or fragment", addr)
	}
	return scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// Addr returns the agent's base URL as the client uses it.
func (c *Client) Addr() string { return c.base }

// Status returns the cluster as the agent sees it: leader, term and members.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.Do(ctx, http.MethodGet, "/v1/status", nil, &s)
	return s, err
}

// Members returns every member the agent knows, failed and left ones included.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var ms []Member
	err := c.Do(ctx, http.MethodGet, "/v1/members", nil, &ms)
	return ms, err
}

// RaftPeers returns the Raft configuration and the agent's log indexes.
func (c *Client) RaftPeers(ctx context.Context) (RaftPeers, error) {
	var p RaftPeers
	err := c.Do(ctx, http.MethodGet, "/v1/raft/peers", nil, &p)
	return p, err
}

// ForceLeave removes a failed member from the cluster and, when it was a Raft
// server, from the Raft configuration. The agent refuses (409) for a member
// that is alive and answers 404 for an unknown name.
func (c *Client) ForceLeave(ctx context.Context, name string) (ForceLeaveResult, error) {
	var r ForceLeaveResult
	if name == "" {
		return r, errors.New("force-leave needs a member name")
	}
	err := c.Do(ctx, http.MethodPost, "/v1/members/"+url.PathEscape(name)+"/force-leave", nil, &r)
	return r, err
}

// Version returns the agent's build version.
func (c *Client) Version(ctx context.Context) (Version, error) {
	var v Version
	err := c.Do(ctx, http.MethodGet, "/v1/version", nil, &v)
	return v, err
}

// Health returns whether the agent is ready: joined and knowing a leader.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.Do(ctx, http.MethodGet, "/v1/health", nil, &h)
	return h, err
}

// Do sends one request to path (which starts with "/"). A non-nil in is sent
// as a JSON body; a 2xx answer is decoded into out unless out is nil. A non-2xx
// answer gives *APIError; an agent that cannot be reached gives *UnreachableError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	return c.do(ctx, method, path, in, out, c.maxBytes)
}

// do is Do with its own bound on the answer's size, for the few answers
// (job reports) that may outgrow the client's default.
func (c *Client) do(ctx context.Context, method, path string, in, out any, maxBytes int64) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("API path %q must start with /", path)
	}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s request: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build %s %s request: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "lepton-client/"+version.Version)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		return &UnreachableError{Addr: c.base, Timeout: c.http.Timeout, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBytes+1))
	if err != nil {
		return fmt.Errorf("read %s %s response: %w", method, path, err)
	}
	if int64(len(data)) > maxBytes {
		return fmt.Errorf("%s %s: response larger than %d bytes", method, path, maxBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.apiError(resp.StatusCode, data)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode %s %s response: %w", method, path, err)
	}
	return nil
}

func (c *Client) apiError(code int, body []byte) *APIError {
	if code == http.StatusUnauthorized {
		if c.token == "" {
			return &APIError{StatusCode: code, Message: "the agent requires an API token: pass --token or set LEPTON_TOKEN"}
		}
		return &APIError{StatusCode: code, Message: "the API token was rejected: check --token or LEPTON_TOKEN"}
	}
	var e Error
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return &APIError{StatusCode: code, Message: e.Error}
	}
	msg := fmt.Sprintf("agent answered %d %s", code, http.StatusText(code))
	if snippet := strings.TrimSpace(string(body)); snippet != "" {
		if len(snippet) > 200 {
			snippet = snippet[:200] + "…"
		}
		msg += ": " + snippet
	}
	return &APIError{StatusCode: code, Message: msg}
}

// APIError is a non-2xx answer from the agent.
type APIError struct {
	StatusCode int    // HTTP status code
	Message    string // the server's "error" field, or a description of the answer
}

// Error returns the message, ready to show to an operator.
func (e *APIError) Error() string { return e.Message }

// UnreachableError means no answer came from the agent: nothing listens at
// Addr, the name does not resolve, or the request timed out.
type UnreachableError struct {
	Addr    string
	Timeout time.Duration // the client's request bound, to explain a timeout
	Err     error
}

// Error says which agent could not be reached, why, and what to check.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach leptond at %s: %s; is the agent running? set --addr or LEPTON_ADDR",
		e.Addr, e.reason())
}

// Unwrap returns the transport error, so errors.Is(err, syscall.ECONNREFUSED) works.
func (e *UnreachableError) Unwrap() error { return e.Err }

func (e *UnreachableError) reason() string {
	var netErr net.Error
	if errors.As(e.Err, &netErr) && netErr.Timeout() {
		return fmt.Sprintf("no answer within %s", e.Timeout)
	}
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		return errno.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(e.Err, &dnsErr) {
		return dnsErr.Error()
	}
	var urlErr *url.Error
	if errors.As(e.Err, &urlErr) {
		return urlErr.Err.Error()
	}
	return e.Err.Error()
}
