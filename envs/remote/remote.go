// Package remote is the env registered as "remote": a client for
// AgentGym-style environment servers, which serve the real ALFWorld or
// WebShop. Its prompts and action grammar are those of the household and
// webshop envs.
package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/household"
	"github.com/atod-dev/atod/envs/httpjson"
	"github.com/atod-dev/atod/envs/webshop"
)

func init() {
	envs.Register("remote", Options, func(o envs.Options) (envs.Env, error) { return New(o) })
}

// Remote plays an AgentGym-style environment server over HTTP (the real
// ALFWorld or WebShop): create, reset, step, observation, close.
type Remote struct {
	base      string
	flavor    string // "alfworld" | "webshop"
	http      *httpjson.Client
	maxSteps  int
	worldType string
	ranges    map[string][2]int // split → first and last game / session id
}

// Options are the options New reads; the defaults of max_steps and the id
// ranges follow env, as AgentGym's servers number their games and sessions.
var Options = []envs.Option{
	{Name: "url", Default: "", Usage: "the server, e.g. http://127.0.0.1:8000 (required)"},
	{Name: "env", Default: "alfworld", Usage: "the server's env: alfworld or webshop"},
	{Name: "timeout", Default: 30, Usage: "seconds per request"},
	{Name: "retries", Default: 3, Usage: "retries of a failed request"},
	{Name: "max_steps", Usage: "actions before the episode ends (alfworld 50, webshop 15)"},
	{Name: "world_type", Default: "Text", Usage: "alfworld's world type"},
	{Name: "train_first", Usage: "first train id (alfworld 0, webshop 500)"},
	{Name: "train_last", Usage: "last train id (alfworld 2419, webshop 9999)"},
	{Name: "test_first", Usage: "first test id (alfworld 2420, webshop 0)"},
	{Name: "test_last", Usage: "last test id (alfworld 2619, webshop 499)"},
}

// New builds the env from its Options.
func New(o envs.Options) (*Remote, error) {
	o, err := o.Resolve(Options)
	if err != nil {
		return nil, err
	}
	r := &Remote{ranges: map[string][2]int{}}
	if r.base, err = o.String("url"); err != nil {
		return nil, err
	}
	if u, err := url.Parse(r.base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want http://host:port", r.base)
	}
	r.base = strings.TrimRight(r.base, "/")
	if r.flavor, err = o.String("env"); err != nil {
		return nil, err
	}
	steps, train, test := 50, [2]int{0, 2419}, [2]int{2420, 2619}
	switch r.flavor {
	case "alfworld":
	case "webshop":
		steps, train, test = 15, [2]int{500, 9999}, [2]int{0, 499}
	default:
		return nil, fmt.Errorf("env %q (want alfworld or webshop)", r.flavor)
	}
	timeout, err := o.Float("timeout")
	if err != nil {
		return nil, err
	}
	retries, err := o.Int("retries")
	if err != nil {
		return nil, err
	}
	r.maxSteps = steps
	if r.worldType, err = o.String("world_type"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		p   *int
		key string
	}{{&r.maxSteps, "max_steps"}, {&train[0], "train_first"}, {&train[1], "train_last"}, {&test[0], "test_first"}, {&test[1], "test_last"}} {
		if _, set := o[f.key]; !set {
			continue
		}
		if *f.p, err = o.Int(f.key); err != nil {
			return nil, err
		}
	}
	if timeout <= 0 || retries < 0 || r.maxSteps < 1 {
		return nil, fmt.Errorf("want timeout > 0, retries >= 0, max_steps >= 1")
	}
	if train[1] < train[0] || test[1] < test[0] {
		return nil, fmt.Errorf("id ranges: last before first")
	}
	r.ranges["train"], r.ranges["test"] = train, test
	r.http = httpjson.New(httpjson.Config{Timeout: time.Duration(timeout * float64(time.Second)), Retries: retries, Backoff: 50 * time.Millisecond})
	return r, nil
}

func (r *Remote) Name() string { return "remote" }

func (r *Remote) Instructions() string {
	if r.flavor == "webshop" {
		return (&webshop.WebShop{}).Instructions()
	}
	return (&household.Household{}).Instructions()
}

func (r *Remote) ParseAction(reply string) (string, bool) { return envs.ParseActionTag(reply) }

func (r *Remote) StopStrings() []string { return []string{"</action>"} }

func (r *Remote) Oracle(envs.Task) (envs.Oracle, error) {
	return nil, errors.New("remote: no oracle for a remote environment")
}

// game maps a task seed onto the split's id range.
func (r *Remote) game(split string, seed int64) (int, error) {
	rg, ok := r.ranges[split]
	if !ok {
		return 0, fmt.Errorf("remote: unknown split %q (want train or test)", split)
	}
	return rg[0] + int(uint64(seed)%uint64(rg[1]-rg[0]+1)), nil
}

func (r *Remote) Tasks(split string, n int, seed int64) ([]envs.Task, error) {
	rg, ok := r.ranges[split]
	if ok && n > rg[1]-rg[0]+1 {
		return nil, fmt.Errorf("remote: %d tasks asked, split %s has %d", n, split, rg[1]-rg[0]+1)
	}
	return envs.DrawTasks(r.Name(), split, n, seed, func(s int64) (string, error) {
		g, err := r.game(split, s)
		return fmt.Sprint(g), err
	})
}

// Game is the server-side game that task t plays.
func (r *Remote) Game(t envs.Task) (int, error) { return r.game(t.Split, t.Seed) }

func (r *Remote) Open(t envs.Task) (envs.Episode, error) {
	g, err := r.Game(t)
	if err != nil {
		return nil, err
	}
	return &episode{r: r, game: g, id: -1}, nil
}

type episode struct {
	r      *Remote
	game   int
	id     int // server-side env id, -1 before create
	steps  int
	done   bool
	reset  bool
	admiss []string
	search bool // webshop: the page has a search bar
}

// call posts to a route and fails on the servers' in-band {"error": …}.
func (e *episode) call(route string, body, out any) error {
	var raw json.RawMessage
	var err error
	if body == nil {
		err = e.r.http.Do("GET", e.r.base+route, nil, &raw)
	} else {
		err = e.r.http.Do("POST", e.r.base+route, body, &raw)
	}
	if err != nil {
		return fmt.Errorf("remote %s at %s: %w", e.r.flavor, e.r.base, err)
	}
	var inband struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(raw, &inband) == nil && inband.Error != nil {
		return fmt.Errorf("remote %s %s: server error: %v", e.r.flavor, route, inband.Error)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("remote %s %s: unexpected answer %.200s: %w", e.r.flavor, route, raw, err)
	}
	return nil
}

func (e *episode) key() string {
	if e.r.flavor == "webshop" {
		return "env_idx"
	}
	return "id"
}

func (e *episode) Reset() (envs.Observation, error) {
	if e.id < 0 {
		// ALFWorld answers {"id": n}, WebShop a bare n.
		var raw json.RawMessage
		if err := e.call("/create", map[string]any{}, &raw); err != nil {
			return envs.Observation{}, err
		}
		var created struct{ ID *int }
		if json.Unmarshal(raw, &created) == nil && created.ID != nil {
			e.id = *created.ID
		} else if err := json.Unmarshal(raw, &e.id); err != nil {
			return envs.Observation{}, fmt.Errorf("remote %s /create: unexpected answer %.200s", e.r.flavor, raw)
		}
	}
	e.steps, e.done, e.reset = 0, false, true
	if e.r.flavor == "webshop" {
		var out []json.RawMessage
		if err := e.call("/reset", map[string]any{"env_idx": e.id, "session_id": e.game}, &out); err != nil {
			return envs.Observation{}, err
		}
		var obs string
		if len(out) == 0 || json.Unmarshal(out[0], &obs) != nil {
			return envs.Observation{}, fmt.Errorf("remote webshop /reset: no observation")
		}
		return e.webshopObservation(obs)
	}
	var out struct {
		Observation      string   `json:"observation"`
		AvailableActions []string `json:"available_actions"`
	}
	if err := e.call("/reset", map[string]any{"id": e.id, "game": e.game, "world_type": e.r.worldType}, &out); err != nil {
		return envs.Observation{}, err
	}
	e.admiss = out.AvailableActions
	return envs.Observation{Text: out.Observation, Admissible: out.AvailableActions}, nil
}

// webshopObservation adds the clickables, which WebShop serves separately.
func (e *episode) webshopObservation(text string) (envs.Observation, error) {
	var av struct {
		HasSearchBar bool     `json:"has_search_bar"`
		Clickables   []string `json:"clickables"`
	}
	if err := e.call(fmt.Sprintf("/available_actions?env_idx=%d", e.id), nil, &av); err != nil {
		return envs.Observation{}, err
	}
	e.search, e.admiss = av.HasSearchBar, nil
	obs := envs.Observation{Text: text}
	if av.HasSearchBar {
		obs.Admissible = append(obs.Admissible, "search[<your query>]")
	}
	for _, c := range av.Clickables {
		e.admiss = append(e.admiss, "click["+c+"]")
	}
	obs.Admissible = append(obs.Admissible, e.admiss...)
	return obs, nil
}

// invalid says whether the action is outside what the last observation allowed.
func (e *episode) invalid(action string) bool {
	a := envs.NormSpace(action)
	if e.r.flavor == "webshop" {
		name, _, ok := webshop.SplitAction(a)
		return !ok || (name == "click" && !slices.Contains(e.admiss, a))
	}
	return e.admiss != nil && !slices.Contains(e.admiss, a) && !slices.Contains(e.admiss, household.Canonical(a))
}

func (e *episode) Step(action string) (envs.StepResult, error) {
	if err := envs.CheckStep(e.reset, e.done); err != nil {
		return envs.StepResult{}, err
	}
	e.steps++
	res := envs.StepResult{Info: envs.Info{Invalid: e.invalid(action)}}
	fail := func(err error) (envs.StepResult, error) {
		// The server failed: the episode ends as failed, with the reason.
		e.done = true
		res.Done, res.Info.Failed, res.Info.Reason = true, true, err.Error()
		return res, nil
	}
	if e.r.flavor == "webshop" {
		var out struct {
			State  string  `json:"state"`
			Reward float64 `json:"reward"`
			Done   bool    `json:"done"`
		}
		if err := e.call("/step", map[string]any{"env_idx": e.id, "action": action}, &out); err != nil {
			return fail(err)
		}
		obs, err := e.webshopObservation(out.State)
		if err != nil {
			if !out.Done {
				return fail(err)
			}
			obs = envs.Observation{Text: out.State} // a finished session may have no actions to list
		}
		res.Observation, res.Reward, res.Done = obs, out.Reward, out.Done
		res.Info.Score, res.Info.Won = out.Reward, out.Done && out.Reward == 1
	} else {
		var out struct {
			Observation      string   `json:"observation"`
			Reward           float64  `json:"reward"`
			AvailableActions []string `json:"available_actions"`
			Done             bool     `json:"done"`
		}
		if err := e.call("/step", map[string]any{"id": e.id, "action": action}, &out); err != nil {
			return fail(err)
		}
		e.admiss = out.AvailableActions
		res.Observation = envs.Observation{Text: out.Observation, Admissible: out.AvailableActions}
		res.Reward, res.Done = out.Reward, out.Done
		res.Info.Score, res.Info.Won = out.Reward, out.Reward >= 1
		res.Info.Invalid = res.Info.Invalid || out.Observation == "Nothing happens."
	}
	if !res.Done && e.steps >= e.r.maxSteps {
		res.Done, res.Info.Reason = true, fmt.Sprintf("step limit %d reached", e.r.maxSteps)
	}
	e.done = res.Done
	return res, nil
}

// Close releases the server-side env. AgentGym's ALFWorld server has no
// /close route; a 404 or 405 from it is not an error.
func (e *episode) Close() error {
	if e.id < 0 {
		return nil
	}
	var out json.RawMessage
	err := e.r.http.Do("POST", e.r.base+"/close", map[string]any{e.key(): e.id}, &out)
	e.id = -1
	if err != nil && !strings.Contains(err.Error(), " 404 ") && !strings.Contains(err.Error(), " 405 ") {
		return fmt.Errorf("remote %s close: %w", e.r.flavor, err)
	}
	return nil
}
