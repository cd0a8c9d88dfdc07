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
		// 24 GiB less the tenth kept free is 23.2 GB: vicuna-13b needs
		// 29.5 GB in fp16, 17.1 in q8.
		{"24 GB GPU", Machine{GPU: true, GPUMemory: 24 * GB}, "instructblip-vicuna-13b", downloads.Q8, true},
		// 15.5 GB usable: vicuna-13b in q4 (11.1 GB) is the largest model.
		{"16 GB GPU", Machine{GPU: true, GPUMemory: 16 * GB}, "instructblip-vicuna-13b", downloads.Q4, true},
		{"12 GB GPU", Machine{GPU: true, GPUMemory: 12 * GB}, "instructblip-vicuna-13b", downloads.Q4, true},
		// 7.7 GB usable: vicuna-7b in q4 (6.6 GB); the 12-13B models need
		// 10.6 GB and more even in q4.
		{"8 GB GPU", Machine{GPU: true, GPUMemory: 8 * GB}, "instructblip-vicuna-7b", downloads.Q4, true},
		// 3.9 GB usable, below flan-t5-xl's 4.0 GB in q4.
		{"4 GB GPU", Machine{GPU: true, GPUMemory: 4 * GB, RAM: 16 * GB}, "instructblip-flan-t5-xl", downloads.Q4, false},
		{"GPU memory unknown", Machine{GPU: true, GPUName: "llvmpipe", RAM: 64 * GB}, "instructblip-flan-t5-xl", downloads.FP16, true},
		{"CPU, 64 GB", Machine{RAM: 64 * GB}, "instructblip-flan-t5-xl", downloads.FP32, true},
		// 15.5 GB usable: fp32 needs 16.9 GB, fp16 8.6.
		{"CPU, 16 GB", Machine{RAM: 16 * GB}, "instructblip-flan-t5-xl", downloads.FP16, true},
		// 7.7 GB usable: fp16 does not fit, q8 (5.1 GB) does.
		{"CPU, 8 GB", Machine{RAM: 8 * GB}, "instructblip-flan-t5-xl", downloads.Q8, true},
		{"CPU, 4 GB", Machine{RAM: 4 * GB}, "instructblip-flan-t5-xl", downloads.Q4, false},
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
