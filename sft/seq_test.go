package sft

import (
	"reflect"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
	_ "github.com/atod-dev/atod/envs/builtin"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/rollout"
)

func detok(toks []int32) string { return fake.Chat{}.Detokenize(toks, true) }

// targets is the text of the masked-in tokens, one string per run of targets.
func targets(t *testing.T, toks []int32, mask []bool, w []float32) []string {
	t.Helper()
	if mask[0] {
		t.Fatal("Mask[0] is set")
	}
	var runs []string
	var cur []int32
	for i, m := range mask {
		if m != (w[i] == 1) {
			t.Fatalf("token %d: mask %v weight %v", i, m, w[i])
		}
		if m {
			cur = append(cur, toks[i])
		} else if len(cur) > 0 {
			runs, cur = append(runs, detok(cur)), nil
		}
	}
	if len(cur) > 0 {
		runs = append(runs, detok(cur))
	}
	return runs
}

func testDemo() Demo {
	o0 := envs.Observation{Text: "You see a drawer 1.", Admissible: []string{"go to drawer 1", "look"}}
	o1 := envs.Observation{Text: "You arrive at drawer 1.", Admissible: []string{"open drawer 1"}}
	return Demo{First: o0, Turns: []envs.Turn{
		{Obs: o0, Reply: "<action>go to drawer 1</action>"},
		{Obs: o1, Reply: "<action>open drawer 1</action>"},
	}, Won: true}
}

func TestSequencesFullHistory(t *testing.T) {
	env, err := envs.New("household", nil)
	if err != nil {
		t.Fatal(err)
	}
	pc := envs.PromptConfig{History: "full", ShowAdmissible: true}
	d := testDemo()
	seqs, cut, err := Sequences(fake.Chat{}, env, pc, d, 1<<20)
	if err != nil || cut != 0 || len(seqs) != 1 {
		t.Fatalf("got %d sequences, %d cut, %v", len(seqs), cut, err)
	}
	s := seqs[0]
	sys := envs.SystemPrompt(env, pc)
	want := "<|im_start|>system\n" + sys + "<|im_end|>\n" +
		"<|im_start|>user\nYou see a drawer 1.\nAdmissible actions: go to drawer 1, look<|im_end|>\n" +
		"<|im_start|>assistant\n<action>go to drawer 1</action><|im_end|>\n" +
		"<|im_start|>user\nYou arrive at drawer 1.\nAdmissible actions: open drawer 1<|im_end|>\n" +
		"<|im_start|>assistant\n<action>open drawer 1</action><|im_end|>"
	if got := detok(s.Tokens); got != want {
		t.Fatalf("transcript\n%q\nwant\n%q", got, want)
	}
	got := targets(t, s.Tokens, s.Mask, s.Weights)
	wantT := []string{"<action>go to drawer 1</action><|im_end|>", "<action>open drawer 1</action><|im_end|>"}
	if !reflect.DeepEqual(got, wantT) {
		t.Fatalf("targets %q, want %q", got, wantT)
	}

	short, cut, err := Sequences(fake.Chat{}, env, pc, d, 40)
	if err != nil || cut != 1 || len(short[0].Tokens) != 40 || len(short[0].Mask) != 40 || len(short[0].Weights) != 40 {
		t.Fatalf("cut to 40: %d cut, %v", cut, err)
	}
}

func TestSequencesLastHistory(t *testing.T) {
	env, err := envs.New("household", nil)
	if err != nil {
		t.Fatal(err)
	}
	pc := envs.PromptConfig{History: "last", LastN: 1}
	d := testDemo()
	seqs, _, err := Sequences(fake.Chat{}, env, pc, d, 1<<20)
	if err != nil || len(seqs) != 2 {
		t.Fatalf("got %d sequences, %v", len(seqs), err)
	}
	for k, s := range seqs {
		msgs := envs.Messages(env, pc, d.First, d.Turns[:k], d.Turns[k].Obs)
		prompt, _ := fake.Chat{}.ApplyChatTemplate(msgs, true)
		if got, want := detok(s.Tokens), prompt+d.Turns[k].Reply+"<|im_end|>"; got != want {
			t.Fatalf("turn %d: %q, want %q", k, got, want)
		}
		if got := targets(t, s.Tokens, s.Mask, s.Weights); !reflect.DeepEqual(got, []string{d.Turns[k].Reply + "<|im_end|>"}) {
			t.Fatalf("turn %d targets %q", k, got)
		}
	}
}

// An injected mistake is context: neither its reply nor the end-of-generation
// token that closes it is a target, in either history mode.
func TestSequencesSkipMistakes(t *testing.T) {
	env, err := envs.New("household", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := testDemo()
	bad := envs.Turn{Obs: d.Turns[1].Obs, Reply: "<action>look</action>"}
	d.Turns = []envs.Turn{d.Turns[0], bad, {Obs: envs.Observation{Text: "Nothing happens."}, Reply: d.Turns[1].Reply}}
	d.Mistake = []bool{false, true, false}
	want := []string{"<action>go to drawer 1</action><|im_end|>", "<action>open drawer 1</action><|im_end|>"}
	full, _, err := Sequences(fake.Chat{}, env, envs.PromptConfig{History: "full"}, d, 1<<20)
	if err != nil || len(full) != 1 {
		t.Fatalf("full: %d sequences, %v", len(full), err)
	}
	if got := targets(t, full[0].Tokens, full[0].Mask, full[0].Weights); !reflect.DeepEqual(got, want) {
		t.Fatalf("full: targets %q, want %q", got, want)
	}
	if !strings.Contains(detok(full[0].Tokens), "<action>look</action><|im_end|>") {
		t.Fatal("full: the mistake is missing from the transcript")
	}
	last, _, err := Sequences(fake.Chat{}, env, envs.PromptConfig{History: "last"}, d, 1<<20)
	if err != nil || len(last) != 3 {
		t.Fatalf("last: %d sequences, %v", len(last), err)
	}
	var got []string
	for _, s := range last {
		got = append(got, targets(t, s.Tokens, s.Mask, s.Weights)...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("last: targets %q, want %q", got, want)
	}
}

// scripted replies with the next of its replies in every sequence, as if it had
// sampled exactly those tokens and stopped at a stop string.
type scripted struct {
	fake.Chat
	replies []string
	next    map[int]int
}

func (s *scripted) NSeq() int                { return 4 }
func (s *scripted) NCtx() int                { return 1 << 20 }
func (s *scripted) ClearAll()                {}
func (s *scripted) Close()                   {}
func (s *scripted) LoadWeights(string) error { return nil }
func (s *scripted) Score([]model.ScoreRequest) ([]model.ScoreResult, error) {
	return nil, nil
}

func (s *scripted) Generate(reqs []model.GenRequest) ([]model.GenResult, error) {
	out := make([]model.GenResult, len(reqs))
	for i, r := range reqs {
		text := s.replies[s.next[r.Seq]]
		s.next[r.Seq]++
		toks, _ := s.Tokenize(text, false)
		out[i] = model.GenResult{Tokens: toks, Text: text, LogProbs: make([]float32, len(toks)),
			Entropies: make([]float32, len(toks)), Stop: "stop"}
	}
	return out, nil
}

// The token contract: for the same replies, SFT's sequences are the tokens a
// rollout's transcript holds, plus the end-of-generation token that closes the
// last reply (a rollout leaves it to the next prompt), and SFT's targets are the
// rollout's action tokens plus the closing tokens.
func TestSequencesAreRolloutTranscripts(t *testing.T) {
	env := fake.Echo{Turns: 3}
	tasks, _ := env.Tasks("train", 1, 1)
	ep, _ := env.Open(tasks[0])
	first, _ := ep.Reset()
	d := Demo{Task: tasks[0], First: first, Won: true}
	obs := first
	for range 3 {
		reply := "say " + obs.Text[len(obs.Text)-1:]
		d.Turns = append(d.Turns, envs.Turn{Obs: obs, Reply: reply})
		res, _ := ep.Step(obs.Text[len(obs.Text)-1:])
		obs = res.Observation
	}
	var replies []string
	for _, tr := range d.Turns {
		replies = append(replies, tr.Reply)
	}
	for _, history := range []string{"full", "last"} {
		pc := envs.PromptConfig{History: history, LastN: 1}
		seqs, _, err := Sequences(fake.Chat{}, env, pc, d, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		lm := &scripted{replies: replies, next: map[int]int{}}
		spec := rollout.Spec{Prompt: pc, Sampling: model.Sampling{MaxTokens: 16}, MaxTurns: 3,
			Seed: func(int, int, int) uint64 { return 0 }}
		eps, err := rollout.Play(lm, env, tasks, 1, spec)
		if err != nil {
			t.Fatal(err)
		}
		e := eps[0]
		if len(e.Seqs) != len(seqs) {
			t.Fatalf("%s: rollout has %d sequences, SFT %d", history, len(e.Seqs), len(seqs))
		}
		for i, s := range seqs {
			n := len(s.Tokens) - 1
			if !lm.IsEOG(s.Tokens[n]) || !reflect.DeepEqual(s.Tokens[:n], e.Seqs[i]) {
				t.Fatalf("%s: sequence %d\nSFT     %q\nrollout %q", history, i, detok(s.Tokens), detok(e.Seqs[i]))
			}
			want := make([]bool, len(s.Tokens))
			for _, tr := range e.Turns {
				if tr.Seq == i {
					for j := tr.Start; j < tr.Start+tr.N; j++ {
						want[j] = true
					}
					if j := tr.Start + tr.N; j < len(want) && lm.IsEOG(s.Tokens[j]) {
						want[j] = true
					}
				}
			}
			if !reflect.DeepEqual(s.Mask, want) {
				t.Errorf("%s: sequence %d: SFT targets %v, rollout actions and closings %v", history, i, s.Mask, want)
			}
		}
	}
}
