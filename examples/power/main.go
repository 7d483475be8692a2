// Power reads a machine's power state, arms a one-time PXE boot, resets it
// and waits for it to come back on. With no AMT_HOST it starts a simulated
// machine in-process.
//
//	go run ./examples/power
//	AMT_HOST=192.0.2.10 AMT_PASSWORD=... go run ./examples/power
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/power"
)

func main() {
	host, user, password := os.Getenv("AMT_HOST"), os.Getenv("AMT_USER"), os.Getenv("AMT_PASSWORD")
	if user == "" {
		user = "admin"
	}
	var sim *amtsim.Server
	if host == "" {
		var err error
		sim, err = amtsim.New(amtsim.Options{User: user, Password: "Example-P@ss1", TransitionTime: 300 * time.Millisecond})
		if err != nil {
			log.Fatal(err)
		}
		defer sim.Close()
		host, password = sim.Devices()[0].HTTPAddr(), "Example-P@ss1"
		fmt.Println("simulated machine at", host)
	}
	c, err := amt.New(host, amt.WithCredentials(user, password))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	st, err := c.Power.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("power: %s, OS %s, offers %v\n", st.State, st.OSPowerSaving, st.Available)

	// Reset to PXE: arm a one-time network boot, then reset (or power on).
	action, err := c.Power.ResetTo(ctx, power.BootPXE, power.BootOptions{})
	switch {
	case errors.Is(err, amt.ErrOutcomeUnknown):
		log.Fatal("the reset was sent but its answer was lost; not resending it: check the state instead")
	case err != nil:
		log.Fatal(err)
	}
	fmt.Printf("one-time PXE boot armed; %s sent\n", action)

	st, err = c.Power.WaitFor(ctx, power.StateOn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("power:", st.State)
	if sim != nil {
		for _, b := range sim.Devices()[0].Boots() {
			fmt.Printf("the simulated machine booted from %s (%s)\n", b.Source, b.Cause)
		}
	}
}
