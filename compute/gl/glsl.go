package gl

import (
	"embed"
	"fmt"
	"sort"
	"strings"
)

// The kernels' GLSL sources live in glsl/: each *.comp file is one kernel
// (or one fused group of kernels selected by #define), with a header
// comment stating its layout, work-group shape and bindings; *.glsl files
// are snippets that kernels pull in with `#include "name.glsl"`. This file
// turns them into compilable sources: a prelude (#version, the variant's
// extensions, the kernel's #defines: work-group size WG, weight dtype WT_*,
// ...) followed by the kernel with its #include lines expanded.

// shaders holds every kernel (*.comp) and shared snippet (*.glsl).
//
//go:embed glsl/*.comp glsl/*.glsl
var shaders embed.FS

// shaderVariant says which optional GLSL features a source may use.
type shaderVariant struct {
	half     bool // GL_NV_gpu_shader5 (f16vec2)
	subgroup bool // GL_KHR_shader_subgroup_basic + _arithmetic
}

// shaderSource returns the full source of kernel name (a file in glsl/
// without ".comp") with the given defines ("WG=256", "WT_F16", ...).
func shaderSource(name string, defines []string, v shaderVariant) (string, error) {
	body, err := expandIncludes(name+".comp", 0)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.WriteString("#version 430 core\n")
	if v.half {
		sb.WriteString("#extension GL_NV_gpu_shader5 : require\n")
	}
	if v.subgroup {
		sb.WriteString("#extension GL_KHR_shader_subgroup_basic : require\n")
		sb.WriteString("#extension GL_KHR_shader_subgroup_arithmetic : require\n")
	}
	defs := append([]string(nil), defines...)
	if v.half {
		defs = append(defs, "USE_HALF")
	}
	if v.subgroup {
		defs = append(defs, "USE_SUBGROUP")
	}
	sort.Strings(defs)
	for _, d := range defs {
		k, val, _ := strings.Cut(d, "=")
		fmt.Fprintf(&sb, "#define %s %s\n", k, val)
	}
	sb.WriteString("#line 1\n")
	sb.WriteString(body)
	return sb.String(), nil
}

// expandIncludes reads file from glsl/ and replaces each
// `#include "x.glsl"` line by x.glsl's text. Snippets carry no include
// guards: the kernels include each at most once.
func expandIncludes(file string, depth int) (string, error) {
	if depth > 4 {
		return "", fmt.Errorf("glsl: includes nested too deep at %s", file)
	}
	src, err := shaders.ReadFile("glsl/" + file)
	if err != nil {
		return "", fmt.Errorf("glsl: %w", err)
	}
	var sb strings.Builder
	for _, line := range strings.SplitAfter(string(src), "\n") {
		t := strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(t, "#include"); ok {
			inc := strings.Trim(strings.TrimSpace(rest), `"`)
			s, err := expandIncludes(inc, depth+1)
			if err != nil {
				return "", err
			}
			sb.WriteString(s)
			sb.WriteString("\n")
			continue
		}
		sb.WriteString(line)
	}
	return sb.String(), nil
}
