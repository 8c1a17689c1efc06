package httpjson

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// server answers the n-th request (from 0) with answer(n) and records
// each request.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	seen []request
}

type request struct {
	at                time.Time
	auth, ctype, body string
}

func newServer(t *testing.T, answer func(n int) (int, string)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.seen)
		s.seen = append(s.seen, request{time.Now(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
		s.mu.Unlock()
		code, body := answer(n)
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.seen...)
}

func (s *server) calls() int { return len(s.requests()) }

type answer struct {
	V int `json:"v"`
}

// 503 and 429 are retried, the waits doubling from Backoff.
func TestRetriesBusyWithBackoff(t *testing.T) {
	s := newServer(t, func(n int) (int, string) {
		switch n {
		case 0:
			return 503, "busy"
		case 1:
			return 429, "slow down"
		}
		return 200, `{"v":7}`
	})
	var a answer
	c := New(Config{Timeout: time.Second, Retries: 2, Backoff: 30 * time.Millisecond})
	if err := c.Do("POST", s.URL, map[string]int{"q": 1}, &a); err != nil || a.V != 7 || s.calls() != 3 {
		t.Fatalf("%v, %+v after %d calls", err, a, s.calls())
	}
	r := s.requests()
	if g1, g2 := r[1].at.Sub(r[0].at), r[2].at.Sub(r[1].at); g1 < 30*time.Millisecond || g2 < 60*time.Millisecond {
		t.Errorf("waits %v and %v, want at least 30ms then 60ms", g1, g2)
	}
}

// A 4xx is the request's fault: one try, its status and body in the error.
func TestNoRetryOn4xx(t *testing.T) {
	s := newServer(t, func(int) (int, string) { return 404, "no\n  such route" })
	err := New(Config{Timeout: time.Second, Retries: 3}).Do("GET", s.URL+"/x", nil, &answer{})
	var status *StatusError
	if !errors.As(err, &status) || status.Code != 404 || errors.Is(err, ErrGaveUp) || s.calls() != 1 {
		t.Fatalf("%v after %d calls", err, s.calls())
	}
	if want := "GET " + s.URL + "/x: 404 Not Found: no such route"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// A 200 that is not the JSON asked for is not retried either.
func TestMalformedAnswer(t *testing.T) {
	s := newServer(t, func(int) (int, string) { return 200, `{"v":` })
	err := New(Config{Timeout: time.Second, Retries: 3}).Do("GET", s.URL, nil, &answer{})
	if err == nil || !strings.Contains(err.Error(), "malformed answer") || errors.Is(err, ErrGaveUp) || s.calls() != 1 {
		t.Fatalf("%v after %d calls", err, s.calls())
	}
	// out nil: the answer is not decoded.
	if err := New(Config{Timeout: time.Second}).Do("GET", s.URL, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// The key goes as a bearer token, and only where set; a body as JSON.
func TestHeaders(t *testing.T) {
	s := newServer(t, func(int) (int, string) { return 200, `{}` })
	if err := New(Config{Timeout: time.Second, Key: "sesame"}).Do("POST", s.URL, map[string]int{"q": 1}, &answer{}); err != nil {
		t.Fatal(err)
	}
	if err := New(Config{Timeout: time.Second}).Do("GET", s.URL, nil, &answer{}); err != nil {
		t.Fatal(err)
	}
	want := []request{{auth: "Bearer sesame", ctype: "application/json", body: `{"q":1}`}, {}}
	for i, r := range s.requests() {
		if r.auth != want[i].auth || r.ctype != want[i].ctype || r.body != want[i].body {
			t.Errorf("request %d: %+v, want %+v", i, r, want[i])
		}
	}
}

// An answer over MaxBody is an error, not a truncated decode, and not retried.
func TestBoundedRead(t *testing.T) {
	s := newServer(t, func(n int) (int, string) {
		if n == 0 {
			return 200, `{"v":1234567890}`
		}
		return 200, `{"v":12345678901}`
	})
	c := New(Config{Timeout: time.Second, Retries: 2, MaxBody: 16})
	var a answer
	if err := c.Do("GET", s.URL, nil, &a); err != nil || a.V != 1234567890 {
		t.Fatalf("16 bytes: %v %+v", err, a)
	}
	err := c.Do("GET", s.URL, nil, &a)
	if err == nil || !strings.Contains(err.Error(), "answer over 16 bytes") || s.calls() != 2 {
		t.Fatalf("17 bytes: %v after %d calls", err, s.calls())
	}
}

// When every try fails the error is ErrGaveUp with the tries and the last
// failure: answers 5xx, and a server that is not there.
func TestGaveUp(t *testing.T) {
	s := newServer(t, func(int) (int, string) { return 500, "boom" })
	err := New(Config{Timeout: time.Second, Retries: 2, Backoff: time.Millisecond}).Do("GET", s.URL, nil, &answer{})
	var status *StatusError
	if !errors.Is(err, ErrGaveUp) || !errors.As(err, &status) || status.Code != 500 || !strings.Contains(err.Error(), "after 3 tries: 500 Internal Server Error: boom") || s.calls() != 3 {
		t.Fatalf("always 500: %v after %d calls", err, s.calls())
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	err = New(Config{Timeout: time.Second, Retries: 1, Backoff: time.Millisecond}).Do("GET", down.URL, nil, &answer{})
	if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "after 2 tries") || !strings.Contains(err.Error(), down.URL) {
		t.Fatalf("server down: %v", err)
	}
}

// A stalled server costs Timeout per try, then a retry.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(int) (int, string) { <-release; return 200, `{}` })
	defer close(release)
	start := time.Now()
	err := New(Config{Timeout: 50 * time.Millisecond, Retries: 1, Backoff: time.Millisecond}).Do("GET", s.URL, nil, &answer{})
	if !errors.Is(err, ErrGaveUp) || !strings.Contains(err.Error(), "deadline exceeded") || s.calls() != 2 {
		t.Fatalf("%v after %d calls", err, s.calls())
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 2*time.Second {
		t.Errorf("two tries of 50ms took %v", d)
	}
}
