package view

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/fake"
	"github.com/atod-dev/atod/trainer/rundir"
)

// browser is headless Chromium driven through chromedriver's WebDriver API.
type browser struct {
	t       *testing.T
	base    string // chromedriver's session URL
	shots   string
	nshots  int
	cleanup func()
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	chromium, err1 := exec.LookPath("chromium")
	driver, err2 := exec.LookPath("chromedriver")
	if err1 != nil || err2 != nil {
		t.Skip("headless Chromium is not installed (Debian: apt-get install chromium chromium-driver; make test does it as root)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(driver, fmt.Sprintf("--port=%d", port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if r, err := http.Get(b.base + "/status"); err == nil {
			r.Body.Close()
			break
		}
		if time.Since(start) > 20*time.Second {
			cmd.Process.Kill()
			t.Fatal("chromedriver did not start")
		}
	}
	args := []string{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1800",
		"--user-data-dir=" + t.TempDir()}
	var sess struct{ Value struct{ SessionID string } }
	b.call("POST", "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome", "goog:chromeOptions": map[string]any{"binary": chromium, "args": args}}}}, &sess)
	if sess.Value.SessionID == "" {
		cmd.Process.Kill()
		t.Fatal("no WebDriver session")
	}
	b.base += "/session/" + sess.Value.SessionID
	b.shots = filepath.Join(os.TempDir(), "atod-view-test")
	os.MkdirAll(b.shots, 0o755)
	b.cleanup = func() {
		b.call("DELETE", "", nil, nil)
		cmd.Process.Kill()
		cmd.Wait()
	}
	return b
}

func (b *browser) call(method, path string, body, out any) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer r.Body.Close()
	data, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 {
		b.t.Fatalf("webdriver %s %s: %d %s", method, path, r.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.t.Fatal(err)
		}
	}
}

// js runs script in the page and decodes its result into out.
func (b *browser) js(script string, out any) {
	b.t.Helper()
	var r struct{ Value json.RawMessage }
	b.call("POST", "/execute/sync", map[string]any{"script": script, "args": []any{}}, &r)
	if out != nil {
		if err := json.Unmarshal(r.Value, out); err != nil {
			b.t.Fatalf("%s: %v (%s)", script, err, r.Value)
		}
	}
}

// wait polls script until it returns true.
func (b *browser) wait(what, script string) {
	b.t.Helper()
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(200 * time.Millisecond) {
		var ok bool
		b.js("return !!("+script+")", &ok)
		if ok {
			return
		}
	}
	b.shot("timeout")
	b.t.Fatalf("timed out waiting for %s", what)
}

func (b *browser) shot(name string) {
	var r struct{ Value string }
	b.call("GET", "/screenshot", nil, &r)
	png, _ := base64.StdEncoding.DecodeString(r.Value)
	b.nshots++
	p := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.nshots, name))
	os.WriteFile(p, png, 0o644)
	b.t.Logf("screenshot %s", p)
}

// The page draws a finished run and a run still being written, shows the
// latter's new steps without a reload, and its episode browser shows a
// recorded episode's tokens, their OPD colouring and the turns' T-DUR weights.
func TestViewInBrowser(t *testing.T) {
	b := newBrowser(t)
	defer b.cleanup()
	done := finishedRun(t, 4)
	live := filepath.Join(t.TempDir(), "live")
	gate := make(chan struct{})
	finished := make(chan error, 1)
	go func() {
		_, err := trainer.Run(runConfig(t, live, 4), trainer.RunOptions{Open: open, Log: io.Discard,
			Env: gated{Echo: fake.Echo{Turns: 3}, gateAt: 3, steps: new(int), gate: gate}})
		finished <- err
	}()
	for { // the live run is at its step 3 gate once step 2's line is written
		if ms, _, _ := rundir.ReadMetrics(live); len(ms) == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	s, err := New([]string{done, live}, trainer.DescribeRun)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	b.call("POST", "/url", map[string]any{"url": srv.URL + "/"}, nil)

	// The success chart has each run's held-out points; λ has the live run's two steps.
	points := func(chart, series string) string {
		var p string
		b.js(fmt.Sprintf(`const l = document.querySelector('#chart-%s polyline[data-series=%q]'); return l ? l.dataset.points : ""`, chart, series), &p)
		return p
	}
	b.wait("the charts", `document.querySelector('#chart-lambda polyline[data-series="live"]')`)
	b.shot("runs")
	_, evals, _ := rundir.ReadMetrics(done)
	var want []string
	for _, e := range evals {
		if e.Model == "student" {
			want = append(want, fmt.Sprintf("%d:%g", e.Step, e.Success))
		}
	}
	if got := points("success", "finished"); got != strings.Join(want, " ") {
		t.Errorf("finished run's success points %q, want %q", got, strings.Join(want, " "))
	}
	if got := points("lambda", "live"); len(strings.Fields(got)) != 2 {
		t.Errorf("live run's λ points %q, want steps 1 and 2", got)
	}
	var marks int
	b.js(`return document.querySelectorAll('#chart-success circle').length`, &marks)
	if marks < len(want) {
		t.Errorf("%d eval markers for %d evaluations", marks, len(want))
	}

	// The live run goes on: its new steps appear without a reload.
	b.js(`window.notReloaded = true; return true`, nil)
	close(gate)
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	b.wait("step 4 of the live run", `document.querySelector('#chart-lambda polyline[data-series="live"]').dataset.points.split(" ").length === 4`)
	var same bool
	b.js(`return window.notReloaded === true`, &same)
	if !same {
		t.Error("the page was reloaded")
	}

	// Grouped by method: one line (the two runs' mean) with a band.
	b.js(`document.getElementById('group').click(); return true`, nil)
	b.wait("the grouped chart", `document.querySelector('#chart-lambda polyline[data-series="echo atod (2 runs)"]') && document.querySelector('#chart-lambda polygon')`)
	b.shot("grouped")

	// The episode browser: step 1's first recorded episode of the finished run.
	recs, err := rundir.ReadEpisodes(done, "train-000001.jsonl.gz")
	if err != nil {
		t.Fatal(err)
	}
	b.js(`const f = document.getElementById('ep-file'); f.value = 'train-000001.jsonl.gz'; f.dispatchEvent(new Event('change')); return true`, nil)
	b.wait("the episode", `document.querySelectorAll('#episode .tok').length > 0 && document.querySelector('#episode .summary').textContent.includes('step 1')`)
	b.js(`document.getElementById('browser').scrollIntoView(); return true`, nil)
	b.shot("episode")
	var toks []struct{ P, W, Opd, Bg string }
	b.js(`return [...document.querySelectorAll('#episode .tok')].map(s => ({p: s.textContent, w: s.dataset.w, opd: s.dataset.opd, bg: s.style.background}))`, &toks)
	var turns []string
	b.js(`return [...document.querySelectorAll('#episode .turn')].map(d => d.dataset.tdur)`, &turns)
	e := recs[0]
	i := 0
	for k, tr := range e.Turns {
		if turns[k] != fmt.Sprint(float32(tr.TDUR)) {
			t.Errorf("turn %d: T-DUR %q shown, %v recorded", k, turns[k], tr.TDUR)
		}
		for _, tok := range tr.Tokens {
			got := toks[i]
			i++
			if got.P != tok.Piece || got.W != fmt.Sprint(float32(tok.W)) || got.Opd == "" || got.Bg == "" {
				t.Errorf("token %d: shown %+v, recorded %+v", i, got, tok)
			}
		}
	}
	if i != len(toks) {
		t.Errorf("%d tokens shown, %d recorded", len(toks), i)
	}
}
