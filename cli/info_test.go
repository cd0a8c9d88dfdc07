package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"glimpse/app"
	"glimpse/compute"
)

func TestInfoText(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"info"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	s := out.String()
	// CI has Mesa's llvmpipe through EGL, so the GL backend must be usable.
	for _, want := range []string{runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH, "cpu  usable", "gl   usable",
		"variants  portable", "largest buffer (SSBO)", "shared memory per work group", "invocations per work group", "buffer bindings per kernel"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	// llvmpipe is no GPU, and the report says so.
	if gl := app.Probe().Backends[1]; gl.Software != strings.Contains(s, "gl   usable, but in software on the CPU") {
		t.Errorf("software renderer %v (%s), but the report says:\n%s", gl.Software, gl.Device, s)
	}
}

func TestInfoJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"info", "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	var rep infoReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if rep.Go != runtime.Version() || len(rep.Backends) != 2 {
		t.Fatalf("report %+v", rep)
	}
	gl := rep.Backends[1]
	if gl.Name != "gl" || !gl.Usable || gl.Device == "" || gl.Limits["max_ssbo_bytes"] <= 0 {
		t.Fatalf("GL backend %+v: want usable with a device and limits", gl)
	}
}

// TestInfoUnavailableGL prints the reason where no context can be made
// (macOS, no driver), as app.Probe reports it (its own test makes the GL
// backend fail to start).
func TestInfoUnavailableGL(t *testing.T) {
	reason := fmt.Errorf("%w: macOS offers OpenGL 4.1 at most", compute.ErrUnavailable)
	rep := infoReport{Glimpse: "1.2.3", Machine: app.Machine{Go: runtime.Version(), OS: "darwin", Arch: "arm64", CPUs: 8,
		Backends: []app.Backend{{Name: "cpu", Usable: true, Device: "Apple M2"}, {Name: "gl", Reason: reason.Error()}}}}
	var out bytes.Buffer
	printInfo(&out, rep)
	if !strings.Contains(out.String(), "gl   not usable: compute backend unavailable: macOS offers OpenGL 4.1 at most") {
		t.Fatalf("output:\n%s", out.String())
	}
}

func TestInfoFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"info", "extra"}, &out, &errb); code != 2 || !strings.HasPrefix(errb.String(), `glimpse info: unexpected argument "extra"`) {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"info", "-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "--json") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
