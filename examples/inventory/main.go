// Inventory reads a machine's AMT identity and inventory with the amt
// package. With no arguments it starts a simulated machine in-process;
// given AMT_HOST (and AMT_USER, AMT_PASSWORD) it asks a real one.
//
//	go run ./examples/inventory
//	AMT_HOST=192.0.2.10 AMT_PASSWORD=... go run ./examples/inventory
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
)

func main() {
	host, user, password := os.Getenv("AMT_HOST"), os.Getenv("AMT_USER"), os.Getenv("AMT_PASSWORD")
	if user == "" {
		user = "admin"
	}
	if host == "" {
		sim, err := amtsim.New(amtsim.Options{User: user, Password: "Example-P@ss1"})
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id, err := c.Identify(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("firmware %s (%s)\n", id.Firmware, id.ProductVersion)

	inv, err := c.Inventory(ctx)
	switch {
	case errors.Is(err, amt.ErrAuthFailed):
		log.Fatal("wrong AMT user or password: not retrying, to keep the account from locking")
	case err != nil:
		log.Fatal(err)
	}
	fmt.Printf("AMT %s build %s, SKU %s\n", inv.AMTVersion, inv.Build, inv.SKU)
	fmt.Printf("%s, %s\n", inv.ProvisioningState, inv.ProvisioningMode)
	fmt.Printf("host %s, realm %s, UUID %s\n", inv.Hostname, inv.DigestRealm, inv.UUID)
}
