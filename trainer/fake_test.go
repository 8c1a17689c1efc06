package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// Pure-Go fakes: a byte tokenizer with chatml specials, a tabular softmax
// policy whose table the fake learner really trains, and an "echo" env.

const (
	tokImStart = 256
	tokImEnd   = 257
	fakeVocab  = 258
)

// actionToks is what the fake models can emit: the ten digits and <|im_end|>.
var actionToks = []int32{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', tokImEnd}

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
	for i >= 0 && prefix[i] != tokImStart {
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

type fakeLM struct {
	nseq, nctx int
	teacher    bool
	delta      table // trained part (the "adapter")
	nanScore   bool
	adapterSet int
}

func (m *fakeLM) logits(prefix []int32) []float64 {
	s := stateOf(prefix)
	l := make([]float64, len(actionToks))
	if m.teacher { // knows the answer: the cue digit, then end of turn
		if s.Prev == '\n' && s.Cue >= 0 {
			l[actionIndex(s.Cue)] = 6
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

// logProb of tok given prefix over the full vocabulary (non-action tokens ≈ impossible).
func (m *fakeLM) logProb(prefix []int32, tok int32) float64 {
	a := actionIndex(tok)
	if a < 0 {
		return -30
	}
	return logSoftmax(m.logits(prefix))[a]
}

func (m *fakeLM) VocabSize() int { return fakeVocab }
func (m *fakeLM) NSeq() int      { return m.nseq }
func (m *fakeLM) NCtx() int      { return m.nctx }
func (m *fakeLM) ClearAll()      {}
func (m *fakeLM) Close()         {}
func (m *fakeLM) IsEOG(t int32) bool {
	return t == tokImEnd
}

func (m *fakeLM) Tokenize(text string, parseSpecial bool) ([]int32, error) {
	var out []int32
	for len(text) > 0 {
		if parseSpecial && strings.HasPrefix(text, "<|im_start|>") {
			out, text = append(out, tokImStart), text[len("<|im_start|>"):]
		} else if parseSpecial && strings.HasPrefix(text, "<|im_end|>") {
			out, text = append(out, tokImEnd), text[len("<|im_end|>"):]
		} else {
			out, text = append(out, int32(text[0])), text[1:]
		}
	}
	return out, nil
}

func (m *fakeLM) Detokenize(toks []int32, renderSpecial bool) string {
	var b strings.Builder
	for _, t := range toks {
		switch {
		case t < 256:
			b.WriteByte(byte(t))
		case renderSpecial && t == tokImStart:
			b.WriteString("<|im_start|>")
		case renderSpecial && t == tokImEnd:
			b.WriteString("<|im_end|>")
		}
	}
	return b.String()
}

func (m *fakeLM) ApplyChatTemplate(msgs []envs.Message, addAssistant bool) (string, error) {
	var b strings.Builder
	for _, msg := range msgs {
		fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", msg.Role, msg.Content)
	}
	if addAssistant {
		b.WriteString("<|im_start|>assistant\n")
	}
	return b.String(), nil
}

func (m *fakeLM) Generate(reqs []GenRequest) ([]GenResult, error) {
	out := make([]GenResult, len(reqs))
	for i, r := range reqs {
		if r.Seq < 0 || r.Seq >= m.nseq {
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

func (m *fakeLM) Score(reqs []ScoreRequest) ([]ScoreResult, error) {
	out := make([]ScoreResult, len(reqs))
	for i, r := range reqs {
		if r.From < 1 || r.Seq >= m.nseq {
			return nil, fmt.Errorf("bad score request seq %d from %d", r.Seq, r.From)
		}
		if len(r.Tokens) > m.nctx { // as llama.Score
			return nil, fmt.Errorf("%d tokens do not fit the context of %d", len(r.Tokens), m.nctx)
		}
		for p := r.From; p < len(r.Tokens); p++ {
			lp := m.logProb(r.Tokens[:p], r.Tokens[p])
			if m.nanScore {
				lp = math.NaN()
			}
			out[i].LogProbs = append(out[i].LogProbs, float32(lp))
			if r.TopK > 0 {
				ls := logSoftmax(m.logits(r.Tokens[:p]))
				var top []TokenLogProb
				for j, v := range ls {
					top = append(top, TokenLogProb{actionToks[j], float32(v)})
				}
				sort.SliceStable(top, func(a, b int) bool { return top[a].LogProb > top[b].LogProb })
				out[i].TopK = append(out[i].TopK, top[:min(r.TopK, len(top))])
			}
		}
	}
	return out, nil
}

func (m *fakeLM) SetAdapter(path string) error {
	m.adapterSet++
	if path == "" {
		m.delta = nil
		return nil
	}
	var st fakeState2
	if err := readJSON(path, &st); err != nil {
		return err
	}
	m.delta = st.Delta
	return nil
}

// fakeState2 is the fake learner's saved state: the table and the step.
type fakeState2 struct {
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
	return WriteFileAtomic(path, b)
}

// fakeLearner trains the student's table by SGD on L = −(1/N) Σ A(t)·log π(y_t).
type fakeLearner struct {
	lr    float64
	st    fakeState2
	nanAt int // optimizer call that reports a non-finite loss (0 = never)
	calls int
	seen  [][]TrainSeq // every batch it was given
}

func (l *fakeLearner) Step(micro [][]TrainSeq) (TrainStats, error) {
	l.calls++
	l.seen = append(l.seen, flatten(micro))
	pol := &fakeLM{delta: l.st.Delta}
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
	for _, mb := range micro {
		for _, s := range mb {
			for i, tok := range s.Tokens {
				if !s.Mask[i] {
					continue
				}
				w := float64(s.Weights[i])
				lp := logSoftmax(pol.logits(s.Tokens[:i]))
				a := actionIndex(tok)
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
	st := TrainStats{Loss: float32(loss), GradNorm: float32(norm), LR: float32(l.lr), Tokens: n}
	if l.calls == l.nanAt || math.IsNaN(loss) || math.IsInf(loss, 0) {
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
			d[j] -= l.lr * grad[k][j]
		}
		l.st.Delta[k] = d
	}
	l.st.Step++
	st.Step = l.st.Step
	return st, nil
}

func flatten(micro [][]TrainSeq) []TrainSeq {
	var out []TrainSeq
	for _, mb := range micro {
		out = append(out, mb...)
	}
	return out
}

func (l *fakeLearner) SaveAdapter(path string) error {
	return writeJSON(path, fakeState2{Delta: l.st.Delta})
}
func (l *fakeLearner) SaveState(path string) error { return writeJSON(path, l.st) }
func (l *fakeLearner) LoadState(path string) error { return readJSON(path, &l.st) }
func (l *fakeLearner) Close()                      {}

// fakeOpener builds fresh fakes; last keeps them for inspection.
type fakeOpener struct {
	lr       float64
	nanAt    int
	nanScore bool
	last     *Models
}

func (f *fakeOpener) open(cfg *Config, need Need) (*Models, error) {
	m := &Models{
		Student: &fakeLM{nseq: need.NSeq, nctx: cfg.Rollout.Context},
		Teacher: &fakeLM{nseq: need.NSeq, nctx: cfg.Rollout.Context, teacher: true, nanScore: f.nanScore},
		Learner: &fakeLearner{lr: f.lr, nanAt: f.nanAt},
	}
	f.last = m
	return m, nil
}

// echoEnv: each turn shows "say D"; the right action is the digit D. An episode
// of K turns is won when every digit was echoed.
// echoEnv asks for the digit it shows, for turns turns; pad lengthens each
// observation by that many filler characters.
type echoEnv struct{ turns, pad int }

func (e echoEnv) Name() string { return "echo" }
func (e echoEnv) Tasks(split string, n int, seed int64) ([]envs.Task, error) {
	out := make([]envs.Task, n)
	for i := range out {
		s := int64(deriveSeed(seed, int64(i), int64(len(split))) >> 1)
		out[i] = envs.Task{Env: "echo", ID: fmt.Sprintf("%s-%d", split, s%100000), Split: split, Seed: s}
	}
	return out, nil
}
func (e echoEnv) Open(t envs.Task) (envs.Episode, error) {
	r := rand.New(rand.NewPCG(uint64(t.Seed), 1))
	ep := &echoEpisode{pad: e.pad}
	for range e.turns {
		ep.digits = append(ep.digits, byte('0'+r.IntN(10)))
	}
	return ep, nil
}
func (e echoEnv) Instructions() string { return "Repeat the digit you are shown." }
func (e echoEnv) ParseAction(reply string) (string, bool) {
	for _, c := range reply {
		if c >= '0' && c <= '9' {
			return string(c), true
		}
	}
	return "", false
}
func (e echoEnv) StopStrings() []string                 { return nil }
func (e echoEnv) Oracle(envs.Task) (envs.Oracle, error) { return nil, errors.New("no oracle") }

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
