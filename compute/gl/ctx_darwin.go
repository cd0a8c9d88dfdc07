//go:build darwin

package gl

import "errors"

// newPlatformContext fails on macOS: its OpenGL stops at 4.1, which has no
// compute shaders, and GLFW there may only be used from the main thread,
// which belongs to the GUI. The CPU backend runs instead.
func newPlatformContext() (platformContext, error) {
	return nil, errors.New("macOS offers OpenGL 4.1 at most; compute shaders need 4.3")
}
