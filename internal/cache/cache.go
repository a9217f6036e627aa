package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/pkg/spec"
)

// Dir is a cache directory pair: state (cluster specs) and cache
// (unavailable offerings, catalogs).
type Dir struct {
	State string
	Cache string
}

func (d Dir) specPath(name string) string {
	return filepath.Join(d.State, "clusters", name+".json")
}

// SaveSpec remembers a cluster's spec.
func (d Dir) SaveSpec(c *spec.Cluster) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(d.specPath(c.Name), b)
}

// LoadSpec returns the remembered spec of a cluster, or nil if there is
// none. A corrupt file counts as none.
func (d Dir) LoadSpec(name string) (*spec.Cluster, error) {
	b, err := os.ReadFile(d.specPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c spec.Cluster
	if json.Unmarshal(b, &c) != nil || c.Name != name {
		return nil, nil
	}
	return &c, nil
}

// RemoveSpec forgets a cluster: its spec and its sites.
func (d Dir) RemoveSpec(name string) error {
	for _, p := range []string{d.specPath(name), d.sitesPath(name)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (d Dir) unavailablePath() string { return filepath.Join(d.Cache, "unavailable.json") }

// LoadUnavailable returns the unexpired unavailable offerings.
func (d Dir) LoadUnavailable(now time.Time) *plan.Unavailable {
	u := &plan.Unavailable{}
	if b, err := os.ReadFile(d.unavailablePath()); err == nil {
		_ = json.Unmarshal(b, u)
	}
	u.Prune(now)
	return u
}

// SaveUnavailable writes the unavailable offerings, pruned.
func (d Dir) SaveUnavailable(u *plan.Unavailable, now time.Time) error {
	u.Prune(now)
	b, err := json.MarshalIndent(u, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(d.unavailablePath(), b)
}

// writeFile writes atomically: a crash never leaves half a file.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cache: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

func (d Dir) sitesPath(name string) string {
	return filepath.Join(d.State, "clusters", name+".sites.json")
}

// AddSites remembers that a cluster has machines on these providers'
// regions, so later runs look there (AWS lists one region per call).
func (d Dir) AddSites(name string, sites map[string][]string) error {
	known := d.Sites(name)
	for p, rs := range sites {
		for _, r := range rs {
			if r != "" && !slices.Contains(known[p], r) {
				known[p] = append(known[p], r)
			}
		}
	}
	b, err := json.MarshalIndent(known, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(d.sitesPath(name), b)
}

// Sites returns the remembered regions of a cluster by provider (empty if
// none are known).
func (d Dir) Sites(name string) map[string][]string {
	out := map[string][]string{}
	if b, err := os.ReadFile(d.sitesPath(name)); err == nil {
		_ = json.Unmarshal(b, &out)
	}
	return out
}
