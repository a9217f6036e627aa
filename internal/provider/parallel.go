package provider

import "sync"

// Parallel runs fn(0) to fn(n-1) with at most limit running at once
// (limit < 1 means all at once) and returns the error of the lowest i that
// failed: the answer a loop of the same calls would give, however the
// calls interleave. Every call runs; none is skipped because another
// failed.
func Parallel(n, limit int, fn func(i int) error) error {
	if limit < 1 || limit > n {
		limit = max(n, 1)
	}
	return ParallelIn(n, make(chan struct{}, limit), fn)
}

// ParallelIn is Parallel with a semaphore (a slot per call in flight)
// that other callers may share, so several of them together stay within
// one limit.
func ParallelIn(n int, sem chan struct{}, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
