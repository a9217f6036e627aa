package azure_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"

	"github.com/burstdev/burst/internal/catalog"
	"github.com/burstdev/burst/internal/cloudsim"
	"github.com/burstdev/burst/internal/cloudsim/arm"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
)

type testCred struct{}

func (testCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "inspector", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// armOptions lets a test's own SDK clients inspect the simulator.
func (e *env) armOptions() *azarm.ClientOptions {
	return &azarm.ClientOptions{ClientOptions: policy.ClientOptions{
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Audience: e.url, Endpoint: e.url}}},
		InsecureAllowCredentialWithHTTP: true,
		Retry:                           policy.RetryOptions{MaxRetries: -1},
	}, DisableRPRegistration: true}
}

func prepare(t *testing.T, e *env, cluster string, regions ...string) {
	t.Helper()
	err := e.p.Prepare(ctx(t), provider.PrepareRequest{Cluster: cluster, Regions: regions,
		Tags: map[string]string{provider.TagCluster: cluster, provider.TagOwner: "tester", provider.TagCreated: "1800000000"}})
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
}

// TestPrepare: the cluster's resource group holds its NSG (SSH and Dask
// from the caller only), network, identity and the identity's role on the
// group, all tagged; Prepare twice changes nothing.
func TestPrepare(t *testing.T) {
	e := newEnv(t, func(_ *cloudsim.Config, o *azure.Options) { o.CallerCIDR = "203.0.113.7" })
	prepare(t, e, "net", "eastus")
	live := e.sim.Live()
	writes := e.count("Microsoft.Resources/subscriptions/resourceGroups/write")
	// A new run PUTs it all again, and changes nothing.
	p2, err := azure.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p2
	prepare(t, e, "net", "eastus")
	if n := e.count("Microsoft.Resources/subscriptions/resourceGroups/write"); n != writes+1 {
		t.Errorf("the second run made %d group writes", n-writes)
	}
	if again := e.sim.Live(); !slices.Equal(live, again) {
		t.Errorf("a second Prepare changed what exists:\n%v\n%v", live, again)
	}
	want := []string{
		arm.KindIdentity + "/net-identity", arm.KindRoleAssignment + "/",
		arm.KindNSG + "/net-nsg", arm.KindVNet + "/net-vnet", arm.KindResourceGroup + "/burst-net-eastus",
	}
	for _, w := range want {
		if !slices.ContainsFunc(live, func(s string) bool { return strings.HasPrefix(s, w) }) {
			t.Errorf("Prepare made no %s: %v", w, live)
		}
	}
	if len(live) != len(want) {
		t.Errorf("Prepare made %v", live)
	}
	o := e.armOptions()
	groups, _ := armresources.NewResourceGroupsClient(e.sim.Subscription(), testCred{}, o)
	g, err := groups.Get(ctx(t), "burst-net-eastus", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *g.Tags[provider.TagCluster] != "net" || *g.Tags[provider.TagOwner] != "tester" || *g.Location != "eastus" {
		t.Errorf("group %+v", g.ResourceGroup)
	}
	nsgs, _ := armnetwork.NewSecurityGroupsClient(e.sim.Subscription(), testCred{}, o)
	nsg, err := nsgs.Get(ctx(t), "burst-net-eastus", "net-nsg", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for _, r := range nsg.Properties.SecurityRules {
		p := r.Properties
		if *p.SourceAddressPrefix != "203.0.113.7/32" || *p.Access != armnetwork.SecurityRuleAccessAllow || *p.Direction != armnetwork.SecurityRuleDirectionInbound {
			t.Errorf("rule %s: from %s, %s %s", *r.Name, *p.SourceAddressPrefix, *p.Access, *p.Direction)
		}
		if p.DestinationPortRange != nil {
			ports = append(ports, *p.DestinationPortRange)
		}
		for _, pr := range p.DestinationPortRanges {
			ports = append(ports, *pr)
		}
	}
	slices.Sort(ports)
	if !slices.Equal(ports, []string{"22", "8786", "8787"}) {
		t.Errorf("open ports %v", ports)
	}
	vnets, _ := armnetwork.NewVirtualNetworksClient(e.sim.Subscription(), testCred{}, o)
	vn, err := vnets.Get(ctx(t), "burst-net-eastus", "net-vnet", nil)
	if err != nil {
		t.Fatal(err)
	}
	sn := vn.Properties.Subnets[0]
	if sn.Properties.NetworkSecurityGroup == nil || !strings.EqualFold(*sn.Properties.NetworkSecurityGroup.ID, *nsg.ID) {
		t.Errorf("subnet not behind the NSG: %+v", sn.Properties)
	}
	roles, _ := armauthorization.NewRoleAssignmentsClient(e.sim.Subscription(), testCred{}, o)
	var found bool
	for _, r := range e.model.Resources(arm.KindRoleAssignment, nil) {
		ra, err := roles.Get(ctx(t), "subscriptions/"+e.sim.Subscription()+"/resourceGroups/burst-net-eastus", r.Name, nil)
		if err != nil {
			t.Fatal(err)
		}
		found = true
		if !strings.HasSuffix(*ra.Properties.RoleDefinitionID, azure.VirtualMachineContributor) ||
			!strings.EqualFold(*ra.Properties.Scope, "/subscriptions/"+e.sim.Subscription()+"/resourceGroups/burst-net-eastus") {
			t.Errorf("role assignment %s on %s", *ra.Properties.RoleDefinitionID, *ra.Properties.Scope)
		}
	}
	if !found {
		t.Error("no role assignment")
	}
	key := filepath.Join(e.opts.DataDir, "azure", "net", "id_ed25519")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("SSH key %s: %v %v", key, fi, err)
	}
}

// TestPrepareWaitsForPrincipal: a just-made identity may not have reached
// the directory; the role assignment is retried until it has.
func TestPrepareWaitsForPrincipal(t *testing.T) {
	e := newEnv(t)
	e.model.Inject(cloudsim.Fault{Kind: cloudsim.KindInvalid, Action: "Microsoft.Authorization/roleAssignments/write", Code: "PrincipalNotFound",
		Message: "Principal does not exist in the directory.", Times: 2})
	prepare(t, e, "pn", "eastus")
	if n := e.count("Microsoft.Authorization/roleAssignments/write"); n != 3 {
		t.Errorf("%d role assignment writes, want 3", n)
	}
}

// TestCleanup: down removes everything, waiting for the resource group to
// go, and the SSH key; a second Cleanup is a no-op.
func TestCleanup(t *testing.T) {
	e := newEnv(t)
	prepare(t, e, "gone", "eastus", "westus2")
	launch(t, e, head("gone", "gone-h-1", offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)))
	launch(t, e, workers("gone", 40, "gone-w-1", offer(t, "Standard_D2s_v5", "eastus", catalog.Spot)))
	prepare(t, e, "other", "eastus")
	if err := e.p.Cleanup(ctx(t), "gone", nil); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	for _, r := range e.sim.Live() {
		if strings.Contains(r, "gone") || strings.HasPrefix(r, "Microsoft.Compute/") {
			t.Errorf("%s survived Cleanup", r)
		}
	}
	if !slices.Contains(e.sim.Live(), arm.KindResourceGroup+"/burst-other-eastus") {
		t.Error("Cleanup removed another cluster")
	}
	if _, err := os.Stat(filepath.Join(e.opts.DataDir, "azure", "gone")); !os.IsNotExist(err) {
		t.Errorf("SSH key dir still there: %v", err)
	}
	if err := e.p.Cleanup(ctx(t), "gone", nil); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
	if n := e.count("Microsoft.Resources/subscriptions/resourceGroups/delete"); n != 2 {
		t.Errorf("%d group deletes, want 2 (one per location)", n)
	}
}

// TestFreshGroupNetworkBesideNSG: in a group its PUT created, Prepare
// writes the NSG and the virtual network at once, the subnet naming no
// NSG, and every VM a launch makes carries the NSG on its NIC. In a group
// that existed (another run), the network is written only once the NSG's
// operation has ended, with the NSG on its subnet, so the VMs of an
// earlier burst, whose NICs may not carry it, keep it.
func TestFreshGroupNetworkBesideNSG(t *testing.T) {
	tr := &transport{}
	e := newEnv(t, withTransport(tr))
	both := tr.hold(2, anyOf(req(http.MethodPut, "/networksecuritygroups/"), req(http.MethodPut, "/virtualnetworks/")))
	prepare(t, e, "fr", "eastus")
	if !both.reached() {
		t.Fatal("the NSG and the network of a fresh group were not written at once")
	}
	o := e.armOptions()
	vnets, _ := armnetwork.NewVirtualNetworksClient(e.sim.Subscription(), testCred{}, o)
	subnetNSG := func() *armnetwork.SecurityGroup {
		t.Helper()
		vn, err := vnets.Get(ctx(t), "burst-fr-eastus", "fr-vnet", nil)
		if err != nil {
			t.Fatal(err)
		}
		return vn.Properties.Subnets[0].Properties.NetworkSecurityGroup
	}
	if nsg := subnetNSG(); nsg != nil {
		t.Errorf("the fresh group's subnet names %s", *nsg.ID)
	}
	off := offer(t, "Standard_D2s_v5", "eastus", catalog.OnDemand)
	launch(t, e, head("fr", "fr-h-1", off))
	launch(t, e, workers("fr", 5, "fr-w-1", off))
	nsgID := "/subscriptions/" + e.sim.Subscription() + "/resourceGroups/burst-fr-eastus/providers/Microsoft.Network/networkSecurityGroups/fr-nsg"
	nics, _ := armnetwork.NewInterfacesClient(e.sim.Subscription(), testCred{}, o)
	n := 0
	for pg := nics.NewListPager("burst-fr-eastus", nil); pg.More(); {
		page, err := pg.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, nic := range page.Value {
			n++
			if nic.Properties.NetworkSecurityGroup == nil || !strings.EqualFold(*nic.Properties.NetworkSecurityGroup.ID, nsgID) {
				t.Errorf("NIC %s is not behind the cluster's NSG: %+v", *nic.Name, nic.Properties.NetworkSecurityGroup)
			}
		}
	}
	if n != 6 {
		t.Errorf("%d NICs, want 6", n)
	}

	// Another run finds the group: NSG, then the network naming it.
	e.p, _ = azure.New(e.opts)
	e.model.ResetRequests()
	prepare(t, e, "fr", "eastus")
	if nsg := subnetNSG(); nsg == nil || !strings.EqualFold(*nsg.ID, nsgID) {
		t.Errorf("the existing group's subnet is not behind the NSG: %v", nsg)
	}
	var order []string
	for _, r := range e.model.Requests() {
		switch r.Action {
		case "Microsoft.Network/networkSecurityGroups/write", "Microsoft.Network/locations/operations/read", "Microsoft.Network/virtualNetworks/write":
			order = append(order, r.Action)
		}
	}
	want := []string{"Microsoft.Network/networkSecurityGroups/write", "Microsoft.Network/locations/operations/read", "Microsoft.Network/virtualNetworks/write"}
	if len(order) < 3 || !slices.Equal(order[:3], want) {
		t.Errorf("an existing group's network calls: %v", order)
	}
}
