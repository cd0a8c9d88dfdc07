// patches.comp: cuts images into non-overlapping p×p patches in the order a
// Conv2d weight [out, C, p, p] flattens, so that Linear is the convolution.
// Layout: img [B, C, H, W] F32; out [B, (H/p)*(W/p), C*p*p].
// Work groups: 1-D, WG invocations, grid-stride over the output elements.
// Bindings: 0 out, 1 img.
// Uniforms: 0 total (output elements), 1 C, 2 H, 3 W, 4 p.
#include "common.glsl"

layout(local_size_x = WG) in;

layout(std430, binding = 0) writeonly buffer OBuf { float o[]; };
layout(std430, binding = 1) readonly buffer IBuf { float img[]; };

layout(location = 0) uniform int total;
layout(location = 1) uniform int C;
layout(location = 2) uniform int H;
layout(location = 3) uniform int W;
layout(location = 4) uniform int p;

void main() {
	int cpp = C * p * p;
	int nx = W / p;
	int np = (H / p) * nx;
	for (int e = globalIndex(); e < total; e += gridStride()) {
		int f = e % cpp;
		int t = (e / cpp) % np;
		int b = e / (cpp * np);
		int c = f / (p * p);
		int ky = (f / p) % p;
		int kx = f % p;
		int y = (t / nx) * p + ky;
		int xx = (t % nx) * p + kx;
		o[e] = img[((b * C + c) * H + y) * W + xx];
	}
}
