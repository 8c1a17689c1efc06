package trainer

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/atod-dev/atod/tinymodel"
	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/rundir"
	"github.com/atod-dev/atod/trainer/scoring"
)

// teacherServer is atod serve's handler over the fake teacher on loopback;
// fault, when set, sees every score request first (concurrently) and answers
// it itself when it returns true.
func teacherServer(t *testing.T, fault func(w http.ResponseWriter, r *http.Request) bool) *httptest.Server {
	t.Helper()
	s := scoring.NewServer(&fake.LM{Seqs: 16, Ctx: 512, Teacher: true}, scoring.ServerOptions{Name: "fake-teacher", MaxLogprobs: 20, Window: time.Millisecond})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fault == nil || r.URL.Path != "/v1/completions" || !fault(w, r) {
			s.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() { srv.Close(); s.Close() })
	return srv
}

// remoteOpener opens the fakes with the teacher at teacher.url, as native.Open does.
func remoteOpener(cfg *Config, need Need) (*Models, error) {
	c, err := scoring.Dial(cfg.TeacherClient(need.NSeq))
	if err != nil {
		return nil, err
	}
	m, _ := (&fakeOpener{lr: 1}).open(cfg, need)
	if _, err := c.Check(m.Student, cfg.TeacherTopK()); err != nil {
		return nil, err
	}
	m.Teacher = c
	return m, nil
}

// trainLines counts the steps in a run's metrics so far (0 before the first).
func trainLines(dir string) int {
	b, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	return strings.Count(string(b), `"kind":"train"`)
}

var remoteSets = []string{"steps=4", "checkpoint.every=2", "eval.every=2", "eval.teacher=false", "tdur.disagreement=topk_kl", "tdur.topk=4"}

// remoteConfig is fakeConfig with its teacher at url.
func remoteConfig(t *testing.T, url string, sets ...string) *Config {
	cfg := fakeConfig(t, remoteSets...)
	cfg.Teacher.Model, cfg.Teacher.URL, cfg.Teacher.API = "", url, "atod"
	cfg.Teacher.Timeout, cfg.Teacher.Retries, cfg.Teacher.Backoff = 2, 2, 0.01
	if err := cfg.Apply(sets); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// localRun is the same run with the local fake teacher.
func localRun(t *testing.T) *Config {
	a := fakeConfig(t, remoteSets...)
	if _, err := Run(a, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 3}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	return a
}

// A remote teacher gives the run the local teacher gives (top-k included); a
// connection dropped once per step is retried and changes nothing.
func TestRemoteTeacherRun(t *testing.T) {
	a := localRun(t)
	var drops atomic.Int32
	var mu sync.Mutex
	dropped := map[string]bool{} // each request at most once, so that its retry goes through
	srv := teacherServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		drop := !dropped[string(body)] && drops.Add(1)%7 == 3
		dropped[string(body)] = dropped[string(body)] || drop
		mu.Unlock()
		if !drop {
			return false
		}
		conn, _, _ := w.(http.Hijacker).Hijack() // as a server process that died mid-answer
		conn.Close()
		return true
	})
	b := remoteConfig(t, srv.URL)
	if _, err := Run(b, RunOptions{Open: remoteOpener, Env: fake.Echo{Turns: 3}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if drops.Load() < 7 {
		t.Fatalf("%d score requests: no connection was dropped", drops.Load())
	}
	equalRuns(t, a.OutDir, b.OutDir)
}

// A server that stays down through the retries stops the run in step 3 with
// nothing of it learnt, a checkpoint of step 2 and the --resume command; the
// resumed run ends as one never interrupted. A stall past the timeout and
// 500s count as down.
func TestRemoteTeacherDown(t *testing.T) {
	a := localRun(t)
	for _, mode := range []string{"500", "stall"} {
		t.Run(mode, func(t *testing.T) {
			var b *Config
			release := make(chan struct{})
			defer close(release)
			srv := teacherServer(t, func(w http.ResponseWriter, r *http.Request) bool {
				if trainLines(b.OutDir) < 2 {
					return false
				}
				if mode == "stall" {
					<-release
				}
				http.Error(w, "the teacher fell over", http.StatusInternalServerError)
				return true
			})
			b = remoteConfig(t, srv.URL, "teacher.timeout=0.2")
			_, err := Run(b, RunOptions{Open: remoteOpener, Env: fake.Echo{Turns: 3}, Log: io.Discard})
			if !errors.Is(err, scoring.ErrUnavailable) || !strings.Contains(err.Error(), "step 3") || !strings.Contains(err.Error(), "atod run --resume "+b.OutDir) {
				t.Fatalf("teacher down in step 3: %v", err)
			}
			t.Log(err)
			if n := len(readTrain(t, b.OutDir)); n != 2 {
				t.Fatalf("%d train lines, want 2", n)
			}
			if _, info, err := rundir.LatestCheckpoint(b.OutDir); err != nil || info.Step != 2 {
				t.Fatalf("checkpoint: step %d, %v", info.Step, err)
			}
			up := teacherServer(t, nil) // back, at another address
			c := *b
			c.Teacher.URL = up.URL
			if _, err := Run(&c, RunOptions{Open: remoteOpener, Env: fake.Echo{Turns: 3}, Log: io.Discard, Resume: true}); err != nil {
				t.Fatal(err)
			}
			equalRuns(t, a.OutDir, b.OutDir)
		})
	}
}

// A run killed (-9) while its remote teacher scores step 3 resumes to the run
// never interrupted. The run is this test binary again, in a child process.
func TestRemoteTeacherKilled(t *testing.T) {
	if path := os.Getenv("ATOD_REMOTE_CHILD"); path != "" {
		cfg, err := LoadConfig(path, nil)
		if err == nil {
			_, err = Run(cfg, RunOptions{Open: remoteOpener, Env: fake.Echo{Turns: 3}, Log: io.Discard})
		}
		t.Fatalf("the child ran to its end: %v", err) // it is to be killed first
	}
	a := localRun(t)
	var cmd *exec.Cmd
	var b *Config
	var kill sync.Once
	srv := teacherServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		if trainLines(b.OutDir) < 2 {
			return false
		}
		kill.Do(func() { cmd.Process.Signal(syscall.SIGKILL) })
		http.Error(w, "gone", http.StatusServiceUnavailable)
		return true
	})
	b = remoteConfig(t, srv.URL)
	resolved, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, resolved, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(os.Args[0], "-test.run=^TestRemoteTeacherKilled$", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), "ATOD_REMOTE_CHILD="+path)
	out, err := cmd.CombinedOutput()
	if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if _, info, err := rundir.LatestCheckpoint(b.OutDir); err != nil || info.Step != 2 {
		t.Fatalf("checkpoint after the kill: step %d, %v", info.Step, err)
	}
	up := teacherServer(t, nil)
	b.Teacher.URL = up.URL
	if _, err := Run(b, RunOptions{Open: remoteOpener, Env: fake.Echo{Turns: 3}, Log: io.Discard, Resume: true}); err != nil {
		t.Fatal(err)
	}
	equalRuns(t, a.OutDir, b.OutDir)
}

// A remote teacher costs the plan nothing; the plan names the server and the
// model it serves, or says that it does not answer.
func TestRemotePlan(t *testing.T) {
	dir := t.TempDir()
	s := filepath.Join(dir, "s.gguf")
	if err := tinymodel.Write(s, tinymodel.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	local := DefaultConfig()
	local.Student.Model, local.Teacher.Model = s, s
	lp, err := local.MemoryPlan()
	if err != nil {
		t.Fatal(err)
	}
	srv := teacherServer(t, nil)
	c := DefaultConfig()
	c.Student.Model, c.Teacher.URL, c.Teacher.API = s, srv.URL, "atod"
	p, err := c.MemoryPlan()
	if err != nil {
		t.Fatal(err)
	}
	var teacher int64
	for _, it := range p.Items {
		if strings.HasPrefix(it.Name, "teacher") {
			teacher += it.Bytes
			if !strings.HasPrefix(it.Why, "remote") {
				t.Errorf("%s: %q", it.Name, it.Why)
			}
		}
	}
	var want int64
	for _, it := range lp.Items {
		if strings.HasPrefix(it.Name, "teacher") {
			want += it.Bytes
		}
	}
	var out strings.Builder
	p.Write(&out)
	if teacher != 0 || lp.Total-p.Total != want || want == 0 || !strings.Contains(out.String(), srv.URL+": serves fake-teacher") {
		t.Errorf("remote teacher: %d bytes, total %d vs local %d (teacher %d):\n%s", teacher, p.Total, lp.Total, want, out.String())
	}
	srv.Close()
	if p, err = c.MemoryPlan(); err != nil || !strings.Contains(p.Teacher, "not answering") {
		t.Errorf("server down: %q %v", p.Teacher, err)
	}
}

// teacher.url is checked where it is set: with teacher.model, with a bad api,
// and with eval.teacher (a remote teacher cannot play episodes).
func TestRemoteConfig(t *testing.T) {
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{[]string{"teacher.url=http://127.0.0.1:9", "eval.teacher=false"}, "both set"},
		{[]string{"teacher.model=", "teacher.url=http://127.0.0.1:9", "eval.teacher=false", "teacher.api=tgi"}, "teacher.api"},
		{[]string{"teacher.model=", "teacher.url=http://127.0.0.1:9"}, "eval.teacher"},
		{[]string{"teacher.model="}, "teacher.model and teacher.url are empty"},
	} {
		c := fakeConfig(t)
		if err := c.Apply(tc.sets); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.sets, err, tc.want)
		}
	}
	c := fakeConfig(t)
	if err := c.Apply([]string{"teacher.model=", "teacher.url=http://127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateEval("teacher"); err == nil || !strings.Contains(err.Error(), "teacher.url") {
		t.Errorf("atod eval --model teacher with a remote teacher: %v", err)
	}
}
