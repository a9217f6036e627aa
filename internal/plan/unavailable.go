package plan

import (
	"sort"
	"time"

	"github.com/burstdev/burst/internal/catalog"
)

// DefaultUnavailableTTL is how long a capacity error keeps an offering out of
// plans (Karpenter uses three minutes for its unavailable-offerings cache).
const DefaultUnavailableTTL = 3 * time.Minute

// Key names a scope that can be marked unavailable. Empty fields are
// wildcards, which gives the failover scopes: {Provider, Type, Zone} is a
// zone stock-out, {Provider, Region} a regional quota, {Provider} an auth
// failure that blocks the whole cloud.
type Key struct {
	Provider     string           `json:"provider"`
	InstanceType string           `json:"instance_type,omitempty"`
	Region       string           `json:"region,omitempty"`
	Zone         string           `json:"zone,omitempty"`
	Capacity     catalog.Capacity `json:"capacity,omitempty"`
}

func (k Key) covers(o Key) bool {
	return (k.Provider == "" || k.Provider == o.Provider) &&
		(k.InstanceType == "" || k.InstanceType == o.InstanceType) &&
		(k.Region == "" || k.Region == o.Region) &&
		(k.Zone == "" || k.Zone == o.Zone) &&
		(k.Capacity == "" || k.Capacity == o.Capacity)
}

// Unavailable is a set of scopes known to be out of capacity or quota, each
// until an expiry time. The zero value is empty and ready to use. It is not
// safe for concurrent use.
type Unavailable struct {
	Entries []UnavailableEntry `json:"entries"`
}

// UnavailableEntry is one marked scope.
type UnavailableEntry struct {
	Key    Key       `json:"key"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
}

// Mark records k as unavailable until until, replacing an earlier entry.
func (u *Unavailable) Mark(k Key, until time.Time, reason string) {
	for i := range u.Entries {
		if u.Entries[i].Key == k {
			u.Entries[i].Until, u.Entries[i].Reason = until, reason
			return
		}
	}
	u.Entries = append(u.Entries, UnavailableEntry{Key: k, Until: until, Reason: reason})
}

// Blocked reports whether offering key o is covered by an unexpired entry.
// An offering with an empty zone is blocked only by entries that do not name
// a zone: a stock-out in one zone does not rule out the rest of the region.
func (u *Unavailable) Blocked(o Key, now time.Time) bool {
	if u == nil {
		return false
	}
	for _, e := range u.Entries {
		if now.Before(e.Until) && e.Key.covers(o) {
			return true
		}
	}
	return false
}

// Prune drops expired entries and sorts the rest, so the persisted file
// stays small and stable.
func (u *Unavailable) Prune(now time.Time) {
	kept := u.Entries[:0]
	for _, e := range u.Entries {
		if now.Before(e.Until) {
			kept = append(kept, e)
		}
	}
	u.Entries = kept
	sort.Slice(u.Entries, func(i, j int) bool { return u.Entries[i].Until.Before(u.Entries[j].Until) })
}
