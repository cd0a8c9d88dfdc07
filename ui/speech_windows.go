package ui

import (
	"os/exec"
	"syscall"
)

// createNoWindow is CREATE_NO_WINDOW: PowerShell runs without flashing a
// console window over the app.
const createNoWindow = 0x08000000

// hideConsole keeps the speech program's console window from showing.
func hideConsole(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true, CreationFlags: createNoWindow}
}
