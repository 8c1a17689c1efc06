// Package rollout plays episodes with a model: the transcript type that rollouts,
// evaluation and SFT share (the tokens a policy sees), batched multi-episode
// rollouts with per-token student log-probs and entropies, the teacher's scoring
// pass over the student's own tokens, held-out evaluation, and the
// position-derived seeds that make a resumed run draw exactly what an
// uninterrupted one would.
package rollout

import (
	"fmt"
	"strings"
	"time"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
)

// Turn is one action of an episode: where its tokens sit in the transcript and
// what the student (and later the teacher) said about them.
type Turn struct {
	Seq, Start, N int                    // action tokens are Seqs[Seq][Start : Start+N]
	LpS, Ent      []float32              // student log-prob and entropy at sampling time
	LpT           []float32              // teacher log-prob of the same tokens (ScoreTeacher)
	KL            []float64              // per-token top-k KL, when scored with top-k lists
	TopK          [][]model.TokenLogProb // the teacher's top-k per action token, for the distillation term
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
	// Failures counts the attempts the env failed (Info.Failed, or an error
	// opening or resetting it); each was replayed from the start on a fresh env,
	// until Failed: the env failed more than Spec.Retries times. A failed
	// episode's outcome says nothing about the policy.
	Failures int
	Failed   bool
	Reason   string // the env's last failure

	ep envs.Episode
}

// Spec says how a batch of episodes is played.
type Spec struct {
	Prompt   envs.PromptConfig
	Sampling model.Sampling
	MaxTurns int
	// Seed gives the sampling seed of (task, rollout, turn); resume is exact
	// because nothing else feeds the samplers, and an episode replayed after an
	// env failure draws what it drew before.
	Seed func(taskIdx, rollout, turn int) uint64
	// Retries is how often a failed episode is replayed on a fresh env, the
	// k-th time after Backoff·2^(k−1).
	Retries int
	Backoff time.Duration
	// Progress, when set, hears the turns played so far: turn of maxTurns in wave of waves.
	Progress func(turn, maxTurns, wave, waves int)
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
			e.closeEnv()
		}
	}()
	for _, e := range eps {
		e.start(lm, env, spec)
	}
	lm.ClearAll() // a fresh cache makes the numbers independent of earlier phases
	waves := (len(eps) + lm.NSeq() - 1) / lm.NSeq()
	for w := range waves {
		lo := w * lm.NSeq()
		progress := func(turn int) {
			if spec.Progress != nil {
				spec.Progress(turn, spec.MaxTurns, w+1, waves)
			}
		}
		if err := playWave(lm, env, eps[lo:min(len(eps), lo+lm.NSeq())], spec, progress); err != nil {
			return nil, err
		}
	}
	return eps, nil
}

// start opens a fresh env episode and transcript for e, retrying (and in the
// end failing e) when the env cannot open or reset it.
func (e *Episode) start(lm model.LM, env envs.Env, spec Spec) {
	for {
		e.closeEnv()
		e.Transcript, e.Turns = nil, nil
		e.Won, e.Score, e.Invalid, e.Done, e.Truncated = false, 0, 0, false, false
		ep, err := env.Open(e.Task)
		if err == nil {
			e.ep = ep
			var first envs.Observation
			if first, err = ep.Reset(); err == nil {
				e.Transcript = NewTranscript(lm, env, spec.Prompt, first)
				return
			}
		}
		if !e.envFailed(fmt.Sprintf("open task %s: %v", e.Task.ID, err), spec) {
			return
		}
	}
}

// envFailed records a failure of the env and says whether to replay the episode.
func (e *Episode) envFailed(reason string, spec Spec) bool {
	e.Failures++
	e.Reason = strings.TrimSpace(reason)
	if e.Failures > spec.Retries {
		e.Failed, e.Done = true, true
		return false
	}
	time.Sleep(spec.Backoff << (e.Failures - 1))
	return true
}

func (e *Episode) closeEnv() {
	if e.ep != nil {
		e.ep.Close()
		e.ep = nil
	}
}

func playWave(lm model.LM, env envs.Env, wave []*Episode, spec Spec, progress func(turn int)) error {
	stops := env.StopStrings()
	for turn := 1; ; turn++ {
		var reqs []model.GenRequest
		var live []*Episode
		for i, e := range wave {
			if e.Done {
				continue
			}
			turn := len(e.Turns)
			if turn == spec.MaxTurns {
				e.Done, e.Truncated = true, true
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
		progress(turn - 1)
		res, err := lm.Generate(reqs)
		if err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		for i, e := range live {
			failed, err := e.apply(env, res[i], len(reqs[i].Prompt))
			if err != nil {
				return fmt.Errorf("task %s turn %d: %w", e.Task.ID, len(e.Turns), err)
			}
			if failed != "" && e.envFailed(failed, spec) {
				e.start(lm, env, spec)
			}
		}
	}
}

// apply records a sampled reply and steps the env with its action; it returns
// the env's reason when the env failed.
func (e *Episode) apply(env envs.Env, g model.GenResult, promptLen int) (string, error) {
	if len(g.LogProbs) != len(g.Tokens) || len(g.Entropies) != len(g.Tokens) {
		return "", fmt.Errorf("generate returned %d tokens, %d log-probs, %d entropies", len(g.Tokens), len(g.LogProbs), len(g.Entropies))
	}
	start := e.Reply(g.Tokens, g.Text, promptLen)
	e.Turns = append(e.Turns, Turn{Seq: len(e.Seqs) - 1, Start: start, N: len(g.Tokens), LpS: g.LogProbs, Ent: g.Entropies})
	action, ok := env.ParseAction(g.Text)
	res, err := e.ep.Step(action)
	if err != nil {
		return "", fmt.Errorf("env step: %w", err)
	}
	if res.Info.Failed {
		return fmt.Sprintf("task %s turn %d: %s", e.Task.ID, len(e.Turns), res.Info.Reason), nil
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
	return "", nil
}
