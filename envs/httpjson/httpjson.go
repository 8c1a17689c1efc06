// Package httpjson is the JSON-over-HTTP client behind the remote env and
// searchqa's retrieval server.
package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Client sends JSON requests with a timeout per request, and retries a bounded
// number of times on network errors and 5xx answers (AgentGym's servers
// answer 503 when busy).
type Client struct {
	client  *http.Client
	retries int
	backoff time.Duration
}

// NewClient returns a Client that waits timeout for each answer and retries
// up to retries times.
func NewClient(timeout time.Duration, retries int) *Client {
	return &Client{client: &http.Client{Timeout: timeout}, retries: retries, backoff: 50 * time.Millisecond}
}

// errNoRetry marks a failure that retrying will not fix (a 4xx answer, bad JSON).
var errNoRetry = errors.New("not retried")

// Do sends a method request to url with body as JSON (nil: no body) and
// decodes the answer into out.
func (h *Client) Do(method, url string, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, url, err)
		}
	}
	var last error
	for try := 0; try <= h.retries; try++ {
		if try > 0 {
			time.Sleep(h.backoff << (try - 1))
		}
		last = h.once(method, url, payload, out)
		if last == nil || errors.Is(last, errNoRetry) {
			return last
		}
	}
	return fmt.Errorf("after %d tries: %w", h.retries+1, last)
}

func (h *Client) once(method, url string, payload []byte, out any) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w: %w", method, url, errNoRetry, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	// Bounded read: a misbehaving server cannot exhaust memory.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, url, err)
	}
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%s %s: %s: %.200s", method, url, resp.Status, b)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %.200s: %w", method, url, resp.Status, b, errNoRetry)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w: decode: %w", method, url, errNoRetry, err)
	}
	return nil
}
