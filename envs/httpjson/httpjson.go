// Package httpjson is the JSON-over-HTTP client behind the remote env,
// searchqa's retrieval server and the trainer's remote teacher.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Config is how a Client sends and retries.
type Config struct {
	Timeout time.Duration // per try
	Retries int           // further tries after a transport error, a timeout, a 5xx or a 429
	Backoff time.Duration // before the first retry, doubled each time
	Key     string        // sent as a bearer token where set
	MaxBody int64         // longest answer read, in bytes; 0: 64 MiB
}

// Client sends JSON requests and retries what may pass: servers answer 503
// when busy (AgentGym), 429 when rate-limited (hosted teachers).
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 20
	}
	return &Client{cfg: cfg, http: &http.Client{Timeout: cfg.Timeout}}
}

// ErrGaveUp marks a request whose every try failed in a way a retry might
// have fixed: the server is down, stalled or overloaded.
var ErrGaveUp = errors.New("gave up")

// StatusError is an answer other than 200 OK.
type StatusError struct {
	Code int
	Msg  string // the status line and the start of the body
}

func (e *StatusError) Error() string { return e.Msg }

// Do sends a method request to url with body as JSON (nil: no body) and
// decodes the answer into out (nil: the answer is only checked for 200 OK).
// A 4xx answer or a malformed one is not retried.
func (c *Client) Do(method, url string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, url, err)
		}
	}
	wait := c.cfg.Backoff
	var last error
	for try := 0; try <= c.cfg.Retries; try++ {
		if try > 0 {
			time.Sleep(wait)
			wait *= 2
		}
		ans, retry, err := c.once(method, url, payload)
		switch {
		case err == nil && out == nil:
			return nil
		case err == nil:
			if err := json.Unmarshal(ans, out); err != nil {
				return fmt.Errorf("%s %s: malformed answer: %w", method, url, err)
			}
			return nil
		case !retry:
			return fmt.Errorf("%s %s: %w", method, url, err)
		}
		last = err
	}
	return fmt.Errorf("%s %s: %w after %d tries: %w", method, url, ErrGaveUp, c.cfg.Retries+1, last)
}

// once is one try: the answer's body, or an error and whether a retry may help.
func (c *Client) once(method, url string, payload []byte) ([]byte, bool, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, false, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	// Bounded read: a misbehaving server cannot exhaust memory.
	ans, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBody+1))
	if err != nil {
		return nil, true, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(ans)) > c.cfg.MaxBody {
		return nil, false, fmt.Errorf("%s: answer over %d bytes", resp.Status, c.cfg.MaxBody)
	}
	if resp.StatusCode == http.StatusOK {
		return ans, false, nil
	}
	retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
	return nil, retry, &StatusError{Code: resp.StatusCode, Msg: resp.Status + ": " + brief(ans)}
}

// brief is the start of an error answer, on one line.
func brief(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// CloseIdleConnections closes the connections kept for later requests.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }
