package envtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/atod-dev/atod/envs"
)

// Gym speaks AgentGym's ALFWorld or WebShop server protocol over a built-in
// env (household or webshop), for tests of the remote env and of runs against
// a server that fails; serve it on loopback (httptest.NewServer).
type Gym struct {
	Env     envs.Env
	Fail503 int           // answer this many requests with 503 first
	Hang    chan struct{} // when set, /step blocks until it is closed
	// Fail, when set, answers a request with 500 when it returns true: path is
	// the route, game the task's seed on the server (−1 before /reset).
	Fail func(path string, game int) bool

	mu     sync.Mutex
	flavor string
	eps    map[int]envs.Episode
	games  map[int]int
	last   map[int]envs.StepResult
	next   int
}

// NewGym serves env with the "alfworld" or "webshop" protocol.
func NewGym(flavor string, env envs.Env) *Gym {
	return &Gym{Env: env, flavor: flavor, eps: map[int]envs.Episode{}, games: map[int]int{}, last: map[int]envs.StepResult{}}
}

// Created counts the envs created so far.
func (g *Gym) Created() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.next
}

func (g *Gym) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.Hang != nil && r.URL.Path == "/step" {
		<-g.Hang
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.Fail503 > 0 {
		g.Fail503--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var req map[string]any
	if r.Method == "POST" {
		json.NewDecoder(r.Body).Decode(&req)
	}
	id := func() int {
		if v, ok := req["id"].(float64); ok {
			return int(v)
		}
		if v, ok := req["env_idx"].(float64); ok {
			return int(v)
		}
		var n int
		fmt.Sscan(r.URL.Query().Get("env_idx"), &n)
		return n
	}
	reply := func(v any) { json.NewEncoder(w).Encode(v) }
	game, ok := g.games[id()]
	if !ok || r.URL.Path == "/create" || r.URL.Path == "/reset" {
		game = -1
	}
	if g.Fail != nil && g.Fail(r.URL.Path, game) {
		http.Error(w, "failing on purpose", http.StatusInternalServerError)
		return
	}
	switch r.URL.Path {
	case "/create":
		g.next++
		if g.flavor == "webshop" {
			reply(g.next)
		} else {
			reply(map[string]any{"id": g.next})
		}
	case "/reset":
		game, split := req["game"], "train"
		if g.flavor == "webshop" {
			game, split = req["session_id"], "test"
		}
		n, ok := game.(float64)
		if !ok || n < 0 {
			reply(map[string]any{"error": "bad game"})
			return
		}
		ep, err := g.Env.Open(envs.Task{Split: split, Seed: int64(n)})
		if err != nil {
			reply(map[string]any{"error": err.Error()})
			return
		}
		obs, _ := ep.Reset()
		g.eps[id()], g.games[id()] = ep, int(n)
		g.last[id()] = envs.StepResult{Observation: obs}
		if g.flavor == "webshop" {
			reply([]any{obs.Text, nil})
		} else {
			reply(map[string]any{"id": id(), "observation": obs.Text, "available_actions": obs.Admissible, "task_type": "x"})
		}
	case "/step":
		ep := g.eps[id()]
		if ep == nil {
			reply(map[string]any{"error": "no such env"})
			return
		}
		res, err := ep.Step(req["action"].(string))
		if err != nil {
			reply(map[string]any{"error": err.Error()})
			return
		}
		g.last[id()] = res
		if g.flavor == "webshop" {
			reply(map[string]any{"state": res.Text, "reward": res.Reward, "done": res.Done, "info": nil})
		} else {
			reply(map[string]any{"observation": res.Text, "reward": res.Reward, "available_actions": res.Admissible, "done": res.Done})
		}
	case "/available_actions":
		var clicks []string
		search := false
		for _, a := range g.last[id()].Admissible {
			if c, ok := strings.CutPrefix(a, "click["); ok {
				clicks = append(clicks, strings.TrimSuffix(c, "]"))
			} else {
				search = true
			}
		}
		reply(map[string]any{"has_search_bar": search, "clickables": clicks})
	default:
		http.NotFound(w, r) // AgentGym's ALFWorld server has no /close
	}
}
