package amtsim

import "fmt"

// fdReserve is what New leaves of the descriptor limit for everything
// else in the process: clients in the same process, connections, files.
const fdReserve = 256

// checkFDBudget refuses a fleet whose listening sockets alone would
// exhaust the descriptor limit, before binding any, with the remedy.
func checkFDBudget(sockets int, limit uint64) error {
	if limit == 0 || uint64(sockets)+fdReserve <= limit {
		return nil
	}
	return fmt.Errorf("amtsim: the devices need %d listening sockets, and the open file limit is %d "+
		"(%d kept for connections): turn off ports a large fleet does not need (TLS, RMCP, redirection: -1), "+
		"or raise RLIMIT_NOFILE (ulimit -Hn as root)", sockets, limit, fdReserve)
}
