package envs

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxActionLen bounds a parsed action; longer text inside the tags is rambling, not an action.
const maxActionLen = 300

// tagged returns the text inside the first <tag>…</tag> pair of s.
func tagged(s, tag string) (string, bool) {
	open, close := "<"+tag+">", "</"+tag+">"
	i := strings.Index(s, open)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(open):]
	j := strings.Index(rest, close)
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

// AfterThink drops a leading <think>…</think> block, so an action tag quoted
// inside the reasoning does not count.
func AfterThink(reply string) string {
	if i := strings.Index(reply, "</think>"); i >= 0 && strings.Contains(reply[:i], "<think>") {
		return reply[i+len("</think>"):]
	}
	return reply
}

// NormSpace lowercases s and collapses runs of white space, the form in which
// household and webshop compare actions.
func NormSpace(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// ParseActionTag is ParseAction for the envs whose actions sit in
// <action>…</action>: the first such block after any <think> block, in
// NormSpace form, printable and of bounded length.
func ParseActionTag(reply string) (string, bool) {
	inner, ok := tagged(AfterThink(reply), "action")
	if !ok || !utf8.ValidString(inner) {
		return "", false
	}
	a := NormSpace(inner)
	if a == "" || len(a) > maxActionLen {
		return "", false
	}
	for _, r := range a {
		if !unicode.IsPrint(r) {
			return "", false
		}
	}
	return a, true
}

// ActionReply wraps an action the way a model is asked to write it, the form
// ParseActionTag reads.
func ActionReply(action string) string { return "<action>" + action + "</action>" }

// Replay returns an Oracle that gives replies in order, whatever it observes.
// The built-in oracles plan on a private copy of the episode, so the plan is
// valid when they play from Reset.
func Replay(replies []string) Oracle { return &replay{replies: replies} }

// ReplayActions is Replay of the actions, each written as ActionReply writes it.
func ReplayActions(actions []string) Oracle {
	replies := make([]string, len(actions))
	for i, a := range actions {
		replies[i] = ActionReply(a)
	}
	return Replay(replies)
}

type replay struct {
	replies []string
	i       int
}

func (p *replay) Next(Observation) (string, error) {
	if p.i >= len(p.replies) {
		return "", fmt.Errorf("oracle: plan of %d actions exhausted", len(p.replies))
	}
	p.i++
	return p.replies[p.i-1], nil
}
