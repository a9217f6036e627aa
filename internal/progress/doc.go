// Package progress carries what long operations (up, scale, down) are doing
// to the user: human lines and a progress bar on stderr, or NDJSON events on
// stdout with -o json. The provision engine emits Events; it never prints.
package progress
