// Package sft trains a model by behaviour cloning: it plays each environment's
// oracle on training tasks, renders the play-throughs exactly as the trainer
// renders its rollouts, and fits the model to the oracle's replies with the
// native training step (every weight for tiny models, LoRA for real ones).
package sft

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// Demo is one oracle play-through of a task.
type Demo struct {
	Task    envs.Task
	First   envs.Observation
	Turns   []envs.Turn // Turns[k].Obs is the observation the oracle's Turns[k].Reply answered
	Mistake []bool      // Mistake[k]: Turns[k] is an injected wrong action, not a target
	Won     bool
}

// taught says whether the reply of turn k is a training target.
func (d Demo) taught(k int) bool { return k >= len(d.Mistake) || !d.Mistake[k] }

// DemoOptions says how the oracle plays.
type DemoOptions struct {
	MaxTurns int
	Explore  bool // the env's searching oracle
	// Mistakes is the chance, before each oracle turn, of first playing a wrong
	// action: one offered earlier in the episode that the env now rejects. The
	// env's state does not change, so the oracle's next reply still holds, and a
	// model cloned from such demos learns to carry on after a rejected action
	// instead of meeting that state for the first time at test time.
	Mistakes float64
	// Stall, played before an oracle turn with chance StallRate, is a taught
	// detour that changes nothing: actions played in order that end on the page
	// they left (household's "look"; webshop's "click[description]" then
	// "click[< prev]"). It is a bad habit that wastes turns, for a student whose
	// gap to its teacher should be partly policy, which on-policy training can
	// close in a few steps, not only capacity, which it cannot.
	Stall     []string
	StallRate float64
	Seed      int64
}

// searcher is an env whose oracle can also play without knowing where things
// are (household.Household.SearchOracle, webshop.WebShop.SearchOracle).
type searcher interface {
	SearchOracle(t envs.Task) (envs.Oracle, error)
}

// Demos plays the oracle on every task; with explore, the env's searching
// oracle. Play-throughs not won within o.MaxTurns are left out (they would
// teach a failing policy); the second result counts them.
func Demos(env envs.Env, tasks []envs.Task, o DemoOptions) ([]Demo, int, error) {
	if o.Mistakes < 0 || o.Mistakes >= 1 {
		return nil, 0, fmt.Errorf("demos: mistakes %g is not a chance in [0, 1)", o.Mistakes)
	}
	if o.StallRate < 0 || o.StallRate >= 1 || (o.StallRate > 0) != (len(o.Stall) > 0) {
		return nil, 0, fmt.Errorf("demos: stall %q at rate %g: want actions and a chance in (0, 1), or neither", o.Stall, o.StallRate)
	}
	oracle := env.Oracle
	if o.Explore {
		s, ok := env.(searcher)
		if !ok {
			return nil, 0, fmt.Errorf("explore demos: %s has no searching oracle", env.Name())
		}
		oracle = s.SearchOracle
	}
	var out []Demo
	lost, stalls := 0, 0
	for _, t := range tasks {
		or, err := oracle(t)
		if err != nil {
			return nil, 0, fmt.Errorf("oracle for %s: %w", t.ID, err)
		}
		rng := rand.New(rand.NewPCG(uint64(o.Seed), uint64(t.Seed)))
		d, err := play(env, t, or, o, rng)
		if err != nil {
			return nil, 0, err
		}
		for _, turn := range d.Turns {
			if a, ok := env.ParseAction(turn.Reply); ok && len(o.Stall) > 0 && a == o.Stall[0] {
				stalls++
			}
		}
		if !d.Won {
			lost++
			continue
		}
		out = append(out, d)
	}
	if len(o.Stall) > 0 && stalls == 0 {
		return nil, 0, fmt.Errorf("demos: stall %q was never played: not an admissible action of %s", o.Stall[0], env.Name())
	}
	return out, lost, nil
}

// play lets or play t for at most o.MaxTurns, with a stall and a wrong action
// before an oracle turn at the rates o asks for.
func play(env envs.Env, t envs.Task, or envs.Oracle, o DemoOptions, rng *rand.Rand) (Demo, error) {
	ep, err := env.Open(t)
	if err != nil {
		return Demo{}, fmt.Errorf("open %s: %w", t.ID, err)
	}
	defer ep.Close()
	obs, err := ep.Reset()
	if err != nil {
		return Demo{}, fmt.Errorf("reset %s: %w", t.ID, err)
	}
	d := Demo{Task: t, First: obs}
	var offered []string // actions admissible earlier in the episode, in first-seen order
	step := func(reply, action string, mistake bool) (bool, error) {
		res, err := ep.Step(action)
		if err != nil {
			return false, fmt.Errorf("step %s: %w", t.ID, err)
		}
		switch {
		case mistake && !res.Info.Invalid:
			return false, fmt.Errorf("%s: wrong action %q was accepted", t.ID, action)
		case !mistake && res.Info.Invalid:
			return false, fmt.Errorf("%s: taught action %q was rejected", t.ID, action)
		}
		d.Turns = append(d.Turns, envs.Turn{Obs: obs, Reply: reply})
		d.Mistake = append(d.Mistake, mistake)
		for _, a := range obs.Admissible {
			if !slices.Contains(offered, a) {
				offered = append(offered, a)
			}
		}
		obs = res.Observation
		d.Won = res.Info.Won
		return res.Done, nil
	}
	for len(d.Turns) < o.MaxTurns {
		reply, err := or.Next(obs)
		if err != nil {
			return Demo{}, fmt.Errorf("oracle on %s: %w", t.ID, err)
		}
		action, ok := env.ParseAction(reply)
		if !ok {
			return Demo{}, fmt.Errorf("oracle reply %q on %s does not parse", reply, t.ID)
		}
		// first plays x in the oracle's coming reply instead of its action; stop:
		// the episode or the turn budget has ended.
		first := func(x string, mistake bool) (stop bool, err error) {
			done, err := step(strings.Replace(reply, action, x, 1), x, mistake)
			return err != nil || done || len(d.Turns) == o.MaxTurns, err
		}
		// An env that lists no actions (searchqa) has no page to leave: any
		// stall it accepts is a detour, a wasted turn.
		listed := len(obs.Admissible) > 0
		if o.StallRate > 0 && rng.Float64() < o.StallRate && (!listed || slices.Contains(obs.Admissible, o.Stall[0])) && strings.Contains(reply, action) {
			left := obs.Admissible
			for _, s := range o.Stall {
				if stop, err := first(s, false); stop {
					return d, err
				}
			}
			// The oracle's reply answers the page the detour left.
			if !slices.Equal(obs.Admissible, left) {
				return Demo{}, fmt.Errorf("%s: stall %q did not come back to the page it left", t.ID, o.Stall)
			}
		}
		if o.Mistakes > 0 && rng.Float64() < o.Mistakes && strings.Contains(reply, action) {
			var stale []string
			for _, a := range offered {
				if !slices.Contains(obs.Admissible, a) && !placeholder(a) {
					stale = append(stale, a)
				}
			}
			if len(stale) > 0 {
				if stop, err := first(stale[rng.IntN(len(stale))], true); stop {
					return d, err
				}
			}
		}
		done, err := step(reply, action, false)
		if err != nil || done {
			return d, err
		}
	}
	return d, nil
}

// placeholder reports an admissible entry that is a template to fill in
// (webshop's "search[<your query>]"), not an action: a search is valid on
// every page, so it would not be the rejected action a mistake must be.
func placeholder(a string) bool {
	i := strings.Index(a, "<")
	return i >= 0 && strings.Contains(a[i:], ">")
}

// Corpus is the text of the demos as a model reads it (system prompt,
// observations, replies), for training a tokenizer whose vocabulary fits the
// agent's language.
func Corpus(env envs.Env, pc envs.PromptConfig, demos []Demo) string {
	var b strings.Builder
	b.WriteString(envs.SystemPrompt(env, pc) + "\n")
	for _, d := range demos {
		for _, t := range d.Turns {
			b.WriteString(envs.RenderObservation(pc, t.Obs) + "\n" + t.Reply + "\n")
		}
	}
	return b.String()
}
