package trainer

import (
	"time"

	"github.com/atod-dev/atod/envs"
)

// EvalResult is one model's score on a set of held-out tasks.
type EvalResult struct {
	Tasks                                        int
	Success, MeanReturn, EpisodeLen, InvalidRate float64
	Seconds                                      float64
	Episodes                                     []EvalEpisode
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

// Evaluate plays each task once with lm at the given temperature (0 = greedy).
// The sampling seeds depend only on (seed, task, turn), so every evaluation of a
// run, student or teacher, sees the same draws.
func Evaluate(lm LM, env envs.Env, tasks []envs.Task, cfg *Config, temperature float64) (EvalResult, error) {
	start := time.Now()
	spec := rolloutSpec{
		pc:       cfg.Prompt(),
		sampling: sampling(cfg, temperature),
		maxTurns: cfg.Rollout.MaxTurns,
		seed: func(task, _, turn int) uint64 {
			return deriveSeed(cfg.Seed, -1, int64(task), 0, int64(turn))
		},
	}
	eps, err := rollout(lm, env, tasks, 1, spec)
	if err != nil {
		return EvalResult{}, err
	}
	o := summarise(eps, cfg.Rollout.InvalidPenalty)
	r := EvalResult{Tasks: len(tasks), Success: o.success, MeanReturn: o.meanReturn, EpisodeLen: o.episodeLen,
		InvalidRate: o.invalidRate, Seconds: time.Since(start).Seconds()}
	for _, e := range eps {
		ee := EvalEpisode{Task: e.task.ID, Won: e.won, Score: e.score, Last: e.obs.Text}
		for k, h := range e.history {
			ee.Turns = append(ee.Turns, EvalTurn{Observation: h.Obs.Text, Reply: h.Reply, Invalid: e.turns[k].invalid})
		}
		r.Episodes = append(r.Episodes, ee)
	}
	return r, nil
}

// Prompt is how the rollout keys render transcripts; sft renders its demos the same way.
func (c *Config) Prompt() envs.PromptConfig {
	r := c.Rollout
	return envs.PromptConfig{History: r.History, LastN: r.LastN, Think: r.Think, ShowAdmissible: r.ShowAdmissible}
}

func sampling(cfg *Config, temperature float64) Sampling {
	return Sampling{Temperature: float32(temperature), TopP: float32(cfg.Sampling.TopP), TopK: cfg.Sampling.TopK, MaxTokens: cfg.Sampling.MaxTokens}
}

// deriveSeed mixes the run seed with a position (step, task, rollout, turn)
// through SplitMix64, so every draw is reproducible without saved RNG state.
func deriveSeed(seed int64, parts ...int64) uint64 {
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
