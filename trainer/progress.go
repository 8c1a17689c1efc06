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
}

func newProgress(w io.Writer, first, total int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			tty = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{w: w, tty: tty, total: total, first: first, start: time.Now()}
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
}

// log prints a line above the bar.
func (p *progress) log(format string, args ...any) {
	if p.tty && p.lastBar {
		fmt.Fprint(p.w, "\r\033[K")
		p.lastBar = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// done ends the bar's line.
func (p *progress) done() {
	if p.tty && p.lastBar {
		fmt.Fprintln(p.w)
	}
}
