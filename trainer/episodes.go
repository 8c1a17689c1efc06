package trainer

import (
	"github.com/atod-dev/atod/trainer/atod"
	"github.com/atod-dev/atod/trainer/rollout"
	"github.com/atod-dev/atod/trainer/rundir"
)

// records turns played episodes into records; weights and turnW are the
// batch's per-token weights and T-DUR weights (nil for evaluations).
func records(step int, kind, who string, eps []*rollout.Episode, penalty float64, piece func(int32) string,
	weights [][][]float32, turnW [][]float64) []rundir.EpisodeRecord {
	out := make([]rundir.EpisodeRecord, len(eps))
	for i, e := range eps {
		r := rundir.EpisodeRecord{Step: step, Kind: kind, Model: who, Task: e.Task.ID, Group: e.TaskIdx, Rollout: e.Rollout,
			Won: e.Won, Score: e.Score, Return: atod.EpisodeReturn(e.Score, e.Invalid, penalty), Last: e.Obs.Text}
		for k, t := range e.Turns {
			tr := rundir.TurnRecord{Invalid: t.Invalid, TDUR: 1}
			if k < len(e.History) {
				tr.Observation, tr.Reply = e.History[k].Obs.Text, e.History[k].Reply
			}
			if turnW != nil {
				tr.TDUR = rundir.Figure(turnW[i][k])
			}
			for j := 0; j < t.N; j++ {
				tok := rundir.TokenRecord{Piece: piece(e.Seqs[t.Seq][t.Start+j]), LpS: rundir.Figure(t.LpS[j])}
				if t.LpT != nil {
					tok.LpT = rundir.Figure(t.LpT[j])
				}
				if weights != nil {
					tok.W = rundir.Figure(weights[i][k][j])
				}
				tr.Tokens = append(tr.Tokens, tok)
			}
			r.Turns = append(r.Turns, tr)
		}
		out[i] = r
	}
	return out
}
