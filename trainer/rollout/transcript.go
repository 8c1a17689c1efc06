package rollout

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/model"
)

// Chat is what a transcript needs of a model: its chat template and tokenizer.
type Chat interface {
	ApplyChatTemplate(msgs []model.Message, addAssistant bool) (string, error)
	Tokenize(text string, parseSpecial bool) ([]int32, error)
	Detokenize(toks []int32, renderSpecial bool) string
	IsEOG(tok int32) bool
}

// Transcript is the token sequences a policy sees in one episode, built the same
// way for rollouts, evaluation and SFT, so SFT trains on exactly the tokens a
// rollout produces. In "full" history mode there is one append-only sequence:
// the first prompt is the whole rendered conversation, and every later prompt
// appends only the chat template's text between the last reply and the next,
// tokenized on its own, so replies stay token for token as sampled (log-probs
// stay on-policy, the KV cache is reused). In "last" mode every turn is a
// sequence of its own.
type Transcript struct {
	Seqs    [][]int32
	History []envs.Turn // answered turns: the observation and the reply to it
	First   envs.Observation
	Obs     envs.Observation // the observation the next reply answers

	chat   Chat
	env    envs.Env
	pc     envs.PromptConfig
	reply  string // the current turn's reply, until Observe
	closed string // rendered end-of-turn token the last reply already ends with
}

// NewTranscript starts a transcript at the episode's first observation.
func NewTranscript(chat Chat, env envs.Env, pc envs.PromptConfig, first envs.Observation) *Transcript {
	return &Transcript{chat: chat, env: env, pc: pc, First: first, Obs: first}
}

// sentinel stands in for every reply when the conversation is rendered to find
// the template's own text around replies: it makes that text independent of
// what the model wrote (a NUL byte, text a template would trim).
const sentinel = "\x1fATOD-REPLY\x1f"

// Prompt appends the prompt that the reply to Obs continues and returns the
// sequence the reply extends.
func (t *Transcript) Prompt() ([]int32, error) {
	closed := t.closed
	t.closed = ""
	if t.pc.History == "last" || len(t.Seqs) == 0 {
		text, err := t.chat.ApplyChatTemplate(envs.Messages(t.env, t.pc, t.First, t.History, t.Obs), true)
		if err != nil {
			return nil, fmt.Errorf("chat template: %w", err)
		}
		toks, err := t.chat.Tokenize(text, true)
		if err != nil {
			return nil, err
		}
		t.Seqs = append(t.Seqs, toks)
		return toks, nil
	}
	suffix, err := t.afterLastReply(t.Obs, true)
	if err != nil {
		return nil, err
	}
	suffix = strings.TrimPrefix(suffix, closed) // that end-of-turn token is in the transcript already
	toks, err := t.chat.Tokenize(suffix, true)
	if err != nil {
		return nil, err
	}
	t.Seqs[0] = append(t.Seqs[0], toks...)
	return t.Seqs[0], nil
}

// afterLastReply renders the conversation up to obs with sentinel replies and
// returns the template's text after the last reply.
func (t *Transcript) afterLastReply(obs envs.Observation, addAssistant bool) (string, error) {
	hist := make([]envs.Turn, len(t.History))
	for i, h := range t.History {
		hist[i] = envs.Turn{Obs: h.Obs, Reply: sentinel}
	}
	msgs := envs.Messages(t.env, t.pc, t.First, hist, obs)
	if !addAssistant {
		msgs = append(msgs, model.Message{Role: "assistant", Content: sentinel})
	}
	text, err := t.chat.ApplyChatTemplate(msgs, addAssistant)
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	i := strings.LastIndex(text, sentinel)
	if i < 0 {
		return "", fmt.Errorf("the chat template drops assistant replies; use rollout.history = \"last\"")
	}
	return text[i+len(sentinel):], nil
}

// Reply appends a reply's tokens (sampled, or the tokenized text of a demo) to
// the sequence the last Prompt returned, whose length was promptLen, and
// returns where they start.
func (t *Transcript) Reply(toks []int32, text string, promptLen int) int {
	si := len(t.Seqs) - 1
	// A fresh array: the prompt slice was handed out and must not be overwritten.
	t.Seqs[si] = append(t.Seqs[si][:promptLen:promptLen], toks...)
	t.reply = text
	if n := len(toks); n > 0 && t.chat.IsEOG(toks[n-1]) {
		t.closed = t.chat.Detokenize(toks[n-1:], true)
	}
	return promptLen
}

// Close appends the end-of-generation token with which the chat template ends
// the current reply, unless the reply ended with one, and returns its position
// (−1 when the reply had it). SFT closes every reply, so a cloned model learns
// to stop; a rollout that stopped at a stop string leaves the token to the next
// prompt, where it is context.
func (t *Transcript) Close() (int, error) {
	if t.closed != "" {
		return -1, nil
	}
	text, err := t.afterLastReply(t.Obs, false)
	if err != nil {
		return 0, err
	}
	toks, err := t.chat.Tokenize(text, true)
	if err != nil {
		return 0, err
	}
	if len(toks) == 0 || !t.chat.IsEOG(toks[0]) {
		return 0, fmt.Errorf("the chat template closes a reply with %q, not an end-of-generation token", clip(text))
	}
	si := len(t.Seqs) - 1
	t.Seqs[si] = append(t.Seqs[si], toks[0])
	t.closed = t.chat.Detokenize(toks[:1], true)
	return len(t.Seqs[si]) - 1, nil
}

// Observe records the env's answer to the reply: the turn joins the history and
// obs is what the next reply answers.
func (t *Transcript) Observe(obs envs.Observation) {
	t.History = append(t.History, envs.Turn{Obs: t.Obs, Reply: t.reply})
	t.Obs, t.reply = obs, ""
}

// mark returns a function that restores the sequences to their current length,
// dropping a prompt that is never answered.
func (t *Transcript) mark() func() {
	n := len(t.Seqs)
	last := 0
	if n > 0 {
		last = len(t.Seqs[n-1])
	}
	closed := t.closed
	return func() {
		t.Seqs = t.Seqs[:n]
		if n > 0 {
			t.Seqs[n-1] = t.Seqs[n-1][:last]
		}
		t.closed = closed
	}
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
