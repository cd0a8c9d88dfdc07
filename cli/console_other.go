//go:build !windows

package cli

// beforeApp has nothing to do before the app opens: only Windows gives a
// console program a window of its own (see console_windows.go).
func beforeApp() {}
