package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"glimpse/app"
	"glimpse/downloads"
)

var infoCmd = &Command{
	Name:      "info",
	UsageLine: "info [--json]",
	Short:     "show the Go runtime, the system and which compute backends work here",
	Long: "Prints the Go version, the system, and each compute backend: whether it\n" +
		"works here (and why not), its device, version, kernel variants and limits.\n",
	Run: runInfo,
}

// infoReport is what `glimpse info` prints (its --json form verbatim): the
// version and the machine as app.Probe finds it.
type infoReport struct {
	Glimpse string `json:"glimpse"`
	app.Machine
}

func runInfo(env *Env, fs *flag.FlagSet, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code, ok := parse(fs, args, noArgs); !ok {
		return code
	}
	rep := infoReport{Glimpse: env.Version, Machine: app.Probe()}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(stderr, "%v", err)
		}
		return 0
	}
	printInfo(stdout, rep)
	return 0
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
	if rep.RAM > 0 {
		fmt.Fprintf(w, "Memory:  %s\n", downloads.FormatBytes(rep.RAM))
	}
	fmt.Fprintln(w, "\nCompute backends:")
	for _, b := range rep.Backends {
		if !b.Usable {
			fmt.Fprintf(w, "  %-4s not usable: %s\n", b.Name, b.Reason)
			continue
		}
		if b.Software {
			fmt.Fprintf(w, "  %-4s usable, but in software on the CPU (slower than the cpu backend; auto skips it)\n", b.Name)
		} else {
			fmt.Fprintf(w, "  %-4s usable\n", b.Name)
		}
		fmt.Fprintf(w, "       device    %s\n", b.Device)
		fmt.Fprintf(w, "       version   %s\n", b.Version)
		if b.Memory > 0 {
			fmt.Fprintf(w, "       memory    %s\n", downloads.FormatBytes(b.Memory))
		}
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
