package plan

import (
	"runtime"
	"sync"
	"weak"

	"github.com/burstdev/burst/internal/catalog"
)

// index is a planner's view of a catalog built once per catalog: sites
// numbered, and every type's offerings as small flat records, so that a
// plan scans tens of thousands of offerings without hashing a string.
type index struct {
	// identity of the indexed catalog, checked on every use so a catalog
	// changed after indexing is indexed again.
	n     int
	first *catalog.Type

	sites  []Site
	siteID map[Site]int32
	// od[i] and spot[i] are the on-demand and spot offerings of
	// cat.Types[i], in the catalog's order; both[i] is the two together.
	od, spot, both [][]ioff
}

type ioff struct {
	site  int32
	i     int32 // index into the type's Offerings
	price float64
	spot  bool
	zoned bool // the offering names a zone
}

var indexes sync.Map // weak.Pointer[catalog.Catalog] -> *index

// indexOf returns the index of cat, building it on first use. Indexes are
// dropped with their catalog.
func indexOf(cat *catalog.Catalog) *index {
	key := weak.Make(cat)
	if v, ok := indexes.Load(key); ok {
		ix := v.(*index)
		if ix.matches(cat) {
			return ix
		}
	}
	ix := buildIndex(cat)
	if _, loaded := indexes.Swap(key, ix); !loaded {
		runtime.AddCleanup(cat, func(k weak.Pointer[catalog.Catalog]) { indexes.Delete(k) }, key)
	}
	return ix
}

func (ix *index) matches(cat *catalog.Catalog) bool {
	if ix.n != len(cat.Types) {
		return false
	}
	return ix.n == 0 || ix.first == &cat.Types[0]
}

func buildIndex(cat *catalog.Catalog) *index {
	ix := &index{n: len(cat.Types), siteID: map[Site]int32{}, od: make([][]ioff, len(cat.Types)), spot: make([][]ioff, len(cat.Types)), both: make([][]ioff, len(cat.Types))}
	if ix.n > 0 {
		ix.first = &cat.Types[0]
	}
	total := 0
	for i := range cat.Types {
		total += len(cat.Types[i].Offerings)
	}
	all := make([]ioff, 0, total)
	var spots []ioff
	for i := range cat.Types {
		t := &cat.Types[i]
		start := len(all)
		spots = spots[:0]
		var lastRegion string
		var lastID int32 = -1
		for j := range t.Offerings {
			o := &t.Offerings[j]
			if lastID < 0 || o.Region != lastRegion {
				s := Site{Provider: t.Provider, Region: o.Region}
				id, ok := ix.siteID[s]
				if !ok {
					id = int32(len(ix.sites))
					ix.sites = append(ix.sites, s)
					ix.siteID[s] = id
				}
				lastRegion, lastID = o.Region, id
			}
			r := ioff{site: lastID, i: int32(j), price: o.Price, spot: o.Capacity == catalog.Spot, zoned: o.Zone != ""}
			if r.spot {
				spots = append(spots, r)
			} else {
				all = append(all, r)
			}
		}
		odEnd := len(all)
		all = append(all, spots...)
		ix.od[i] = all[start:odEnd:odEnd]
		ix.spot[i] = all[odEnd:len(all):len(all)]
		ix.both[i] = all[start:len(all):len(all)]
	}
	return ix
}
