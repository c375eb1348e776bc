package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/pairsync/pairsync/mobile"
)

// Environment variables fieldctl reads (never printed).
const (
	envServer   = "PAIRSYNC_SERVER"
	envUser     = "PAIRSYNC_USER"
	envPassword = "PAIRSYNC_PASSWORD"
	envData     = "FIELDCTL_DATA"
)

// cli is one run of fieldctl.
type cli struct {
	ctx            context.Context
	stdout, stderr io.Writer
	env            func(string) string
	g              globals
}

// globals are the flags every command takes (before or after its name).
type globals struct {
	server   string
	data     string
	user     string
	password string
	verbose  bool
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(c *cli, args []string) error
}

func commands() []command {
	return []command{
		{"login", "sign in and register this device", cmdLogin},
		{"pairings", "list the pairings synced, with pending changes", cmdPairings},
		{"visit", "record a visit (走访), with photos and the issues raised", cmdVisit},
		{"issue", "raise an issue (诉求)", cmdIssue},
		{"event", "append an event to an issue (accepted, signed, responded…)", cmdEvent},
		{"set", "set fields of any record, from JSON", cmdSet},
		{"sync", "push local changes, pull what changed, upload photos", cmdSync},
		{"status", "offline, pending N, or caught up", cmdStatus},
		{"conflicts", "list records with conflicting edits", cmdConflicts},
		{"rejected", "list changes and photos the server refused", cmdRejected},
		{"load", "run simulated devices against a server; print throughput and latency", cmdLoad},
		{"bench", "start pairsyncd on seeded stores and measure every workload (make bench)", cmdBench},
	}
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// run is fieldctl: args without the program's name; env looks up
// environment variables. It returns the exit status: 0 done, 1 failed,
// 2 misused.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := &cli{ctx: ctx, stdout: stdout, stderr: stderr, env: env}
	c.g.server = env(envServer)
	c.g.user = env(envUser)
	c.g.data = defaultDataDir(env)

	fs := flag.NewFlagSet("fieldctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.globalFlags(fs)
	fs.Usage = func() { c.usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		c.usage(fs)
		return 2
	}
	name := rest[0]
	if name == "help" {
		if len(rest) > 1 {
			return run([]string{rest[1], "-h"}, stdout, stderr, env)
		}
		c.usage(fs)
		return 0
	}
	for _, cmd := range commands() {
		if cmd.name != name {
			continue
		}
		err := cmd.run(c, rest[1:])
		var ue usageError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errFlags):
			return 2
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "fieldctl %s: %s (fieldctl %s -h)\n", name, ue.msg, name)
			return 2
		default:
			fmt.Fprintf(stderr, "fieldctl %s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "fieldctl: unknown command %q (fieldctl help)\n", name)
	return 2
}

func (c *cli) usage(fs *flag.FlagSet) {
	w := c.stderr
	fmt.Fprintf(w, "fieldctl — the Pairsync field client on the command line\n\nusage: fieldctl [global flags] COMMAND [flags]\n\ncommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintf(w, "\nfieldctl COMMAND -h describes a command. Global flags (also accepted after COMMAND):\n")
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nThe password comes from -password or %s; it is never printed, nor are tokens.\n", envPassword)
}

// defaultDataDir is $FIELDCTL_DATA, else $XDG_DATA_HOME/fieldctl, else
// ~/.local/share/fieldctl, else ./fieldctl-data.
func defaultDataDir(env func(string) string) string {
	if d := env(envData); d != "" {
		return d
	}
	if d := env("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "fieldctl")
	}
	if h := env("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "fieldctl")
	}
	return "fieldctl-data"
}

func (c *cli) globalFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.g.server, "server", c.g.server, "server URL (env "+envServer+")")
	fs.StringVar(&c.g.data, "data", c.g.data, "data directory: the local store and the photos waiting to go (env "+envData+")")
	fs.StringVar(&c.g.user, "user", c.g.user, "user name (env "+envUser+")")
	// No default shown: the value may come from the environment.
	fs.StringVar(&c.g.password, "password", "", "password (better: env "+envPassword+"; a flag shows in the process list)")
	fs.BoolVar(&c.g.verbose, "v", c.g.verbose, "log the engine's steps to stderr")
}

// errFlags: the flag package has printed the problem already.
var errFlags = errors.New("bad flags")

// flags makes a command's flag set: its own flags plus the global ones,
// with a usage text.
func (c *cli) flags(name, args, about string) *flag.FlagSet {
	fs := flag.NewFlagSet("fieldctl "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: fieldctl %s %s\n\n%s\n\nflags:\n", name, args, about)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a command's flags (the global ones too) and refuses
// stray arguments.
func (c *cli) parse(fs *flag.FlagSet, args []string) error {
	c.globalFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errFlags
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// password returns the password: -password, else $PAIRSYNC_PASSWORD.
func (c *cli) password() (string, error) {
	if c.g.password != "" {
		return c.g.password, nil
	}
	if p := c.env(envPassword); p != "" {
		return p, nil
	}
	return "", usagef("no password: set %s (or -password)", envPassword)
}

func (c *cli) logger() *slog.Logger {
	if c.g.verbose {
		return slog.New(slog.NewTextHandler(c.stderr, nil))
	}
	return nil
}

// storePath is the engine's store in the data directory.
func (c *cli) storePath() string { return filepath.Join(c.g.data, "fieldctl.db") }

// open opens the engine of the data directory.
func (c *cli) open(cfg mobile.Config) (*mobile.Engine, error) {
	if c.g.data == "" {
		return nil, usagef("no data directory (-data)")
	}
	if err := os.MkdirAll(c.g.data, 0o700); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = c.logger()
	}
	e, err := mobile.Open(c.storePath(), cfg)
	if err != nil {
		if strings.Contains(err.Error(), "timeout") {
			return nil, fmt.Errorf("the data directory %s is in use by another fieldctl", c.g.data)
		}
		return nil, err
	}
	return e, nil
}

// openSignedIn opens the engine and checks it has a device.
func (c *cli) openSignedIn(cfg mobile.Config) (*mobile.Engine, error) {
	e, err := c.open(cfg)
	if err != nil {
		return nil, err
	}
	if e.DeviceID() == "" {
		e.Close()
		return nil, fmt.Errorf("not signed in (data in %s): run fieldctl login first", c.g.data)
	}
	return e, nil
}

// openNoFlags parses the arguments of a command that has no flags of its
// own (usage is its help) and opens the signed-in engine for it; the
// caller closes it.
func (c *cli) openNoFlags(name, usage string, args []string) (*mobile.Engine, error) {
	if err := c.parse(c.flags(name, "", usage), args); err != nil {
		return nil, err
	}
	return c.openSignedIn(mobile.Config{})
}

// multi is a flag that may be repeated.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ", ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
