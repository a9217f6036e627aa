package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// report renders the results as the Markdown tables of docs/benchmarks.md.
func report(r *Results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- written by `go run ./internal/tools/bench`; machine: %s -->\n\n", r.Machine)
	clouds, ns := axes(r)
	for _, phase := range []string{"up", "down"} {
		fmt.Fprintf(&b, "#### %s: burst against the lower bound and the per-machine baseline\n\n", map[string]string{"up": "Up 0 -> N (machines running)", "down": "Down N -> 0 (nothing left)"}[phase])
		b.WriteString("| cloud | N | burst wall | lower bound | burst / bound | burst calls | throttled | baseline wall | baseline calls | throttled | calls: baseline / burst | time: baseline / burst | date |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, c := range clouds {
			for _, n := range ns {
				bu, ba := r.scale(c, n, clientBurst), r.scale(c, n, clientBaseline)
				if bu == nil && ba == nil {
					continue
				}
				row := []string{c, fmt.Sprint(n)}
				var p, q *Phase
				if bu != nil {
					p = bu.phase(phase)
				}
				if ba != nil {
					q = ba.phase(phase)
				}
				date := ""
				if p != nil {
					row = append(row, secs(p.Wall), secs(p.Bound.Seconds()), ratio(p.Wall, p.Bound.Seconds()), fmt.Sprint(p.Calls), fmt.Sprint(p.Throttled))
					date = bu.Date[:10]
				} else {
					row = append(row, "-", "-", "-", "-", "-")
				}
				if q != nil {
					row = append(row, secs(q.Wall), fmt.Sprint(q.Calls), fmt.Sprint(q.Throttled))
					if date == "" {
						date = ba.Date[:10]
					}
				} else {
					row = append(row, "-", "-", "-")
				}
				if p != nil && q != nil {
					row = append(row, ratio(float64(q.Calls), float64(p.Calls)), ratio(q.Wall, p.Wall))
				} else {
					row = append(row, "-", "-")
				}
				row = append(row, date)
				b.WriteString("| " + strings.Join(row, " | ") + " |\n")
			}
		}
		b.WriteString("\n")
	}

	b.WriteString("#### Lower bounds\n\n")
	b.WriteString("| cloud | phase | N | throttle bound | binding bucket | latency bound | paced chain | chain of dependent calls |\n|---|---|---:|---:|---|---:|---:|---|\n")
	for _, c := range clouds {
		for _, phase := range []string{"up", "down"} {
			for _, n := range ns {
				run := r.scale(c, n, clientBurst)
				if run == nil {
					run = r.scale(c, n, clientBaseline)
				}
				if run == nil || run.phase(phase) == nil {
					continue
				}
				bd := run.phase(phase).Bound
				fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", c, phase, n, secs(bd.Throttle), bd.ThrottleBy, secs(bd.Latency), secs(bd.Paced),
					fmt.Sprintf("%d calls: %s", len(bd.Chain), strings.Join(bd.Chain, " -> ")))
			}
		}
	}
	b.WriteString("\n")

	b.WriteString("#### Calls by action\n\n")
	for _, c := range clouds {
		for _, n := range ns {
			for _, client := range []string{clientBurst, clientBaseline} {
				run := r.scale(c, n, client)
				if run == nil {
					continue
				}
				fmt.Fprintf(&b, "- %s, %s, N = %d (%s):", c, client, n, run.Plan)
				for _, p := range run.Phases {
					var parts []string
					for _, a := range p.actions() {
						parts = append(parts, fmt.Sprintf("%s %d", a, p.ByAction[a]))
					}
					fmt.Fprintf(&b, " **%s** %d: %s.", p.Name, p.Calls, strings.Join(parts, ", "))
				}
				b.WriteString("\n")
			}
		}
	}
	b.WriteString("\n")

	var failed []string
	for _, s := range r.Scale {
		if s.Err != "" {
			failed = append(failed, fmt.Sprintf("- %s %s N = %d (%s): %s", s.Cloud, s.Client, s.N, s.Date, s.Err))
		}
	}
	if len(failed) > 0 {
		b.WriteString("#### Failed runs\n\n" + strings.Join(failed, "\n") + "\n\n")
	}

	if len(r.Matrix) > 0 {
		b.WriteString("#### How long the scale runs took\n\n| arguments | started | wall | load at the end |\n|---|---|---:|---|\n")
		for _, m := range r.Matrix {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", m.Args, m.Start, secs(m.Wall), m.Load)
		}
		b.WriteString("\n")
	}

	if len(r.ColdStart) > 0 {
		b.WriteString("#### Cold start of the built binary\n\n| command | runs | median | min | max | load | date |\n|---|---:|---:|---:|---:|---|---|\n")
		for _, c := range r.ColdStart {
			fmt.Fprintf(&b, "| `%s` | %d | %.1f ms | %.1f ms | %.1f ms | %s | %s |\n", c.Command, c.Runs, c.Median, c.Min, c.Max, c.Load, c.Date)
		}
		b.WriteString("\n")
	}
	if len(r.RSS) > 0 {
		rs := slices.Clone(r.RSS)
		sort.Slice(rs, func(i, j int) bool { return cloudOrder(rs[i].Cloud) < cloudOrder(rs[j].Cloud) })
		b.WriteString("#### Peak RSS of `burst up` against a simulator (no latency, no throttles)\n\n| cloud | command | peak RSS | wall | date |\n|---|---|---:|---:|---|\n")
		for _, x := range rs {
			fmt.Fprintf(&b, "| %s | `%s` | %.1f MiB | %s | %s |\n", x.Cloud, x.Command, x.MaxRSS, secs(x.Wall), x.Date)
		}
		b.WriteString("\n")
	}
	if p := r.Planner; p != nil {
		b.WriteString("#### Planner over the full embedded catalog\n\n| spec | offerings | plans | median | p99 | first plan (indexes the catalog) | load | date |\n|---|---:|---:|---:|---:|---:|---|---|\n")
		fmt.Fprintf(&b, "| %s | %d | %d | %.2f ms | %.2f ms | %.2f ms | %s | %s |\n\n", p.Spec, p.Offerings, p.Plans, p.Median, p.P99, p.Index, p.Load, p.Date)
	}
	return b.String()
}

// axes are the clouds and counts that have runs, in order.
func axes(r *Results) (clouds []string, ns []int) {
	for _, s := range r.Scale {
		if !slices.Contains(clouds, s.Cloud) {
			clouds = append(clouds, s.Cloud)
		}
		if !slices.Contains(ns, s.N) {
			ns = append(ns, s.N)
		}
	}
	sort.Slice(clouds, func(i, j int) bool { return cloudOrder(clouds[i]) < cloudOrder(clouds[j]) })
	sort.Ints(ns)
	return clouds, ns
}

func secs(s float64) string {
	switch {
	case s == 0:
		return "0 s"
	case s < 10:
		return fmt.Sprintf("%.2f s", s)
	case s < 1000:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f s", s)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	x := a / b
	if x >= 10 {
		return fmt.Sprintf("%.0fx", x)
	}
	return fmt.Sprintf("%.2fx", x)
}
