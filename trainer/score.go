package trainer

import "fmt"

// scoreTeacher fills lpT (and kl for topk_kl) of every turn: the teacher scores
// the student's own token sequences at the action positions.
func scoreTeacher(teacher, student LM, eps []*episode, topK int) error {
	type ref struct {
		e   *episode
		seq int
	}
	var refs []ref
	var reqs []ScoreRequest
	for _, e := range eps {
		from := make([]int, len(e.seqs))
		for i := range from {
			from[i] = -1
		}
		for _, t := range e.turns {
			if t.n > 0 && (from[t.seq] < 0 || t.start < from[t.seq]) {
				from[t.seq] = t.start
			}
		}
		for i, f := range from {
			if f < 0 {
				continue
			}
			refs = append(refs, ref{e, i})
			reqs = append(reqs, ScoreRequest{Tokens: e.seqs[i], From: f, TopK: topK})
		}
	}
	tRes, err := scoreWaves(teacher, reqs)
	if err != nil {
		return fmt.Errorf("teacher: %w", err)
	}
	var sRes []ScoreResult
	if topK > 0 { // the student's top-k lists too, for the top-k KL
		if sRes, err = scoreWaves(student, reqs); err != nil {
			return fmt.Errorf("student top-k: %w", err)
		}
	}
	for ri, r := range refs {
		from := reqs[ri].From
		for k := range r.e.turns {
			t := &r.e.turns[k]
			if t.seq != r.seq || t.n == 0 {
				continue
			}
			lo, hi := t.start-from, t.start-from+t.n
			if hi > len(tRes[ri].LogProbs) {
				return fmt.Errorf("teacher returned %d log-probs, need %d", len(tRes[ri].LogProbs), hi)
			}
			t.lpT = tRes[ri].LogProbs[lo:hi]
			if topK > 0 {
				if hi > len(tRes[ri].TopK) || hi > len(sRes[ri].TopK) {
					return fmt.Errorf("score returned too few top-k lists")
				}
				t.kl = make([]float64, t.n)
				for j := range t.kl {
					t.kl[j] = TopKKL(sRes[ri].TopK[lo+j], tRes[ri].TopK[lo+j])
				}
			}
		}
	}
	return nil
}

// scoreWaves runs requests through lm's NSeq parallel sequences, a wave at a time.
func scoreWaves(lm LM, reqs []ScoreRequest) ([]ScoreResult, error) {
	lm.ClearAll()
	out := make([]ScoreResult, 0, len(reqs))
	for lo := 0; lo < len(reqs); lo += lm.NSeq() {
		wave := append([]ScoreRequest(nil), reqs[lo:min(len(reqs), lo+lm.NSeq())]...)
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
	}
	return out, nil
}
