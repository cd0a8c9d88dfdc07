// Package glsl holds the OpenGL compute shaders of Glimpse's GL backend
// (package compute). It exists only because go:embed cannot reach a parent
// directory: compute embeds nothing itself and reads the sources from FS.
//
// Each *.comp file is one kernel (or one fused group of kernels selected by
// #define); *.glsl files are snippets that kernels pull in with
// `#include "name.glsl"`, which compute expands before compiling. compute
// prepends a prelude with `#version 430`, the extensions of the variant in
// use and the kernel's #defines (work-group size WG, weight dtype WT_*, ...).
package glsl

import "embed"

// FS holds every kernel (*.comp) and shared snippet (*.glsl).
//
//go:embed *.comp *.glsl
var FS embed.FS
