package compute

import "strings"

// softwareRenderers are substrings of the GL_RENDERER strings of OpenGL
// implementations that run on the CPU: Mesa's llvmpipe, softpipe and
// swrast, Google's SwiftShader, and Windows' fallback driver.
var softwareRenderers = []string{"llvmpipe", "softpipe", "swrast", "software rasterizer", "swiftshader",
	"microsoft basic render driver", "gdi generic"}

// SoftwareRenderer reports whether device (an Info.Device of the GL
// backend) names an OpenGL that renders on the CPU. Such a "GPU" runs
// Glimpse's kernels several times slower than the CPU engine, so the
// automatic choice skips it, and nothing calls it a GPU.
func SoftwareRenderer(device string) bool {
	d := strings.ToLower(device)
	for _, s := range softwareRenderers {
		if strings.Contains(d, s) {
			return true
		}
	}
	return false
}
