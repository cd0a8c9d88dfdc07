package compute

import "fmt"

// PackedScales returns how many float32 scales a tensor of n elements of
// dtype carries beside its words (quant.go): one per block of BlockSize for
// Q8 and Q4, none for the formats whose words hold everything.
func PackedScales(dt DType, n int) int {
	switch dt {
	case Q8, Q4:
		return n / BlockSize
	}
	return 0
}

// UploadPacked hands words (and scales) already in dtype's packed layout to
// the device: the converted-weight store keeps them so, and a later load
// uploads them as they are instead of converting again. It checks the
// shape as Upload does and the lengths against PackedWords and
// PackedScales.
func (b *backend) UploadPacked(dtype DType, shape []int, words []uint32, scales []float32) (Tensor, error) {
	n, err := checkPackShape(dtype, shape)
	if err != nil {
		return nil, err
	}
	if len(words) != PackedWords(dtype, n) {
		return nil, fmt.Errorf("a %v tensor of shape %v packs into %d words, got %d", dtype, shape, PackedWords(dtype, n), len(words))
	}
	if len(scales) != PackedScales(dtype, n) {
		return nil, fmt.Errorf("a %v tensor of shape %v has %d scales, got %d", dtype, shape, PackedScales(dtype, n), len(scales))
	}
	return b.upload(dtype, shape, words, scales)
}
