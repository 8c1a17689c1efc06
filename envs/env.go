// Package envs defines the multi-turn text environments the trainer plays: the
// Env, Episode and Oracle interfaces, a registry of envs by name, the prompt
// rendering, and the action parsing and task drawing the envs share.
//
// The built-in envs are sub-packages: household (ALFWorld-like), webshop
// (WebShop-like), searchqa (Search-R1-like) and remote (a client for
// AgentGym-style servers). Each registers itself when imported; import
// envs/builtin for all of them.
package envs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
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
	// Failed: the env itself failed (a server down or erroring), not the agent,
	// so the episode's outcome says nothing about the policy.
	Failed bool
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

// Typer is an Env whose tasks fall into types (a household's task type, a
// question's relation), so that results can be broken down by them.
type Typer interface {
	// TaskType names t's type: a short, stable name shared by many tasks.
	TaskType(t Task) (string, error)
}

// Episode is one play-through of a task. Not safe for concurrent use.
type Episode interface {
	Reset() (Observation, error)
	// Step applies an action, normally ParseAction's result; any text is
	// accepted, and one that is not an admissible action sets Info.Invalid
	// while the episode goes on. A non-nil error means misuse (not reset,
	// already done); a failing server ends the episode with Info.Failed and Info.Reason instead.
	Step(action string) (StepResult, error)
	Close() error
}

// Oracle plays a task; reply is model-style text including the action tags.
type Oracle interface {
	Next(obs Observation) (reply string, err error)
}

// CheckStep is the misuse check at the top of an Episode.Step: an episode must
// be reset and not over.
func CheckStep(reset, done bool) error {
	if !reset {
		return ErrNotReset
	}
	if done {
		return ErrEpisodeOver
	}
	return nil
}

// ErrNotReset and ErrEpisodeOver are the misuse errors of Episode.Step.
var (
	ErrNotReset    = errors.New("episode not reset")
	ErrEpisodeOver = errors.New("episode is over")
)

type registered struct {
	options []Option
	open    func(Options) (Env, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]registered{}
)

// Register makes an env available to New under name; open reads the options
// that options declares. It is meant to be called from the init function of
// the env's package, and panics if name is already registered or open is nil.
func Register(name string, options []Option, open func(opts Options) (Env, error)) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if open == nil {
		panic("envs: Register of " + name + " with nil open")
	}
	if _, dup := registry[name]; dup {
		panic("envs: Register called twice for " + name)
	}
	registry[name] = registered{options, open}
}

// OptionsOf returns the options the env registered as name declares.
func OptionsOf(name string) ([]Option, error) {
	registryMu.RLock()
	r, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, unknown(name)
	}
	return r.options, nil
}

// Names returns the registered env names, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// New builds the env registered as name. Options are documented on each
// constructor; unknown keys are errors so typos surface.
func New(name string, opts map[string]any) (Env, error) {
	registryMu.RLock()
	r, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, unknown(name)
	}
	env, err := r.open(Options(opts))
	if err != nil {
		return nil, fmt.Errorf("envs: %s: %w", name, err)
	}
	return env, nil
}

func unknown(name string) error {
	names := Names()
	if len(names) == 0 {
		// The usual cause: a program or test that imports no env package.
		return fmt.Errorf("envs: unknown env %q (no env registered: import envs/builtin)", name)
	}
	want := names[len(names)-1]
	if len(names) > 1 {
		want = strings.Join(names[:len(names)-1], ", ") + " or " + want
	}
	return fmt.Errorf("envs: unknown env %q (want %s)", name, want)
}
