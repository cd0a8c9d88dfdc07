package cli

import (
	"syscall"
	"unsafe"
)

// beforeApp lets go of the console window before the app opens.
// glimpse.exe is a console program so that `glimpse ask …` prints in cmd
// and PowerShell. Started from the Start menu or Explorer it gets a console
// window of its own; when it is about to open the app and is that console's
// only process, it frees the console so no empty black window stays open.
func beforeApp() {
	k := syscall.NewLazyDLL("kernel32.dll")
	list := k.NewProc("GetConsoleProcessList")
	free := k.NewProc("FreeConsole")
	if list.Find() != nil || free.Find() != nil {
		return
	}
	var pids [2]uint32
	n, _, _ := list.Call(uintptr(unsafe.Pointer(&pids[0])), 2)
	if n == 1 {
		free.Call()
	}
}
