package trainer

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress shows a bar with ETA and live figures on a terminal, and plain log
// lines otherwise (logs, CI, pipes).
type progress struct {
	w       io.Writer
	tty     bool
	total   int
	first   int // step the run (re)started from
	start   time.Time
	lastBar bool

	phaseName  string    // the phase of the step under way
	phaseStart time.Time // when it began
	lastPlain  time.Time // when a plain phase line was last printed
	now        func() time.Time
}

func newProgress(w io.Writer, first, total int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			tty = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{w: w, tty: tty, total: total, first: first, start: time.Now(), lastPlain: time.Now(), now: time.Now}
}

// plainEvery spaces the plain lines of a long phase.
const plainEvery = 30 * time.Second

// phase reports progress inside step: done of total units of the named phase
// (rollout turns, scored sequences, micro-batches). On a terminal it redraws
// one line with the phase's ETA; elsewhere it prints a line once nothing was
// printed for plainEvery, so a long step is never silent and a short one adds nothing.
func (p *progress) phase(step int, name string, done, total int) {
	now := p.now()
	begun := name != p.phaseName
	if begun {
		p.phaseName, p.phaseStart = name, now
	}
	eta := ""
	if el := now.Sub(p.phaseStart); done > 0 && done < total && el > 0 {
		eta = fmt.Sprintf(", eta %s", (el / time.Duration(done) * time.Duration(total-done)).Round(time.Second))
	}
	line := fmt.Sprintf("step %d/%d: %s %d/%d%s", step, p.total, name, done, total, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.lastBar = true
		return
	}
	if now.Sub(p.lastPlain) >= plainEvery {
		fmt.Fprintln(p.w, line)
		p.lastPlain = now
	}
}

// step reports a finished step with its headline figures.
func (p *progress) step(step int, figures string) {
	done := step - p.first
	eta := time.Duration(0)
	if done > 0 {
		eta = time.Since(p.start) / time.Duration(done) * time.Duration(p.total-step)
	}
	if !p.tty {
		fmt.Fprintf(p.w, "step %d/%d  %s  eta %s\n", step, p.total, figures, eta.Round(time.Second))
		p.phaseName, p.lastPlain = "", p.now()
		return
	}
	const width = 24
	n := 0
	if p.total > 0 {
		n = width * step / p.total
	}
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %d/%d eta %s  %s", strings.Repeat("#", n), strings.Repeat(".", width-n),
		step, p.total, eta.Round(time.Second), figures)
	p.lastBar = true
	p.phaseName = ""
}

// log prints a line above the bar.
func (p *progress) log(format string, args ...any) {
	if p.tty && p.lastBar {
		fmt.Fprint(p.w, "\r\033[K")
		p.lastBar = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
	p.lastPlain = p.now()
}

// done ends the bar's line.
func (p *progress) done() {
	if p.tty && p.lastBar {
		fmt.Fprintln(p.w)
	}
}
