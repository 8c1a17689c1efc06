package envs

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/model"
)

// Turn is one step of an episode: Obs is the observation the Reply answered
// (turns[0].Obs is the first observation), Reply the model's whole reply.
type Turn struct {
	Obs   Observation
	Reply string
}

// PromptConfig says how the transcript is rendered.
type PromptConfig struct {
	History        string // "full" (append-only transcript, the KV cache is reused) | "last" (task + last N turns, rebuilt)
	LastN          int    // turns kept by "last"; 0 means 2, verl-agent's default
	Think          bool   // ask for <think>…</think> before the action
	ShowAdmissible bool   // list the admissible actions after each observation, where the env has them
}

// SystemPrompt is the system message: role, the env's instructions, and the output format.
func SystemPrompt(env Env, pc PromptConfig) string {
	format := "Reply with the action only, no other text."
	if pc.Think {
		format = "First reason briefly inside <think> </think>, then give the action."
	}
	return "You are an agent that solves a task step by step in a text environment.\n" +
		env.Instructions() + "\n" + format
}

// RenderObservation is an observation as the user message shows it. It does not
// depend on the observation's place in the transcript, which keeps "full" append-only.
func RenderObservation(pc PromptConfig, o Observation) string {
	if !pc.ShowAdmissible || len(o.Admissible) == 0 {
		return o.Text
	}
	return o.Text + "\nAdmissible actions: " + strings.Join(o.Admissible, ", ")
}

// Messages renders the prompt for the next reply. current is the observation to
// answer now (firstObs when turns is empty).
//
// "full": system, user(firstObs), assistant(reply 1), user(obs after reply 1), …,
// user(current); each call's result is a prefix of the next call's.
// "last": system, user(task + last N turns + current), rebuilt every turn.
// Roles are "system", "user" and "assistant".
func Messages(env Env, pc PromptConfig, firstObs Observation, turns []Turn, current Observation) []model.Message {
	msgs := []model.Message{{Role: "system", Content: SystemPrompt(env, pc)}}
	if len(turns) == 0 {
		return append(msgs, model.Message{Role: "user", Content: RenderObservation(pc, firstObs)})
	}
	if pc.History != "last" {
		msgs = append(msgs, model.Message{Role: "user", Content: RenderObservation(pc, firstObs)})
		for i, t := range turns {
			next := current
			if i+1 < len(turns) {
				next = turns[i+1].Obs
			}
			msgs = append(msgs,
				model.Message{Role: "assistant", Content: t.Reply},
				model.Message{Role: "user", Content: RenderObservation(pc, next)})
		}
		return msgs
	}
	n := pc.LastN
	if n <= 0 {
		n = 2
	}
	from := max(0, len(turns)-n)
	var b strings.Builder
	b.WriteString(firstObs.Text)
	fmt.Fprintf(&b, "\n\nYou have taken %d step(s). Your last %d step(s):", len(turns), len(turns)-from)
	for i := from; i < len(turns); i++ {
		action, ok := env.ParseAction(turns[i].Reply)
		if !ok {
			action = "(invalid) " + clip(strings.TrimSpace(turns[i].Reply), 80)
		}
		fmt.Fprintf(&b, "\n[Observation %d: %q, Action %d: %q]", i+1, turns[i].Obs.Text, i+1, action)
	}
	fmt.Fprintf(&b, "\n\nCurrent observation (step %d):\n%s", len(turns)+1, RenderObservation(pc, current))
	return append(msgs, model.Message{Role: "user", Content: b.String()})
}

// clip shortens s to at most n bytes on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
