package trainer

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/rundir"
)

// hookEnv is the echo env calling hook when step `at` opens its first episode
// (steps are counted by their draws of training tasks).
type hookEnv struct {
	fake.Echo
	at    int
	step  *int
	fired *bool
	hook  func()
}

func (e hookEnv) Tasks(split string, n int, seed int64) ([]envs.Task, error) {
	if split == "train" {
		*e.step++
	}
	return e.Echo.Tasks(split, n, seed)
}

func (e hookEnv) Open(t envs.Task) (envs.Episode, error) {
	if *e.step == e.at && !*e.fired {
		*e.fired = true
		e.hook()
	}
	return e.Echo.Open(t)
}

func newHookEnv(at int, hook func()) hookEnv {
	return hookEnv{Echo: fake.Echo{Turns: 3}, at: at, step: new(int), fired: new(bool), hook: hook}
}

// equalRuns checks that two run directories hold the same metrics but for times.
func equalRuns(t *testing.T, a, b string) {
	t.Helper()
	if ma, mb := rundir.DropTimes(readTrain(t, a)), rundir.DropTimes(readTrain(t, b)); !reflect.DeepEqual(ma, mb) {
		t.Errorf("train metrics differ:\n%+v\n%+v", ma, mb)
	}
	ea, eb := readEval(t, a, "student"), readEval(t, b, "student")
	for i := range ea {
		ea[i].Seconds = 0
	}
	for i := range eb {
		eb[i].Seconds = 0
	}
	if !reflect.DeepEqual(ea, eb) {
		t.Errorf("eval metrics differ:\n%+v\n%+v", ea, eb)
	}
}

// SIGINT in the middle of step 3 stops the run after that phase with a
// checkpoint of step 2, and the resumed run ends as an uninterrupted one.
func TestSIGINTStopsAndResumes(t *testing.T) {
	sets := []string{"steps=4", "checkpoint.every=0", "eval.every=2"}
	a := fakeConfig(t, sets...)
	if _, err := Run(a, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 3}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	b := fakeConfig(t, sets...)
	stop, release := StopOnSignal(io.Discard)
	defer release()
	env := newHookEnv(3, func() {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		select { // the signal is asynchronous: wait until it has landed
		case <-stop:
		case <-time.After(5 * time.Second):
			t.Error("SIGINT not seen")
		}
	})
	sum, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard, Stop: stop})
	if !errors.Is(err, ErrInterrupted) || sum == nil || !sum.Interrupted || sum.Steps != 2 {
		t.Fatalf("interrupted run: %+v, %v", sum, err)
	}
	if n := len(readTrain(t, b.OutDir)); n != 2 {
		t.Fatalf("%d train lines after the interrupt, want 2", n)
	}
	if _, info, err := rundir.LatestCheckpoint(b.OutDir); err != nil || info.Step != 2 {
		t.Fatalf("checkpoint after the interrupt: step %d, %v", info.Step, err)
	}
	if _, err := os.Stat(filepath.Join(b.OutDir, "report.md")); err != nil {
		t.Error(err)
	}
	if _, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 3}, Log: io.Discard, Resume: true}); err != nil {
		t.Fatal(err)
	}
	equalRuns(t, a.OutDir, b.OutDir)
}

// A checkpoint the disk cannot take fails the run with the reason, and the
// previous checkpoint still resumes to the uninterrupted run's end.
func TestFullDiskCheckpointKeepsThePrevious(t *testing.T) {
	sets := []string{"steps=4", "checkpoint.every=2", "eval.every=2"}
	a := fakeConfig(t, sets...)
	if _, err := Run(a, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 3}, Log: io.Discard}); err != nil {
		t.Fatal(err)
	}
	b := fakeConfig(t, sets...)
	// From step 3 on, the file that points ckpt/latest at a new checkpoint is
	// written into /dev/full: the kernel's "no space left on device".
	env := newHookEnv(3, func() {
		if err := os.Symlink("/dev/full", filepath.Join(b.OutDir, "ckpt", "latest.tmp")); err != nil {
			t.Error(err)
		}
	})
	_, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: env, Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "checkpoint step 4") || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("checkpoint on a full disk: %v", err)
	}
	t.Log(err)
	if _, info, err := rundir.LatestCheckpoint(b.OutDir); err != nil || info.Step != 2 {
		t.Fatalf("latest checkpoint after the failure: step %d, %v", info.Step, err)
	}
	if _, err := Run(b, RunOptions{Open: (&fakeOpener{lr: 1}).open, Env: fake.Echo{Turns: 3}, Log: io.Discard, Resume: true}); err != nil {
		t.Fatal(err)
	}
	equalRuns(t, a.OutDir, b.OutDir)
}

// A second signal exits at once with status 130 (in a child process: this
// test binary run again, blocked on a stop channel).
func TestSecondSignalExits(t *testing.T) {
	if os.Getenv("ATOD_SIGNAL_CHILD") == "1" {
		stop, _ := StopOnSignal(os.Stdout)
		os.Stdout.WriteString("ready\n")
		<-stop
		time.Sleep(time.Minute) // a phase that does not end
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondSignalExits$")
	cmd.Env = append(os.Environ(), "ATOD_SIGNAL_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	for said := ""; !strings.Contains(said, "stopping at the end of this phase"); {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after the first signal: %q %v", said+line, err)
		}
		said += line
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(r)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || time.Since(start) > 10*time.Second {
		t.Fatalf("after the second signal: %v (%s) in %v", err, rest, time.Since(start))
	}
}
