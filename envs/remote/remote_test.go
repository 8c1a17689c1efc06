package remote

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/envs/envtest"
)

func newFakeGym(t *testing.T, flavor string) (*envtest.Gym, *httptest.Server) {
	inner := map[string]string{"alfworld": "household", "webshop": "webshop"}[flavor]
	g := envtest.NewGym(flavor, envtest.New(t, inner, nil))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

// playRemote plays a remote task with the oracle of the env behind the fake server.
func playRemote(t *testing.T, g *envtest.Gym, env envs.Env, task envs.Task, split string) envs.StepResult {
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
	or, err := g.Env.Oracle(envs.Task{ID: "inner", Split: split, Seed: int64(game)})
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
		if g.Created() != 10 {
			t.Fatalf("%d envs created, want one per episode", g.Created())
		}
	}
}

func TestRemoteRetriesAndErrors(t *testing.T) {
	g, srv := newFakeGym(t, "alfworld")
	g.Fail503 = 2
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
	g.Fail503 = 3
	r, err = ep.Step("look")
	if err != nil || !r.Done || !r.Info.Failed || !strings.Contains(r.Info.Reason, "503") {
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
	if err != nil || !r.Done || !r.Info.Failed || r.Info.Won || r.Reward != 0 || !strings.Contains(r.Info.Reason, "after 3 tries") {
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
	g.Hang = make(chan struct{})
	defer close(g.Hang)
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
