// Package fake provides pure-Go stand-ins for the native models and an env, so
// the rollout, the run loop and SFT test without cgo: Chat, a byte tokenizer
// with chatml's two special tokens and its template; LM, a tabular softmax
// policy over the ten digits and <|im_end|>, with a teacher that knows the
// answer; Learner, which really trains LM's table by SGD on the weighted loss;
// and Echo, an env that asks for the digit it shows.
package fake

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/rollout"
)

// The special tokens of Chat; bytes are tokens 0..255.
const (
	ImStart = 256 // <|im_start|>
	ImEnd   = 257 // <|im_end|>, the end-of-generation token
	vocab   = 258
)

// actionToks is what the fake models can emit: the ten digits and <|im_end|>.
var actionToks = []int32{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ImEnd}

// IsAction says whether the fake models can emit tok.
func IsAction(tok int32) bool { return actionIndex(tok) >= 0 }

func actionIndex(tok int32) int {
	for i, a := range actionToks {
		if a == tok {
			return i
		}
	}
	return -1
}

// fakeState is what the tabular policy conditions on when predicting tokens[i]:
// the last digit before the current assistant header (the cue) and the previous token.
type fakeState struct{ Cue, Prev int32 }

func stateOf(prefix []int32) fakeState {
	s := fakeState{Cue: -1, Prev: prefix[len(prefix)-1]}
	i := len(prefix) - 1
	for i >= 0 && prefix[i] != ImStart {
		i--
	}
	for i--; i >= 0; i-- {
		if prefix[i] >= '0' && prefix[i] <= '9' {
			s.Cue = prefix[i]
			break
		}
	}
	return s
}

func (s fakeState) key() string { return fmt.Sprintf("%d,%d", s.Cue, s.Prev) }

// table holds logits over actionToks per state.
type table map[string][]float64

// LM is the tabular policy; the zero value with NSeq and NCtx set is an
// untrained student.
type LM struct {
	Chat
	Seqs, Ctx int     // what NSeq and NCtx report
	Teacher   bool    // knows the answer: the cue digit, then end of turn
	Wrong     []int32 // cues the teacher answers wrongly (with the next digit)
	Bias      Bias    // the untrained policy's logits
	NaNScore  bool    // Score returns NaN log-probs
	Loads     int     // LoadWeights calls
	delta     table   // trained part (the "adapter")
}

// Bias is added to the logits of the first reply token (after the assistant
// header), indexed like actionToks ('0'..'9', <|im_end|>); nil adds nothing.
type Bias []float64

func (m *LM) logits(prefix []int32) []float64 {
	s := stateOf(prefix)
	l := make([]float64, len(actionToks))
	if s.Prev == '\n' && m.Bias != nil {
		copy(l, m.Bias)
	}
	if m.Teacher { // knows the answer: the cue digit, then end of turn
		if s.Prev == '\n' && s.Cue >= 0 {
			a := s.Cue
			if slices.Contains(m.Wrong, a) {
				a = '0' + (a-'0'+1)%10
			}
			l[actionIndex(a)] = 6
		} else if s.Prev >= '0' && s.Prev <= '9' {
			l[len(l)-1] = 6
		}
	}
	if d, ok := m.delta[s.key()]; ok {
		for i := range l {
			l[i] += d[i]
		}
	}
	return l
}

func logSoftmax(l []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range l {
		mx = math.Max(mx, v)
	}
	var z float64
	for _, v := range l {
		z += math.Exp(v - mx)
	}
	out := make([]float64, len(l))
	for i, v := range l {
		out[i] = v - mx - math.Log(z)
	}
	return out
}

// Dist is log π over the action tokens ('0'..'9', <|im_end|>) given prefix.
func (m *LM) Dist(prefix []int32) []float64 { return logSoftmax(m.logits(prefix)) }

// logProb of tok given prefix over the full vocabulary (non-action tokens ≈ impossible).
func (m *LM) logProb(prefix []int32, tok int32) float64 {
	a := actionIndex(tok)
	if a < 0 {
		return -30
	}
	return logSoftmax(m.logits(prefix))[a]
}

func (m *LM) NSeq() int { return m.Seqs }
func (m *LM) NCtx() int { return m.Ctx }
func (m *LM) ClearAll() {}
func (m *LM) Close()    {}

// Chat renders chatml and tokenizes one token per byte, with <|im_start|> and
// <|im_end|> as ImStart and ImEnd when special tokens are parsed.
type Chat struct{}

func (Chat) VocabSize() int     { return vocab }
func (Chat) IsEOG(t int32) bool { return t == ImEnd }

func (Chat) Tokenize(text string, parseSpecial bool) ([]int32, error) {
	var out []int32
	for len(text) > 0 {
		if parseSpecial && strings.HasPrefix(text, "<|im_start|>") {
			out, text = append(out, ImStart), text[len("<|im_start|>"):]
		} else if parseSpecial && strings.HasPrefix(text, "<|im_end|>") {
			out, text = append(out, ImEnd), text[len("<|im_end|>"):]
		} else {
			out, text = append(out, int32(text[0])), text[1:]
		}
	}
	return out, nil
}

func (Chat) Detokenize(toks []int32, renderSpecial bool) string {
	var b strings.Builder
	for _, t := range toks {
		switch {
		case t < 256:
			b.WriteByte(byte(t))
		case renderSpecial && t == ImStart:
			b.WriteString("<|im_start|>")
		case renderSpecial && t == ImEnd:
			b.WriteString("<|im_end|>")
		}
	}
	return b.String()
}

func (Chat) ApplyChatTemplate(msgs []model.Message, addAssistant bool) (string, error) {
	var b strings.Builder
	for _, msg := range msgs {
		fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", msg.Role, msg.Content)
	}
	if addAssistant {
		b.WriteString("<|im_start|>assistant\n")
	}
	return b.String(), nil
}

func (m *LM) Generate(reqs []model.GenRequest) ([]model.GenResult, error) {
	out := make([]model.GenResult, len(reqs))
	for i, r := range reqs {
		if r.Seq < 0 || r.Seq >= m.Seqs {
			return nil, fmt.Errorf("seq %d out of range", r.Seq)
		}
		rng := rand.New(rand.NewPCG(r.Seed, 7))
		toks := append([]int32(nil), r.Prompt...)
		g := &out[i]
		for len(g.Tokens) < r.MaxTokens {
			lp := logSoftmax(m.logits(toks))
			a := 0
			if r.Temperature == 0 {
				for j := range lp {
					if lp[j] > lp[a] {
						a = j
					}
				}
			} else {
				u, acc := rng.Float64(), 0.0
				ls := logSoftmax(scale(m.logits(toks), 1/float64(r.Temperature)))
				for a = 0; a < len(ls)-1; a++ {
					if acc += math.Exp(ls[a]); u < acc {
						break
					}
				}
			}
			var h float64
			for _, v := range lp {
				h -= math.Exp(v) * v
			}
			tok := actionToks[a]
			toks = append(toks, tok)
			g.Tokens, g.LogProbs, g.Entropies = append(g.Tokens, tok), append(g.LogProbs, float32(lp[a])), append(g.Entropies, float32(h))
			if m.IsEOG(tok) {
				g.Stop = "eog"
				break
			}
		}
		if g.Stop == "" {
			g.Stop = "length"
		}
		g.Text = m.Detokenize(g.Tokens, false)
	}
	return out, nil
}

func scale(l []float64, s float64) []float64 {
	for i := range l {
		l[i] *= s
	}
	return l
}

func (m *LM) Score(reqs []model.ScoreRequest) ([]model.ScoreResult, error) {
	out := make([]model.ScoreResult, len(reqs))
	for i, r := range reqs {
		if r.From < 1 || r.Seq >= m.Seqs {
			return nil, fmt.Errorf("bad score request seq %d from %d", r.Seq, r.From)
		}
		if len(r.Tokens) > m.Ctx { // as llama.Score
			return nil, fmt.Errorf("%d tokens do not fit the context of %d", len(r.Tokens), m.Ctx)
		}
		if r.Mask != nil && len(r.Mask) != len(r.Tokens) {
			return nil, fmt.Errorf("mask of %d for %d tokens", len(r.Mask), len(r.Tokens))
		}
		if r.TopK > 0 {
			out[i].TopK = make([][]model.TokenLogProb, len(r.Tokens)-r.From)
		}
		for p := r.From; p < len(r.Tokens); p++ {
			if !r.Scored(p) { // as llama.Score: left out, 0 and no top-k list
				out[i].LogProbs = append(out[i].LogProbs, 0)
				continue
			}
			lp := m.logProb(r.Tokens[:p], r.Tokens[p])
			if m.NaNScore {
				lp = math.NaN()
			}
			out[i].LogProbs = append(out[i].LogProbs, float32(lp))
			if r.TopK > 0 {
				ls := logSoftmax(m.logits(r.Tokens[:p]))
				var top []model.TokenLogProb
				for j, v := range ls {
					top = append(top, model.TokenLogProb{Token: actionToks[j], LogProb: float32(v)})
				}
				sort.SliceStable(top, func(a, b int) bool { return top[a].LogProb > top[b].LogProb })
				out[i].TopK[p-r.From] = top[:min(r.TopK, len(top))]
			}
		}
	}
	return out, nil
}

// LoadWeights loads a table the Learner saved ("" = untrained).
func (m *LM) LoadWeights(path string) error {
	m.Loads++
	if path == "" {
		m.delta = nil
		return nil
	}
	var st saved
	if err := readJSON(path, &st); err != nil {
		return err
	}
	m.delta = st.Delta
	return nil
}

// saved is the fake learner's saved state: the table and the step.
type saved struct {
	Delta table
	Step  int
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Learner trains the student's table by SGD on L = −(1/N) Σ A(t)·log π(y_t),
// plus (1/N) Σ d_t·KL_t where the batch has the top-k distillation term
// (model.TrainSeq), over the action tokens: the teacher's listed tokens and a
// tail bucket of the other action tokens.
type Learner struct {
	LR    float64
	Bias  Bias               // the student's untrained logits (LM.Bias)
	NaNAt int                // optimizer call that reports a non-finite loss (0 = never)
	Calls int                // Step calls
	Seen  [][]model.TrainSeq // every batch it was given
	st    saved
	onMB  func(done, n int)
}

func (l *Learner) OnMicroBatch(f func(done, n int)) { l.onMB = f }

func (l *Learner) Step(micro [][]model.TrainSeq) (model.TrainStats, error) {
	l.Calls++
	l.Seen = append(l.Seen, flatten(micro))
	if l.onMB != nil {
		for i := range micro {
			l.onMB(i+1, len(micro))
		}
	}
	pol := &LM{delta: l.st.Delta, Bias: l.Bias}
	grad := table{}
	var loss float64
	n := 0
	for _, mb := range micro {
		for _, s := range mb {
			for i := range s.Tokens {
				if s.Mask[i] {
					n++
				}
			}
		}
	}
	var lps, kls [][]float32
	distill := false
	for _, mb := range micro {
		for _, s := range mb {
			lps, kls = append(lps, make([]float32, len(s.Tokens))), append(kls, make([]float32, len(s.Tokens)))
			for i, tok := range s.Tokens {
				if !s.Mask[i] {
					continue
				}
				w := float64(s.Weights[i])
				lp := logSoftmax(pol.logits(s.Tokens[:i]))
				a := actionIndex(tok)
				lps[len(lps)-1][i] = float32(lp[a])
				loss -= w * lp[a] / float64(n)
				k := stateOf(s.Tokens[:i]).key()
				if grad[k] == nil {
					grad[k] = make([]float64, len(actionToks))
				}
				for j := range lp {
					ind := 0.0
					if j == a {
						ind = 1
					}
					grad[k][j] -= w * (ind - math.Exp(lp[j])) / float64(n)
				}
				if s.TopK != nil && len(s.TopK[i]) > 0 {
					distill = true
					d := float64(s.Distill[i])
					kl, g := topKKL(lp, s.TopK[i])
					kls[len(kls)-1][i] = float32(kl)
					loss += d * kl / float64(n)
					for j := range g {
						grad[k][j] += d * g[j] / float64(n)
					}
				}
			}
		}
	}
	var norm float64
	for _, g := range grad {
		for _, v := range g {
			norm += v * v
		}
	}
	norm = math.Sqrt(norm)
	st := model.TrainStats{Loss: float32(loss), GradNorm: float32(norm), LR: float32(l.LR), Tokens: n, LogProbs: lps}
	if distill {
		st.DistillKL = kls
	}
	if l.Calls == l.NaNAt || math.IsNaN(loss) || math.IsInf(loss, 0) {
		st.Skipped, st.Loss = true, float32(math.NaN())
		st.Step = l.st.Step
		return st, nil
	}
	if l.st.Delta == nil {
		l.st.Delta = table{}
	}
	keys := make([]string, 0, len(grad))
	for k := range grad {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d := l.st.Delta[k]
		if d == nil {
			d = make([]float64, len(actionToks))
		}
		for j := range d {
			d[j] -= l.LR * grad[k][j]
		}
		l.st.Delta[k] = d
	}
	l.st.Step++
	st.Step = l.st.Step
	return st, nil
}

// topKKL is KL over the buckets of the teacher's list (listed action tokens, and
// a tail of the other action tokens) from the teacher to π = exp(lp), and its
// gradient in the logits: ∂KL/∂l_j = π_j − q_j, q_j = p_j for a listed token
// and p_tail·π_j/π_tail for the others (π's tail mass shared as π shares it).
func topKKL(lp []float64, list []model.TokenLogProb) (float64, []float64) {
	listed := make([]bool, len(lp))
	q := make([]float64, len(lp))
	var kl, pTail, piTail float64 = 0, 1, 1
	for _, v := range list {
		a := actionIndex(v.Token)
		if a < 0 {
			continue // never emitted: its mass stays in the tail
		}
		p := math.Exp(float64(v.LogProb))
		listed[a], q[a] = true, p
		kl += p * (float64(v.LogProb) - lp[a])
		pTail -= p
		piTail -= math.Exp(lp[a])
	}
	pTail, piTail = math.Max(pTail, 0), math.Max(piTail, 1e-12)
	if pTail > 0 {
		kl += pTail * (math.Log(pTail) - math.Log(piTail))
	}
	g := make([]float64, len(lp))
	for j := range lp {
		if !listed[j] {
			q[j] = pTail * math.Exp(lp[j]) / piTail
		}
		g[j] = math.Exp(lp[j]) - q[j]
	}
	return kl, g
}

func flatten(micro [][]model.TrainSeq) []model.TrainSeq {
	var out []model.TrainSeq
	for _, mb := range micro {
		out = append(out, mb...)
	}
	return out
}

func (l *Learner) SaveWeights(path string) error {
	return writeJSON(path, saved{Delta: l.st.Delta})
}
func (l *Learner) SaveState(path string) error { return writeJSON(path, l.st) }
func (l *Learner) LoadState(path string) error { return readJSON(path, &l.st) }
func (l *Learner) Close()                      {}

// Echo shows "say D" each turn; the right action is the digit D, drawn from
// the first Digits digits (0: all ten). An episode of Turns turns is won when
// every digit was echoed; Pad lengthens each observation by that many filler
// characters.
type Echo struct{ Turns, Pad, Digits int }

func (e Echo) Name() string { return "echo" }
func (e Echo) Tasks(split string, n int, seed int64) ([]envs.Task, error) {
	out := make([]envs.Task, n)
	for i := range out {
		s := int64(rollout.DeriveSeed(seed, int64(i), int64(len(split))) >> 1)
		out[i] = envs.Task{Env: "echo", ID: fmt.Sprintf("%s-%d", split, s%100000), Split: split, Seed: s}
	}
	return out, nil
}
func (e Echo) Open(t envs.Task) (envs.Episode, error) {
	r := rand.New(rand.NewPCG(uint64(t.Seed), 1))
	ep := &echoEpisode{pad: e.Pad}
	d := e.Digits
	if d <= 0 || d > 10 {
		d = 10
	}
	for range e.Turns {
		ep.digits = append(ep.digits, byte('0'+r.IntN(d)))
	}
	return ep, nil
}
func (e Echo) Instructions() string { return "Repeat the digit you are shown." }
func (e Echo) ParseAction(reply string) (string, bool) {
	for _, c := range reply {
		if c >= '0' && c <= '9' {
			return string(c), true
		}
	}
	return "", false
}
func (e Echo) StopStrings() []string                 { return nil }
func (e Echo) Oracle(envs.Task) (envs.Oracle, error) { return nil, errors.New("no oracle") }

type echoEpisode struct {
	pad    int
	digits []byte
	k      int
	right  int
}

func (ep *echoEpisode) obs() envs.Observation {
	return envs.Observation{Text: strings.Repeat(".", ep.pad) + "say " + string(ep.digits[ep.k])}
}
func (ep *echoEpisode) Reset() (envs.Observation, error) { ep.k, ep.right = 0, 0; return ep.obs(), nil }
func (ep *echoEpisode) Step(action string) (envs.StepResult, error) {
	var r envs.StepResult
	if action == "" {
		r.Info.Invalid = true
	} else if action[0] == ep.digits[ep.k] {
		ep.right++
	}
	ep.k++
	if ep.k == len(ep.digits) {
		r.Done = true
		r.Info.Won = ep.right == len(ep.digits)
		if r.Info.Won {
			r.Info.Score, r.Reward = 1, 1
		}
		r.Observation = envs.Observation{Text: "done"}
		return r, nil
	}
	r.Observation = ep.obs()
	return r, nil
}
func (ep *echoEpisode) Close() error { return nil }
