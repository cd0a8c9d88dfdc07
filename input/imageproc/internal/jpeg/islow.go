// Copyright 2026 The Glimpse authors. The algorithm and its constants are
// those of the Independent JPEG Group's jidctint.c (Copyright (C)
// 1991-1998, Thomas G. Lane) as libjpeg-turbo ships it.

package jpeg

// A block is an 8×8 block of dequantized DCT coefficients in natural
// (row-major) order.
type block [blockSize]int32

const blockSize = 8 * 8

// The fixed-point scaling of libjpeg's "islow" IDCT for 8-bit samples.
const (
	constBits = 13
	pass1Bits = 2

	fix0_298631336 = 2446
	fix0_390180644 = 3196
	fix0_541196100 = 4433
	fix0_765366865 = 6270
	fix0_899976223 = 7373
	fix1_175875602 = 9633
	fix1_501321110 = 12299
	fix1_847759065 = 15137
	fix1_961570560 = 16069
	fix2_053119869 = 16819
	fix2_562915447 = 20995
	fix3_072711026 = 25172
)

// rangeLimit is libjpeg's post-IDCT range-limit table (jdmaster.c
// prepare_range_limit_table) indexed by the descaled value masked to ten
// bits: -128…127 map to 0…255, moderate overshoots clamp, and wild values
// (only in corrupt data) wrap as in libjpeg.
var rangeLimit [1024]uint8

func init() {
	for i := range rangeLimit {
		switch {
		case i < 128:
			rangeLimit[i] = uint8(i + 128)
		case i < 512:
			rangeLimit[i] = 255
		case i < 896:
			rangeLimit[i] = 0
		default:
			rangeLimit[i] = uint8(i - 896)
		}
	}
}

func descale(x int64, n uint) int64 { return (x + 1<<(n-1)) >> n }

// idct1D is the Loeffler–Ligtenberg–Moschytz 1-D IDCT of jidctint.c on
// eight inputs, returning the eight outputs scaled by 2^constBits (before
// the caller's descale).
func idct1D(in *[8]int64) (out [8]int64) {
	// Even part.
	z2, z3 := in[2], in[6]
	z1 := (z2 + z3) * fix0_541196100
	tmp2 := z1 + z3*-fix1_847759065
	tmp3 := z1 + z2*fix0_765366865
	tmp0 := (in[0] + in[4]) << constBits
	tmp1 := (in[0] - in[4]) << constBits
	tmp10, tmp13 := tmp0+tmp3, tmp0-tmp3
	tmp11, tmp12 := tmp1+tmp2, tmp1-tmp2

	// Odd part.
	tmp0, tmp1, tmp2, tmp3 = in[7], in[5], in[3], in[1]
	z1, z2, z3 = tmp0+tmp3, tmp1+tmp2, tmp0+tmp2
	z4 := tmp1 + tmp3
	z5 := (z3 + z4) * fix1_175875602
	tmp0 *= fix0_298631336
	tmp1 *= fix2_053119869
	tmp2 *= fix3_072711026
	tmp3 *= fix1_501321110
	z1 *= -fix0_899976223
	z2 *= -fix2_562915447
	z3 = z3*-fix1_961570560 + z5
	z4 = z4*-fix0_390180644 + z5
	tmp0 += z1 + z3
	tmp1 += z2 + z4
	tmp2 += z2 + z3
	tmp3 += z1 + z4

	return [8]int64{tmp10 + tmp3, tmp11 + tmp2, tmp12 + tmp1, tmp13 + tmp0,
		tmp13 - tmp0, tmp12 - tmp1, tmp11 - tmp2, tmp10 - tmp3}
}

// idctToBytes is libjpeg's jpeg_idct_islow: columns first, kept with
// pass1Bits extra bits (truncated to int as libjpeg's workspace is), then
// rows, descaled and range-limited to bytes written to dst.
func idctToBytes(b *block, dst []byte, stride int) {
	var ws [blockSize]int32
	var v [8]int64
	for col := 0; col < 8; col++ {
		for k := range v {
			v[k] = int64(b[k*8+col])
		}
		out := idct1D(&v)
		for k, o := range out {
			ws[k*8+col] = int32(descale(o, constBits-pass1Bits))
		}
	}
	for row := 0; row < 8; row++ {
		for k := range v {
			v[k] = int64(ws[row*8+k])
		}
		out := idct1D(&v)
		d := dst[row*stride : row*stride+8]
		for k, o := range out {
			d[k] = rangeLimit[descale(o, constBits+pass1Bits+3)&1023]
		}
	}
}
