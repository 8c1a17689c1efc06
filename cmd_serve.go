package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/native"
	"github.com/atod-dev/atod/trainer/scoring"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "serve",
		Usage:     "serve a GGUF as a teacher that scores token ids (vLLM's /v1/completions with prompt_logprobs, /tokenize, /v1/models, /health)",
		ArgsUsage: "MODEL.gguf [--addr 127.0.0.1:PORT] [--api-key K]",
		Description: "A run on another machine uses it with teacher.url = \"http://HOST:PORT\" and teacher.api = \"atod\".\n" +
			"Requests arriving within --window-ms are scored together, one sequence each, in one llama.cpp context.\n" +
			"It listens on loopback unless --addr says otherwise; with --api-key (or $ATOD_SERVE_API_KEY) every route\n" +
			"but /health wants `Authorization: Bearer KEY`.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8000", Usage: "listen address"},
			&cli.StringFlag{Name: "api-key", EnvVars: []string{"ATOD_SERVE_API_KEY"}, Usage: "bearer token clients must send"},
			&cli.StringFlag{Name: "name", Usage: "model name in /v1/models (default: the file's name)"},
			&cli.IntFlag{Name: "seqs", Value: 16, Usage: "sequences scored together (one llama.cpp context)"},
			&cli.IntFlag{Name: "context", Value: 4096, Usage: "tokens per sequence: the longest prompt served"},
			&cli.IntFlag{Name: "max-logprobs", Value: 20, Usage: "largest prompt_logprobs (top-k) served"},
			&cli.IntFlag{Name: "window-ms", Value: 5, Usage: "how long a batch waits for more requests after its first"},
			&cli.IntFlag{Name: "max-body-mb", Value: 64, Usage: "largest request body"},
			&cli.StringFlag{Name: "device", Value: "auto", Usage: "auto, cpu, cuda or metal"},
			&cli.IntFlag{Name: "gpu-layers", Value: -1, Usage: "layers on the GPU (-1 = all)"},
			&cli.IntFlag{Name: "threads", Usage: "CPU threads (0 = llama.cpp's default)"},
			&cli.BoolFlag{Name: "kv-f16", Usage: "f16 KV cache with flash attention"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) != 1 {
				return errors.New("usage: atod serve MODEL.gguf [--addr 127.0.0.1:PORT] [--api-key K]")
			}
			if c.Int("seqs") < 1 || c.Int("context") < 2 || c.Int("max-logprobs") < 0 || c.Int("window-ms") < 0 || c.Int("max-body-mb") < 1 {
				return errors.New("--seqs and --max-body-mb: want ≥ 1; --context: want ≥ 2; --max-logprobs and --window-ms: want ≥ 0")
			}
			path, addr, key := args[0], c.String("addr"), c.String("api-key")
			if host, _, err := net.SplitHostPort(addr); err != nil {
				return fmt.Errorf("--addr %q: %w", addr, err)
			} else if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && key == "" {
				fmt.Fprintf(os.Stderr, "atod serve: listening on %s with no --api-key: anyone who reaches it can use it\n", addr)
			}
			name := c.String("name")
			if name == "" {
				name = strings.TrimSuffix(filepath.Base(path), ".gguf")
			}
			b := trainer.BackendConfig{Device: c.String("device"), GPULayers: c.Int("gpu-layers"), Threads: c.Int("threads"), KVF16: c.Bool("kv-f16")}
			lm, err := native.OpenScorer(path, b, c.Int("seqs"), c.Int("context"))
			if err != nil {
				return err
			}
			defer lm.Close()
			s := scoring.NewServer(lm, scoring.ServerOptions{Name: name, Key: key, MaxLogprobs: c.Int("max-logprobs"),
				Window: time.Duration(c.Int("window-ms")) * time.Millisecond, MaxBody: int64(c.Int("max-body-mb")) << 20})
			defer s.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				srv.Shutdown(shut)
			}()
			fmt.Printf("atod serve: %s (%d tokens, %d sequences of %d) on http://%s\n", name, lm.VocabSize(), c.Int("seqs"), c.Int("context"), ln.Addr())
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	})
}
