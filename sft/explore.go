package sft

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// The household oracle knows where the task's object is and walks straight to
// it; a model sees only the receptacles' names, so cloning that walk teaches
// it a guess and nothing to do when the guess is wrong. An explore demo plays
// what an agent that cannot see could do: visit the receptacles in the order
// the first observation lists them, opening closed ones, until it stands where
// the object is, then follow the oracle's plan from there.

// exploreHousehold plays t with exploration before the oracle's plan.
func exploreHousehold(env envs.Env, t envs.Task, maxTurns int) (Demo, error) {
	plan, err := oraclePlan(env, t, maxTurns)
	if err != nil {
		return Demo{}, err
	}
	target, ok := strings.CutPrefix(firstOr(plan, ""), "go to ")
	if !ok {
		return play(env, t, maxTurns) // the plan starts where the agent is
	}
	ep, d, err := begin(env, t)
	if err != nil {
		return Demo{}, err
	}
	defer ep.Close()
	obs := d.First
	opened := map[string]bool{}
	step := func(action string) (bool, error) {
		res, err := ep.Step(action)
		if err != nil {
			return false, fmt.Errorf("step %s: %w", t.ID, err)
		}
		if res.Info.Invalid {
			return false, fmt.Errorf("explore demo of %s: %q is invalid", t.ID, action)
		}
		d.Turns = append(d.Turns, envs.Turn{Obs: obs, Reply: "<action>" + action + "</action>"})
		obs = res.Observation
		d.Won = res.Info.Won
		return res.Done, nil
	}
	var actions []string
	for _, a := range d.First.Admissible {
		r, ok := strings.CutPrefix(a, "go to ")
		if !ok {
			continue
		}
		if r == target {
			break
		}
		actions = append(actions, a)
		actions = append(actions, "?open "+r) // opened only when it is closed
	}
	actions = append(actions, plan...)
	for _, a := range actions {
		if len(d.Turns) >= maxTurns {
			break
		}
		if r, ok := strings.CutPrefix(a, "?open "); ok {
			if !strings.Contains(obs.Text, "The "+r+" is closed.") {
				continue
			}
			a = "open " + r
			opened[r] = true
		} else if r, ok := strings.CutPrefix(a, "open "); ok && opened[r] {
			continue
		}
		done, err := step(a)
		if err != nil {
			return Demo{}, err
		}
		if done {
			break
		}
	}
	return d, nil
}

// oraclePlan is the oracle's actions on t.
func oraclePlan(env envs.Env, t envs.Task, maxTurns int) ([]string, error) {
	d, err := play(env, t, maxTurns*4)
	if err != nil {
		return nil, err
	}
	var plan []string
	for _, turn := range d.Turns {
		a, _ := env.ParseAction(turn.Reply)
		plan = append(plan, a)
	}
	return plan, nil
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}
