package rollout

import (
	"time"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/atod"
)

// EvalResult is one model's score on a set of held-out tasks.
type EvalResult struct {
	Tasks int
	Outcome
	Seconds  float64
	Episodes []EvalEpisode
	Played   []*Episode // the episodes themselves, tokens and log-probs included
}

// EvalEpisode is one played task: what the model was shown and replied, turn by turn.
type EvalEpisode struct {
	Task  string     `json:"task"`
	Won   bool       `json:"won"`
	Score float64    `json:"score"`
	Turns []EvalTurn `json:"turns"`
	Last  string     `json:"last_observation"`
}

// EvalTurn is an observation and the model's raw reply to it.
type EvalTurn struct {
	Observation string `json:"observation"`
	Reply       string `json:"reply"`
	Invalid     bool   `json:"invalid"`
}

// Evaluate plays each task once with lm as spec says; penalty is the return's
// invalid-action penalty.
func Evaluate(lm model.LM, env envs.Env, tasks []envs.Task, spec Spec, penalty float64) (EvalResult, error) {
	start := time.Now()
	eps, err := Play(lm, env, tasks, 1, spec)
	if err != nil {
		return EvalResult{}, err
	}
	r := EvalResult{Tasks: len(tasks), Outcome: Summarise(eps, penalty), Seconds: time.Since(start).Seconds(), Played: eps}
	for _, e := range eps {
		if e.Failed {
			continue // counted in Outcome.Failed, never as a loss
		}
		ee := EvalEpisode{Task: e.Task.ID, Won: e.Won, Score: e.Score, Last: e.Obs.Text}
		for k, h := range e.History {
			ee.Turns = append(ee.Turns, EvalTurn{Observation: h.Obs.Text, Reply: h.Reply, Invalid: e.Turns[k].Invalid})
		}
		r.Episodes = append(r.Episodes, ee)
	}
	return r, nil
}

// Outcome summarises played episodes.
type Outcome struct {
	Success, MeanReturn, EpisodeLen, InvalidRate float64
	Failed                                       int // episodes the env failed, left out of the figures
}

// Summarise gives the episodes' success rate, mean return (score minus penalty
// per invalid action), mean length in turns and share of invalid actions, over
// the episodes the env did not fail.
func Summarise(eps []*Episode, penalty float64) Outcome {
	var o Outcome
	var actions, invalid int
	for _, e := range eps {
		if e.Failed {
			o.Failed++
			continue
		}
		if e.Won {
			o.Success++
		}
		o.MeanReturn += atod.EpisodeReturn(e.Score, e.Invalid, penalty)
		o.EpisodeLen += float64(len(e.Turns))
		actions += len(e.Turns)
		invalid += e.Invalid
	}
	if n := float64(len(eps) - o.Failed); n > 0 {
		o.Success, o.MeanReturn, o.EpisodeLen = o.Success/n, o.MeanReturn/n, o.EpisodeLen/n
	}
	if actions > 0 {
		o.InvalidRate = float64(invalid) / float64(actions)
	}
	return o
}

// DeriveSeed mixes the run seed with a position (step, task, rollout, turn)
// through SplitMix64, so every draw is reproducible without saved RNG state.
func DeriveSeed(seed int64, parts ...int64) uint64 {
	x := uint64(seed)
	for _, p := range parts {
		x = splitmix(x ^ splitmix(uint64(p)+0x9e3779b97f4a7c15))
	}
	return x
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
