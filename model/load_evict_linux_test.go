//go:build linux

package model

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"glimpse/checkpoint/safetensors"
	"glimpse/compute/cpu"
)

// TestLoadEvictsCheckpointPages checks that converting a checkpoint lets
// every tensor's mapped pages go once its float32 copy is made: at the last
// progress report, with the checkpoint still open, no whole page of any
// tensor is in the process's page table (/proc/self/pagemap). The fixture
// is rewritten with each tensor page-aligned and 1 MiB apart, so that the
// kernel's mapping of a touched page's cached neighbours (fault-around,
// 64 KiB by default) cannot bring one tensor's pages back while the next is
// read. The header page, read when the file was opened, must be mapped:
// that shows the page table is read right.
func TestLoadEvictsCheckpointPages(t *testing.T) {
	page := int64(os.Getpagesize())
	const gap = 1 << 20
	dir := rewriteCheckpoint(t, func(map[string][]float32, map[string][]int) {})
	path := filepath.Join(dir, safetensors.SingleFileName)

	// Lay the tensors out again, page-aligned and spaced.
	src, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	names := src.Names()
	type span struct{ begin, end int64 } // in the data area
	spans := map[string]span{}
	hdr := map[string]any{}
	var off int64
	for _, name := range names {
		info, _ := src.Info(name)
		spans[name] = span{off, off + info.Size}
		hdr[name] = map[string]any{"dtype": "F32", "shape": info.Shape, "data_offsets": []int64{off, off + info.Size}}
		off += (info.Size+page-1)/page*page + gap
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	dataStart := (8 + int64(len(js)) + page - 1) / page * page
	js = append(js, strings.Repeat(" ", int(dataStart-8-int64(len(js))))...)
	raw := map[string][]byte{}
	for _, name := range names {
		b, err := src.Raw(name)
		if err != nil {
			t.Fatal(err)
		}
		raw[name] = append([]byte(nil), b...)
	}
	src.Close()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(js)))
	if _, err := out.Write(append(n[:], js...)); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if _, err := out.WriteAt(raw[name], dataStart+spans[name].begin); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Truncate(dataStart + off); err != nil { // the gaps stay holes
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	withWholePages := 0
	for _, s := range spans {
		if (dataStart+s.end)/page > (dataStart+s.begin+page-1)/page {
			withWholePages++
		}
	}
	if withWholePages < 10 {
		t.Fatalf("only %d tensors span a whole page", withWholePages)
	}

	be := cpu.New()
	defer be.Close()
	checked := false
	m, err := Load(context.Background(), be, dir, LoadOptions{Progress: func(p LoadProgress) {
		if p.Tensors != p.TotalTensors {
			return
		}
		checked = true
		base := mappingOf(t, path)
		present := func(p int64) bool { return pagePresent(t, base+uintptr(p*page)) }
		if !present(0) {
			t.Errorf("the header page is not mapped: the page table is not read right")
		}
		var left []string
		for _, name := range names {
			s := spans[name]
			for p := (dataStart + s.begin + page - 1) / page; (p+1)*page <= dataStart+s.end; p++ {
				if present(p) {
					left = append(left, fmt.Sprintf("%s (page %d)", name, p))
					break
				}
			}
		}
		sort.Strings(left)
		if len(left) > 0 {
			t.Errorf("after loading, %d tensors still have mapped pages: %s", len(left), strings.Join(left[:min(3, len(left))], ", "))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if !checked {
		t.Fatal("no progress report for the last tensor")
	}
}

// mappingOf returns the address where the process maps the file at path.
func mappingOf(t *testing.T, path string) uintptr {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 6 && fields[5] == path && fields[2] == "00000000" {
			start, _, _ := strings.Cut(fields[0], "-")
			a, err := strconv.ParseUint(start, 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return uintptr(a)
		}
	}
	t.Fatalf("%s is not mapped", path)
	return 0
}

// pagePresent reports whether the page at addr is in the process's page
// table (bit 63 of its /proc/self/pagemap entry).
func pagePresent(t *testing.T, addr uintptr) bool {
	t.Helper()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	var b [8]byte
	if _, err := pm.ReadAt(b[:], int64(addr/uintptr(os.Getpagesize())*8)); err != nil {
		t.Fatal(err)
	}
	return binary.LittleEndian.Uint64(b[:])&(1<<63) != 0
}
