package trainer

import (
	"bytes"
	"strings"
	"testing"
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
