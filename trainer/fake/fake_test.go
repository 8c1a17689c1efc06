package fake

import (
	"math"
	"testing"

	"github.com/atod-dev/atod/model"
)

// topKKL's gradient in the logits equals the central finite difference of its
// KL, and the KL is the hand-computed value: the fake learner descends the KL
// it reports.
func TestTopKKLGradient(t *testing.T) {
	list := []model.TokenLogProb{{Token: '3', LogProb: float32(math.Log(0.6))}, {Token: ImEnd, LogProb: float32(math.Log(0.25))}}
	logits := make([]float64, len(actionToks))
	for i := range logits {
		logits[i] = 0.3 * float64(i%4)
	}
	kl, g := topKKL(logSoftmax(logits), list)
	// by hand: π from the logits; buckets '3' (index 3), <|im_end|> (10), the tail
	lp := logSoftmax(logits)
	pi3, piEnd := math.Exp(lp[3]), math.Exp(lp[10])
	p3, pEnd := float64(float32(math.Log(0.6))), float64(float32(math.Log(0.25)))
	want := math.Exp(p3)*(p3-lp[3]) + math.Exp(pEnd)*(pEnd-lp[10])
	tail := 1 - math.Exp(p3) - math.Exp(pEnd)
	want += tail * (math.Log(tail) - math.Log(1-pi3-piEnd))
	if math.Abs(kl-want) > 1e-12 {
		t.Errorf("KL %v, want %v", kl, want)
	}
	for j := range logits {
		const h = 1e-5
		up, down := append([]float64(nil), logits...), append([]float64(nil), logits...)
		up[j], down[j] = up[j]+h, down[j]-h
		ku, _ := topKKL(logSoftmax(up), list)
		kd, _ := topKKL(logSoftmax(down), list)
		if fd := (ku - kd) / (2 * h); math.Abs(fd-g[j]) > 1e-8 {
			t.Errorf("logit %d: gradient %v, finite difference %v", j, g[j], fd)
		}
	}
}
