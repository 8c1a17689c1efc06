// Package scoring is teacher scoring over HTTP: a client that scores the
// student's token ids on a vLLM, SGLang or `atod serve` server and stands in
// for a local teacher (model.LM, scoring only), and the handler of `atod serve`,
// which puts any model.LM behind the same vLLM-compatible subset.
package scoring

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/atod-dev/atod/envs/httpjson"
	"github.com/atod-dev/atod/model"
)

// The APIs a client speaks.
const (
	VLLM   = "vllm"   // /v1/completions with a token-id prompt and prompt_logprobs
	SGLang = "sglang" // /generate with input_ids, return_logprob, logprob_start_len, top_logprobs_num
	Atod   = "atod"   // atod serve: vLLM's subset, plus the vocabulary size in /v1/models
)

// KeyEnv is the environment variable holding the teacher server's API key:
// kept out of the config, which every run directory copies.
const KeyEnv = "ATOD_TEACHER_API_KEY"

// Config is how to reach a teacher server.
type Config struct {
	URL, API, Key string
	Timeout       time.Duration // per request
	Retries       int           // further tries of a request that failed in transit, timed out or got a 5xx/429
	Backoff       time.Duration // before the first retry, doubled each time
	Parallel      int           // requests in flight
	PieceTokens   int           // positions scored per request at most (long transcripts go in pieces)
	NSeq, NCtx    int           // what the client reports as model.LM: sequences per wave, tokens per sequence
}

// ErrUnavailable marks a request that kept failing in transit, timing out or
// getting 5xx or 429 answers until its retries ran out: the server is down,
// stalled or overloaded.
var ErrUnavailable = errors.New("teacher server unavailable")

// Client is a remote teacher. It only scores: Generate and ApplyChatTemplate
// fail, as the trainer asks them of a teacher only for eval.teacher.
type Client struct {
	cfg    Config
	http   *httpjson.Client
	model  string // the served model's name, as /v1/models gives it
	vocab  int    // the server's vocabulary size where it says (atod serve), else 0
	maxLen int    // the server's longest sequence where it says, else 0
}

var _ model.LM = (*Client)(nil)

// Dial checks that the server is up and which model it serves.
func Dial(cfg Config) (*Client, error) {
	switch cfg.API {
	case VLLM, SGLang, Atod:
	default:
		return nil, fmt.Errorf("teacher.api = %q: want vllm, sglang or atod", cfg.API)
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("teacher.url = %q: want http://HOST:PORT", cfg.URL)
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	cfg.Parallel, cfg.NSeq, cfg.NCtx = max(cfg.Parallel, 1), max(cfg.NSeq, 1), max(cfg.NCtx, 1)
	// MaxBody: prompt log-probs of a long transcript make a large answer.
	c := &Client{cfg: cfg, http: httpjson.New(httpjson.Config{Timeout: cfg.Timeout, Retries: cfg.Retries, Backoff: cfg.Backoff, Key: cfg.Key, MaxBody: 1 << 30})}
	var models struct {
		Data []struct {
			ID          string `json:"id"`
			MaxModelLen int    `json:"max_model_len"`
			VocabSize   int    `json:"vocab_size"`
		} `json:"data"`
	}
	if err := c.call(http.MethodGet, "/health", nil, nil); err != nil {
		return nil, err
	}
	if err := c.call(http.MethodGet, "/v1/models", nil, &models); err != nil {
		return nil, err
	}
	if len(models.Data) == 0 || models.Data[0].ID == "" {
		return nil, fmt.Errorf("teacher at %s: /v1/models lists no model", cfg.URL)
	}
	c.model, c.maxLen, c.vocab = models.Data[0].ID, models.Data[0].MaxModelLen, models.Data[0].VocabSize
	return c, nil
}

// Model is the served model's name.
func (c *Client) Model() string { return c.model }

// call sends one request and decodes a 200 answer into out (nil: none
// expected); httpjson retries transport errors, timeouts, 5xx and 429.
func (c *Client) call(method, path string, body, out any) error {
	err := c.http.Do(method, c.cfg.URL+path, body, out)
	var status *httpjson.StatusError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, httpjson.ErrGaveUp):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.As(err, &status) && (status.Code == http.StatusUnauthorized || status.Code == http.StatusForbidden):
		return fmt.Errorf("teacher: %w (the API key comes from $%s)", err, KeyEnv)
	}
	return fmt.Errorf("teacher: %w", err)
}

// Score scores each request's positions in pieces of at most PieceTokens,
// Parallel requests in flight; any piece that fails fails the call, so no
// result is ever partial.
func (c *Client) Score(reqs []model.ScoreRequest) ([]model.ScoreResult, error) {
	type piece struct{ req, lo, hi int }
	var pieces []piece
	out := make([]model.ScoreResult, len(reqs))
	for i, r := range reqs {
		if r.From < 1 || r.From > len(r.Tokens) || r.Mask != nil && len(r.Mask) != len(r.Tokens) {
			return nil, fmt.Errorf("score request %d: from %d, %d tokens, mask of %d", i, r.From, len(r.Tokens), len(r.Mask))
		}
		if c.maxLen > 0 && len(r.Tokens) > c.maxLen {
			return nil, fmt.Errorf("score request %d: %d tokens, the teacher at %s takes at most %d", i, len(r.Tokens), c.cfg.URL, c.maxLen)
		}
		out[i].LogProbs = make([]float32, len(r.Tokens)-r.From)
		if r.TopK > 0 {
			out[i].TopK = make([][]model.TokenLogProb, len(r.Tokens)-r.From)
		}
		step := c.cfg.PieceTokens
		if step < 1 {
			step = len(r.Tokens)
		}
		for lo := r.From; lo < len(r.Tokens); lo += step {
			hi := min(lo+step, len(r.Tokens))
			for p := lo; p < hi; p++ {
				if r.Scored(p) {
					pieces = append(pieces, piece{i, lo, hi})
					break
				}
			}
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, c.cfg.Parallel)
	for _, pc := range pieces {
		sem <- struct{}{}
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed { // the call fails anyway: spare the server the rest
			<-sem
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			r := reqs[pc.req]
			pos, err := c.scorePiece(r.Tokens[:pc.hi], pc.lo, r.TopK)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("score positions %d..%d of %d tokens: %w", pc.lo, pc.hi-1, len(r.Tokens), err)
				}
				return
			}
			res := &out[pc.req]
			for p := pc.lo; p < pc.hi; p++ {
				if !r.Scored(p) {
					continue
				}
				res.LogProbs[p-r.From] = pos[p-pc.lo].logProb
				if r.TopK > 0 {
					res.TopK[p-r.From] = pos[p-pc.lo].top
				}
			}
			res.Decoded += pc.hi
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// position is one scored position: the log-prob of the request's token there
// and, when asked, the top-k best first.
type position struct {
	logProb float32
	top     []model.TokenLogProb
}

// scorePiece scores positions lo..len(toks)-1 of toks.
func (c *Client) scorePiece(toks []int32, lo, topK int) ([]position, error) {
	if c.cfg.API == SGLang {
		var a sglangAnswer
		if err := c.call(http.MethodPost, "/generate", sglangRequest(toks, lo, topK), &a); err != nil {
			return nil, err
		}
		return a.positions(toks, lo, topK)
	}
	var a vllmAnswer
	if err := c.call(http.MethodPost, "/v1/completions", vllmRequest(c.model, toks, topK), &a); err != nil {
		if strings.Contains(err.Error(), "logprobs") && topK > 0 && !errors.Is(err, ErrUnavailable) {
			return nil, fmt.Errorf("%w (top-k %d asked: the server caps it with --max-logprobs; start it with --max-logprobs %d or more, or lower tdur.top_k)", err, topK, topK)
		}
		return nil, err
	}
	return a.positions(toks, lo, topK)
}

// Tokenize asks the server (never adding BOS): vLLM's and atod's /tokenize;
// SGLang's /generate with the text, reading the ids it scored.
func (c *Client) Tokenize(text string, parseSpecial bool) ([]int32, error) {
	if c.cfg.API == SGLang {
		var a sglangAnswer
		body := map[string]any{"text": text, "sampling_params": map[string]any{"max_new_tokens": 0},
			"return_logprob": true, "logprob_start_len": 0, "return_text_in_logprobs": false}
		if err := c.call(http.MethodPost, "/generate", body, &a); err != nil {
			return nil, err
		}
		return a.ids()
	}
	var a struct {
		Tokens []int32 `json:"tokens"`
	}
	if err := c.call(http.MethodPost, "/tokenize", map[string]any{"model": c.model, "prompt": text, "add_special_tokens": false}, &a); err != nil {
		return nil, err
	}
	return a.Tokens, nil
}

// VocabSize is the server's vocabulary size where it says (atod serve), else 0.
func (c *Client) VocabSize() int { return c.vocab }

// Detokenize renders nothing: the trainer renders tokens with the student.
func (c *Client) Detokenize([]int32, bool) string { return "" }

// IsEOG is false: a remote teacher never generates.
func (c *Client) IsEOG(int32) bool { return false }

func (c *Client) NSeq() int { return c.cfg.NSeq }
func (c *Client) NCtx() int { return c.cfg.NCtx }

// ClearAll has nothing to clear: every request carries its whole prefix.
func (c *Client) ClearAll() {}

func (c *Client) ApplyChatTemplate([]model.Message, bool) (string, error) {
	return "", c.scoringOnly()
}

func (c *Client) Generate([]model.GenRequest) ([]model.GenResult, error) {
	return nil, c.scoringOnly()
}

// LoadWeights takes only "" (the served weights).
func (c *Client) LoadWeights(path string) error {
	if path == "" {
		return nil
	}
	return fmt.Errorf("teacher at %s: weights are the server's, not %s", c.cfg.URL, path)
}

func (c *Client) Close() { c.http.CloseIdleConnections() }

func (c *Client) scoringOnly() error {
	return fmt.Errorf("the teacher at %s only scores; playing episodes with it (eval.teacher) needs a local teacher.model", c.cfg.URL)
}
