package envs

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
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

// afterThink drops a leading <think>…</think> block, so an action tag quoted
// inside the reasoning does not count.
func afterThink(reply string) string {
	if i := strings.Index(reply, "</think>"); i >= 0 && strings.Contains(reply[:i], "<think>") {
		return reply[i+len("</think>"):]
	}
	return reply
}

// normSpace lowercases s and collapses runs of white space, the form in which
// household and webshop compare actions.
func normSpace(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// parseActionTag is ParseAction for the envs whose actions sit in <action>…</action>.
func parseActionTag(reply string) (string, bool) {
	inner, ok := tagged(afterThink(reply), "action")
	if !ok || !utf8.ValidString(inner) {
		return "", false
	}
	a := normSpace(inner)
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

// actionReply wraps an action the way a model is asked to write it (the oracles' replies).
func actionReply(action string) string { return "<action>" + action + "</action>" }

// newRNG is the deterministic generator behind every task: two 64-bit keys, no global state.
func newRNG(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// hash64 is FNV-1a over s; split buckets are decided by it, from content, so
// splits cannot overlap.
func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// taskSeed derives the i-th task seed of a Tasks call (splitmix64 finaliser).
func taskSeed(seed int64, i int) int64 {
	z := uint64(seed) + uint64(i+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return int64((z ^ (z >> 31)) >> 1)
}

// drawTasks returns n tasks of split with distinct content: key(seed) names a
// task's content; seeds whose content was already drawn are skipped.
func drawTasks(env, split string, n int, seed int64, key func(int64) (string, error)) ([]Task, error) {
	if n < 0 {
		return nil, fmt.Errorf("tasks: n = %d", n)
	}
	seen := make(map[string]bool, n)
	tasks := make([]Task, 0, n)
	for i := 0; len(tasks) < n; i++ {
		if i > 20*n+1000 {
			return nil, fmt.Errorf("tasks: only %d distinct %s tasks found, %d asked", len(tasks), split, n)
		}
		s := taskSeed(seed, i)
		k, err := key(s)
		if err != nil {
			return nil, err
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		tasks = append(tasks, Task{Env: env, ID: fmt.Sprintf("%s/%s/%d", env, split, s), Split: split, Seed: s})
	}
	return tasks, nil
}

// oxford joins items ALFWorld-style: "a x, a y, and a z".
func oxford(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + ", and " + items[len(items)-1]
}
