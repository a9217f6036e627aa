package catalog

import (
	"embed"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// The embedded snapshot: one binary catalog per cloud, built by
// `go run ./internal/catalog/gen` (see docs/design/planner.md for sources
// and dates). Each provider's file is decoded on first use only, so a plan
// on AWS never pays for decoding Azure.
//
//go:embed snapshot/*.bin
var snapshotFS embed.FS

var snapshots sync.Map // provider -> *snapshotEntry

type snapshotEntry struct {
	once sync.Once
	cat  *Catalog
	err  error
}

// EmbeddedProviders lists the providers the embedded snapshot covers.
func EmbeddedProviders() []string {
	ents, _ := snapshotFS.ReadDir("snapshot")
	var out []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".bin"); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// HasEmbedded reports whether the snapshot covers provider.
func HasEmbedded(provider string) bool {
	_, err := snapshotFS.Open("snapshot/" + provider + ".bin")
	return err == nil
}

// Embedded returns the embedded snapshot of one provider, decoded once per
// process. Callers must not modify it: it is shared.
func Embedded(provider string) (*Catalog, error) {
	v, _ := snapshots.LoadOrStore(provider, &snapshotEntry{})
	e := v.(*snapshotEntry)
	e.once.Do(func() {
		b, err := snapshotFS.ReadFile("snapshot/" + provider + ".bin")
		if err != nil {
			e.err = fmt.Errorf("catalog: no embedded snapshot for provider %q", provider)
			return
		}
		e.cat, e.err = Decode(b)
	})
	return e.cat, e.err
}

// EmbeddedAll returns the merged snapshot of every embedded provider.
func EmbeddedAll() (*Catalog, error) {
	var cs []*Catalog
	for _, p := range EmbeddedProviders() {
		c, err := Embedded(p)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return Merge(cs...), nil
}
