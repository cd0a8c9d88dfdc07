package gl

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"glimpse/compute/optest"
)

// TestZZSubgroupVariantsCompile compiles, with Khronos' reference compiler
// glslangValidator, the subgroup variant (GL_KHR_shader_subgroup_*) of every
// kernel program that this package's tests built: CI's llvmpipe has no
// subgroups, so without this a typo in a USE_SUBGROUP branch would first show
// on a GPU, as a VariantFailure. It compiles, it does not run: only a GPU
// checks what the variant computes (GLIMPSE_REQUIRE_GPU=1). glslang does not
// know GL_NV_gpu_shader5, so the USE_HALF variant stays the GPU's to check.
//
// The file's name puts it after the other tests, whose programs it reuses;
// run alone, it first runs the op table to build them.
func TestZZSubgroupVariantsCompile(t *testing.T) {
	tool, err := exec.LookPath("glslangValidator")
	if err != nil {
		t.Fatalf("glslangValidator is not installed (Debian: glslang-tools, which make deps-test installs): %v", err)
	}
	d, be := testGL(t)
	keys := programKeys(d)
	if len(keys) < 20 {
		optest.Run(t, be)
		keys = programKeys(d)
	}
	// One glslangValidator run for all the files: it reports each file's
	// errors under its name, and fails if any has one.
	dir := t.TempDir()
	files := make([]string, len(keys))
	for i, key := range keys {
		name, defs, _ := strings.Cut(key, "|")
		var defines []string
		if defs != "" {
			defines = strings.Split(defs, ",")
		}
		src, err := shaderSource(name, defines, shaderVariant{subgroup: true})
		if err != nil {
			t.Fatal(err)
		}
		// The first line names the program in glslang's report.
		src = "// " + key + "\n" + src
		files[i] = filepath.Join(dir, fmt.Sprintf("%s_%03d.comp", name, i))
		if err := os.WriteFile(files[i], []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(tool, files...).CombinedOutput(); err != nil {
		t.Errorf("the subgroup variants of %d programs: %v\n%s", len(keys), err, out)
	}
	t.Logf("%d programs compiled in their subgroup variant", len(keys))
}

// programKeys lists the programs the device built ("name|define,…").
func programKeys(d *device) []string {
	var keys []string
	d.call(func() {
		for k := range d.programs {
			keys = append(keys, k)
		}
	})
	slices.Sort(keys)
	return keys
}
