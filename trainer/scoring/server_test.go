package scoring

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/fake"
)

// counting is the fake teacher, counting its Score calls and their sequences.
type counting struct {
	*fake.LM
	mu    sync.Mutex
	calls []int
}

func (c *counting) Score(reqs []model.ScoreRequest) ([]model.ScoreResult, error) {
	c.mu.Lock()
	c.calls = append(c.calls, len(reqs))
	c.mu.Unlock()
	return c.LM.Score(reqs)
}

func serve(t *testing.T, lm Scorer, key string) string {
	t.Helper()
	s := NewServer(lm, ServerOptions{Name: "tiny", Key: key, MaxLogprobs: 5, Window: 20 * time.Millisecond, MaxBody: 1 << 12})
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); s.Close() })
	return srv.URL
}

func teacher() *counting { return &counting{LM: &fake.LM{Seqs: 4, Ctx: 64, Teacher: true}} }

// Scores through atod serve and the client are the model's own, log-probs and
// top-k; requests arriving together are one Score call of several sequences.
func TestServeParity(t *testing.T) {
	lm := teacher()
	url := serve(t, lm, "")
	c, err := Dial(Config{URL: url, API: Atod, Timeout: 2 * time.Second, Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	if c.VocabSize() != lm.VocabSize() || c.Model() != "tiny" {
		t.Errorf("served vocabulary %d, name %q", c.VocabSize(), c.Model())
	}
	var reqs []model.ScoreRequest
	for _, s := range []string{"<|im_start|>user\n3<|im_end|>\n<|im_start|>assistant\n3<|im_end|>", "x7\n4<|im_end|>", "ab\n\n9"} {
		toks, _ := lm.Tokenize(s, true)
		mask := make([]bool, len(toks))
		for p := len(toks) / 2; p < len(toks); p++ {
			mask[p] = true
		}
		reqs = append(reqs, model.ScoreRequest{Tokens: toks, From: 2, TopK: 3, Mask: mask})
	}
	want, err := lm.LM.Score(reqs)
	if err != nil {
		t.Fatal(err)
	}
	lm.calls = nil
	got, err := c.Score(reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		got[i].Decoded, want[i].Decoded = 0, 0
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("through atod serve:\n%v\nlocal:\n%v", got, want)
	}
	if !reflect.DeepEqual(lm.calls, []int{3}) {
		t.Errorf("score calls of %v sequences, want one of 3", lm.calls)
	}
	if _, err := c.Check(lm, 3); err != nil {
		t.Errorf("check against the same tokenizer: %v", err)
	}
}

// Bad requests get clear 4xx answers; the key guards every route but /health.
func TestServeRejects(t *testing.T) {
	url := serve(t, teacher(), "sesame")
	post := func(path, key, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, path, key, body string
		code                  int
		want                  string
	}{
		{"no key", "/v1/completions", "", `{"prompt":[1,2],"prompt_logprobs":0}`, 401, "API key"},
		{"wrong key", "/v1/completions", "open", `{"prompt":[1,2],"prompt_logprobs":0}`, 401, "API key"},
		{"text prompt", "/v1/completions", "sesame", `{"prompt":"hi","prompt_logprobs":0}`, 400, "token ids"},
		{"no prompt_logprobs", "/v1/completions", "sesame", `{"prompt":[1,2]}`, 400, "prompt_logprobs is missing"},
		{"top-k over the cap", "/v1/completions", "sesame", `{"prompt":[1,2],"prompt_logprobs":6}`, 400, "--max-logprobs"},
		{"id past the vocabulary", "/v1/completions", "sesame", `{"prompt":[1,258],"prompt_logprobs":0}`, 400, "outside the vocabulary of 258"},
		{"too long", "/v1/completions", "sesame", `{"prompt":[` + strings.Repeat("1,", 64) + `1],"prompt_logprobs":0}`, 400, "context holds 64"},
		{"generation", "/v1/completions", "sesame", `{"prompt":[1,2],"prompt_logprobs":0,"max_tokens":16}`, 400, "only scores"},
		{"other model", "/v1/completions", "sesame", `{"model":"big","prompt":[1,2],"prompt_logprobs":0}`, 404, "not served"},
		{"malformed", "/v1/completions", "sesame", `{"prompt":[1,`, 400, "malformed JSON"},
		{"too big", "/tokenize", "sesame", `{"prompt":"` + strings.Repeat("a", 5000) + `"}`, 413, "over 4096 bytes"},
		{"unknown route", "/generate", "sesame", `{}`, 404, "no route"},
	} {
		if code, body := post(tc.path, tc.key, tc.body); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, code, body, tc.code, tc.want)
		}
	}
	if resp, err := http.Get(url + "/health"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/health without a key: %v %v", resp, err)
	}
	// The client says where the key comes from.
	for _, key := range []string{"", "open"} {
		_, err := Dial(Config{URL: url, API: Atod, Key: key, Timeout: time.Second})
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), KeyEnv) || errors.Is(err, ErrUnavailable) {
			t.Errorf("key %q: %v", key, err)
		}
	}
	if _, err := Dial(Config{URL: url, API: Atod, Key: "sesame", Timeout: time.Second}); err != nil {
		t.Error(err)
	}
}

// otherTokens tokenizes as the fake, but one byte off.
type otherTokens struct{ *fake.LM }

func (o otherTokens) Tokenize(s string, special bool) ([]int32, error) {
	toks, err := o.LM.Tokenize(s, special)
	toks[3]++
	return toks, err
}

// shortVocab is a teacher with fewer tokens than the student.
type shortVocab struct{ *fake.LM }

func (shortVocab) VocabSize() int { return 200 }

// The start-up check: the same ids for the probe text, the student's ids all
// scorable, the top-k within the server's cap.
func TestCheck(t *testing.T) {
	student := &fake.LM{Seqs: 1, Ctx: 64}
	c := dial(t, serve(t, otherTokens{&fake.LM{Seqs: 4, Ctx: 64}}, ""), Atod)
	_, err := c.Check(student, 0)
	s, _ := student.Tokenize(Probe, false)
	if err == nil || !strings.Contains(err.Error(), "tokenize") || !strings.Contains(err.Error(), fmt.Sprint("student: ", s)) {
		t.Errorf("other tokenizer: %v", err)
	}
	c = dial(t, serve(t, shortVocab{&fake.LM{Seqs: 4, Ctx: 64}}, ""), Atod)
	if _, err := c.Check(student, 0); err == nil || !strings.Contains(err.Error(), "(200)") {
		t.Errorf("shorter vocabulary: %v", err)
	}
	c = dial(t, serve(t, teacher(), ""), VLLM)
	if _, err := c.Check(student, 8); err == nil || !strings.Contains(err.Error(), "--max-logprobs 8") {
		t.Errorf("top-k over the cap: %v", err)
	}
	note, err := c.Check(student, 5)
	if err != nil || !strings.Contains(note, "tiny") {
		t.Errorf("top-k within the cap: %q %v", note, err)
	}
}
