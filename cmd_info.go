package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"

	"glimpse/compute"
)

func init() {
	commands["info"] = command{
		summary: "show the Go runtime, the system and which compute backends work here",
		run:     runInfo,
	}
}

// infoReport is what `glimpse info` prints (its --json form verbatim).
type infoReport struct {
	Glimpse  string          `json:"glimpse"`
	Go       string          `json:"go"`
	OS       string          `json:"os"`
	Arch     string          `json:"arch"`
	CPUs     int             `json:"cpus"`
	Backends []backendReport `json:"backends"`
}

// backendReport describes one compute backend: usable, or the reason not.
type backendReport struct {
	Name     string            `json:"name"`
	Usable   bool              `json:"usable"`
	Reason   string            `json:"reason,omitempty"`
	Device   string            `json:"device,omitempty"`
	Version  string            `json:"version,omitempty"`
	Variants []string          `json:"variants,omitempty"`
	Limits   map[string]int64  `json:"limits,omitempty"`
	Extra    map[string]string `json:"extra,omitempty"`
}

// newGLBackend is compute.NewGL; tests replace it to show the unusable case.
var newGLBackend = compute.NewGL

func runInfo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("info", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: glimpse info [--json]\n\nPrints the Go version, the system, and each compute backend: whether it\nworks here (and why not), its device, version, kernel variants and limits.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(stderr, "info takes no arguments, got %q", fs.Args())
	}
	rep := gatherInfo()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(stderr, "writing the report: %v", err)
		}
		return 0
	}
	printInfo(stdout, rep)
	return 0
}

func gatherInfo() infoReport {
	rep := infoReport{
		Glimpse: version,
		Go:      runtime.Version(),
		OS:      runtime.GOOS,
		Arch:    runtime.GOARCH,
		CPUs:    runtime.NumCPU(),
	}
	cpu := compute.NewCPU()
	rep.Backends = append(rep.Backends, reportOf(cpu.Info()))
	cpu.Close()
	gl, err := newGLBackend()
	if err != nil {
		rep.Backends = append(rep.Backends, backendReport{Name: "gl", Reason: err.Error()})
	} else {
		rep.Backends = append(rep.Backends, reportOf(gl.Info()))
		gl.Close()
	}
	return rep
}

func reportOf(i compute.Info) backendReport {
	return backendReport{Name: i.Name, Usable: true, Device: i.Device, Version: i.Version,
		Variants: i.Variants, Limits: i.Limits, Extra: i.Extra}
}

// limitNames are the limits worth a line of their own, in print order.
var limitNames = []struct{ key, label string }{
	{"max_ssbo_bytes", "largest buffer (SSBO)"},
	{"max_shared_bytes", "shared memory per work group"},
	{"max_invocations", "invocations per work group"},
	{"max_ssbo_bindings", "buffer bindings per kernel"},
}

func printInfo(w io.Writer, rep infoReport) {
	fmt.Fprintf(w, "Glimpse %s\n", rep.Glimpse)
	fmt.Fprintf(w, "Go:      %s\n", rep.Go)
	fmt.Fprintf(w, "System:  %s/%s, %d CPUs\n", rep.OS, rep.Arch, rep.CPUs)
	fmt.Fprintln(w, "\nCompute backends:")
	for _, b := range rep.Backends {
		if !b.Usable {
			fmt.Fprintf(w, "  %-4s not usable: %s\n", b.Name, b.Reason)
			continue
		}
		fmt.Fprintf(w, "  %-4s usable\n", b.Name)
		fmt.Fprintf(w, "       device    %s\n", b.Device)
		fmt.Fprintf(w, "       version   %s\n", b.Version)
		fmt.Fprintf(w, "       variants  %s\n", strings.Join(b.Variants, ", "))
		shown := map[string]bool{}
		for _, l := range limitNames {
			if v, ok := b.Limits[l.key]; ok {
				fmt.Fprintf(w, "       %-30s %s\n", l.label, humanLimit(l.key, v))
				shown[l.key] = true
			}
		}
		for _, k := range sortedKeys(b.Limits) {
			if !shown[k] {
				fmt.Fprintf(w, "       %-30s %d\n", strings.ReplaceAll(k, "_", " "), b.Limits[k])
			}
		}
		for _, k := range sortedKeys(b.Extra) {
			fmt.Fprintf(w, "       %-30s %s\n", strings.ReplaceAll(k, "_", " "), b.Extra[k])
		}
	}
}

// humanLimit prints byte limits in KiB/MiB/GiB.
func humanLimit(key string, v int64) string {
	if !strings.HasSuffix(key, "_bytes") {
		return fmt.Sprint(v)
	}
	for _, u := range []struct {
		n    int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if v >= u.n {
			return fmt.Sprintf("%.4g %s (%d bytes)", float64(v)/float64(u.n), u.name, v)
		}
	}
	return fmt.Sprintf("%d bytes", v)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
