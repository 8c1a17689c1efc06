package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/atod-dev/atod/trainer"
	"github.com/atod-dev/atod/trainer/view"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "view",
		Usage:     "a live local page for runs: curves, runs overlaid or grouped by method, an episode browser",
		ArgsUsage: "RUN_DIR... [--addr 127.0.0.1:PORT]",
		Description: "Serves only the given run directories, read-only, on loopback by default; the page updates while runs train.\n" +
			"The compare script's runs: atod view runs/compare/ENV/* (tick \"group by env and method\").",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8421", Usage: "address to listen on"},
		},
		Action: viewRuns,
	})
}

// viewRuns is `atod view`.
func viewRuns(c *cli.Context) error {
	if c.NArg() == 0 {
		return errors.New("usage: atod view RUN_DIR... [--addr 127.0.0.1:PORT]")
	}
	s, err := view.New(c.Args().Slice(), trainer.DescribeRun)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return fmt.Errorf("view: %w", err)
	}
	fmt.Fprintf(c.App.Writer, "atod view: http://%s/ (%d runs; Ctrl-C to stop)\n", ln.Addr(), c.NArg())
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}
