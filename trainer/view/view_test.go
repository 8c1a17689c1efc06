package view

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/report"
)

func open(cfg *trainer.Config, need trainer.Need) (*trainer.Models, error) {
	return &trainer.Models{
		Student: &fake.LM{Seqs: need.NSeq, Ctx: cfg.Rollout.Context},
		Teacher: &fake.LM{Seqs: need.NSeq, Ctx: cfg.Rollout.Context, Teacher: true},
		Learner: &fake.Learner{LR: 30},
	}, nil
}

// runConfig is a run of steps steps over the echo env into dir.
func runConfig(t *testing.T, dir string, steps int) *trainer.Config {
	t.Helper()
	c := trainer.DefaultConfig()
	c.Student.Model, c.Teacher.Model = os.Args[0], os.Args[0] // any existing file: the fakes read none
	c.OutDir, c.Steps = dir, steps
	c.Env.Name = "echo"
	c.Rollout = trainer.RolloutConfig{TasksPerStep: 4, GroupSize: 4, MaxTurns: 3, History: "full", Context: 512, InvalidPenalty: 0.1, EnvRetries: 2, MaxFailedShare: 0.5}
	c.Sampling = trainer.SamplingConfig{Temperature: 1, TopP: 1, MaxTokens: 3}
	c.Eval = trainer.EvalConfig{Every: 2, Tasks: 8, Split: "test", Teacher: true}
	c.Schedule.AnnealSteps = steps
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return &c
}

// gated is the echo env holding step gateAt's rollout until gate is closed.
type gated struct {
	fake.Echo
	gateAt int
	steps  *int
	gate   chan struct{}
}

func (g gated) Tasks(split string, n int, seed int64) ([]envs.Task, error) {
	if split == "train" {
		if *g.steps++; *g.steps == g.gateAt {
			<-g.gate
		}
	}
	return g.Echo.Tasks(split, n, seed)
}

func finishedRun(t *testing.T, steps int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "finished")
	if _, err := trainer.Run(runConfig(t, dir, steps), trainer.RunOptions{Open: open, Env: fake.Echo{Turns: 3}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return r.StatusCode
}

// Bad requests get a clear error and the server goes on serving.
func TestBadRequests(t *testing.T) {
	good, gone := finishedRun(t, 2), finishedRun(t, 2)
	torn := finishedRun(t, 2)
	s, err := New([]string{good, gone, torn}, trainer.DescribeRun)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	var e map[string]string
	for _, c := range []struct {
		path string
		code int
		says string
	}{
		{"/api/runs/7/episodes", 404, "no run"},
		{"/api/runs/x/episodes", 404, "no run"},
		{"/api/runs/0/episodes/..%2Fmetrics.jsonl", 400, "not an episode file"},
		{"/api/runs/0/episodes/train-000099.jsonl.gz", 404, "no such file"},
		{"/api/charts?runs=0,9", 404, "no run"},
	} {
		if code := getJSON(t, srv.URL+c.path, &e); code != c.code || !strings.Contains(e["error"], c.says) {
			t.Errorf("%s: %d %q, want %d and %q", c.path, code, e["error"], c.code, c.says)
		}
	}
	// Only the embedded page is served outside the API.
	if r, err := http.Get(srv.URL + "/../../etc/passwd"); err != nil || r.StatusCode != 404 {
		t.Errorf("a path outside: %v %v", r.StatusCode, err)
	}
	// A half-written last line is left out; a malformed line before it is an error.
	f, _ := os.OpenFile(filepath.Join(torn, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"kind":"train","step":3,"lam`)
	f.Close()
	var charts []report.Chart
	if code := getJSON(t, srv.URL+"/api/charts?runs=2", &charts); code != 200 || len(charts) == 0 {
		t.Errorf("half-written line: %d", code)
	}
	b, _ := os.ReadFile(filepath.Join(torn, "metrics.jsonl"))
	os.WriteFile(filepath.Join(torn, "metrics.jsonl"), append([]byte("{not json}\n"), b...), 0o644)
	if code := getJSON(t, srv.URL+"/api/charts?runs=2", &e); code != 422 || !strings.Contains(e["error"], "line 1") {
		t.Errorf("malformed line: %d %q", code, e["error"])
	}
	// A run directory that disappears.
	os.RemoveAll(gone)
	if code := getJSON(t, srv.URL+"/api/runs/1/episodes", &e); code != 404 || !strings.Contains(e["error"], "no such file") {
		t.Errorf("run gone: %d %q", code, e["error"])
	}
	var files []string
	if code := getJSON(t, srv.URL+"/api/runs/0/episodes", &files); code != 200 || len(files) == 0 {
		t.Errorf("the server stopped serving: %d %v", code, files)
	}
}
