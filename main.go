// Command glimpse answers questions about images and writes captions with
// InstructBLIP, entirely on the user's machine.
//
// With no arguments it opens the desktop app. The subcommands serve scripts,
// tests and people debugging prompts; each lives in a cmd_*.go file beside
// this one and registers itself in commands.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// version is the release version; `make` and the packagers set it with
// -ldflags "-X main.version=…" from FyneApp.toml.
var version = "0.1.0"

// command is one subcommand: run gets the arguments after its name and
// returns the process exit code.
type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is filled by the init functions of the cmd_*.go files.
var commands = map[string]command{}

// openApp starts the desktop app; ui.go sets it so that builds of the
// command-line tools alone stay free of the GUI toolkit's start-up cost.
var openApp func() int

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		if openApp == nil {
			usage(stderr)
			return 2
		}
		return openApp()
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintf(stdout, "glimpse %s\n", version)
		return 0
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "glimpse: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Glimpse %s: ask questions about images, on your own machine.\n\n", version)
	fmt.Fprintln(w, "Usage:\n  glimpse                 open the app\n  glimpse COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "  --version    print the version\n\nRun 'glimpse COMMAND -h' for a command's flags.")
}

// fail prints an error for the user and returns exit code 1.
func fail(stderr io.Writer, format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintln(stderr, "glimpse: "+strings.TrimRight(msg, "\n"))
	return 1
}
