// Command pairsyncd is the Pairsync server. With no configuration it runs on
// the embedded default: a bolt file and a photo folder under ./data,
// listening on 127.0.0.1:8080. See README.md for every setting.
//
//	pairsyncd [serve] [flags]     run the server (the default)
//	pairsyncd rotate-key [flags]  make a new token-signing key; tokens of the
//	                              old one stay valid until they expire
//	pairsyncd healthcheck         exit 0 if the server on -addr answers
//	                              /healthz (container health checks)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time (-ldflags -X main.version=…).
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is pairsyncd's command line: the subcommand (serve, the default;
// rotate-key; healthcheck) and its flags. It returns the exit code: 0 when
// done, 1 when the command failed, 2 for bad flags.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	command := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "rotate-key" || args[0] == "healthcheck") {
		command, args = args[0], args[1:]
	}
	m := NewMain()
	m.Stderr = stderr
	cfg, err := ParseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "pairsyncd:", err)
		return 2
	}
	cfg.Server.Version = version
	m.Config = cfg
	switch command {
	case "rotate-key":
		err = m.RotateKey(context.Background())
	case "healthcheck":
		err = Healthcheck(context.Background(), cfg.Addr)
	default:
		err = serveUntilSignal(context.Background(), m)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pairsyncd:", err)
		return 1
	}
	return 0
}

// serveUntilSignal runs m until SIGINT or SIGTERM, then shuts it down:
// readiness goes 503, the listener closes after the drain delay, in-flight
// requests finish within the shutdown timeout, storage closes.
func serveUntilSignal(ctx context.Context, m *Main) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-m.Done():
	}
	stop() // a second signal now kills the process the default way
	if err := m.Shutdown(context.Background()); err != nil {
		return err
	}
	return serveErr
}
