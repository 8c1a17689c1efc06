// Package sft trains a model by behaviour cloning: it plays each environment's
// oracle on training tasks, renders the play-throughs exactly as the trainer
// renders its rollouts, and fits the model to the oracle's replies with the
// native training step (every weight for tiny models, LoRA for real ones).
package sft

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/envs"
)

// Demo is one oracle play-through of a task.
type Demo struct {
	Task  envs.Task
	First envs.Observation
	Turns []envs.Turn // Turns[k].Obs is the observation the oracle's Turns[k].Reply answered
	Won   bool
}

// searcher is an env whose oracle can also play without knowing where things
// are (envs.Household.SearchOracle).
type searcher interface {
	SearchOracle(t envs.Task) (envs.Oracle, error)
}

// Demos plays the oracle on every task; with explore, the env's searching
// oracle. Play-throughs not won within maxTurns are left out (they would
// teach a failing policy); the second result counts them.
func Demos(env envs.Env, tasks []envs.Task, maxTurns int, explore bool) ([]Demo, int, error) {
	oracle := env.Oracle
	if explore {
		s, ok := env.(searcher)
		if !ok {
			return nil, 0, fmt.Errorf("explore demos: %s has no searching oracle", env.Name())
		}
		oracle = s.SearchOracle
	}
	var out []Demo
	lost := 0
	for _, t := range tasks {
		or, err := oracle(t)
		if err != nil {
			return nil, 0, fmt.Errorf("oracle for %s: %w", t.ID, err)
		}
		d, err := play(env, t, or, maxTurns)
		if err != nil {
			return nil, 0, err
		}
		if !d.Won {
			lost++
			continue
		}
		out = append(out, d)
	}
	return out, lost, nil
}

// play lets or play t for at most maxTurns.
func play(env envs.Env, t envs.Task, or envs.Oracle, maxTurns int) (Demo, error) {
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
	for len(d.Turns) < maxTurns {
		reply, err := or.Next(obs)
		if err != nil {
			return Demo{}, fmt.Errorf("oracle on %s: %w", t.ID, err)
		}
		action, ok := env.ParseAction(reply)
		if !ok {
			return Demo{}, fmt.Errorf("oracle reply %q on %s does not parse", reply, t.ID)
		}
		res, err := ep.Step(action)
		if err != nil {
			return Demo{}, fmt.Errorf("step %s: %w", t.ID, err)
		}
		d.Turns = append(d.Turns, envs.Turn{Obs: obs, Reply: reply})
		obs = res.Observation
		if res.Done {
			d.Won = res.Info.Won
			break
		}
	}
	return d, nil
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
