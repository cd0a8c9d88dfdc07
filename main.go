// Command glimpse answers questions about images and writes captions with
// InstructBLIP, entirely on the user's machine.
//
// With no arguments it opens the desktop app (package ui); with a command it
// runs the command line (package cli). Both are front ends over the
// application layer in package app. GLIMPSE_MODEL (an installed model's name
// or a model folder) and GLIMPSE_BACKEND (auto, gl, cpu) override the app's
// settings for one run.
package main

import (
	_ "embed"
	"os"
	"regexp"

	"glimpse/cli"
	"glimpse/ui"
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

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{
		Version: version,
		OpenApp: func() int { return ui.Run(ui.OptionsFromEnv(version)) },
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
	}))
}
