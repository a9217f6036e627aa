// Package config loads burst's configuration once per run into typed
// structs. Precedence, highest first: command-line flag, environment
// variable BURST_<KEY> (nested keys joined with "_", e.g. BURST_AWS_REGION),
// the config file ($XDG_CONFIG_HOME/burst/config.yaml, or --config /
// BURST_CONFIG), then the defaults below.
//
// Commands never read viper keys; they get a *Config. A config file with an
// unknown key is an error, so a typo never passes silently.
package config
