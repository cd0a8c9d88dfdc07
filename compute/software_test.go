package compute

import "testing"

func TestSoftwareRenderer(t *testing.T) {
	for _, c := range []struct {
		device string
		want   bool
	}{
		{"llvmpipe (LLVM 15.0.6, 256 bits)", true},
		{"softpipe", true},
		{"Mesa X11 swrast", true},
		{"Software Rasterizer", true},
		{"Google SwiftShader", true},
		{"Microsoft Basic Render Driver", true},
		{"GDI Generic", true},
		{"NVIDIA H100 80GB HBM3/PCIe/SSE2", false},
		{"AMD Radeon RX 7900 XTX (radeonsi, navi31, LLVM 17.0.6, DRM 3.54)", false},
		{"Mesa Intel(R) UHD Graphics 620 (KBL GT2)", false},
		{"Apple M2", false},
		{"", false},
	} {
		if got := SoftwareRenderer(c.device); got != c.want {
			t.Errorf("SoftwareRenderer(%q) = %v, want %v", c.device, got, c.want)
		}
	}
}
