// Package envs holds the multi-turn text environments the trainer plays:
// household (ALFWorld-like), webshop (WebShop-like), searchqa (Search-R1-like)
// and remote (a client for AgentGym-style servers), together with the prompt
// rendering and action parsing they share.
//
// Where the built-in envs differ from the originals, on purpose:
//   - household omits ALFWorld's "-= Welcome to TextWorld, ALFRED! =-" banner
//     (as AgentGym does) and its "help" command; the desklamp is the only lamp.
//   - webshop pages show the instruction only on the search page, have no
//     Reviews page, and list page_size results (5) per page to keep prompts short.
//     Its reward is WebShop's, with fuzz.token_set_ratio ported exactly
//     (python-Levenshtein ratio) and spaCy's noun tagging replaced by a word
//     list (see nouns). With the real data, a product's price is its lowest
//     listed price and goals are shuffled by our own seeded generator.
//   - searchqa's corpus and questions are generated; its built-in retriever is
//     BM25 over title (weighted 3×) and text.
package envs

import (
	"fmt"
	"sort"
	"strings"
)

// Task names one episode: the env regenerates it from Split and Seed.
type Task struct {
	Env, ID, Split string
	Seed           int64
}

// Observation is what the agent sees after a reset or a step.
type Observation struct {
	Text       string
	Admissible []string // nil where the env has none
}

// Info reports the outcome of a step.
type Info struct {
	Won     bool
	Score   float64
	Invalid bool   // the action could not be parsed or is not admissible
	Reason  string // why the episode ended (step limit, server down) or how it was scored
}

// StepResult is one step's outcome.
type StepResult struct {
	Observation
	Reward float64
	Done   bool
	Info   Info
}

// Env is one environment kind; it is safe for concurrent use.
type Env interface {
	Name() string
	// Tasks returns n distinct tasks of split, deterministic for seed.
	Tasks(split string, n int, seed int64) ([]Task, error)
	// Open starts an episode; episodes are independent and may run concurrently.
	Open(t Task) (Episode, error)
	// Instructions is the env's part of the system prompt: goal, grammar, output format.
	Instructions() string
	// ParseAction extracts the action from a model reply.
	ParseAction(reply string) (action string, ok bool)
	// StopStrings end generation after an action, e.g. "</action>".
	StopStrings() []string
	// Oracle returns a player that solves t when it plays the episode from Reset.
	Oracle(t Task) (Oracle, error)
}

// Episode is one play-through of a task. Not safe for concurrent use.
type Episode interface {
	Reset() (Observation, error)
	// Step applies an action, normally ParseAction's result; any text is
	// accepted, and one that is not an admissible action sets Info.Invalid
	// while the episode goes on. A non-nil error means misuse (not reset,
	// already done); a failing server ends the episode with Info.Reason instead.
	Step(action string) (StepResult, error)
	Close() error
}

// Oracle plays a task; reply is model-style text including the action tags.
type Oracle interface {
	Next(obs Observation) (reply string, err error)
}

// New builds an env by name: "household", "webshop", "searchqa" or "remote".
// Options are documented on each constructor; unknown keys are errors so typos surface.
func New(name string, opts map[string]any) (Env, error) {
	o := options(opts)
	var (
		env Env
		err error
	)
	switch name {
	case "household":
		env, err = NewHousehold(o)
	case "webshop":
		env, err = NewWebShop(o)
	case "searchqa":
		env, err = NewSearchQA(o)
	case "remote":
		env, err = NewRemote(o)
	default:
		return nil, fmt.Errorf("envs: unknown env %q (want household, webshop, searchqa or remote)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("envs: %s: %w", name, err)
	}
	return env, nil
}

// options reads typed values out of a config map (TOML, JSON or command-line strings).
type options map[string]any

func (o options) int(key string, def int) (int, error) {
	v, ok := o[key]
	if !ok {
		return def, nil
	}
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("option %s: %v is not an integer", key, x)
		}
		return int(x), nil
	case string:
		var n int
		if _, err := fmt.Sscan(x, &n); err != nil {
			return 0, fmt.Errorf("option %s: %q is not an integer", key, x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("option %s: %T is not an integer", key, v)
}

func (o options) float(key string, def float64) (float64, error) {
	v, ok := o[key]
	if !ok {
		return def, nil
	}
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err != nil {
			return 0, fmt.Errorf("option %s: %q is not a number", key, x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("option %s: %T is not a number", key, v)
}

func (o options) str(key, def string) (string, error) {
	v, ok := o[key]
	if !ok {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("option %s: %T is not a string", key, v)
	}
	return s, nil
}

// list reads a list of strings: a TOML/JSON array, or one comma-separated string.
func (o options) list(key string) ([]string, error) {
	var items []string
	switch x := o[key].(type) {
	case nil:
	case string:
		items = strings.Split(x, ",")
	case []string:
		items = x
	case []any:
		for _, v := range x {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("option %s: element %T is not a string", key, v)
			}
			items = append(items, s)
		}
	default:
		return nil, fmt.Errorf("option %s: %T is not a list of strings", key, x)
	}
	var out []string
	for _, s := range items {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// check rejects keys outside known.
func (o options) check(known ...string) error {
	var bad []string
	for k := range o {
		found := false
		for _, n := range known {
			if k == n {
				found = true
				break
			}
		}
		if !found {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		sort.Strings(known)
		return fmt.Errorf("unknown option(s) %s (known: %s)", strings.Join(bad, ", "), strings.Join(known, ", "))
	}
	return nil
}
