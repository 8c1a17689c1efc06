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

// wonString is each task's outcome in draw order, one character a task: 1 won,
// 0 lost, - failed by the env. With the same tasks in every run of a sweep,
// outcomes pair up task by task.
func wonString(eps []*rollout.Episode) string {
	b := make([]byte, len(eps))
	for i, e := range eps {
		switch {
		case e.Failed:
			b[i] = '-'
		case e.Won:
			b[i] = '1'
		default:
			b[i] = '0'
		}
	}
	return string(b)
}
