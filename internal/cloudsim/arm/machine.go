package arm

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/burstdev/burst/internal/cloudsim"
)

// IMDS returns the Instance Metadata Service a VM sees at 169.254.169.254:
// its resource ID (instance/compute/resourceId) and, when the VM has a
// user-assigned managed identity, an ARM access token for it
// (identity/oauth2/token). Requests without the "Metadata: true" header
// are refused, as IMDS refuses them. vmID is the VM's ARM resource ID.
func (s *Server) IMDS(vmID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata") != "true" {
			http.Error(w, `{"error":"Bad request. Required metadata header not specified"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.reap()
		rec := s.vms[lowerID(vmID)]
		var principal string
		if rec != nil && len(rec.spec.identities) > 0 {
			clientID := r.URL.Query().Get("client_id")
			for _, id := range rec.spec.identities {
				st, ok := s.identityByID(id)
				if ok && (clientID == "" || clientID == deref(st.obj.Properties.ClientID)) {
					principal = deref(st.obj.Properties.PrincipalID)
					break
				}
			}
			if clientID == "" && len(rec.spec.identities) > 1 {
				principal = "" // ambiguous: IMDS needs client_id then
			}
		}
		s.mu.Unlock()
		if rec == nil {
			http.Error(w, "no such VM", http.StatusNotFound)
			return
		}
		switch strings.TrimSuffix(r.URL.Path, "/") {
		case "/metadata/instance/compute/resourceId":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte(rec.id))
		case "/metadata/identity/oauth2/token":
			if r.URL.Query().Get("resource") == "" {
				http.Error(w, `{"error":"invalid_request","error_description":"Required query variable 'resource' is missing"}`, http.StatusBadRequest)
				return
			}
			if principal == "" {
				http.Error(w, `{"error":"invalid_request","error_description":"Identity not found"}`, http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{
				"access_token": identityTokenPrefix + principal, "expires_in": "86399", "expires_on": "1900000000",
				"resource": r.URL.Query().Get("resource"), "token_type": "Bearer",
			})
		default:
			http.NotFound(w, r)
		}
	})
}

// Evict reclaims a Spot VM as Azure does: with eviction policy Delete the
// VM and, by their delete options, its disk and NIC are deleted; with
// Deallocate it is stopped and its disk stays (and bills). It reports
// whether the VM was a live Spot VM.
func (s *Server) Evict(vmID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reap()
	rec := s.vms[lowerID(vmID)]
	if rec == nil || rec.deleted || rec.spec.capacity != cloudsim.Spot {
		return false
	}
	if rec.spec.eviction == "Delete" {
		rec.deleted = true
		if rec.counted {
			s.uncount(rec)
		}
		return s.m.Interrupt(lowerID(rec.id))
	}
	s.m.Stop([]string{lowerID(rec.id)}, "spot-interruption")
	return true
}

// Reasons a VM stopped, as the model records them.
const (
	// ReasonGuestShutdown: the OS shut down (poweroff in the guest). Azure
	// keeps such a VM allocated, "PowerState/stopped", and bills it as if
	// it ran.
	ReasonGuestShutdown = "guest-shutdown"
	// ReasonDeallocated: the VM was deallocated ("PowerState/deallocated");
	// its compute stops billing, its disk does not.
	ReasonDeallocated = "deallocated"
)

// PowerOff shuts a VM down from inside, as poweroff in the guest does (the
// self-removal script's last resort): the VM stops but stays allocated,
// "PowerState/stopped", and keeps its disk, NIC and address. It reports
// whether the VM was running.
func (s *Server) PowerOff(vmID string) bool { return s.stop(vmID, ReasonGuestShutdown) }

// Deallocate stops a VM and releases its hardware, as `az vm deallocate`
// does: "PowerState/deallocated", its disk kept. It reports whether the
// VM was running.
func (s *Server) Deallocate(vmID string) bool { return s.stop(vmID, ReasonDeallocated) }

func (s *Server) stop(vmID, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reap()
	rec := s.vms[lowerID(vmID)]
	if rec == nil || rec.deleted {
		return false
	}
	in, ok := s.m.Instance(lowerID(rec.id))
	if !ok || (in.State != cloudsim.Running && in.State != cloudsim.Pending) {
		return false
	}
	s.m.Stop([]string{lowerID(rec.id)}, reason)
	return true
}

// VMIDs returns the resource IDs of the live VMs, sorted.
func (s *Server) VMIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reap()
	var out []string
	for _, rec := range s.vms {
		if in, ok := s.m.Instance(lowerID(rec.id)); ok && in.State != cloudsim.Terminated {
			out = append(out, rec.id)
		}
	}
	sort.Strings(out)
	return out
}

// Orphans lists NICs, OS disks and public IPs whose VM is gone: what a VM
// created without deleteOption=Delete leaves behind, billing (disks, IPs)
// until someone deletes it.
func (s *Server) Orphans() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reap()
	attached := map[string]bool{}
	for _, rec := range s.vms {
		attached[lowerID(rec.nicID)] = true
		attached[lowerID(rec.diskID)] = true
		if rec.pipID != "" {
			attached[lowerID(rec.pipID)] = true
		}
	}
	var out []string
	for _, kind := range []string{KindNIC, KindDisk, KindPublicIP} {
		for _, r := range s.m.Resources(kind, nil) {
			if !attached[r.ID] {
				out = append(out, r.Kind+"/"+r.Name)
			}
		}
	}
	return out
}

// Live lists everything that exists in the simulated subscription: VMs
// that are not deleted and every resource (groups, networks, sets, NICs,
// disks, identities, role assignments). After `down` of the only cluster
// it is empty.
func (s *Server) Live() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reap()
	var out []string
	for _, rec := range s.vms {
		out = append(out, "Microsoft.Compute/virtualMachines/"+rec.name)
	}
	for _, r := range s.m.Resources("", nil) {
		out = append(out, r.Kind+"/"+r.Name)
	}
	sort.Strings(out)
	return out
}

// ScaleSetCapacity returns a scale set's sku.capacity by resource ID.
func (s *Server) ScaleSetCapacity(id string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reap()
	r, ok := s.m.Resource(KindScaleSet, lowerID(id))
	if !ok {
		return 0, false
	}
	return r.Data.(*setState).capacity, true
}

// ScaleSets returns the IDs of the scale sets, sorted.
func (s *Server) ScaleSets() []string {
	var out []string
	for _, r := range s.m.Resources(KindScaleSet, nil) {
		out = append(out, r.Data.(*setState).id)
	}
	return out
}
