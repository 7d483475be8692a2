package wsman_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/wsman"
)

func ExampleClient_Get() {
	sim, _ := amtsim.New(amtsim.Options{User: "admin", Password: "P@ssw0rd1", TLSPort: -1})
	defer sim.Close()

	c, _ := wsman.NewClient(sim.URL()+"/wsman", wsman.WithCredentials("admin", "P@ssw0rd1"))
	defer c.CloseIdleConnections()
	in, err := c.Get(context.Background(), wsman.ResourceURI("AMT_GeneralSettings"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(in.String("InstanceID"))
	// Output: Intel(r) AMT: General Settings
}

func ExampleClient_Enumerate() {
	sim, _ := amtsim.New(amtsim.Options{Version: "12.0.67.1579", TLSPort: -1})
	defer sim.Close()

	c, _ := wsman.NewClient(sim.URL()+"/wsman", wsman.WithCredentials("admin", "P@ssw0rd1"))
	defer c.CloseIdleConnections()
	for in, err := range c.Enumerate(context.Background(), wsman.ResourceURI("CIM_SoftwareIdentity")) {
		if err != nil {
			fmt.Println(err)
			return
		}
		if id := in.String("InstanceID"); id == "AMT" || id == "Build Number" {
			fmt.Println(id, in.String("VersionString"))
		}
	}
	// Output:
	// AMT 12.0.67
	// Build Number 1579
}

func ExampleFault() {
	sim, _ := amtsim.New(amtsim.Options{TLSPort: -1})
	defer sim.Close()

	c, _ := wsman.NewClient(sim.URL()+"/wsman", wsman.WithCredentials("admin", "P@ssw0rd1"))
	defer c.CloseIdleConnections()
	_, err := c.Get(context.Background(), wsman.ResourceURI("AMT_NoSuchClass"))
	var f *wsman.Fault
	fmt.Println(errors.Is(err, wsman.ErrDestinationUnreachable), errors.As(err, &f) && f.StatusCode == 400)
	// Output: true true
}
