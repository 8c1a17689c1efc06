package trainer

import (
	"math"
	"testing"

	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/fake"
)

// lpLearner is a learner whose forward pass returns fixed log-probs.
type lpLearner struct {
	fake.Learner
	lp map[int][]float32 // by sequence length
}

func (l *lpLearner) LogProbs(seqs []model.TrainSeq) ([][]float32, error) {
	var out [][]float32
	for _, s := range seqs {
		out = append(out, l.lp[len(s.Tokens)])
	}
	return out, nil
}

// Two sequences, given to the learner longest-last: the mismatch and the
// truncated importance weights pair each learner log-prob with the sampler's.
func TestMismatchAndTruncatedIS(t *testing.T) {
	b := batch{
		seqs: []model.TrainSeq{
			{Tokens: []int32{1, 2, 3}, Mask: []bool{false, true, true}, Weights: []float32{0, 1, -1}},
			{Tokens: []int32{1, 2}, Mask: []bool{false, true}, Weights: []float32{0, 2}},
		},
		lpS: [][]float32{{0, -1, -2}, {0, -0.5}},
	}
	idx := microIndex(b.seqs, 100)
	if len(idx) != 1 || idx[0][0] != 1 || idx[0][1] != 0 {
		t.Fatalf("micro-batch order %v, want [[1 0]]", idx)
	}
	l := &lpLearner{lp: map[int][]float32{3: {0, -1.5, -1}, 2: {0, -0.25}}}
	// |−1.5 + 1|, |−1 + 2|, |−0.25 + 0.5| → mean (0.5 + 1 + 0.25)/3.
	lpL := [][]float32{l.lp[2], l.lp[3]}
	if got := mismatch(lpL, idx, b); !near(got, 1.75/3, 1e-7) {
		t.Errorf("mismatch %v, want %v", got, 1.75/3)
	}
	if got := mismatch(nil, idx, b); !math.IsNaN(got) {
		t.Errorf("mismatch without learner log-probs %v, want NaN", got)
	}
	micro := MicroBatches(b.seqs, 100)
	if err := truncateIS(l, micro, idx, b.lpS, 2); err != nil {
		t.Fatal(err)
	}
	// ratios e^−0.5, e^1 → cap 2, e^0.25.
	want := [][]float32{{0, float32(math.Exp(-0.5)), -2}, {0, 2 * float32(math.Exp(0.25))}}
	for i, w := range want {
		for p := range w {
			if !near(float64(b.seqs[i].Weights[p]), float64(w[p]), 1e-6) {
				t.Errorf("seq %d pos %d: weight %v, want %v", i, p, b.seqs[i].Weights[p], w[p])
			}
		}
	}
	if err := truncateIS(&fake.Learner{}, micro, idx, b.lpS, 2); err == nil {
		t.Error("a learner without a forward pass must be refused")
	}
}
