// Command glimpse answers questions about images and writes captions with
// InstructBLIP, entirely on the user's machine.
//
// With no arguments it opens the desktop app. The subcommands serve scripts,
// tests and people debugging prompts; each lives in a cmd_*.go file beside
// this one and registers itself in commands.
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// fyneApp is the app's metadata file, the one `fyne package` reads: embedding
// it makes every build, packaged or not, report the version its package carries.
//
//go:embed FyneApp.toml
var fyneApp string

// version is the release version from FyneApp.toml.
var version = appVersion(fyneApp)

// appVersion returns the Version of FyneApp.toml's [Details] section.
func appVersion(toml string) string {
	m := regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([^"]+)"`).FindStringSubmatch(toml)
	if m == nil {
		panic("FyneApp.toml has no Version")
	}
	return m[1]
}

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

// beforeApp runs just before the app opens (platform set-up such as letting
// go of a console window on Windows).
var beforeApp []func()

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		if openApp == nil {
			usage(stderr)
			return 2
		}
		for _, f := range beforeApp {
			f()
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

// parseFlags parses a subcommand's flags. When it returns ok false the
// command ends with code: 0 after -h (the usage was printed), 2 for a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// fail prints an error for the user and returns exit code 1.
func fail(stderr io.Writer, format string, a ...any) int {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintln(stderr, "glimpse: "+strings.TrimRight(msg, "\n"))
	return 1
}
