//go:build !windows

package ui

import "os/exec"

// hideConsole does nothing outside Windows: programs started there open no
// window of their own.
func hideConsole(*exec.Cmd) {}
