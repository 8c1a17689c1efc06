package trainer

import (
	"fmt"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
	"github.com/atod-dev/atod/trainer/rollout"
)

// Evaluator plays one fixed set of held-out tasks, the same draws every time.
type Evaluator struct {
	Env         envs.Env
	Tasks       []envs.Task
	Types       []string // each task's type, where the env has them (envs.Typer)
	Spec        rollout.Spec
	Temperature float64 // Spec's, as configured (Spec keeps a float32)
	Penalty     float64
}

// Evaluator draws n tasks of split with seed, to be played at temperature.
func (c *Config) Evaluator(env envs.Env, split string, n int, seed int64, temperature float64) (*Evaluator, error) {
	e := &Evaluator{Env: env, Spec: c.EvalSpec(temperature), Temperature: temperature, Penalty: c.Rollout.InvalidPenalty}
	if n > 0 {
		var err error
		if e.Tasks, err = env.Tasks(split, n, seed); err != nil {
			return nil, fmt.Errorf("eval tasks: %w", err)
		}
	}
	if ty, ok := env.(envs.Typer); ok {
		for _, t := range e.Tasks {
			name, err := ty.TaskType(t)
			if err != nil {
				return nil, fmt.Errorf("eval task %s: type: %w", t.ID, err)
			}
			e.Types = append(e.Types, name)
		}
	}
	return e, nil
}

// At is e at another temperature: the same tasks, and sampling seeds that
// depend on the task's position alone (EvalSpec), so its evaluations pair
// with each other task by task at every step.
func (e *Evaluator) At(c *Config, temperature float64) *Evaluator {
	at := *e
	at.Spec, at.Temperature = c.EvalSpec(temperature), temperature
	return &at
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
