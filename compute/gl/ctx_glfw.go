//go:build (!linux && !darwin) || glimpse_glfw

package gl

import (
	"fmt"
	"unsafe"

	"github.com/go-gl/glfw/v3.4/glfw"
)

// glfwContext is a hidden 1×1 GLFW window whose OpenGL context the GL
// thread makes current: on Windows and the BSDs, and on Linux when built
// with -tags glimpse_glfw (to test this path under X). It uses the GLFW module Fyne uses (v3.4): two copies
// of GLFW's C code do not link into one binary.
type glfwContext struct {
	win *glfw.Window
}

// newPlatformContext creates the hidden window on the calling (locked) OS
// thread. GLFW's global state is shared with Fyne, so this never calls
// glfw.Terminate: that would close the app's windows too.
func newPlatformContext() (pc platformContext, err error) {
	defer func() {
		// go-gl/glfw panics on errors it considers fatal (no display).
		if r := recover(); r != nil {
			pc, err = nil, fmt.Errorf("GLFW: %v", r)
		}
	}()
	if err := glfw.Init(); err != nil {
		return nil, fmt.Errorf("GLFW: %v", err)
	}
	glfw.WindowHint(glfw.Visible, glfw.False)
	glfw.WindowHint(glfw.ContextVersionMajor, 4)
	glfw.WindowHint(glfw.ContextVersionMinor, 3)
	glfw.WindowHint(glfw.OpenGLProfile, glfw.OpenGLCoreProfile)
	glfw.WindowHint(glfw.OpenGLForwardCompatible, glfw.True)
	win, err := glfw.CreateWindow(1, 1, "glimpse compute", nil, nil)
	// Later windows (Fyne's) must not inherit the hidden-window hints.
	glfw.DefaultWindowHints()
	if err != nil {
		return nil, fmt.Errorf("no OpenGL 4.3 core context through GLFW: %v", err)
	}
	win.MakeContextCurrent()
	return &glfwContext{win: win}, nil
}

func (c *glfwContext) procAddress(name string) unsafe.Pointer { return glfw.GetProcAddress(name) }

func (c *glfwContext) name() string { return "GLFW" }

func (c *glfwContext) destroy() {
	glfw.DetachCurrentContext()
	c.win.Destroy()
}
