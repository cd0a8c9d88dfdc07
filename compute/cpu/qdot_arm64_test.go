//go:build arm64 && !purego

package cpu

import "testing"

// TestSDOTDispatch checks that the SDOT integer kernels are dispatched
// exactly where the processor has the dot product extension, and that
// without it the NEON float set stays, with no integer kernels (SDOT would
// fault there). It logs which case this run took: qemu-aarch64-static's
// default CPU has DotProd, QEMU_CPU=cortex-a57 does not.
func TestSDOTDispatch(t *testing.T) {
	t.Logf("dot product extension (asimddp): %v; dispatched kernels: %s", hasSDOT, vec.name)
	hasInt := func(k vecKernels) bool { return k.q8i != nil || k.q4i != nil || k.q4ki != nil || k.q4kix4 != nil }
	if hasSDOT {
		if vec.name != "neon-dotprod" || vec.q8i == nil || vec.q4i == nil || vec.q4ki == nil || vec.q4kix4 == nil {
			t.Fatalf("processor with SDOT dispatches %q without the full integer kernels", vec.name)
		}
	} else if vec.name != "neon" || hasInt(vec) {
		t.Fatalf("processor without SDOT dispatches %q (integer kernels: %v)", vec.name, hasInt(vec))
	}

	// Whatever this processor is, the set list for one without SDOT.
	defer func(h bool) { hasSDOT = h }(hasSDOT)
	hasSDOT = false
	ks := archKernels()
	if len(ks) != 1 || ks[0].name != "neon" || hasInt(ks[0]) {
		t.Fatalf("without SDOT, archKernels gives %d set(s), first %q (integer kernels: %v); want neon alone, without",
			len(ks), ks[0].name, hasInt(ks[0]))
	}
	hasSDOT = true
	if ks = archKernels(); len(ks) != 2 || ks[0].name != "neon-dotprod" || ks[1].name != "neon" || !hasInt(ks[0]) || hasInt(ks[1]) {
		t.Fatalf("with SDOT, archKernels gives %d set(s), first %q; want neon-dotprod, then neon", len(ks), ks[0].name)
	}
}
