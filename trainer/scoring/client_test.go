package scoring

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atod-dev/atod/model"
)

// fixture is a loopback server that lists model "m" and answers every other
// POST with answer(path, request body).
func fixture(t *testing.T, answer func(path string, req map[string]any) (int, string)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			return
		case "/v1/models":
			io.WriteString(w, `{"object":"list","data":[{"id":"m","max_model_len":64}]}`)
			return
		}
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("request body: %v", err)
		}
		code, body := answer(r.URL.Path, req)
		w.WriteHeader(code)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func dial(t *testing.T, url, api string) *Client {
	t.Helper()
	c, err := Dial(Config{URL: url, API: api, Timeout: 2 * time.Second, Retries: 2, Backoff: time.Millisecond, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ids(v any) []int32 {
	var out []int32
	for _, x := range v.([]any) {
		out = append(out, int32(x.(float64)))
	}
	return out
}

func near(a, b float32) bool { return a-b < 1e-6 && b-a < 1e-6 }

// vLLM's shape: a null first entry, ids as string keys, the request's token
// among the top-k or beside them with its own rank.
func TestVLLMAnswer(t *testing.T) {
	srv := fixture(t, func(path string, req map[string]any) (int, string) {
		if path != "/v1/completions" || req["model"] != "m" || req["prompt_logprobs"].(float64) != 2 {
			t.Errorf("request %s %v", path, req)
		}
		if p := ids(req["prompt"]); len(p) != 4 || p[3] != 11 {
			t.Errorf("prompt %v", p)
		}
		return 200, `{"choices":[{"index":0,"text":"x","prompt_logprobs":[null,
			{"7":{"logprob":-0.5,"rank":1,"decoded_token":"a"},"3":{"logprob":-1.5,"rank":2,"decoded_token":"b"}},
			{"9":{"logprob":-2.25,"rank":3,"decoded_token":"c"},"4":{"logprob":-0.25,"rank":1,"decoded_token":"d"},"8":{"logprob":-1.0,"rank":2,"decoded_token":"e"}},
			{"11":{"logprob":-0.125,"rank":2,"decoded_token":"f"},"2":{"logprob":-0.0625,"rank":1,"decoded_token":"g"}}]}]}`
	})
	c := dial(t, srv.URL, VLLM)
	res, err := c.Score([]model.ScoreRequest{{Tokens: []int32{5, 7, 9, 11}, From: 1, TopK: 2, Mask: []bool{false, true, true, false}}})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if len(r.LogProbs) != 3 || !near(r.LogProbs[0], -0.5) || !near(r.LogProbs[1], -2.25) || r.LogProbs[2] != 0 {
		t.Fatalf("log-probs %v, want [-0.5 -2.25 0]", r.LogProbs)
	}
	tl := func(tok int32, lp float32) model.TokenLogProb { return model.TokenLogProb{Token: tok, LogProb: lp} }
	want := [][]model.TokenLogProb{{tl(7, -0.5), tl(3, -1.5)}, {tl(4, -0.25), tl(8, -1)}, nil}
	for i := range want {
		if len(r.TopK[i]) != len(want[i]) {
			t.Fatalf("top-k %v, want %v", r.TopK, want)
		}
		for j := range want[i] {
			if r.TopK[i][j].Token != want[i][j].Token || !near(r.TopK[i][j].LogProb, want[i][j].LogProb) {
				t.Fatalf("top-k %v, want %v", r.TopK, want)
			}
		}
	}
}

// SGLang's shape: positions from logprob_start_len on as [logprob, id, text]
// (null at position 0), top-k lists per position; pieces of 2 positions.
func TestSGLangAnswerInPieces(t *testing.T) {
	toks := []int32{1, 20, 21, 22, 23, 24, 25}
	lp := func(p int) float64 { return -float64(p) / 8 }
	var calls atomic.Int32
	srv := fixture(t, func(path string, req map[string]any) (int, string) {
		calls.Add(1)
		in := ids(req["input_ids"])
		s := int(req["logprob_start_len"].(float64))
		if path != "/generate" || req["return_logprob"] != true || req["top_logprobs_num"].(float64) != 1 {
			t.Errorf("request %s %v", path, req)
		}
		var tl, top []string
		for p := s; p < len(in); p++ {
			l := "null"
			if p > 0 {
				l = jsonNum(lp(p))
			}
			tl = append(tl, "["+l+","+itoa(in[p])+",null]")
			top = append(top, "[["+jsonNum(lp(p)/2)+","+itoa(in[p]+100)+",null]]")
		}
		return 200, `{"text":"","meta_info":{"input_token_logprobs":[` + strings.Join(tl, ",") + `],"input_top_logprobs":[` + strings.Join(top, ",") + `]}}`
	})
	c, err := Dial(Config{URL: srv.URL, API: SGLang, Timeout: time.Second, Parallel: 3, PieceTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	mask := []bool{false, false, true, true, false, false, true}
	res, err := c.Score([]model.ScoreRequest{{Tokens: toks, From: 2, TopK: 1, Mask: mask}})
	if err != nil {
		t.Fatal(err)
	}
	// Pieces [2,4) and [6,7) hold scored positions; [4,6) is not asked.
	if n := calls.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	for p := 2; p < len(toks); p++ {
		got := res[0].LogProbs[p-2]
		if !mask[p] {
			if got != 0 || res[0].TopK[p-2] != nil {
				t.Errorf("position %d left out: %v %v", p, got, res[0].TopK[p-2])
			}
			continue
		}
		if !near(got, float32(lp(p))) || len(res[0].TopK[p-2]) != 1 || res[0].TopK[p-2][0].Token != toks[p]+100 || !near(res[0].TopK[p-2][0].LogProb, float32(lp(p)/2)) {
			t.Errorf("position %d: %v %v, want %v", p, got, res[0].TopK[p-2], lp(p))
		}
	}
}

func itoa(v int32) string      { b, _ := json.Marshal(v); return string(b) }
func jsonNum(v float64) string { b, _ := json.Marshal(v); return string(b) }

// A malformed or misaligned answer is an error naming what is wrong, never a zero.
func TestBadAnswers(t *testing.T) {
	for _, tc := range []struct{ name, api, body, want string }{
		{"malformed JSON", VLLM, `{"choices":[{"prompt_logprobs":[null,{"7":`, "malformed answer"},
		{"wrong length", VLLM, `{"choices":[{"prompt_logprobs":[null,{"7":{"logprob":-1,"rank":1}}]}]}`, "2 entries for a prompt of 3"},
		{"position missing", VLLM, `{"choices":[{"prompt_logprobs":[null,null,{"9":{"logprob":-1,"rank":1}}]}]}`, "position 1 of 3 is missing"},
		{"token missing", VLLM, `{"choices":[{"prompt_logprobs":[null,{"8":{"logprob":-1,"rank":1}},{"9":{"logprob":-1,"rank":1}}]}]}`, "request's token 7"},
		{"positive log-prob", VLLM, `{"choices":[{"prompt_logprobs":[null,{"7":{"logprob":3,"rank":1}},{"9":{"logprob":-1,"rank":1}}]}]}`, "log-prob 3"},
		{"ids shifted", SGLang, `{"meta_info":{"input_token_logprobs":[[-1,5,null],[-1,7,null]]}}`, "holds token 5, the request's is 7"},
		{"null log-prob", SGLang, `{"meta_info":{"input_token_logprobs":[[null,7,null],[-1,9,null]]}}`, "position 1 of 3 is missing"},
		{"short", SGLang, `{"meta_info":{"input_token_logprobs":[[-1,7,null]]}}`, "1 input log-probs from position 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := fixture(t, func(string, map[string]any) (int, string) { calls.Add(1); return 200, tc.body })
			_, err := dial(t, srv.URL, tc.api).Score([]model.ScoreRequest{{Tokens: []int32{5, 7, 9}, From: 1}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if calls.Load() != 1 {
				t.Errorf("%d requests: a bad answer is not retried", calls.Load())
			}
		})
	}
}

// 5xx answers and stalls are retried with backoff; when the retries run out
// the error is ErrUnavailable; a 4xx is not retried.
func TestRetries(t *testing.T) {
	good := `{"choices":[{"prompt_logprobs":[null,{"7":{"logprob":-1,"rank":1}}]}]}`
	var calls atomic.Int32
	srv := fixture(t, func(string, map[string]any) (int, string) {
		if calls.Add(1) <= 2 {
			return 503, "overloaded"
		}
		return 200, good
	})
	res, err := dial(t, srv.URL, VLLM).Score([]model.ScoreRequest{{Tokens: []int32{5, 7}, From: 1}})
	if err != nil || calls.Load() != 3 || res[0].LogProbs[0] != -1 {
		t.Fatalf("after two 503s: %v, %d calls, %v", err, calls.Load(), res)
	}

	always := fixture(t, func(string, map[string]any) (int, string) { return 500, "boom" })
	_, err = dial(t, always.URL, VLLM).Score([]model.ScoreRequest{{Tokens: []int32{5, 7}, From: 1}})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "3 tries") {
		t.Fatalf("always 500: %v", err)
	}

	release := make(chan struct{})
	stall := fixture(t, func(string, map[string]any) (int, string) { <-release; return 200, good })
	defer close(release)
	c, err := Dial(Config{URL: stall.URL, API: VLLM, Timeout: 100 * time.Millisecond, Retries: 1, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Score([]model.ScoreRequest{{Tokens: []int32{5, 7}, From: 1}})
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > 2*time.Second {
		t.Fatalf("stalled server: %v after %v", err, time.Since(start))
	}

	calls.Store(0)
	bad := fixture(t, func(string, map[string]any) (int, string) { calls.Add(1); return 400, `{"error":{"message":"nope"}}` })
	_, err = dial(t, bad.URL, VLLM).Score([]model.ScoreRequest{{Tokens: []int32{5, 7}, From: 1}})
	if err == nil || errors.Is(err, ErrUnavailable) || calls.Load() != 1 || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("400: %v after %d calls", err, calls.Load())
	}
}

// A server that is not there fails Dial naming its URL.
func TestDialDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	start := time.Now()
	_, err := Dial(Config{URL: url, API: VLLM, Timeout: time.Second, Retries: 1, Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), url) || !errors.Is(err, ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("server down: %v", err)
	}
	if _, err := Dial(Config{URL: "ftp://x", API: VLLM}); err == nil || !strings.Contains(err.Error(), "teacher.url") {
		t.Errorf("bad url: %v", err)
	}
	if _, err := Dial(Config{URL: url, API: "tgi"}); err == nil || !strings.Contains(err.Error(), "teacher.api") {
		t.Errorf("bad api: %v", err)
	}
}

// Requests in flight at once: at most Parallel.
func TestParallel(t *testing.T) {
	var mu sync.Mutex
	var now, peak int
	srv := fixture(t, func(string, map[string]any) (int, string) {
		mu.Lock()
		now++
		peak = max(peak, now)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		now--
		mu.Unlock()
		return 200, `{"choices":[{"prompt_logprobs":[null,{"7":{"logprob":-1,"rank":1}}]}]}`
	})
	c := dial(t, srv.URL, VLLM) // Parallel 2
	reqs := make([]model.ScoreRequest, 6)
	for i := range reqs {
		reqs[i] = model.ScoreRequest{Tokens: []int32{5, 7}, From: 1}
	}
	if _, err := c.Score(reqs); err != nil {
		t.Fatal(err)
	}
	if peak != 2 {
		t.Errorf("%d requests in flight at most, want 2", peak)
	}
}
