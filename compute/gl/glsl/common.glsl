// common.glsl: helpers shared by every kernel; package gl includes it after the
// prelude (#version, extensions, #defines). It declares no buffers.
//
// Work-group reductions need `shared float redf[WG]` (declared here when
// NEED_REDUCE is defined) and a work group of WG invocations, WG a power of
// two. With USE_SUBGROUP (GL_KHR_shader_subgroup_arithmetic) they reduce
// inside each subgroup first and combine the subgroup results through shared
// memory; otherwise they go through shared memory in two levels.

// SYNC orders shared-memory writes before the barrier (GLSL 4.30 does not
// promise that barrier() alone does for compute shaders).
#define SYNC() memoryBarrierShared(); barrier()

// A macro, not a const: uintBitsToFloat is not a constant expression in
// GLSL 4.30 and strict compilers (NVIDIA's, glslang) reject it there.
#define NEG_INF uintBitsToFloat(0xff800000u)

int lid() { return int(gl_LocalInvocationID.x); }

// groupIndex flattens the 2-D grid that package gl uses when a dispatch needs
// more than 65535 work groups along x.
int groupIndex() { return int(gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x); }

// gridStride is the step of grid-stride loops over elements.
int gridStride() { return int(gl_NumWorkGroups.x * gl_NumWorkGroups.y) * WG; }
int globalIndex() { return groupIndex() * WG + lid(); }

#ifdef NEED_REDUCE
shared float redf[WG];

#ifdef USE_SUBGROUP
float wgSum(float v) {
	v = subgroupAdd(v);
	if (subgroupElect()) redf[gl_SubgroupID] = v;
	SYNC();
	float r = 0.0;
	for (uint i = 0u; i < gl_NumSubgroups; i++) r += redf[i];
	SYNC();
	return r;
}
float wgMax(float v) {
	v = subgroupMax(v);
	if (subgroupElect()) redf[gl_SubgroupID] = v;
	SYNC();
	float r = NEG_INF;
	for (uint i = 0u; i < gl_NumSubgroups; i++) r = max(r, redf[i]);
	SYNC();
	return r;
}
#else
// Two levels instead of a log2(WG)-step tree: 16 invocations each sum a
// strided sixteenth, then every invocation sums those 16 partial sums. Three
// barriers per reduction whatever WG is; on llvmpipe, where a barrier
// switches every SIMD lane group of the work group, that is most of the
// cost of small kernels.
shared float red16[16];
float wgSum(float v) {
	int l = lid();
	redf[l] = v;
	SYNC();
	if (l < 16) {
		float s = 0.0;
		for (int i = l; i < WG; i += 16) s += redf[i];
		red16[l] = s;
	}
	SYNC();
	float r = 0.0;
	for (int i = 0; i < 16; i++) r += red16[i];
	SYNC();
	return r;
}
float wgMax(float v) {
	int l = lid();
	redf[l] = v;
	SYNC();
	if (l < 16) {
		float s = NEG_INF;
		for (int i = l; i < WG; i += 16) s = max(s, redf[i]);
		red16[l] = s;
	}
	SYNC();
	float r = NEG_INF;
	for (int i = 0; i < 16; i++) r = max(r, red16[i]);
	SYNC();
	return r;
}
#endif
#endif

// erfApprox is erf with an absolute error below 1.2e-7 (Numerical Recipes'
// Chebyshev fit of erfc); GLSL has no erf.
float erfApprox(float x) {
	float z = abs(x);
	float t = 1.0 / (1.0 + 0.5 * z);
	float r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
		t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
		t * (-0.82215223 + t * 0.17087277)))))))));
	return x >= 0.0 ? 1.0 - r : r - 1.0;
}

// tanhSafe avoids the inf/inf of a naive tanh for large |x|.
float tanhSafe(float x) {
	float t = exp(-2.0 * abs(x));
	float r = (1.0 - t) / (1.0 + t);
	return x >= 0.0 ? r : -r;
}

float geluErf(float x) { return 0.5 * x * (1.0 + erfApprox(x * 0.70710678118654752)); }
float geluTanh(float x) { return 0.5 * x * (1.0 + tanhSafe(0.79788456080286536 * (x + 0.044715 * x * x * x))); }
float silu(float x) { return x / (1.0 + exp(-x)); }

// The activations by the names the ACT define takes (Gated, GatedLinear).
float act_silu(float x) { return silu(x); }
float act_gelu(float x) { return geluErf(x); }
float act_gelu_tanh(float x) { return geluTanh(x); }
float act_relu(float x) { return max(x, 0.0); }
