package imageproc

import (
	"bytes"
	"encoding/binary"
)

// Orientation values of the EXIF/TIFF Orientation tag (0x0112): how the
// stored pixels must be transformed to show the picture upright.
const (
	OrientNormal     = 1
	OrientFlipH      = 2 // mirrored left-right
	OrientRotate180  = 3
	OrientFlipV      = 4 // mirrored top-bottom
	OrientTranspose  = 5 // mirrored along the top-left–bottom-right diagonal
	OrientRotate90   = 6 // needs a 90° clockwise turn
	OrientTransverse = 7 // mirrored along the other diagonal
	OrientRotate270  = 8 // needs a 90° counter-clockwise turn
)

// Orientation finds the EXIF orientation in an encoded JPEG, TIFF, PNG
// (eXIf chunk) or WebP (EXIF chunk) file. It returns OrientNormal when
// there is none or the metadata is malformed: a broken tag must not stop
// an image from loading.
func Orientation(data []byte) int {
	var tiff []byte
	switch {
	case len(data) > 3 && data[0] == 0xff && data[1] == 0xd8:
		tiff = jpegExif(data)
	case len(data) > 8 && (string(data[:4]) == "II*\x00" || string(data[:4]) == "MM\x00*"):
		tiff = data
	case len(data) > 8 && string(data[:8]) == "\x89PNG\r\n\x1a\n":
		tiff = pngExif(data)
	case len(data) > 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		tiff = webpExif(data)
	}
	if o := tiffOrientation(tiff); o >= 1 && o <= 8 {
		return o
	}
	return OrientNormal
}

// jpegExif walks the JPEG markers up to the first scan and returns the
// TIFF structure of the first APP1 "Exif" segment.
func jpegExif(d []byte) []byte {
	i := 2
	for i+4 <= len(d) {
		if d[i] != 0xff {
			return nil
		}
		marker := d[i+1]
		if marker == 0xff { // fill byte
			i++
			continue
		}
		if marker == 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker == 0x01 {
			i += 2
			continue
		}
		if marker == 0xda || marker == 0xd9 { // start of scan, end of image
			return nil
		}
		n := int(binary.BigEndian.Uint16(d[i+2:]))
		if n < 2 || i+2+n > len(d) {
			return nil
		}
		seg := d[i+4 : i+2+n]
		if marker == 0xe1 && len(seg) > 6 && string(seg[:6]) == "Exif\x00\x00" {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// pngExif returns the payload of the eXIf chunk, if any before the image data.
func pngExif(d []byte) []byte {
	i := 8
	for i+8 <= len(d) {
		n := int(binary.BigEndian.Uint32(d[i:]))
		typ := string(d[i+4 : i+8])
		if n < 0 || i+12+n > len(d) {
			return nil
		}
		if typ == "eXIf" {
			return d[i+8 : i+8+n]
		}
		if typ == "IDAT" || typ == "IEND" {
			return nil
		}
		i += 12 + n
	}
	return nil
}

// webpExif returns the payload of the RIFF "EXIF" chunk.
func webpExif(d []byte) []byte {
	i := 12
	for i+8 <= len(d) {
		n := int(binary.LittleEndian.Uint32(d[i+4:]))
		if n < 0 || i+8+n > len(d) {
			return nil
		}
		if string(d[i:i+4]) == "EXIF" {
			p := d[i+8 : i+8+n]
			// Some writers keep JPEG's "Exif\0\0" prefix.
			return bytes.TrimPrefix(p, []byte("Exif\x00\x00"))
		}
		i += 8 + n + n&1 // chunks are padded to even sizes
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure; 0 when
// absent or unreadable.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	ifd := int64(bo.Uint32(t[4:]))
	if ifd < 8 || ifd+2 > int64(len(t)) {
		return 0
	}
	n := int(bo.Uint16(t[ifd:]))
	for k := 0; k < n; k++ {
		e := ifd + 2 + int64(k)*12
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		typ, count := bo.Uint16(t[e+2:]), bo.Uint32(t[e+4:])
		if count < 1 {
			return 0
		}
		switch typ {
		case 3: // SHORT, stored in the first two bytes of the value field
			return int(bo.Uint16(t[e+8:]))
		case 4: // LONG, tolerated from sloppy writers
			return int(bo.Uint32(t[e+8:]))
		}
		return 0
	}
	return 0
}

// Orient returns img transformed so that it displays upright according to
// an EXIF orientation value (1–8); other values return img unchanged.
func Orient(img *RGB, orientation int) *RGB {
	if orientation < 2 || orientation > 8 {
		return img
	}
	w, h := img.Width, img.Height
	ow, oh := w, h
	if orientation >= OrientTranspose {
		ow, oh = h, w
	}
	out := NewRGB(ow, oh)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch orientation {
			case OrientFlipH:
				dx, dy = w-1-x, y
			case OrientRotate180:
				dx, dy = w-1-x, h-1-y
			case OrientFlipV:
				dx, dy = x, h-1-y
			case OrientTranspose:
				dx, dy = y, x
			case OrientRotate90:
				dx, dy = h-1-y, x
			case OrientTransverse:
				dx, dy = h-1-y, w-1-x
			case OrientRotate270:
				dx, dy = y, w-1-x
			}
			copy(out.Pix[(dy*ow+dx)*3:(dy*ow+dx)*3+3], img.Pix[(y*w+x)*3:(y*w+x)*3+3])
		}
	}
	return out
}
