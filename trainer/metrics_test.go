package trainer

import (
	"testing"

	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/rollout"
)

// The diagnosis figures of a step: the paper's T-DUR weight by turn, and how
// much of the RL term came from groups with a win.
func TestDiagnosisHandComputed(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TDUR = atod.TDUR{Enabled: true, Form: "paper"}
	cfg.GRPO = atod.GRPO{StdNorm: false}
	cfg.Rollout.InvalidPenalty = 0.1
	// turn is one action token with the given lp_s and lp_t (N = 0: an empty reply).
	type turn struct {
		n        int
		lpS, lpT float32
	}
	ep := func(task int, won bool, score float64, invalid int, turns ...turn) *rollout.Episode {
		e := &rollout.Episode{TaskIdx: task, Won: won, Score: score, Invalid: invalid, Transcript: &rollout.Transcript{Seqs: [][]int32{make([]int32, len(turns)+1)}}}
		for k, tr := range turns {
			e.Turns = append(e.Turns, rollout.Turn{Seq: 0, Start: k + 1, N: tr.n, LpS: []float32{tr.lpS}, LpT: []float32{tr.lpT}, Ent: []float32{1}})
		}
		return e
	}
	one := turn{1, -1, -1}
	eps := []*rollout.Episode{
		// Turn 1: D = 0, U = 1; turn 2: D = 1, U = 2 → min–max 0 and 1 both → w = 0, 1.
		ep(0, true, 1, 0, turn{1, -1, -1}, turn{1, -2, -1}),
		ep(0, false, 0, 1, one),                              // one turn: 1 − 0.5·0.5 = 0.75
		ep(1, false, 0, 0, turn{1, -2, -1}, turn{1, -1, -1}), // w = 1, 0
		// Turn 1: D = 2, U = 1; turn 2 empty (w = 1, left out); turn 3: D = 0, U = 0.5 → w = 1, 1, 0.
		ep(1, false, 0, 2, turn{1, -1, -3}, turn{}, turn{1, -0.5, -0.5}),
		ep(2, true, 1, 0, one), ep(2, true, 1, 0, one),
		ep(3, false, 0.5, 0, one), ep(3, false, 0, 0, one), // a partial score is no win
	}
	b := buildBatch(&cfg, eps, 1, 1, 0)
	// Turn 1: (0 + 0.75 + 1 + 1 + 4·0.75)/8; turn 2: (1 + 0)/2; turn 3: 0.
	want := []float64{5.75 / 8, 0.5, 0}
	got := weightsByTurn(eps, b.turnW)
	if len(got) != len(want) {
		t.Fatalf("weights by turn %v, want %v", got, want)
	}
	for k := range want {
		if !near(float64(got[k]), want[k], 1e-12) {
			t.Errorf("weights by turn %v, want %v", got, want)
		}
	}
	// a_rl = R − mean R: group 0 (R = 1, −0.1) ±0.55, group 1 (0, −0.2) ±0.1,
	// group 2 (equal) 0, group 3 (0.5, 0) ±0.25: Σ|a_rl| = 1.8, of which 1.1
	// from the groups with a win, 0 and 2.
	if g := b.groups; g.withWin != 2 || g.n != 4 || !near(g.absFromWins, 1.1/1.8, 1e-12) {
		t.Errorf("groups with a win %d of %d, share of |a_rl| %v; want 2 of 4, 0.611", g.withWin, g.n, g.absFromWins)
	}
	// No RL signal at all: the share is 0, not NaN.
	if g := buildBatch(&cfg, eps[4:6], 1, 1, 0).groups; g.withWin != 1 || g.absFromWins != 0 {
		t.Errorf("equal returns: %+v", g)
	}
}
