package remote

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/envtest"
)

// fakeGym speaks AgentGym's ALFWorld or WebShop server protocol over the
// built-in household or webshop env, on loopback.
type fakeGym struct {
	mu      sync.Mutex
	flavor  string
	env     envs.Env
	eps     map[int]envs.Episode
	last    map[int]envs.StepResult
	next    int
	steps   int
	fail503 int           // answer this many requests with 503 first
	hang    chan struct{} // when set, /step blocks until it is closed
}

func (g *fakeGym) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.hang != nil && r.URL.Path == "/step" {
		<-g.hang
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail503 > 0 {
		g.fail503--
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
		ep, err := g.env.Open(envs.Task{Split: split, Seed: int64(n)})
		if err != nil {
			reply(map[string]any{"error": err.Error()})
			return
		}
		obs, _ := ep.Reset()
		g.eps[id()] = ep
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
		g.steps++
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

func newFakeGym(t *testing.T, flavor string) (*fakeGym, *httptest.Server) {
	g := &fakeGym{flavor: flavor, eps: map[int]envs.Episode{}, last: map[int]envs.StepResult{}}
	if flavor == "webshop" {
		g.env = envtest.New(t, "webshop", nil)
	} else {
		g.env = envtest.New(t, "household", nil)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

// playRemote plays a remote task with the oracle of the env behind the fake server.
func playRemote(t *testing.T, g *fakeGym, env envs.Env, task envs.Task, split string) envs.StepResult {
	t.Helper()
	ep, err := env.Open(task)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ep.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	game, _ := env.(*Remote).game(task.Split, task.Seed)
	or, err := g.env.Oracle(envs.Task{ID: "inner", Split: split, Seed: int64(game)})
	if err != nil {
		t.Fatal(err)
	}
	obs, err := ep.Reset()
	if err != nil {
		t.Fatal(err)
	}
	for {
		reply, err := or.Next(obs)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := env.ParseAction(reply)
		res, err := ep.Step(a)
		if err != nil {
			t.Fatal(err)
		}
		if res.Info.Invalid {
			t.Fatalf("oracle action %q reported invalid: %q", a, res.Text)
		}
		if res.Done {
			return res
		}
		obs = res.Observation
	}
}

func TestRemotePlays(t *testing.T) {
	for _, flavor := range []string{"alfworld", "webshop"} {
		g, srv := newFakeGym(t, flavor)
		env := envtest.New(t, "remote", map[string]any{"url": srv.URL, "env": flavor, "timeout": 2})
		split := map[string]string{"alfworld": "train", "webshop": "test"}[flavor]
		tasks, err := env.Tasks(split, 10, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if res := playRemote(t, g, env, task, split); !res.Info.Won || res.Reward != 1 {
				t.Fatalf("%s: not won: %+v", flavor, res)
			}
		}
		if g.next != 10 {
			t.Fatalf("%d envs created, want one per episode", g.next)
		}
	}
}

func TestRemoteRetriesAndErrors(t *testing.T) {
	g, srv := newFakeGym(t, "alfworld")
	g.fail503 = 2
	env := envtest.New(t, "remote", map[string]any{"url": srv.URL, "timeout": 2, "retries": 2})
	tasks, _ := env.Tasks("train", 1, 1)
	ep, _ := env.Open(tasks[0])
	if _, err := ep.Reset(); err != nil {
		t.Fatalf("two 503s then success: %v", err)
	}
	r, err := ep.Step("dance")
	if err != nil || !r.Info.Invalid || r.Done {
		t.Fatalf("invalid action: %+v %v", r, err)
	}
	g.fail503 = 3
	r, err = ep.Step("look")
	if err != nil || !r.Done || !strings.Contains(r.Info.Reason, "503") {
		t.Fatalf("three 503s with 2 retries: %+v %v", r, err)
	}
	// An in-band {"error": …} answer.
	bad, _ := env.Open(envs.Task{Split: "train", Seed: 0})
	bad.(*episode).game = -1
	if _, err := bad.Reset(); err == nil || !strings.Contains(err.Error(), "bad game") {
		t.Fatalf("in-band error: %v", err)
	}
	// No server at all: a clear error, quickly.
	srv.Close()
	start := time.Now()
	dead, _ := env.Open(tasks[0])
	if _, err := dead.Reset(); err == nil || !strings.Contains(err.Error(), "remote alfworld at "+srv.URL) {
		t.Fatalf("server down: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("server down took %v", time.Since(start))
	}
}

func TestRemoteServerDiesMidEpisode(t *testing.T) {
	_, srv := newFakeGym(t, "alfworld")
	env := envtest.New(t, "remote", map[string]any{"url": srv.URL, "timeout": 1, "retries": 2})
	tasks, _ := env.Tasks("train", 1, 5)
	ep, _ := env.Open(tasks[0])
	if _, err := ep.Reset(); err != nil {
		t.Fatal(err)
	}
	if r, err := ep.Step("look"); err != nil || r.Done {
		t.Fatalf("%+v %v", r, err)
	}
	srv.CloseClientConnections()
	srv.Close()
	start := time.Now()
	r, err := ep.Step("look")
	if err != nil || !r.Done || r.Info.Won || r.Reward != 0 || !strings.Contains(r.Info.Reason, "after 3 tries") {
		t.Fatalf("server died: %+v %v", r, err)
	}
	if _, err := ep.Step("look"); err == nil {
		t.Fatal("step after the failed end")
	}
	if time.Since(start) > 3*time.Second {
		t.Fatalf("took %v", time.Since(start))
	}
}

func TestRemoteServerHangs(t *testing.T) {
	g, srv := newFakeGym(t, "alfworld")
	env := envtest.New(t, "remote", map[string]any{"url": srv.URL, "timeout": 0.2, "retries": 1})
	tasks, _ := env.Tasks("train", 1, 5)
	ep, _ := env.Open(tasks[0])
	if _, err := ep.Reset(); err != nil {
		t.Fatal(err)
	}
	g.hang = make(chan struct{})
	defer close(g.hang)
	start := time.Now()
	r, err := ep.Step("look")
	if err != nil || !r.Done || !strings.Contains(r.Info.Reason, "deadline exceeded") {
		t.Fatalf("hung server: %+v %v", r, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v with a 0.2 s timeout and 1 retry", d)
	}
}

func TestRemoteOptions(t *testing.T) {
	for _, opts := range []map[string]any{
		{},
		{"url": "localhost:8000"},
		{"url": "http://x", "env": "nethack"},
		{"url": "http://x", "timeout": 0},
		{"url": "http://x", "bogus": 1},
	} {
		if _, err := envs.New("remote", opts); err == nil {
			t.Errorf("options %v accepted", opts)
		}
	}
	env := envtest.New(t, "remote", map[string]any{"url": "http://127.0.0.1:1", "test_first": 5, "test_last": 9})
	if _, err := env.Tasks("test", 6, 1); err == nil {
		t.Error("6 tasks from a range of 5")
	}
	tasks, err := env.Tasks("test", 5, 1)
	if err != nil || len(tasks) != 5 {
		t.Fatal(tasks, err)
	}
	if _, err := env.Oracle(tasks[0]); err == nil {
		t.Error("remote oracle")
	}
}
