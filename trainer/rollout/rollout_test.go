package rollout_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/rollout"
)

// The "full" transcript is exactly the chat template's rendering of the
// conversation, sampled tokens kept as sampled, and re-scoring it with the
// student gives back the log-probs recorded at sampling time.
func TestFullTranscriptIsAppendOnlyAndOnPolicy(t *testing.T) {
	lm := &fake.LM{Seqs: 4, Ctx: 4096}
	env := fake.Echo{Turns: 3}
	tasks, _ := env.Tasks("train", 2, 5)
	pc := envs.PromptConfig{History: "full"}
	spec := rollout.Spec{Prompt: pc, Sampling: model.Sampling{Temperature: 1, MaxTokens: 3}, MaxTurns: 5,
		Seed: func(a, b, c int) uint64 { return rollout.DeriveSeed(9, int64(a), int64(b), int64(c)) }}
	eps, err := rollout.Play(lm, env, tasks, 2, spec)
	if err != nil {
		t.Fatal(err)
	}
	sawEOG, sawLength := false, false
	for _, e := range eps {
		if len(e.Seqs) != 1 || len(e.Turns) != 3 {
			t.Fatalf("%d seqs %d turns", len(e.Seqs), len(e.Turns))
		}
		msgs := envs.Messages(env, pc, e.First, e.History, e.Obs)
		all, _ := lm.ApplyChatTemplate(msgs, false)
		got := lm.Detokenize(e.Seqs[0], true)
		if !strings.HasPrefix(all, got) {
			t.Errorf("transcript is not the template's rendering:\n%q\n%q", got, all)
		}
		for k, tr := range e.Turns {
			res, _ := lm.Score([]model.ScoreRequest{{Tokens: e.Seqs[0][:tr.Start+tr.N], From: tr.Start}})
			for j := range tr.LpS {
				if res[0].LogProbs[j] != tr.LpS[j] {
					t.Errorf("turn %d token %d: rescored %v, sampled %v", k, j, res[0].LogProbs[j], tr.LpS[j])
				}
			}
			last := e.Seqs[0][tr.Start+tr.N-1]
			sawEOG = sawEOG || lm.IsEOG(last)
			sawLength = sawLength || !lm.IsEOG(last)
		}
	}
	if !sawEOG || !sawLength {
		t.Errorf("want replies ending both in <|im_end|> and by length (eog %v, length %v)", sawEOG, sawLength)
	}
}

// ScoreTeacher scores every action token, and only those: with the student as
// its own teacher, each turn's teacher log-probs are the sampled ones and the
// top-k KL is 0, in both history modes.
func TestScoreTeacherCoversEveryActionToken(t *testing.T) {
	for _, history := range []string{"full", "last"} {
		lm := &fake.LM{Seqs: 4, Ctx: 4096}
		env := fake.Echo{Turns: 3}
		tasks, _ := env.Tasks("train", 2, 5)
		spec := rollout.Spec{Prompt: envs.PromptConfig{History: history, LastN: 1}, Sampling: model.Sampling{Temperature: 1, MaxTokens: 3}, MaxTurns: 5,
			Seed: func(a, b, c int) uint64 { return rollout.DeriveSeed(4, int64(a), int64(b), int64(c)) }}
		eps, err := rollout.Play(lm, env, tasks, 2, spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := rollout.ScoreTeacher(lm, lm, eps, rollout.TopK{KL: 3}, nil); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range eps {
			for k, tr := range e.Turns {
				if len(tr.LpT) != tr.N || len(tr.KL) != tr.N {
					t.Fatalf("%s: turn %d: %d teacher log-probs, %d KLs for %d tokens", history, k, len(tr.LpT), len(tr.KL), tr.N)
				}
				for j := range tr.N {
					if tr.LpT[j] != tr.LpS[j] || tr.KL[j] != 0 {
						t.Errorf("%s: turn %d token %d: teacher %v, sampled %v, KL %v", history, k, j, tr.LpT[j], tr.LpS[j], tr.KL[j])
					}
					n++
				}
			}
		}
		if n == 0 {
			t.Fatalf("%s: no action tokens", history)
		}
	}
}

// With the distillation term, ScoreTeacher keeps the teacher's top-k list at
// every action token (the teacher's own, as it scores alone); T-DUR's top-k
// KL compares lists of its own length whatever the term asks.
func TestScoreTeacherKeepsTopKLists(t *testing.T) {
	student, teacher := &fake.LM{Seqs: 4, Ctx: 4096}, &fake.LM{Seqs: 4, Ctx: 4096, Teacher: true}
	env := fake.Echo{Turns: 2}
	tasks, _ := env.Tasks("train", 2, 5)
	spec := rollout.Spec{Prompt: envs.PromptConfig{History: "full"}, Sampling: model.Sampling{Temperature: 1, MaxTokens: 3}, MaxTurns: 5,
		Seed: func(a, b, c int) uint64 { return rollout.DeriveSeed(4, int64(a), int64(b), int64(c)) }}
	play := func(k rollout.TopK) []*rollout.Episode {
		eps, err := rollout.Play(student, env, tasks, 2, spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := rollout.ScoreTeacher(teacher, student, eps, k, nil); err != nil {
			t.Fatal(err)
		}
		return eps
	}
	alone, both := play(rollout.TopK{KL: 2}), play(rollout.TopK{KL: 2, Distill: 4})
	n := 0
	for i, e := range both {
		for k, tr := range e.Turns {
			if len(tr.TopK) != tr.N || alone[i].Turns[k].TopK != nil {
				t.Fatalf("turn %d: %d lists for %d tokens (%d without the term)", k, len(tr.TopK), tr.N, len(alone[i].Turns[k].TopK))
			}
			seq := e.Seqs[tr.Seq]
			for j := range tr.N {
				p := tr.Start + j
				want, _ := teacher.Score([]model.ScoreRequest{{Tokens: seq[:p+1], From: p, TopK: 4}})
				if fmt.Sprint(tr.TopK[j]) != fmt.Sprint(want[0].TopK[0]) {
					t.Errorf("turn %d token %d: list %v, want %v", k, j, tr.TopK[j], want[0].TopK[0])
				}
				if tr.KL[j] != alone[i].Turns[k].KL[j] {
					t.Errorf("turn %d token %d: T-DUR KL %v with the term, %v without", k, j, tr.KL[j], alone[i].Turns[k].KL[j])
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no action tokens")
	}
}
