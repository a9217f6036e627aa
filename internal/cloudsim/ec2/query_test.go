package ec2

import (
	"net/url"
	"testing"
)

func TestParams(t *testing.T) {
	form := url.Values{
		"Filter.2.Name": {"instance-state-name"}, "Filter.2.Value.1": {"running"},
		"Filter.1.Name": {"tag:burst-cluster"}, "Filter.1.Value.1": {"a"}, "Filter.1.Value.2": {"b"},
		"Filter.10.Name": {"tag-key"}, "Filter.10.Value.1": {"x"},
		"MaxResults": {"50"}, "TagSpecification.1.ResourceType": {"instance"},
		"TagSpecification.1.Tag.1.Key": {"k"}, "TagSpecification.1.Tag.1.Value": {"v"},
	}
	p := parseParams(form)
	fs := p.filters()
	if len(fs) != 3 || fs[0].name != "tag:burst-cluster" || fs[1].name != "instance-state-name" || fs[2].name != "tag-key" {
		t.Fatalf("filters %+v: want numeric order 1, 2, 10", fs)
	}
	if len(fs[0].values) != 2 || fs[0].values[1] != "b" {
		t.Errorf("values %v", fs[0].values)
	}
	if p.int("MaxResults", 0) != 50 || p.int("Missing", 7) != 7 {
		t.Errorf("int params")
	}
	if ts := p.tagSpecs(); ts["instance"]["k"] != "v" {
		t.Errorf("tag specs %v", ts)
	}
	if !tagFilter(fs[:1], map[string]string{"burst-cluster": "b"}) || tagFilter(fs[:1], map[string]string{"burst-cluster": "c"}) {
		t.Errorf("tag filter")
	}
}

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		pat, s string
		want   bool
	}{
		{"ubuntu/images/*-amd64-server-*", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20261105", true},
		{"ubuntu/images/*-amd64-server-*", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20261105", false},
		{"m7?.large", "m7i.large", true},
		{"m7?.large", "m7.large", false},
		{"*", "", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
	} {
		if got := match(tt.pat, tt.s); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pat, tt.s, got, tt.want)
		}
	}
}
