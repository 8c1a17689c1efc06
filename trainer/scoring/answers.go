package scoring

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/atod-dev/atod/model"
)

// vllmRequest asks vLLM (or atod serve) for the prompt log-probs of toks, with
// the top-k at every position when topK > 0; the one generated token is unused.
func vllmRequest(name string, toks []int32, topK int) map[string]any {
	return map[string]any{"model": name, "prompt": toks, "max_tokens": 1, "temperature": 0, "prompt_logprobs": topK}
}

// vllmEntry is one token of a prompt_logprobs position. Rank is 1-based; atod
// serve leaves it out for a request token outside the top-k.
type vllmEntry struct {
	LogProb *float64 `json:"logprob"`
	Rank    *int     `json:"rank"`
}

// vllmAnswer is the part of a /v1/completions answer read: one entry per prompt
// position, the first null, each mapping token ids (as strings) to entries.
type vllmAnswer struct {
	Choices []struct {
		PromptLogprobs []map[string]vllmEntry `json:"prompt_logprobs"`
	} `json:"choices"`
}

func (a vllmAnswer) positions(toks []int32, lo, topK int) ([]position, error) {
	if len(a.Choices) != 1 {
		return nil, fmt.Errorf("malformed answer: %d choices, want 1", len(a.Choices))
	}
	pl := a.Choices[0].PromptLogprobs
	if len(pl) != len(toks) {
		return nil, fmt.Errorf("misaligned answer: prompt_logprobs has %d entries for a prompt of %d tokens", len(pl), len(toks))
	}
	out := make([]position, len(toks)-lo)
	for p := lo; p < len(toks); p++ {
		m := pl[p]
		if m == nil {
			return nil, fmt.Errorf("misaligned answer: position %d of %d is missing", p, len(toks))
		}
		e, ok := m[strconv.Itoa(int(toks[p]))]
		if !ok || e.LogProb == nil {
			return nil, fmt.Errorf("misaligned answer: position %d holds no log-prob of the request's token %d", p, toks[p])
		}
		lp, err := logProb(*e.LogProb, p)
		if err != nil {
			return nil, err
		}
		out[p-lo].logProb = lp
		if topK == 0 {
			continue
		}
		type ranked struct {
			model.TokenLogProb
			rank int
		}
		var top []ranked
		for k, e := range m {
			if e.Rank == nil || *e.Rank > topK {
				continue // the request's token, outside the top-k
			}
			id, err := strconv.ParseInt(k, 10, 32)
			if err != nil || e.LogProb == nil {
				return nil, fmt.Errorf("malformed answer: position %d: entry %q", p, k)
			}
			lp, err := logProb(*e.LogProb, p)
			if err != nil {
				return nil, err
			}
			top = append(top, ranked{model.TokenLogProb{Token: int32(id), LogProb: lp}, *e.Rank})
		}
		if len(top) != topK {
			return nil, fmt.Errorf("misaligned answer: position %d lists %d of the top %d tokens", p, len(top), topK)
		}
		sort.Slice(top, func(i, j int) bool { return top[i].rank < top[j].rank })
		out[p-lo].top = make([]model.TokenLogProb, topK)
		for i, r := range top {
			out[p-lo].top[i] = r.TokenLogProb
		}
	}
	return out, nil
}

// sglangRequest asks SGLang's /generate for the input log-probs of toks from
// position lo on, with the top-k when topK > 0, generating nothing.
func sglangRequest(toks []int32, lo, topK int) map[string]any {
	return map[string]any{"input_ids": toks, "sampling_params": map[string]any{"max_new_tokens": 0}, "return_logprob": true,
		"logprob_start_len": lo, "top_logprobs_num": topK, "return_text_in_logprobs": false}
}

// sglangTuple is SGLang's [logprob | null, token_id, text | null].
type sglangTuple struct {
	LogProb *float64
	Token   int32
}

func (t *sglangTuple) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) < 2 {
		return fmt.Errorf("log-prob entry %s: want [logprob, token_id, text]", b)
	}
	if err := json.Unmarshal(raw[0], &t.LogProb); err != nil {
		return fmt.Errorf("log-prob entry %s: %w", b, err)
	}
	return json.Unmarshal(raw[1], &t.Token)
}

// sglangAnswer is the part of a /generate answer read: per input position
// from logprob_start_len on, the token's log-prob (null at position 0) and
// the top-k.
type sglangAnswer struct {
	MetaInfo *struct {
		InputTokenLogprobs []sglangTuple   `json:"input_token_logprobs"`
		InputTopLogprobs   [][]sglangTuple `json:"input_top_logprobs"`
	} `json:"meta_info"`
}

func (a sglangAnswer) positions(toks []int32, lo, topK int) ([]position, error) {
	if a.MetaInfo == nil {
		return nil, fmt.Errorf("malformed answer: no meta_info")
	}
	in := a.MetaInfo.InputTokenLogprobs
	if len(in) != len(toks)-lo {
		return nil, fmt.Errorf("misaligned answer: %d input log-probs from position %d of %d tokens, want %d", len(in), lo, len(toks), len(toks)-lo)
	}
	if topK > 0 && len(a.MetaInfo.InputTopLogprobs) != len(in) {
		return nil, fmt.Errorf("misaligned answer: %d top-k lists for %d positions", len(a.MetaInfo.InputTopLogprobs), len(in))
	}
	out := make([]position, len(in))
	for i, e := range in {
		p := lo + i
		if e.Token != toks[p] {
			return nil, fmt.Errorf("misaligned answer: position %d holds token %d, the request's is %d", p, e.Token, toks[p])
		}
		if e.LogProb == nil {
			return nil, fmt.Errorf("misaligned answer: position %d of %d is missing", p, len(toks))
		}
		lp, err := logProb(*e.LogProb, p)
		if err != nil {
			return nil, err
		}
		out[i].logProb = lp
		if topK == 0 {
			continue
		}
		list := a.MetaInfo.InputTopLogprobs[i]
		if len(list) != topK {
			return nil, fmt.Errorf("misaligned answer: position %d lists %d of the top %d tokens", p, len(list), topK)
		}
		for _, t := range list {
			if t.LogProb == nil {
				return nil, fmt.Errorf("misaligned answer: position %d: top-k token %d has no log-prob", p, t.Token)
			}
			lp, err := logProb(*t.LogProb, p)
			if err != nil {
				return nil, err
			}
			out[i].top = append(out[i].top, model.TokenLogProb{Token: t.Token, LogProb: lp})
		}
		sort.SliceStable(out[i].top, func(a, b int) bool { return out[i].top[a].LogProb > out[i].top[b].LogProb })
	}
	return out, nil
}

// ids are the input token ids of an answer scored from position 0.
func (a sglangAnswer) ids() ([]int32, error) {
	if a.MetaInfo == nil {
		return nil, fmt.Errorf("malformed answer: no meta_info")
	}
	out := make([]int32, len(a.MetaInfo.InputTokenLogprobs))
	for i, e := range a.MetaInfo.InputTokenLogprobs {
		out[i] = e.Token
	}
	return out, nil
}

// logProb checks a log-prob the server sent: a log-prob is ≤ 0 and finite.
func logProb(v float64, p int) (float32, error) {
	if math.IsNaN(v) || v > 1e-3 || v < -1e30 {
		return 0, fmt.Errorf("malformed answer: position %d: log-prob %v", p, v)
	}
	return float32(v), nil
}
