// Package local is the provider that runs machines as process groups on
// this host. It runs the same bootstrap script a cloud machine runs (the
// workload plus the lifetime watchdog), so a pipeline can be tried without a
// cloud account and the end-to-end tests exercise the real logic.
//
// A local machine is a directory under <state>/local/<cluster>/<id> holding
// meta.json (its tags, role and process group), bootstrap.sh and its log,
// and a process group running that script. Machines reads the directories
// and checks each group for liveness; Terminate signals the group and
// removes the directory. The watchdog removes its own directory when it ends
// the machine, as a cloud machine deletes itself.
package local
