package app

import (
	"testing"

	"glimpse/downloads"
)

// TestRecommend checks the model suggested for each kind of machine.
func TestRecommend(t *testing.T) {
	const GB = 1 << 30
	cat := downloads.Catalogue()
	cases := []struct {
		name      string
		m         Machine
		model     string
		precision downloads.Precision
		fits      bool
	}{
		{"H100 80 GB", Machine{GPU: true, GPUName: "H100", GPUMemory: 80 * GB, RAM: 128 * GB}, "instructblip-vicuna-13b", downloads.FP16, true},
		{"24 GB GPU", Machine{GPU: true, GPUMemory: 24 * GB}, "instructblip-vicuna-7b", downloads.FP16, true},
		// 16 GB holds vicuna-7b's 17 GB fp16 estimate in no case: the
		// smaller model, with room to spare.
		{"16 GB GPU", Machine{GPU: true, GPUMemory: 16 * GB}, "instructblip-flan-t5-xl", downloads.FP16, true},
		{"12 GB GPU", Machine{GPU: true, GPUMemory: 12 * GB}, "instructblip-flan-t5-xl", downloads.FP16, true},
		{"4 GB GPU", Machine{GPU: true, GPUMemory: 4 * GB, RAM: 16 * GB}, "instructblip-flan-t5-xl", downloads.FP16, false},
		{"GPU memory unknown", Machine{GPU: true, GPUName: "llvmpipe", RAM: 64 * GB}, "instructblip-flan-t5-xl", downloads.FP16, true},
		{"CPU, 64 GB", Machine{RAM: 64 * GB}, "instructblip-flan-t5-xl", downloads.FP32, true},
		{"CPU, 16 GB", Machine{RAM: 16 * GB}, "instructblip-flan-t5-xl", downloads.FP16, true},
		{"CPU, 4 GB", Machine{RAM: 4 * GB}, "instructblip-flan-t5-xl", downloads.FP16, false},
		{"nothing known", Machine{}, "instructblip-flan-t5-xl", downloads.FP16, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Recommend(cat, c.m)
			if r.Model.Name != c.model || r.Precision != c.precision || r.Fits != c.fits || r.Why == "" {
				t.Errorf("got %s %s fits=%v (%s), want %s %s fits=%v", r.Model.Name, r.Precision, r.Fits, r.Why, c.model, c.precision, c.fits)
			}
		})
	}
	if r := Recommend(nil, Machine{GPU: true, GPUMemory: 80 * GB}); r.Fits || r.Model.Name != "" {
		t.Errorf("empty catalogue gave %+v", r)
	}
}
