package sft

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/atod-dev/atod/envs"
)

// fakeChat renders chatml and tokenizes one token per byte, with the two
// control tokens as ids 256 (<|im_start|>) and 257 (<|im_end|>, the EOG).
type fakeChat struct{}

const imStart, imEnd = 256, 257

func (fakeChat) ApplyChatTemplate(msgs []envs.Message, addAssistant bool) (string, error) {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", m.Role, m.Content)
	}
	if addAssistant {
		b.WriteString("<|im_start|>assistant\n")
	}
	return b.String(), nil
}

func (fakeChat) Tokenize(text string, parseSpecial bool) ([]int32, error) {
	var out []int32
	for len(text) > 0 {
		switch {
		case parseSpecial && strings.HasPrefix(text, "<|im_start|>"):
			out, text = append(out, imStart), text[len("<|im_start|>"):]
		case parseSpecial && strings.HasPrefix(text, "<|im_end|>"):
			out, text = append(out, imEnd), text[len("<|im_end|>"):]
		default:
			out, text = append(out, int32(text[0])), text[1:]
		}
	}
	return out, nil
}

func (fakeChat) IsEOG(t int32) bool { return t == imEnd }

func detok(toks []int32) string {
	var b strings.Builder
	for _, t := range toks {
		switch t {
		case imStart:
			b.WriteString("<|im_start|>")
		case imEnd:
			b.WriteString("<|im_end|>")
		default:
			b.WriteByte(byte(t))
		}
	}
	return b.String()
}

// targets is the text of the masked-in tokens, one string per run of targets.
func targets(t *testing.T, toks []int32, mask []bool, w []float32) []string {
	t.Helper()
	if mask[0] {
		t.Fatal("Mask[0] is set")
	}
	var runs []string
	var cur []int32
	for i, m := range mask {
		if m != (w[i] == 1) {
			t.Fatalf("token %d: mask %v weight %v", i, m, w[i])
		}
		if m {
			cur = append(cur, toks[i])
		} else if len(cur) > 0 {
			runs, cur = append(runs, detok(cur)), nil
		}
	}
	if len(cur) > 0 {
		runs = append(runs, detok(cur))
	}
	return runs
}

func testDemo() Demo {
	o0 := envs.Observation{Text: "You see a drawer 1.", Admissible: []string{"go to drawer 1", "look"}}
	o1 := envs.Observation{Text: "You arrive at drawer 1.", Admissible: []string{"open drawer 1"}}
	return Demo{First: o0, Turns: []envs.Turn{
		{Obs: o0, Reply: "<action>go to drawer 1</action>"},
		{Obs: o1, Reply: "<action>open drawer 1</action>"},
	}, Won: true}
}

func TestSequencesFullHistory(t *testing.T) {
	env, err := envs.New("household", nil)
	if err != nil {
		t.Fatal(err)
	}
	pc := envs.PromptConfig{History: "full", ShowAdmissible: true}
	d := testDemo()
	seqs, cut, err := Sequences(fakeChat{}, env, pc, d, 1<<20)
	if err != nil || cut != 0 || len(seqs) != 1 {
		t.Fatalf("got %d sequences, %d cut, %v", len(seqs), cut, err)
	}
	s := seqs[0]
	sys := envs.SystemPrompt(env, pc)
	want := "<|im_start|>system\n" + sys + "<|im_end|>\n" +
		"<|im_start|>user\nYou see a drawer 1.\nAdmissible actions: go to drawer 1, look<|im_end|>\n" +
		"<|im_start|>assistant\n<action>go to drawer 1</action><|im_end|>\n" +
		"<|im_start|>user\nYou arrive at drawer 1.\nAdmissible actions: open drawer 1<|im_end|>\n" +
		"<|im_start|>assistant\n<action>open drawer 1</action><|im_end|>"
	if got := detok(s.Tokens); got != want {
		t.Fatalf("transcript\n%q\nwant\n%q", got, want)
	}
	got := targets(t, s.Tokens, s.Mask, s.Weights)
	wantT := []string{"<action>go to drawer 1</action><|im_end|>", "<action>open drawer 1</action><|im_end|>"}
	if !reflect.DeepEqual(got, wantT) {
		t.Fatalf("targets %q, want %q", got, wantT)
	}

	short, cut, err := Sequences(fakeChat{}, env, pc, d, 40)
	if err != nil || cut != 1 || len(short[0].Tokens) != 40 || len(short[0].Mask) != 40 || len(short[0].Weights) != 40 {
		t.Fatalf("cut to 40: %d cut, %v", cut, err)
	}
}

func TestSequencesLastHistory(t *testing.T) {
	env, err := envs.New("household", nil)
	if err != nil {
		t.Fatal(err)
	}
	pc := envs.PromptConfig{History: "last", LastN: 1}
	d := testDemo()
	seqs, _, err := Sequences(fakeChat{}, env, pc, d, 1<<20)
	if err != nil || len(seqs) != 2 {
		t.Fatalf("got %d sequences, %v", len(seqs), err)
	}
	for k, s := range seqs {
		msgs := envs.Messages(env, pc, d.First, d.Turns[:k], d.Turns[k].Obs)
		prompt, _ := fakeChat{}.ApplyChatTemplate(msgs, true)
		if got, want := detok(s.Tokens), prompt+d.Turns[k].Reply+"<|im_end|>"; got != want {
			t.Fatalf("turn %d: %q, want %q", k, got, want)
		}
		if got := targets(t, s.Tokens, s.Mask, s.Weights); !reflect.DeepEqual(got, []string{d.Turns[k].Reply + "<|im_end|>"}) {
			t.Fatalf("turn %d targets %q", k, got)
		}
	}
}

// An injected mistake is context: neither its reply nor the end-of-generation
// token that closes it is a target, in either history mode.
func TestSequencesSkipMistakes(t *testing.T) {
	env, err := envs.New("household", nil)
	if err != nil {
		t.Fatal(err)
	}
	d := testDemo()
	bad := envs.Turn{Obs: d.Turns[1].Obs, Reply: "<action>look</action>"}
	d.Turns = []envs.Turn{d.Turns[0], bad, {Obs: envs.Observation{Text: "Nothing happens."}, Reply: d.Turns[1].Reply}}
	d.Mistake = []bool{false, true, false}
	want := []string{"<action>go to drawer 1</action><|im_end|>", "<action>open drawer 1</action><|im_end|>"}
	full, _, err := Sequences(fakeChat{}, env, envs.PromptConfig{History: "full"}, d, 1<<20)
	if err != nil || len(full) != 1 {
		t.Fatalf("full: %d sequences, %v", len(full), err)
	}
	if got := targets(t, full[0].Tokens, full[0].Mask, full[0].Weights); !reflect.DeepEqual(got, want) {
		t.Fatalf("full: targets %q, want %q", got, want)
	}
	if !strings.Contains(detok(full[0].Tokens), "<action>look</action><|im_end|>") {
		t.Fatal("full: the mistake is missing from the transcript")
	}
	last, _, err := Sequences(fakeChat{}, env, envs.PromptConfig{History: "last"}, d, 1<<20)
	if err != nil || len(last) != 3 {
		t.Fatalf("last: %d sequences, %v", len(last), err)
	}
	var got []string
	for _, s := range last {
		got = append(got, targets(t, s.Tokens, s.Mask, s.Weights)...)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("last: targets %q, want %q", got, want)
	}
}
