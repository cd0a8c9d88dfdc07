package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// run runs the command line as the glimpse binary does, without the app and
// with nothing on standard input.
func run(args []string, stdout, stderr io.Writer) int {
	return Main(args, Env{Version: "1.2.3", Stdout: stdout, Stderr: stderr})
}

// TestMainArgs checks what glimpse does with no command, the version, help and
// an unknown command.
func TestMainArgs(t *testing.T) {
	opened := 0
	tests := []struct {
		name    string
		args    []string
		app     bool // an OpenApp is given
		code    int
		stdout  string // contained in standard output
		stderr  string // contained in standard error
		openApp int    // times the app opened
	}{
		{"no arguments opens the app", nil, true, 7, "", "", 1},
		{"no arguments without the app", nil, false, 2, "", "Usage:\n  glimpse                 open the app", 0},
		{"version", []string{"--version"}, true, 0, "glimpse 1.2.3\n", "", 0},
		{"help", []string{"help"}, true, 0, "Glimpse 1.2.3: ask questions", "", 0},
		{"unknown command", []string{"paint"}, true, 2, "", `glimpse: unknown command "paint"`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opened = 0
			var out, errb bytes.Buffer
			env := Env{Version: "1.2.3", Stdout: &out, Stderr: &errb}
			if tc.app {
				env.OpenApp = func() int { opened++; return 7 }
			}
			code := Main(tc.args, env)
			if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) || opened != tc.openApp {
				t.Errorf("exit %d, stdout %q, stderr %q, app opened %d times; want exit %d, %q, %q, %d",
					code, out.String(), errb.String(), opened, tc.code, tc.stdout, tc.stderr, tc.openApp)
			}
		})
	}
}

// TestUsageListsEveryCommand: the help lists the table's commands, in its
// order, each with its summary, and every command has its words.
func TestUsageListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-h"}, &out, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	at := 0
	for _, c := range commands {
		if c.Name == "" || c.UsageLine == "" || c.Short == "" || c.Run == nil {
			t.Errorf("command %+v lacks a field", c)
		}
		line := "  " + c.Name + strings.Repeat(" ", 13-len(c.Name)) + c.Short + "\n"
		i := strings.Index(out.String(), line)
		if i < at {
			t.Errorf("usage lacks %q after the commands before it:\n%s", line, out.String())
		}
		at = i
	}
	names := map[string]bool{}
	for _, c := range commands {
		if names[c.Name] {
			t.Errorf("two commands named %s", c.Name)
		}
		names[c.Name] = true
	}
}
