package scoring

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/atod-dev/atod/model"
)

// Scorer is what atod serve needs of a model: model.LM's scoring half.
type Scorer interface {
	Score([]model.ScoreRequest) ([]model.ScoreResult, error)
	Tokenize(text string, parseSpecial bool) ([]int32, error)
	VocabSize() int
	NSeq() int
	NCtx() int
}

// ServerOptions configure atod serve.
type ServerOptions struct {
	Name        string        // the model's name in /v1/models
	Key         string        // bearer token every route but /health wants ("" = none)
	MaxLogprobs int           // the largest prompt_logprobs served (vLLM's --max-logprobs)
	Window      time.Duration // how long a batch waits for more requests after its first
	MaxBody     int64         // request bytes at most
}

// Server answers vLLM's scoring subset (/v1/completions with a token-id prompt
// and prompt_logprobs, /tokenize, /v1/models, /health) from one Scorer: the
// requests arriving within Window go into one Score call, a sequence each.
type Server struct {
	lm   Scorer
	o    ServerOptions
	mu   sync.Mutex // one call into the model at a time
	jobs chan job
	done chan struct{}
}

type job struct {
	req   model.ScoreRequest
	reply chan scored
}

type scored struct {
	res model.ScoreResult
	err error
}

// NewServer starts the batcher; Close stops it.
func NewServer(lm Scorer, o ServerOptions) *Server {
	if o.MaxBody <= 0 {
		o.MaxBody = 16 << 20
	}
	s := &Server{lm: lm, o: o, jobs: make(chan job), done: make(chan struct{})}
	go s.batch()
	return s
}

// Close stops the batcher; requests after it fail.
func (s *Server) Close() { close(s.done) }

func (s *Server) batch() {
	for {
		var jobs []job
		select {
		case j := <-s.jobs:
			jobs = append(jobs, j)
		case <-s.done:
			return
		}
		timer := time.NewTimer(s.o.Window)
	collect:
		for len(jobs) < s.lm.NSeq() {
			select {
			case j := <-s.jobs:
				jobs = append(jobs, j)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		reqs := make([]model.ScoreRequest, len(jobs))
		for i, j := range jobs {
			reqs[i] = j.req
			reqs[i].Seq = i
		}
		s.mu.Lock()
		res, err := s.lm.Score(reqs)
		s.mu.Unlock()
		if err == nil && len(res) != len(reqs) {
			err = fmt.Errorf("scored %d of %d sequences", len(res), len(reqs))
		}
		for i, j := range jobs {
			if err != nil {
				j.reply <- scored{err: err}
			} else {
				j.reply <- scored{res: res[i]}
			}
		}
	}
}

// apiError is an OpenAI-shaped error answer.
func apiError(w http.ResponseWriter, code int, format string, a ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": fmt.Sprintf(format, a...), "type": http.StatusText(code), "code": code}})
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" {
		w.WriteHeader(http.StatusOK)
		return
	}
	if s.o.Key != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.o.Key)) != 1 {
		apiError(w, http.StatusUnauthorized, "missing or wrong API key (Authorization: Bearer KEY)")
		return
	}
	want := http.MethodPost
	if r.URL.Path == "/v1/models" {
		want = http.MethodGet
	}
	switch r.URL.Path {
	case "/v1/models", "/tokenize", "/v1/completions":
		if r.Method != want {
			apiError(w, http.StatusMethodNotAllowed, "%s takes %s", r.URL.Path, want)
			return
		}
	default:
		apiError(w, http.StatusNotFound, "no route %s: atod serve answers /v1/completions, /tokenize, /v1/models and /health", r.URL.Path)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBody)
	switch r.URL.Path {
	case "/v1/models":
		answer(w, map[string]any{"object": "list", "data": []any{map[string]any{"id": s.o.Name, "object": "model", "owned_by": "atod",
			"max_model_len": s.lm.NCtx(), "vocab_size": s.lm.VocabSize()}}})
	case "/tokenize":
		s.tokenize(w, r)
	default:
		s.complete(w, r)
	}
}

// decode reads a JSON body, answering 413 or 400 itself when it cannot.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(r.Body).Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		apiError(w, http.StatusRequestEntityTooLarge, "request over %d bytes", s.o.MaxBody)
	case err != nil:
		apiError(w, http.StatusBadRequest, "malformed JSON: %v", err)
	default:
		return true
	}
	return false
}

func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prompt *string `json:"prompt"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	if req.Prompt == nil {
		apiError(w, http.StatusBadRequest, "prompt: want a string")
		return
	}
	s.mu.Lock()
	toks, err := s.lm.Tokenize(*req.Prompt, false)
	s.mu.Unlock()
	if err != nil {
		apiError(w, http.StatusBadRequest, "tokenize: %v", err)
		return
	}
	answer(w, map[string]any{"tokens": toks, "count": len(toks), "max_model_len": s.lm.NCtx()})
}

// promptEntry is a token of a prompt_logprobs position, as vLLM writes it;
// Rank is null for the request's token when it is outside the top-k.
type promptEntry struct {
	LogProb float32 `json:"logprob"`
	Rank    *int    `json:"rank"`
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model          string          `json:"model"`
		Prompt         json.RawMessage `json:"prompt"`
		MaxTokens      *int            `json:"max_tokens"`
		PromptLogprobs *int            `json:"prompt_logprobs"`
	}
	if !s.decode(w, r, &req) {
		return
	}
	var toks []int32
	if err := json.Unmarshal(req.Prompt, &toks); err != nil || len(toks) == 0 {
		apiError(w, http.StatusBadRequest, "prompt: want one non-empty list of token ids (atod serve scores token ids, it does not tokenize prompts)")
		return
	}
	k, n, vocab := req.PromptLogprobs, len(toks), s.lm.VocabSize()
	switch {
	case req.Model != "" && req.Model != s.o.Name:
		apiError(w, http.StatusNotFound, "model %q is not served here (this serves %q)", req.Model, s.o.Name)
	case k == nil:
		apiError(w, http.StatusBadRequest, "prompt_logprobs is missing: atod serve only scores prompts")
	case *k < 0 || *k > s.o.MaxLogprobs:
		apiError(w, http.StatusBadRequest, "prompt_logprobs = %d: want 0..%d (the server's --max-logprobs)", *k, s.o.MaxLogprobs)
	case req.MaxTokens != nil && *req.MaxTokens > 1:
		apiError(w, http.StatusBadRequest, "max_tokens = %d: atod serve only scores (0 or 1; nothing is generated)", *req.MaxTokens)
	case n > s.lm.NCtx():
		apiError(w, http.StatusBadRequest, "prompt of %d tokens: the server's context holds %d (atod serve --context)", n, s.lm.NCtx())
	default:
		for p, t := range toks {
			if t < 0 || int(t) >= vocab {
				apiError(w, http.StatusBadRequest, "prompt token %d at position %d: outside the vocabulary of %d", t, p, vocab)
				return
			}
		}
		s.score(w, r, toks, *k)
	}
}

func (s *Server) score(w http.ResponseWriter, r *http.Request, toks []int32, k int) {
	pl := make([]map[string]promptEntry, len(toks)) // position 0: null, as vLLM's
	if len(toks) > 1 {
		j := job{req: model.ScoreRequest{Tokens: toks, From: 1, TopK: k}, reply: make(chan scored, 1)}
		select {
		case s.jobs <- j:
		case <-s.done:
			apiError(w, http.StatusServiceUnavailable, "the server is shutting down")
			return
		case <-r.Context().Done():
			return
		}
		got := <-j.reply
		if got.err != nil {
			apiError(w, http.StatusInternalServerError, "score: %v", got.err)
			return
		}
		for p := 1; p < len(toks); p++ {
			m := map[string]promptEntry{}
			if k > 0 {
				for i, t := range got.res.TopK[p-1] {
					rank := i + 1
					m[strconv.Itoa(int(t.Token))] = promptEntry{t.LogProb, &rank}
				}
			}
			key := strconv.Itoa(int(toks[p]))
			if _, ok := m[key]; !ok {
				m[key] = promptEntry{LogProb: got.res.LogProbs[p-1]}
			}
			pl[p] = m
		}
	}
	answer(w, map[string]any{"id": "atod-score", "object": "text_completion", "created": time.Now().Unix(), "model": s.o.Name,
		"choices": []any{map[string]any{"index": 0, "text": "", "prompt_logprobs": pl, "finish_reason": "length"}}})
}
