// Package rollout plays episodes with a model: the transcript type that rollouts,
// evaluation and SFT share (the tokens a policy sees), batched multi-episode
// rollouts with per-token student log-probs and entropies, the teacher's scoring
// pass over the student's own tokens, held-out evaluation, and the
// position-derived seeds that make a resumed run draw exactly what an
// uninterrupted one would.
package rollout

import (
	"fmt"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
)

// Turn is one action of an episode: where its tokens sit in the transcript and
// what the student (and later the teacher) said about them.
type Turn struct {
	Seq, Start, N int       // action tokens are Seqs[Seq][Start : Start+N]
	LpS, Ent      []float32 // student log-prob and entropy at sampling time
	LpT           []float32 // teacher log-prob of the same tokens (ScoreTeacher)
	KL            []float64 // per-token top-k KL, when scored with top-k lists
	Invalid       bool
}

// Episode is one rollout of a task.
type Episode struct {
	Task             envs.Task
	TaskIdx, Rollout int // which task of the batch, which of its group
	*Transcript
	Turns     []Turn
	Won       bool
	Score     float64
	Invalid   int  // invalid actions
	Done      bool // the env ended it, or it was cut
	Truncated bool // ran out of context or turns

	ep envs.Episode
}

// Spec says how a batch of episodes is played.
type Spec struct {
	Prompt   envs.PromptConfig
	Sampling model.Sampling
	MaxTurns int
	// Seed gives the sampling seed of (task, rollout, turn); resume is exact
	// because nothing else feeds the samplers.
	Seed func(taskIdx, rollout, turn int) uint64
}

// Play plays every task group times with lm, all live episodes of a wave
// sampled together in one Generate call per turn.
func Play(lm model.LM, env envs.Env, tasks []envs.Task, group int, spec Spec) ([]*Episode, error) {
	var eps []*Episode
	for ti, t := range tasks {
		for r := 0; r < group; r++ {
			eps = append(eps, &Episode{Task: t, TaskIdx: ti, Rollout: r})
		}
	}
	defer func() {
		for _, e := range eps {
			if e.ep != nil {
				e.ep.Close()
			}
		}
	}()
	for _, e := range eps {
		ep, err := env.Open(e.Task)
		if err != nil {
			return nil, fmt.Errorf("open task %s: %w", e.Task.ID, err)
		}
		e.ep = ep
		first, err := ep.Reset()
		if err != nil {
			return nil, fmt.Errorf("reset task %s: %w", e.Task.ID, err)
		}
		e.Transcript = NewTranscript(lm, env, spec.Prompt, first)
	}
	lm.ClearAll() // a fresh cache makes the numbers independent of earlier phases
	for lo := 0; lo < len(eps); lo += lm.NSeq() {
		if err := playWave(lm, env, eps[lo:min(len(eps), lo+lm.NSeq())], spec); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

func playWave(lm model.LM, env envs.Env, wave []*Episode, spec Spec) error {
	stops := env.StopStrings()
	for turn := 0; turn < spec.MaxTurns; turn++ {
		var reqs []model.GenRequest
		var live []*Episode
		for i, e := range wave {
			if e.Done {
				continue
			}
			undo := e.mark()
			prompt, err := e.Prompt()
			if err != nil {
				return fmt.Errorf("task %s turn %d: %w", e.Task.ID, turn+1, err)
			}
			if len(prompt)+spec.Sampling.MaxTokens > lm.NCtx() {
				// The unanswered prompt would not fit the scorer's or learner's context either.
				undo()
				e.Done, e.Truncated = true, true
				continue
			}
			s := spec.Sampling
			s.Seed = spec.Seed(e.TaskIdx, e.Rollout, turn)
			s.Stop = stops
			reqs = append(reqs, model.GenRequest{Seq: i, Prompt: prompt, Sampling: s})
			live = append(live, e)
		}
		if len(reqs) == 0 {
			return nil
		}
		res, err := lm.Generate(reqs)
		if err != nil {
			return fmt.Errorf("generate turn %d: %w", turn+1, err)
		}
		for i, e := range live {
			if err := e.apply(env, res[i], len(reqs[i].Prompt)); err != nil {
				return fmt.Errorf("task %s turn %d: %w", e.Task.ID, turn+1, err)
			}
		}
	}
	for _, e := range wave {
		if !e.Done {
			e.Done, e.Truncated = true, true
		}
	}
	return nil
}

// apply records a sampled reply and steps the env with its action.
func (e *Episode) apply(env envs.Env, g model.GenResult, promptLen int) error {
	if len(g.LogProbs) != len(g.Tokens) || len(g.Entropies) != len(g.Tokens) {
		return fmt.Errorf("generate returned %d tokens, %d log-probs, %d entropies", len(g.Tokens), len(g.LogProbs), len(g.Entropies))
	}
	start := e.Reply(g.Tokens, g.Text, promptLen)
	e.Turns = append(e.Turns, Turn{Seq: len(e.Seqs) - 1, Start: start, N: len(g.Tokens), LpS: g.LogProbs, Ent: g.Entropies})
	action, ok := env.ParseAction(g.Text)
	res, err := e.ep.Step(action)
	if err != nil {
		return fmt.Errorf("env step: %w", err)
	}
	if !ok || res.Info.Invalid {
		e.Invalid++
		e.Turns[len(e.Turns)-1].Invalid = true
	}
	e.Observe(res.Observation)
	e.Won, e.Score, e.Done = res.Info.Won, res.Info.Score, res.Done
	if g.Stop == "context" {
		e.Done, e.Truncated = true, true
	}
	return nil
}
