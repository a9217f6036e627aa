package cloudsim

// Additions to the shared model for the GCE server (internal/cloudsim/gce).
// They only add; nothing in model.go or api.go changes.

// TakeFault returns the first injected fault that matches service and
// action, consuming one of its Times, without logging a request or waiting
// the latency. The GCE server uses it for failures that surface later than
// the request that started them: a bulkInsert operation that fails while
// it runs is matched under a pseudo-action such as
// "compute.regionInstances.bulkInsert#operation".
func (m *Model) TakeFault(service, action string) *Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.matchFault(service, action)
}
