package trainer

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressPlainLinesOffTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, 0, 4)
	p.step(1, "λ 0.10")
	p.log("eval step %d", 1)
	p.step(2, "λ 0.20")
	p.done()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "step 1/4  λ 0.10  eta ") || lines[1] != "eval step 1" || strings.ContainsAny(b.String(), "\r\033") {
		t.Errorf("plain output:\n%q", b.String())
	}
}

// Inside a step: plain output gains a line only once nothing was printed for
// plainEvery; a terminal redraws the phase with its ETA.
func TestProgressPhases(t *testing.T) {
	var b bytes.Buffer
	clock := time.Unix(0, 0)
	p := newProgress(&b, 0, 4)
	p.now, p.lastPlain = func() time.Time { return clock }, clock
	p.phase(1, "rollout turn", 1, 8)
	clock = clock.Add(10 * time.Second)
	p.phase(1, "rollout turn", 2, 8)
	if b.Len() != 0 {
		t.Fatalf("a short phase printed %q", b.String())
	}
	clock = clock.Add(25 * time.Second)
	p.phase(1, "rollout turn", 4, 8)
	if got := b.String(); got != "step 1/4: rollout turn 4/8, eta 35s\n" {
		t.Errorf("plain phase line %q", got)
	}
	b.Reset()
	p.tty = true
	p.phase(1, "training, micro-batch", 1, 3)
	clock = clock.Add(2 * time.Second)
	p.phase(1, "training, micro-batch", 2, 3)
	if got := b.String(); !strings.HasSuffix(got, "\r\033[Kstep 1/4: training, micro-batch 2/3, eta 1s") {
		t.Errorf("terminal phase line %q", got)
	}
}
