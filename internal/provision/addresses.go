package provision

import (
	"fmt"
	"strconv"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/provider"
)

// Addresses returns the scheduler and dashboard addresses of a head: the
// public IP when it has one (that is what a laptop reaches), else the
// private IP. A head whose burst-workload tag is not dask has none.
func Addresses(head provider.Machine) (scheduler, dashboard string) {
	if w, ok := head.Tags[provider.TagWorkload]; ok && w != "dask" {
		return "", ""
	}
	ip := head.PublicIP
	if ip == "" {
		ip = head.PrivateIP
	}
	if ip == "" {
		return "", ""
	}
	sp, dp := ports(head)
	return fmt.Sprintf("tcp://%s:%d", ip, sp), fmt.Sprintf("http://%s:%d/status", ip, dp)
}

func ports(head provider.Machine) (scheduler, dashboard int) {
	scheduler, dashboard = bootstrap.SchedulerPort, bootstrap.DashboardPort
	if v, err := strconv.Atoi(head.Tags[provider.TagSchedulerPort]); err == nil && v > 0 {
		scheduler = v
	}
	if v, err := strconv.Atoi(head.Tags[provider.TagDashboardPort]); err == nil && v > 0 {
		dashboard = v
	}
	return scheduler, dashboard
}
