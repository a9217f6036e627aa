package azure

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Kinds of the resources Resources lists.
const (
	// KindResourceGroup is a cluster's resource group in a location: it
	// holds everything burst made for the cluster there (network, NSG,
	// identity, scale sets, VMs, their NICs, disks and addresses), and the
	// identity's role assignment is scoped to it.
	KindResourceGroup = "resource-group"
	// KindSSHKey is a cluster's SSH key in burst's data dir, listed when
	// the cluster has no resource group left in the subscription.
	KindSSHKey = "ssh-key"
)

var _ provider.Collector = (*Provider)(nil)

// Resources implements provider.Collector. Everything burst creates on
// Azure lives in a cluster's resource group, so the groups are the
// resources: one subscription-wide list of the groups tagged
// burst-cluster (with the filter's cluster as the tag's value), kept to
// the filter's locations (all with none named, or with AllRegions). Groups
// being deleted are left out: Azure is already removing them. A group is
// dated by its burst-created tag, which burst writes in the PUT that makes
// the group and again each time it prepares the cluster; a group without
// one is dated by its managed identity's creation (made right after the
// group), and one with neither by the time of the listing, so gc leaves
// what it cannot date alone.
//
// It also lists the SSH keys in burst's data dir of clusters that have no
// group left in this subscription (Region "", dated by when burst last
// used them): a key whose cluster's groups went outside burst.
func (p *Provider) Resources(ctx context.Context, f provider.Filter) ([]provider.Resource, error) {
	if err := p.init(); err != nil {
		return nil, err
	}
	groups, err := p.clusterGroups(ctx, f.Cluster, nil)
	if err != nil {
		return nil, err
	}
	regions := filterRegions(f)
	withGroups := map[string]bool{}
	var keep []*armresources.ResourceGroup
	for _, g := range groups {
		cluster := deref(g.Tags[provider.TagCluster])
		if spec.ValidateName(cluster) != nil {
			continue // not a tag burst wrote
		}
		withGroups[cluster] = true
		if g.Properties != nil && strings.EqualFold(deref(g.Properties.ProvisioningState), "Deleting") {
			continue
		}
		if len(regions) > 0 && !slices.Contains(regions, *g.Location) {
			continue
		}
		keep = append(keep, g)
	}
	out := make([]provider.Resource, len(keep))
	errs := make([]error, len(keep))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, g := range keep {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cluster := deref(g.Tags[provider.TagCluster])
			created, err := p.groupCreated(ctx, g, cluster)
			tags := map[string]string{}
			for k, v := range g.Tags {
				tags[k] = deref(v)
			}
			out[i] = provider.Resource{Kind: KindResourceGroup, ID: *g.Name, Name: *g.Name, Provider: Name,
				Region: *g.Location, Cluster: cluster, CreatedAt: created, Tags: tags}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	keys, err := p.orphanKeys(f.Cluster, withGroups)
	if err != nil {
		return nil, err
	}
	out = append(out, keys...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Kind+out[i].ID < out[j].Kind+out[j].ID
	})
	return out, nil
}

// groupCreated dates a group: its burst-created tag, else its identity's
// creation time, else now.
func (p *Provider) groupCreated(ctx context.Context, g *armresources.ResourceGroup, cluster string) (time.Time, error) {
	if v, err := strconv.ParseInt(deref(g.Tags[provider.TagCreated]), 10, 64); err == nil && v > 0 {
		return time.Unix(v, 0), nil
	}
	id, err := p.c.ids.Get(ctx, *g.Name, identityName(cluster), nil)
	switch {
	case isNotFound(err):
	case err != nil:
		return time.Time{}, classify("UserAssignedIdentities.Get", err)
	case id.SystemData != nil && id.SystemData.CreatedAt != nil:
		return *id.SystemData.CreatedAt, nil
	}
	return p.opts.Now(), nil
}

// orphanKeys lists the SSH keys in the data dir of clusters (all, or the
// named one) with no group in the subscription, for the subscription gc
// looks at only.
func (p *Provider) orphanKeys(cluster string, withGroups map[string]bool) ([]provider.Resource, error) {
	if p.opts.DataDir == "" {
		return nil, nil
	}
	root := filepath.Join(p.opts.DataDir, "azure")
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("azure: listing SSH keys: %w", err)
	}
	var out []provider.Resource
	for _, e := range entries {
		c := e.Name()
		if !e.IsDir() || spec.ValidateName(c) != nil || (cluster != "" && c != cluster) || withGroups[c] {
			continue
		}
		dir := filepath.Join(root, c)
		b, err := os.ReadFile(filepath.Join(dir, keyMark))
		if err != nil || strings.TrimSpace(string(b)) != p.sub {
			continue // another subscription's, or a key from before burst marked them
		}
		fi, err := os.Stat(filepath.Join(dir, keyMark))
		if err != nil {
			continue
		}
		out = append(out, provider.Resource{Kind: KindSSHKey, ID: filepath.Join(dir, "id_ed25519"), Name: "id_ed25519",
			Provider: Name, Cluster: c, CreatedAt: fi.ModTime()})
	}
	return out, nil
}

// DeleteResources implements provider.Collector. Resource groups are
// deleted as down deletes them (deleteGroup: the role assignment, then the
// group, waiting until it is gone, retrying while something blocks the
// delete, until ctx ends), up to eight at once. A cluster's SSH key goes
// once no group of the cluster is left in the subscription. Already-gone
// resources are not an error.
func (p *Provider) DeleteResources(ctx context.Context, rs []provider.Resource) error {
	if len(rs) == 0 {
		return nil
	}
	if err := p.init(); err != nil {
		return err
	}
	byCluster := map[string][]string{}
	var clusters []string
	for _, r := range rs {
		if r.Provider != "" && r.Provider != Name {
			return provider.Errorf(provider.ErrInvalid, provider.ScopeProvider, "azure: %s %s belongs to %s", r.Kind, r.ID, r.Provider)
		}
		if spec.ValidateName(r.Cluster) != nil {
			return provider.Errorf(provider.ErrInvalid, provider.ScopeProvider, "azure: %s %s names no valid cluster (%q)", r.Kind, r.ID, r.Cluster)
		}
		if _, ok := byCluster[r.Cluster]; !ok {
			clusters = append(clusters, r.Cluster)
			byCluster[r.Cluster] = nil
		}
		switch r.Kind {
		case KindResourceGroup:
			byCluster[r.Cluster] = append(byCluster[r.Cluster], r.ID)
		case KindSSHKey:
		default:
			return provider.Errorf(provider.ErrInvalid, provider.ScopeProvider, "azure: cannot delete a %s", r.Kind)
		}
	}
	errs := make([]error, len(clusters))
	sem := make(chan struct{}, 4) // clusters at once, each up to 8 groups
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := p.deleteGroups(ctx, c, byCluster[c], nil); err != nil {
				errs[i] = err
				return
			}
			left, err := p.clusterGroups(ctx, c, nil)
			if err != nil {
				errs[i] = err
				return
			}
			if len(left) == 0 {
				errs[i] = p.forgetKey(c)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
