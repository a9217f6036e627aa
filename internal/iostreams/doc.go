// Package iostreams bundles a command's standard streams with what it needs
// to know about them: whether each is a terminal, and whether colour is
// wanted. Commands print data to Out and everything else (progress, prompts,
// warnings, errors) to ErrOut.
package iostreams
