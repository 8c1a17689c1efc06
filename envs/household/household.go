// Package household is the ALFWorld-like env, registered as "household":
// procedurally generated homes, ALFWorld's six task types, its command grammar
// and feedback.
//
// Where it differs from ALFWorld, on purpose: it omits the "-= Welcome to
// TextWorld, ALFRED! =-" banner (as AgentGym does) and the "help" command; the
// desklamp is the only lamp.
package household

import (
	"fmt"
	"slices"
	"strings"

	"github.com/atod-dev/atod/envs"
)

func init() {
	envs.Register("household", Options, func(o envs.Options) (envs.Env, error) { return New(o) })
}

// Household is the ALFWorld-like env: procedurally generated homes, ALFWorld's
// six task types, its command grammar and feedback.
type Household struct{ cfg config }

// Options are the options New reads.
var Options = []envs.Option{
	{Name: "min_receptacles", Default: 3, Usage: "fewest receptacles in a home"},
	{Name: "max_receptacles", Default: 8, Usage: "most receptacles in a home (at most 30)"},
	{Name: "min_objects", Default: 1, Usage: "fewest distractor objects"},
	{Name: "max_objects", Default: 4, Usage: "most distractor objects (at most 50)"},
	{Name: "max_steps", Default: 50, Usage: "actions before the episode ends"},
	{Name: "task_types", Default: nil, Usage: "a list, or a comma-separated string, among " + strings.Join(taskTypeNames[:], ", ") + "; all by default"},
}

// New builds the env from its Options.
func New(o envs.Options) (*Household, error) {
	o, err := o.Resolve(Options)
	if err != nil {
		return nil, err
	}
	var c config
	for _, f := range []struct {
		p   *int
		key string
	}{{&c.minRecep, "min_receptacles"}, {&c.maxRecep, "max_receptacles"}, {&c.minObj, "min_objects"}, {&c.maxObj, "max_objects"}, {&c.maxSteps, "max_steps"}} {
		if *f.p, err = o.Int(f.key); err != nil {
			return nil, err
		}
	}
	// 3 receptacles always leave room for an appliance, a destination and a start.
	if c.minRecep < 3 || c.maxRecep < c.minRecep || c.maxRecep > 30 {
		return nil, fmt.Errorf("receptacles %d..%d: want 3 <= min <= max <= 30", c.minRecep, c.maxRecep)
	}
	if c.minObj < 0 || c.maxObj < c.minObj || c.maxObj > 50 {
		return nil, fmt.Errorf("objects %d..%d: want 0 <= min <= max <= 50", c.minObj, c.maxObj)
	}
	if c.maxSteps < 1 {
		return nil, fmt.Errorf("max_steps %d < 1", c.maxSteps)
	}
	types, err := o.List("task_types")
	if err != nil {
		return nil, err
	}
	for _, name := range types {
		i := slices.Index(taskTypeNames[:], name)
		if i < 0 {
			return nil, fmt.Errorf("task type %q (want one of %s)", name, strings.Join(taskTypeNames[:], ", "))
		}
		c.types = append(c.types, i)
	}
	if len(c.types) == 0 {
		for i := range numTaskTypes {
			c.types = append(c.types, i)
		}
	}
	return &Household{cfg: c}, nil
}

func (h *Household) Name() string { return "household" }

// Tasks: splits train, seen-test (alias test) and unseen-test.
func (h *Household) Tasks(split string, n int, seed int64) ([]envs.Task, error) {
	return envs.DrawTasks(h.Name(), split, n, seed, func(s int64) (string, error) {
		w, err := generate(h.cfg, split, s)
		if err != nil {
			return "", err
		}
		return w.contentKey(), nil
	})
}

// TaskType is the task's ALFWorld type: pick_and_place, look_at_obj_in_light,
// clean, heat, cool or pick_two (envs.Typer).
func (h *Household) TaskType(t envs.Task) (string, error) {
	w, err := generate(h.cfg, t.Split, t.Seed)
	if err != nil {
		return "", err
	}
	return taskTypeNames[w.taskType], nil
}

func (h *Household) Instructions() string {
	return "You are in a home and must complete the task given in the first observation.\n" +
		"Commands: look, inventory, go to <place>, open <place>, close <place>, take <object> from <place>, " +
		"put <object> in/on <place>, use <object>, examine <thing>, heat <object> with microwave, " +
		"clean <object> with sinkbasin, cool <object> with fridge. Names carry numbers, e.g. \"cabinet 1\". " +
		"You hold one object at a time.\n" +
		"Write exactly one command inside <action></action>, e.g. <action>go to cabinet 1</action>."
}

func (h *Household) ParseAction(reply string) (string, bool) { return envs.ParseActionTag(reply) }

func (h *Household) StopStrings() []string { return []string{"</action>"} }

func (h *Household) Open(t envs.Task) (envs.Episode, error) {
	if _, err := generate(h.cfg, t.Split, t.Seed); err != nil {
		return nil, err
	}
	return &episode{cfg: h.cfg, task: t}, nil
}

type episode struct {
	cfg   config
	task  envs.Task
	w     *world
	steps int
	done  bool
}

func (e *episode) Reset() (envs.Observation, error) {
	w, err := generate(e.cfg, e.task.Split, e.task.Seed)
	if err != nil {
		return envs.Observation{}, err
	}
	e.w, e.steps, e.done = w, 0, false
	return envs.Observation{Text: w.firstObservation(), Admissible: w.admissible()}, nil
}

func (e *episode) Step(action string) (envs.StepResult, error) {
	if err := envs.CheckStep(e.w != nil, e.done); err != nil {
		return envs.StepResult{}, err
	}
	e.steps++
	fb, ok := e.w.apply(action)
	res := envs.StepResult{Observation: envs.Observation{Text: fb, Admissible: e.w.admissible()}, Info: envs.Info{Invalid: !ok}}
	if e.w.won() {
		res.Reward, res.Done, res.Info.Won, res.Info.Score = 1, true, true, 1
	} else if e.steps >= e.cfg.maxSteps {
		res.Done, res.Info.Reason = true, fmt.Sprintf("step limit %d reached", e.cfg.maxSteps)
	}
	e.done = res.Done
	return res, nil
}

func (e *episode) Close() error { return nil }
