// Command resize-icon writes a square PNG icon at another size (Catmull-Rom),
// and optionally a Windows .ico holding several sizes. The packaging scripts
// use it so that packaging needs no image tools beyond Go.
//
//	resize-icon IN.png SIZE OUT.png
//	resize-icon IN.png ico OUT.ico
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"os"
	"strconv"

	"golang.org/x/image/draw"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: resize-icon IN.png SIZE|ico OUT")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "resize-icon:", err)
		os.Exit(1)
	}
}

func run(in, size, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		return err
	}
	if size == "ico" {
		return os.WriteFile(out, ico(src, []int{16, 24, 32, 48, 64, 128, 256}), 0o644)
	}
	n, err := strconv.Atoi(size)
	if err != nil || n <= 0 {
		return fmt.Errorf("bad size %q", size)
	}
	return os.WriteFile(out, encode(resize(src, n)), 0o644)
}

func resize(src image.Image, n int) image.Image {
	dst := image.NewNRGBA(image.Rect(0, 0, n, n))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	return dst
}

func encode(m image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		panic(err) // encoding to memory cannot fail
	}
	return b.Bytes()
}

// ico builds an ICO file whose entries are PNG images (valid since Vista).
func ico(src image.Image, sizes []int) []byte {
	var hdr, body bytes.Buffer
	binary.Write(&hdr, binary.LittleEndian, [3]uint16{0, 1, uint16(len(sizes))})
	offset := 6 + 16*len(sizes)
	for _, s := range sizes {
		p := encode(resize(src, s))
		dim := byte(s)
		if s >= 256 {
			dim = 0 // 0 means 256 in ICONDIRENTRY
		}
		hdr.Write([]byte{dim, dim, 0, 0})
		binary.Write(&hdr, binary.LittleEndian, [2]uint16{1, 32})
		binary.Write(&hdr, binary.LittleEndian, [2]uint32{uint32(len(p)), uint32(offset)})
		offset += len(p)
		body.Write(p)
	}
	return append(hdr.Bytes(), body.Bytes()...)
}
