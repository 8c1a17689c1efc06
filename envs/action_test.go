package envs

import (
	"strings"
	"testing"
)

func TestParseAction(t *testing.T) {
	for _, c := range []struct{ reply, want string }{
		{"<action>go to cabinet 1</action>", "go to cabinet 1"},
		{"<think>I should <action>open it</action></think>\n<action>  Go   TO\tCabinet 1 </action>", "go to cabinet 1"},
		{"<think>hm</think>nothing", ""},
		{"<action></action>", ""},
		{"<action>go to", ""},
		{"go to cabinet 1", ""},
		{"<action>" + strings.Repeat("x", maxActionLen+1) + "</action>", ""},
	} {
		got, ok := ParseActionTag(c.reply)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("ParseActionTag(%q) = %q, %v; want %q", c.reply, got, ok, c.want)
		}
	}
}
