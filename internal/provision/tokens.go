package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/pkg/spec"
)

// launchKey identifies a launch by what it starts from: the machines of the
// role seen alive, the target count, and a 15-minute time bucket. A run
// that crashed after a launch call but before the machines were visible
// computes the same key on retry, so its tokens return the machines that
// call made instead of making more. Once the machines are visible the
// observation, and so the key, differs; the bucket keeps a token from
// returning machines of a long-gone launch that started from the same state.
func (e *Engine) launchKey(obs observation, role spec.Role, target int) string {
	ids := []string{}
	for _, m := range obs.live(role) {
		ids = append(ids, m.ID)
	}
	sort.Strings(ids)
	return fmt.Sprintf("%s/%d/%d", strings.Join(ids, ","), target, e.Now().Unix()/900)
}

// offeringsKey identifies a list of offerings, so a launch whose offerings
// changed (the unavailable set moved on) gets a new token: EC2 refuses a
// ClientToken reused with other parameters (IdempotentParameterMismatch).
func offeringsKey(offs []plan.Offering) string {
	var b strings.Builder
	for _, o := range offs {
		fmt.Fprintf(&b, "%s/%s/%s/%s;", o.InstanceType, o.Region, o.Zone, o.Capacity)
	}
	return shortHash(b.String())
}

// token is a launch call's idempotency token: [a-z0-9-], at most 52
// characters.
func token(c *spec.Cluster, g plan.Group, key string, attempt, i int) string {
	r := "w"
	if g.Role == spec.RoleHead {
		r = "h"
	}
	k := fmt.Sprintf("%s/%s/%s/%s/%s/%d/%d", c.Name, c.Hash(), g.Role, g.Capacity, key, attempt, i)
	return c.Name + "-" + r + "-" + shortHash(k)
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}
