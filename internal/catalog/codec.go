package catalog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"
)

// The binary catalog format. The embedded snapshot and the refresh cache
// both use it: a catalog of tens of thousands of offerings decodes in about
// a millisecond, where JSON takes tens (see docs/design/planner.md).
//
//	magic "BCAT" version(1)
//	date(varint unix s) source(str) provider(str)
//	strings: n, n x str            (regions, zones, families, GPU models)
//	zones:   n, n x (region, k, k x zone)        indexes into strings
//	types:   n, total offerings, n x type
//	type:    name(str) family gpuModel(idx) vcpus memMiB gpus gpuMemMiB(uvarint)
//	         arch(byte) flags(byte) generation(uvarint)
//	         offerings: k, k x (region<<1|spot, zone+1 or 0, price µ$/h)
//
// Integers are unsigned varints, strings a length and bytes. A catalog with
// several providers is written as one block per provider.
const (
	codecMagic   = "BCAT"
	codecVersion = 1
)

const (
	flagBurstable = 1 << iota
	flagExotic
)

// ErrFormat is a malformed binary catalog.
var ErrFormat = errors.New("catalog: malformed binary catalog")

// Encode writes c in the binary format. Types are written in their order;
// Decode gives them back in the same order. Prices are kept to a millionth
// of a dollar and memory to a MiB.
func Encode(w io.Writer, c *Catalog) error {
	bw := bufio.NewWriter(w)
	byProvider := map[string][]int{}
	var providers []string
	for i, t := range c.Types {
		if _, ok := byProvider[t.Provider]; !ok {
			providers = append(providers, t.Provider)
		}
		byProvider[t.Provider] = append(byProvider[t.Provider], i)
	}
	if len(providers) == 0 {
		providers = []string{""}
	}
	for _, p := range providers {
		if err := encodeBlock(bw, c, p, byProvider[p]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

type encoder struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
	err error
}

func (e *encoder) uvarint(v uint64) {
	if e.err == nil {
		n := binary.PutUvarint(e.buf[:], v)
		_, e.err = e.w.Write(e.buf[:n])
	}
}

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	if e.err == nil {
		_, e.err = e.w.WriteString(s)
	}
}

func (e *encoder) byte(b byte) {
	if e.err == nil {
		e.err = e.w.WriteByte(b)
	}
}

func encodeBlock(w *bufio.Writer, c *Catalog, provider string, idx []int) error {
	e := &encoder{w: w}
	e.str(codecMagic)
	e.byte(codecVersion)
	e.uvarint(uint64(max(c.Date.Unix(), 0)))
	e.str(c.Source)
	e.str(provider)

	// The string table: every region, zone, family and GPU model, sorted
	// so that the same catalog always encodes to the same bytes.
	set := map[string]bool{"": true}
	regions := map[string]bool{}
	for _, i := range idx {
		t := &c.Types[i]
		set[t.Family], set[t.GPUModel] = true, true
		for _, o := range t.Offerings {
			set[o.Region], set[o.Zone] = true, true
			regions[o.Region] = true
		}
	}
	var zoneRegions []string
	for r, zs := range c.Zones {
		if !regions[r] && len(idx) > 0 {
			continue // another provider's region
		}
		zoneRegions = append(zoneRegions, r)
		set[r] = true
		for _, z := range zs {
			set[z] = true
		}
	}
	sort.Strings(zoneRegions)
	table := make([]string, 0, len(set))
	for s := range set {
		table = append(table, s)
	}
	sort.Strings(table)
	pos := make(map[string]uint64, len(table))
	for i, s := range table {
		pos[s] = uint64(i)
	}
	e.uvarint(uint64(len(table)))
	for _, s := range table {
		e.str(s)
	}
	e.uvarint(uint64(len(zoneRegions)))
	for _, r := range zoneRegions {
		e.uvarint(pos[r])
		e.uvarint(uint64(len(c.Zones[r])))
		for _, z := range c.Zones[r] {
			e.uvarint(pos[z])
		}
	}
	e.uvarint(uint64(len(idx)))
	total := 0
	for _, i := range idx {
		total += len(c.Types[i].Offerings)
	}
	e.uvarint(uint64(total))
	for _, i := range idx {
		t := &c.Types[i]
		e.str(t.Name)
		e.uvarint(pos[t.Family])
		e.uvarint(pos[t.GPUModel])
		e.uvarint(uint64(max(t.VCPUs, 0)))
		e.uvarint(toMiB(t.MemoryGiB))
		e.uvarint(uint64(max(t.GPUs, 0)))
		e.uvarint(toMiB(t.GPUMemoryGiB))
		switch t.Arch {
		case "arm64":
			e.byte(1)
		default:
			e.byte(0)
		}
		var flags byte
		if t.Burstable {
			flags |= flagBurstable
		}
		if t.Exotic {
			flags |= flagExotic
		}
		e.byte(flags)
		e.uvarint(uint64(max(t.Generation, 0)))
		e.uvarint(uint64(len(t.Offerings)))
		for _, o := range t.Offerings {
			r := pos[o.Region] << 1
			if o.Capacity == Spot {
				r |= 1
			}
			e.uvarint(r)
			if o.Zone == "" {
				e.uvarint(0)
			} else {
				e.uvarint(pos[o.Zone] + 1)
			}
			e.uvarint(uint64(math.Round(max(o.Price, 0) * 1e6)))
		}
	}
	return e.err
}

func toMiB(gib float64) uint64 { return uint64(math.Round(max(gib, 0) * 1024)) }

// Decode reads a catalog written by Encode. Offerings of all types share one
// backing array and strings are shared, so decoding allocates little.
func Decode(b []byte) (*Catalog, error) {
	c := &Catalog{Zones: map[string][]string{}}
	d := &decoder{b: b}
	first := true
	for d.off < len(d.b) {
		if err := d.block(c, first); err != nil {
			return nil, err
		}
		first = false
	}
	if first {
		return nil, ErrFormat
	}
	return c, nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.err = ErrFormat
		return 0
	}
	d.off += n
	return v
}

// count reads a length that must fit in what is left of the input, so a
// corrupt file cannot make the decoder allocate gigabytes.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)-d.off) {
		d.err = ErrFormat
		return 0
	}
	return int(v)
}

func (d *decoder) str() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s
}

func (d *decoder) byte() byte {
	if d.err != nil || d.off >= len(d.b) {
		d.err = ErrFormat
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *decoder) block(c *Catalog, first bool) error {
	if d.str() != codecMagic || d.byte() != codecVersion {
		return ErrFormat
	}
	date := time.Unix(int64(d.uvarint()), 0).UTC()
	source := d.str()
	provider := d.str()
	if first || date.Before(c.Date) {
		c.Date = date
	}
	if first {
		c.Source = source
	}
	table := make([]string, d.count())
	for i := range table {
		table[i] = d.str()
	}
	at := func(i uint64) string {
		if i >= uint64(len(table)) {
			d.err = ErrFormat
			return ""
		}
		return table[i]
	}
	nz := d.count()
	for i := 0; i < nz && d.err == nil; i++ {
		r := at(d.uvarint())
		zs := make([]string, d.count())
		for j := range zs {
			zs[j] = at(d.uvarint())
		}
		c.Zones[r] = zs
	}
	nt := d.count()
	types := make([]Type, nt)
	// Offerings take at least three bytes each: a total beyond that is a
	// corrupt file, not an allocation to make.
	total := d.uvarint()
	if total > uint64(len(d.b)-d.off)/3 {
		return ErrFormat
	}
	offs := make([]Offering, 0, total)
	for i := 0; i < nt && d.err == nil; i++ {
		t := &types[i]
		t.Provider = provider
		t.Name = d.str()
		t.Family = at(d.uvarint())
		t.GPUModel = at(d.uvarint())
		t.VCPUs = int(d.uvarint())
		t.MemoryGiB = float64(d.uvarint()) / 1024
		t.GPUs = int(d.uvarint())
		t.GPUMemoryGiB = float64(d.uvarint()) / 1024
		t.Arch = "x86_64"
		if d.byte() == 1 {
			t.Arch = "arm64"
		}
		flags := d.byte()
		t.Burstable = flags&flagBurstable != 0
		t.Exotic = flags&flagExotic != 0
		t.Generation = int(d.uvarint())
		n := d.count()
		start := len(offs)
		for j := 0; j < n && d.err == nil; j++ {
			r := d.uvarint()
			o := Offering{Region: at(r >> 1), Capacity: OnDemand}
			if r&1 == 1 {
				o.Capacity = Spot
			}
			if z := d.uvarint(); z > 0 {
				o.Zone = at(z - 1)
			}
			o.Price = float64(d.uvarint()) / 1e6
			offs = append(offs, o)
		}
		t.Offerings = offs[start:len(offs):len(offs)]
	}
	if d.err != nil {
		return fmt.Errorf("%w (at byte %d)", d.err, d.off)
	}
	c.Types = append(c.Types, types...)
	return nil
}
