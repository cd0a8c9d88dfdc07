// Package cli is Glimpse's command line: `glimpse COMMAND [flags]`, a thin
// front end over the application layer (glimpse/app), as the desktop app is.
//
// Each command is a value in one explicit table (commands), as in Go's own
// cmd/go; the flags several commands share are made in flags.go.
package cli

import (
	"flag"
	"fmt"
	"io"
)

// Env is what the command line gets from the program around it.
type Env struct {
	// Version is the release version, printed by --version and the help.
	Version string
	// OpenApp opens the desktop app and returns the exit code when it
	// closes: what `glimpse` with no arguments does. Nil in builds without
	// the app, where no arguments print the usage.
	OpenApp func() int
	// Stdin, Stdout and Stderr are the standard streams; a nil Stdin reads
	// nothing. Every write to Stdout is checked: a command whose output
	// could not be written fails, with one line on Stderr.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Command is one subcommand of glimpse.
type Command struct {
	// Name is the word after glimpse.
	Name string
	// UsageLine is the synopsis after "glimpse": "ask --model DIR …".
	UsageLine string
	// Short is the one line the command list shows.
	Short string
	// Long is the help printed after the usage line, before the flags.
	Long string
	// Run runs the command with the arguments after its name and returns
	// the exit code: 0 done, 1 an error (said on stderr), 2 a usage
	// mistake, 130 stopped. fs is a flag set named for the command whose
	// usage prints UsageLine, Long and the flags; Run defines its flags on
	// it and parses them with parse.
	Run func(env *Env, fs *flag.FlagSet, args []string) int
}

// commands is every subcommand, in the order of the help text.
var commands = []*Command{
	askCmd,
	benchCmd,
	captionCmd,
	historyCmd,
	infoCmd,
	modelsCmd,
	preprocessCmd,
	serveCmd,
	tokenizeCmd,
}

// Main runs the command line with args (the program's arguments without its
// name) and returns the process's exit code.
func Main(args []string, env Env) int {
	if env.Stdin == nil {
		env.Stdin = eofReader{}
	}
	out := checked(env.Stdout)
	env.Stdout = out
	code := dispatch(args, &env)
	// A command that failed has said why; one that thinks it succeeded may
	// have lost its output.
	if err := out.Err(); err != nil && code == 0 {
		return fail(env.Stderr, "%v", err)
	}
	return code
}

// dispatch runs the command args name.
func dispatch(args []string, env *Env) int {
	if len(args) == 0 {
		if env.OpenApp == nil {
			usage(env, env.Stderr)
			return 2
		}
		beforeApp()
		return env.OpenApp()
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintf(env.Stdout, "glimpse %s\n", env.Version)
		return 0
	case "-h", "--help", "help":
		usage(env, env.Stdout)
		return 0
	}
	for _, c := range commands {
		if c.Name == args[0] {
			return c.Run(env, c.flagSet(env.Stderr), args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "glimpse: unknown command %q\n\n", args[0])
	usage(env, env.Stderr)
	return 2
}

// flagSet is a fresh flag set for one run of c, writing to stderr.
func (c *Command) flagSet(stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: glimpse %s\n\n%s", c.UsageLine, c.Long)
		fs.PrintDefaults()
	}
	return fs
}

func usage(env *Env, w io.Writer) {
	fmt.Fprintf(w, "Glimpse %s: ask questions about images, on your own machine.\n\n", env.Version)
	fmt.Fprintln(w, "Usage:\n  glimpse                 open the app\n  glimpse COMMAND [flags]\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.Name, c.Short)
	}
	fmt.Fprintln(w, "  --version    print the version\n\nRun 'glimpse COMMAND -h' for a command's flags.")
}

// eofReader is standard input when there is none.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
