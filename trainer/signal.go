package trainer

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// StopOnSignal returns a channel for RunOptions.Stop that is closed at the
// first SIGINT or SIGTERM, saying so on log; a second signal exits at once
// (status 130). release restores the default handling.
func StopOnSignal(log io.Writer) (stop <-chan struct{}, release func()) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	ch, done := make(chan struct{}), make(chan struct{})
	go func() {
		select {
		case s := <-sig:
			fmt.Fprintf(log, "\n%s: stopping at the end of this phase with a checkpoint of the last complete step; again to exit now\n", s)
			close(ch)
		case <-done:
			return
		}
		select {
		case <-sig:
			fmt.Fprintln(log, "exiting now; the last checkpoint is kept")
			os.Exit(130)
		case <-done:
		}
	}()
	return ch, func() {
		signal.Stop(sig)
		close(done)
	}
}
