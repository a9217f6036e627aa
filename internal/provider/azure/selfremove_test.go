package azure_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/provider"
)

// needTool returns a tool's path; without it the test skips, or fails when
// CI says nothing may skip.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("BURST_TEST_DISALLOW_SKIP") == "1" {
			t.Fatalf("%s is not installed and BURST_TEST_DISALLOW_SKIP=1", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// selfRemoval cuts the azure target's self-removal (its settings and
// functions) out of a VM's custom data, points IMDS at imds, and appends a
// call, as the watchdog makes it.
func selfRemoval(t *testing.T, script, imds string) string {
	t.Helper()
	start := strings.Index(script, "BURST_ARM_API=")
	fn := strings.Index(script, "burst_self_remove() {")
	if start < 0 || fn < start {
		t.Fatal("the custom data has no azure self-removal")
	}
	end := strings.Index(script[fn:], "\n}\n")
	s := script[start : fn+end+3]
	s = strings.Replace(s, "BURST_IMDS=http://169.254.169.254/metadata", "BURST_IMDS="+imds+"/metadata", 1)
	return "log() { printf '%s\\n' \"$*\" >&2; }\n" + s + "burst_self_remove 'idle for 1200s'\n"
}

// runShell runs a script with shutdown and poweroff replaced by recorders;
// it returns the output and what they recorded.
func runShell(t *testing.T, script string) (string, string) {
	t.Helper()
	sh := needTool(t, "sh")
	needTool(t, "curl")
	dir := t.TempDir()
	mark := filepath.Join(dir, "powered-off")
	for _, name := range []string{"shutdown", "poweroff"} {
		shim := "#!/bin/sh\necho \"" + name + " $*\" >>'" + mark + "'\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(shim), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sh, "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(mark)
	return string(out), string(b)
}

// TestSelfRemoval runs the self-removal a worker's custom data carries,
// with curl, against the simulator: IMDS hands the VM its cluster
// identity's token, and ARM lets that identity delete the VM (its role is
// on the cluster's resource group), which also takes the VM out of its
// scale set and deletes its NIC and disk. The identity cannot touch another
// cluster. When the delete cannot be made the machine powers off.
func TestSelfRemoval(t *testing.T) {
	e := newEnv(t)
	res := launch(t, e, workers("sr", 2, "sr-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	m := res.Machines[0]
	imds := httptest.NewServer(e.sim.IMDS(e.vmID(m)))
	defer imds.Close()
	out, off := runShell(t, selfRemoval(t, e.instance(m).UserData, imds.URL))
	if !strings.Contains(out, "delete requested") || off != "" {
		t.Fatalf("self-removal: output %q, powered off %q", out, off)
	}
	e.clock.Advance(time.Minute)
	ms, err := e.p.Machines(ctx(t), provider.Filter{Cluster: "sr"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].ID == m.ID {
		t.Fatalf("after self-removal Machines = %v", ids(ms))
	}
	if c, _ := e.sim.ScaleSetCapacity(e.sim.ScaleSets()[0]); c != 1 {
		t.Errorf("set capacity %d, want 1", c)
	}
	if o := e.sim.Orphans(); len(o) != 0 {
		t.Errorf("self-removal left %v", o)
	}
	if n := e.count("Microsoft.Compute/virtualMachines/delete"); n != 1 {
		t.Errorf("%d VM deletes", n)
	}

	// The identity's role stops at its cluster's resource group.
	other := launch(t, e, workers("other", 1, "other-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	live := httptest.NewServer(e.sim.IMDS(e.vmID(ms[0])))
	defer live.Close()
	req, _ := http.NewRequest(http.MethodGet, live.URL+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource="+e.url+"/", nil)
	req.Header.Set("Metadata", "true")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	_ = resp.Body.Close()
	if tok.AccessToken == "" {
		t.Fatal("IMDS gave no token")
	}
	del, _ := http.NewRequest(http.MethodDelete, e.url+e.vmID(other.Machines[0])+"?api-version=2024-07-01", nil)
	del.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = http.DefaultClient.Do(del)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cluster sr's identity deleting cluster other's VM: %s, want 403", resp.Status)
	}

	// No identity to be had: retry, then power off.
	out, off = runShell(t, selfRemoval(t, e.instance(ms[0]).UserData, imds.URL)) // m is gone: its IMDS has no token
	if !strings.Contains(out, "self-delete failed") || !strings.HasPrefix(off, "shutdown -h now burst: idle for 1200s") {
		t.Fatalf("failed self-removal: output %q, powered off %q", out, off)
	}
}
