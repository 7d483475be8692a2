package amt_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
)

func ExampleClient_Identify() {
	sim, err := amtsim.New(amtsim.Options{Version: "16.1.25.2124"})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()

	// Identify needs no credentials.
	c, err := amt.New(sim.Devices()[0].HTTPAddr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	id, err := c.Identify(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("firmware:", id.Firmware)
	fmt.Println("product:", id.ProductVersion)
	// Output:
	// firmware: 16.1.25.2124
	// product: AMT 16.1
}

func ExampleClient_Inventory() {
	sim, err := amtsim.New(amtsim.Options{SKU: 16400, ProvisioningMode: 4})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()

	// The simulator's certificate is self-signed, as AMT's usually is:
	// trust it by its fingerprint.
	c, err := amt.New(sim.Devices()[0].TLSAddr(),
		amt.WithPinnedCertificate(sim.CertificateSHA256()),
		amt.WithCredentials("admin", "P@ssw0rd1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	inv, err := c.Inventory(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("AMT", inv.AMTVersion, "build", inv.Build)
	fmt.Println("SKU:", inv.SKU.Kind(), inv.SKU.Features())
	fmt.Println("provisioning:", inv.ProvisioningState, inv.ProvisioningMode)
	fmt.Println("ports:", len(inv.Ports))
	// Output:
	// AMT 11.8.50 build 3425
	// SKU: ISM [ISM Corporate]
	// provisioning: post-provisioning CCM
	// ports: 2
}

func ExampleErrAuthFailed() {
	sim, err := amtsim.New(amtsim.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	dev := sim.Devices()[0]

	c, err := amt.New(dev.HTTPAddr(), amt.WithCredentials("admin", "wrong"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	for range 3 {
		_, err = c.Inventory(context.Background())
		switch {
		case errors.Is(err, amt.ErrAuthFailed):
			fmt.Println("authentication failed")
		case err != nil:
			fmt.Println("other failure:", err)
		}
	}
	// The client stopped after the first rejection: AMT locks the
	// account after a few failed logins.
	fmt.Println("failed logins on the device:", dev.Stats().FailedLogins)
	// Output:
	// authentication failed
	// authentication failed
	// authentication failed
	// failed logins on the device: 1
}
