package trainer

import (
	"fmt"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/rollout"
)

// Evaluator plays one fixed set of held-out tasks, the same draws every time.
type Evaluator struct {
	Env     envs.Env
	Tasks   []envs.Task
	Spec    rollout.Spec
	Penalty float64
}

// Evaluator draws n tasks of split with seed, to be played at temperature.
func (c *Config) Evaluator(env envs.Env, split string, n int, seed int64, temperature float64) (*Evaluator, error) {
	e := &Evaluator{Env: env, Spec: c.EvalSpec(temperature), Penalty: c.Rollout.InvalidPenalty}
	if n > 0 {
		var err error
		if e.Tasks, err = env.Tasks(split, n, seed); err != nil {
			return nil, fmt.Errorf("eval tasks: %w", err)
		}
	}
	return e, nil
}

// Play evaluates lm on the tasks.
func (e *Evaluator) Play(lm model.LM) (rollout.EvalResult, error) {
	return rollout.Evaluate(lm, e.Env, e.Tasks, e.Spec, e.Penalty)
}
