package sft

import (
	"fmt"
	"strings"

	"github.com/atod-dev/atod/envs"
	"github.com/atod-dev/atod/trainer"
)

// Chat is the part of a model that renders and tokenizes transcripts;
// trainer.LM provides it.
type Chat interface {
	ApplyChatTemplate(msgs []envs.Message, addAssistant bool) (string, error)
	Tokenize(text string, parseSpecial bool) ([]int32, error)
	IsEOG(tok int32) bool
}

// Sequences turns a demo into training sequences built the way the trainer
// builds its rollout transcripts, so training and rollouts see the same
// tokens. History "full" gives one append-only sequence: the first prompt is
// tokenized whole, and every later piece is the chat template's new text
// (after the previous reply) tokenized on its own. History "last" gives one
// sequence per turn. The targets (mask, weight 1) are the reply tokens and the
// end-of-generation token that closes each reply, so the model learns to stop;
// an injected mistake (Demo.Mistake) is context, not a target.
// Sequences longer than maxLen are cut to maxLen; the second result counts them.
func Sequences(chat Chat, env envs.Env, pc envs.PromptConfig, d Demo, maxLen int) ([]trainer.TrainSeq, int, error) {
	var out []trainer.TrainSeq
	var cur seqBuilder
	rendered := ""
	for k, turn := range d.Turns {
		msgs := envs.Messages(env, pc, d.First, d.Turns[:k], turn.Obs)
		text, err := chat.ApplyChatTemplate(msgs, true)
		if err != nil {
			return nil, 0, fmt.Errorf("chat template: %w", err)
		}
		piece := text
		if pc.History != "last" && k > 0 {
			if !strings.HasPrefix(text, rendered) {
				return nil, 0, fmt.Errorf("the chat template rewrites earlier turns (not append-only); use history \"last\"")
			}
			piece = text[len(rendered):]
		} else if k > 0 {
			out = append(out, cur.seq())
			cur = seqBuilder{}
		}
		if err := cur.add(chat, piece, true, false, k > 0 && pc.History != "last" && d.taught(k-1)); err != nil {
			return nil, 0, err
		}
		if err := cur.add(chat, turn.Reply, false, d.taught(k), false); err != nil {
			return nil, 0, err
		}
		rendered = text + turn.Reply
		if pc.History == "last" || k == len(d.Turns)-1 {
			// The template's closing of this reply: its end-of-generation token is a target.
			closed, err := chat.ApplyChatTemplate(append(msgs, envs.Message{Role: "assistant", Content: turn.Reply}), false)
			if err != nil {
				return nil, 0, fmt.Errorf("chat template: %w", err)
			}
			if !strings.HasPrefix(closed, rendered) {
				return nil, 0, fmt.Errorf("the chat template renders a reply differently when it is closed")
			}
			if err := cur.closing(chat, closed[len(rendered):], d.taught(k)); err != nil {
				return nil, 0, err
			}
		}
	}
	if len(cur.toks) > 0 {
		out = append(out, cur.seq())
	}
	cut := 0
	for i, s := range out {
		if len(s.Tokens) > maxLen {
			out[i] = trainer.TrainSeq{Tokens: s.Tokens[:maxLen], Mask: s.Mask[:maxLen], Weights: s.Weights[:maxLen]}
			cut++
		}
	}
	return out, cut, nil
}

type seqBuilder struct {
	toks []int32
	mask []bool
}

// add appends text's tokens, all targets or none; closesReply marks the
// leading end-of-generation token, which ends the previous reply.
func (b *seqBuilder) add(chat Chat, text string, parseSpecial, target, closesReply bool) error {
	toks, err := chat.Tokenize(text, parseSpecial)
	if err != nil {
		return fmt.Errorf("tokenize %q: %w", clip(text), err)
	}
	for i, t := range toks {
		b.toks = append(b.toks, t)
		b.mask = append(b.mask, target || closesReply && i == 0 && chat.IsEOG(t))
	}
	return nil
}

// closing appends the end-of-generation token that starts text, a target
// unless it closes an injected mistake.
func (b *seqBuilder) closing(chat Chat, text string, target bool) error {
	toks, err := chat.Tokenize(text, true)
	if err != nil {
		return fmt.Errorf("tokenize %q: %w", clip(text), err)
	}
	if len(toks) == 0 || !chat.IsEOG(toks[0]) {
		return fmt.Errorf("the chat template closes a reply with %q, not an end-of-generation token", clip(text))
	}
	b.toks = append(b.toks, toks[0])
	b.mask = append(b.mask, target)
	return nil
}

func (b *seqBuilder) seq() trainer.TrainSeq {
	w := make([]float32, len(b.toks))
	for i, m := range b.mask {
		if m {
			w[i] = 1
		}
	}
	if len(b.mask) > 0 {
		b.mask[0] = false // nothing predicts the first token
	}
	return trainer.TrainSeq{Tokens: b.toks, Mask: b.mask, Weights: w}
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
