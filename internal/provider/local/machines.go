package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// Machines implements provider.Provider. A machine whose process group is
// gone but whose directory remains (killed without cleanup, host rebooted)
// is reported Terminated until Terminate removes its directory.
func (p *Provider) Machines(ctx context.Context, f provider.Filter) ([]provider.Machine, error) {
	if len(f.Regions) > 0 && !slices.Contains(f.Regions, Region) {
		return nil, nil
	}
	clusters := []string{f.Cluster}
	if f.Cluster == "" {
		entries, err := os.ReadDir(p.opts.Dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		clusters = nil
		for _, e := range entries {
			if e.IsDir() && e.Name()[0] != '.' {
				clusters = append(clusters, e.Name())
			}
		}
	}
	var out []provider.Machine
	for _, c := range clusters {
		ms, err := p.clusterMachines(c)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].LaunchedAt.Equal(out[j].LaunchedAt) {
			return out[i].LaunchedAt.Before(out[j].LaunchedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func (p *Provider) clusterMachines(cluster string) ([]provider.Machine, error) {
	dir := p.clusterDir(cluster)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []provider.Machine
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m, ok := readMeta(filepath.Join(dir, e.Name()))
		if !ok {
			// Being created or removed right now, or left half-made by a
			// burst that died: once past the start grace it is reported
			// terminated, so down and gc remove it.
			info, err := e.Info()
			if err != nil || p.opts.Now().Sub(info.ModTime()) < startGrace {
				continue
			}
			m = meta{ID: e.Name(), Cluster: cluster, Role: roleOfID(e.Name()), InstanceType: TypeName, LaunchedAt: info.ModTime()}
			out = append(out, m.machine(provider.Terminated))
			continue
		}
		out = append(out, m.machine(p.state(filepath.Join(dir, e.Name()), &m)))
	}
	return out, nil
}

func readMeta(dir string) (meta, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return meta{}, false
	}
	var m meta
	if json.Unmarshal(b, &m) != nil || m.ID == "" {
		return meta{}, false
	}
	return m, true
}

// alive reports whether the machine's process group lives and is still
// this machine's (a recycled PID would belong to another command line).
func (p *Provider) alive(dir string, pgid int) bool {
	if !groupAlive(pgid) {
		return false
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pgid), "cmdline"))
	if err != nil {
		return true // leader gone but group alive, or no /proc: trust the group
	}
	return bytes.Contains(cmdline, []byte(filepath.Join(dir, "bootstrap.sh")))
}

// startGrace is how long a machine may go without a known process group
// before it counts as never started (burst died between creating its
// directory and starting it).
const startGrace = 10 * time.Second

// roleOfID reads the role letter machineID puts in an ID.
func roleOfID(id string) spec.Role {
	if strings.Contains(id, "-h-") {
		return spec.RoleHead
	}
	return spec.RoleWorker
}

// state works out a machine's state, filling in m.PGID from the pgid file
// the machine's script writes when burst died before recording it.
func (p *Provider) state(dir string, m *meta) provider.State {
	if m.PGID == 0 {
		if b, err := os.ReadFile(filepath.Join(dir, "pgid")); err == nil {
			m.PGID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	switch {
	case m.PGID == 0 && p.opts.Now().Sub(m.LaunchedAt) < startGrace:
		return provider.Pending
	case m.PGID != 0 && p.alive(dir, m.PGID):
		return provider.Running
	}
	return provider.Terminated
}

func (p *Provider) machineByID(cluster, id string) provider.Machine {
	dir := filepath.Join(p.clusterDir(cluster), id)
	if m, ok := readMeta(dir); ok {
		return m.machine(p.state(dir, &m))
	}
	return provider.Machine{ID: id, Cluster: cluster, State: provider.Terminated, Provider: Name, Region: Region, Zone: Zone, InstanceType: TypeName}
}

func (p *Provider) liveCount() (int, error) {
	ms, err := p.Machines(context.Background(), provider.Filter{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		if m.State.Live() {
			n++
		}
	}
	return n, nil
}

// terminateGrace is how long Terminate lets machines shut down on SIGTERM
// before it kills them.
const terminateGrace = 15 * time.Second

// Terminate implements provider.Provider. It asks each machine's watchdog
// to stop (SIGTERM to the group), waits up to 15 seconds, kills what is
// left, and removes the directories. Unknown or gone machines are skipped.
func (p *Provider) Terminate(ctx context.Context, ms []provider.Machine) error {
	type target struct {
		dir  string
		pgid int
	}
	var targets []target
	for _, m := range ms {
		if m.Cluster == "" || m.ID == "" || filepath.Base(m.ID) != m.ID || filepath.Base(m.Cluster) != m.Cluster {
			continue
		}
		dir := filepath.Join(p.clusterDir(m.Cluster), m.ID)
		md, ok := readMeta(dir)
		if !ok {
			_ = os.RemoveAll(dir)
			continue
		}
		if p.state(dir, &md) != provider.Terminated && md.PGID != 0 {
			signalGroup(md.PGID, syscall.SIGTERM)
			targets = append(targets, target{dir, md.PGID})
		} else {
			_ = os.RemoveAll(dir)
		}
	}
	deadline := time.Now().Add(terminateGrace)
	for _, t := range targets {
		for groupAlive(t.pgid) && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		if groupAlive(t.pgid) {
			signalGroup(t.pgid, syscall.SIGKILL)
		}
		if err := os.RemoveAll(t.dir); err != nil {
			return err
		}
	}
	// Drop cluster directories left empty.
	for _, m := range ms {
		if m.Cluster != "" {
			_ = os.Remove(p.clusterDir(m.Cluster))
		}
	}
	return ctx.Err()
}

// Prepare implements provider.Preparer: a local cluster needs nothing
// besides its machines.
func (p *Provider) Prepare(ctx context.Context, req provider.PrepareRequest) error { return nil }

// Cleanup implements provider.Preparer: once down has ended a cluster's
// machines, it removes whatever else is left in the cluster's directory
// (records of machines that never started, a directory a killed burst
// half-made), whatever its age, and the directory itself. Live machines
// are left alone.
func (p *Provider) Cleanup(ctx context.Context, cluster string, regions []string) error {
	if filepath.Base(cluster) != cluster || cluster == "" || cluster[0] == '.' {
		return nil
	}
	dir := p.clusterDir(cluster)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if m, ok := readMeta(sub); ok && p.state(sub, &m).Live() {
			continue
		}
		if err := os.RemoveAll(sub); err != nil {
			return err
		}
	}
	_ = os.Remove(dir)
	return nil
}
