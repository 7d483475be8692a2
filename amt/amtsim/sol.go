package amtsim

import (
	"fmt"
	"time"

	"github.com/amtkit/amtkit/amt/amtsim/internal/redir"
)

// serveSOL runs an authenticated SOL session (redir.ServeSOL); the banner
// names the host and, when the last boot had UseSOL, shows the BIOS.
func (rc *redirConn) serveSOL() error {
	d := rc.d
	return redir.ServeSOL(rc, func() string {
		d.mu.Lock()
		d.solSessions++
		d.power.Settle(time.Now())
		var useSOL bool
		var last BootRecord
		if n := len(d.boots); n > 0 {
			last = d.boots[n-1]
			useSOL = last.UseSOL
		}
		d.mu.Unlock()
		host := d.Hostname()
		if host == "" {
			host = d.defaultHostname
		}
		banner := "amtsim serial console " + host + "\r\n"
		if useSOL {
			banner += fmt.Sprintf("AMTSIM BIOS %s\r\nMemory test: OK\r\nBoot #%d (%s): booting from %s\r\n",
				d.prof.version, last.Seq, last.Cause, last.Source)
		}
		return banner
	})
}
