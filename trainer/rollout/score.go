package rollout

import (
	"fmt"

	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/atod"
)

// TopK is how many of the teacher's most likely tokens scoring asks for at
// each action position, and what for.
type TopK struct {
	KL      int // T-DUR's top-k disagreement: the student's lists too, compared in Turn.KL
	Distill int // the distillation term: the teacher's lists kept in Turn.TopK
}

// Teacher is the length of the teacher's lists: the larger of the two.
func (k TopK) Teacher() int { return max(k.KL, k.Distill) }

// ScoreTeacher fills LpT of every turn, and KL and TopK as topK asks: the
// teacher scores the student's own token sequences at the action positions,
// and only there. The lists kept for the distillation term leave out ids past
// the student's vocabulary (a larger teacher's padding ids), whose mass joins
// the tail. progress, when set, hears each wave of sequences scored.
func ScoreTeacher(teacher, student model.LM, eps []*Episode, topK TopK, progress func(done, total int)) error {
	type ref struct {
		e   *Episode
		seq int
	}
	var refs []ref
	var reqs []model.ScoreRequest
	for _, e := range eps {
		masks := make([][]bool, len(e.Seqs))
		from := make([]int, len(e.Seqs))
		for _, t := range e.Turns {
			if t.N == 0 {
				continue
			}
			if masks[t.Seq] == nil {
				masks[t.Seq], from[t.Seq] = make([]bool, len(e.Seqs[t.Seq])), t.Start
			}
			from[t.Seq] = min(from[t.Seq], t.Start)
			for p := t.Start; p < t.Start+t.N; p++ {
				masks[t.Seq][p] = true
			}
		}
		for i, m := range masks {
			if m == nil {
				continue
			}
			refs = append(refs, ref{e, i})
			// Only the action tokens: the observations between them need no logits.
			reqs = append(reqs, model.ScoreRequest{Tokens: e.Seqs[i], From: from[i], TopK: topK.Teacher(), Mask: m})
		}
	}
	tRes, err := scoreWaves(teacher, reqs, progress)
	if err != nil {
		return fmt.Errorf("teacher: %w", err)
	}
	var sRes []model.ScoreResult
	if topK.KL > 0 { // the student's top-k lists too, for the top-k KL
		sReqs := append([]model.ScoreRequest(nil), reqs...)
		for i := range sReqs {
			sReqs[i].TopK = topK.KL
		}
		if sRes, err = scoreWaves(student, sReqs, nil); err != nil {
			return fmt.Errorf("student top-k: %w", err)
		}
	}
	vocab := student.VocabSize()
	for ri, r := range refs {
		from := reqs[ri].From
		for k := range r.e.Turns {
			t := &r.e.Turns[k]
			if t.Seq != r.seq || t.N == 0 {
				continue
			}
			lo, hi := t.Start-from, t.Start-from+t.N
			if hi > len(tRes[ri].LogProbs) {
				return fmt.Errorf("teacher returned %d log-probs, need %d", len(tRes[ri].LogProbs), hi)
			}
			t.LpT = tRes[ri].LogProbs[lo:hi]
			if topK.Teacher() > 0 && hi > len(tRes[ri].TopK) {
				return fmt.Errorf("teacher returned %d top-k lists, need %d", len(tRes[ri].TopK), hi)
			}
			if topK.KL > 0 {
				if hi > len(sRes[ri].TopK) {
					return fmt.Errorf("student returned %d top-k lists, need %d", len(sRes[ri].TopK), hi)
				}
				t.KL = make([]float64, t.N)
				for j := range t.KL {
					tl := tRes[ri].TopK[lo+j]
					t.KL[j] = atod.TopKKL(sRes[ri].TopK[lo+j], tl[:min(len(tl), topK.KL)])
				}
			}
			if topK.Distill > 0 {
				t.TopK = make([][]model.TokenLogProb, t.N)
				for j := range t.TopK {
					for _, v := range tRes[ri].TopK[lo+j] {
						if int(v.Token) < vocab && len(t.TopK[j]) < topK.Distill {
							t.TopK[j] = append(t.TopK[j], v)
						}
					}
				}
			}
		}
	}
	return nil
}

// scoreWaves runs requests through lm's NSeq parallel sequences, a wave at a time.
func scoreWaves(lm model.LM, reqs []model.ScoreRequest, progress func(done, total int)) ([]model.ScoreResult, error) {
	lm.ClearAll()
	out := make([]model.ScoreResult, 0, len(reqs))
	if progress != nil {
		progress(0, len(reqs))
	}
	for lo := 0; lo < len(reqs); lo += lm.NSeq() {
		wave := append([]model.ScoreRequest(nil), reqs[lo:min(len(reqs), lo+lm.NSeq())]...)
		for i := range wave {
			wave[i].Seq = i
		}
		res, err := lm.Score(wave)
		if err != nil {
			return nil, err
		}
		if len(res) != len(wave) {
			return nil, fmt.Errorf("score returned %d results for %d requests", len(res), len(wave))
		}
		out = append(out, res...)
		if progress != nil {
			progress(len(out), len(reqs))
		}
	}
	return out, nil
}
