package amt_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
)

func ExampleClient_Hardware() {
	sim, err := amtsim.New(amtsim.Options{Version: "12.0.67.1579", RMCPPort: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	c, err := amt.New(sim.Devices()[0].HTTPAddr(), amt.WithCredentials("admin", "P@ssw0rd1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	hw, err := c.Hardware(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("chassis:", hw.Chassis.Manufacturer, hw.Chassis.Model)
	fmt.Println("BIOS:", hw.BIOS.Version, hw.BIOS.ReleaseDate.Format(time.DateOnly))
	fmt.Println("CPU:", hw.Processors[0].Model)
	for _, m := range hw.Memory {
		fmt.Printf("memory: %s %d GiB %d MHz\n", m.Slot, *m.SizeBytes>>30, *m.SpeedMHz)
	}
	// Output:
	// chassis: Intel(R) Client Systems NUC9V7QNX
	// BIOS: QNCFLX70.0054.2020.0810.2227 2020-08-10
	// CPU: Intel(R) Core(TM) i7-9850H CPU @ 2.60GHz
	// memory: BANK 0 16 GiB 2400 MHz
	// memory: BANK 2 16 GiB 2400 MHz
}

func ExampleClockService_Set() {
	sim, err := amtsim.New(amtsim.Options{RMCPPort: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	dev := sim.Devices()[0]
	dev.SetClockOffset(-3 * time.Hour) // the device's clock is behind
	c, err := amt.New(dev.HTTPAddr(), amt.WithCredentials("admin", "P@ssw0rd1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	before, err := c.Clock.Set(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	after, err := c.Clock.Read(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("before:", before.Offset.Round(time.Hour))
	fmt.Println("after:", after.Offset.Round(time.Minute))
	// Output:
	// before: -3h0m0s
	// after: 0s
}

func ExampleLogService_Audit() {
	sim, err := amtsim.New(amtsim.Options{RMCPPort: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer sim.Close()
	c, err := amt.New(sim.Devices()[0].HTTPAddr(), amt.WithCredentials("admin", "P@ssw0rd1"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseIdleConnections()
	recs, err := c.Logs.Audit(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Println(r.Time.Format(time.RFC3339), r.Initiator, r.GroupName+":", r.EventName, r.Description)
	}
	// Output:
	// 2004-01-02T01:46:22Z local Firmware Update Manager: Firmware Updated from 12.0.40.1433 to 12.0.36.1428
	// 2004-01-02T01:46:23Z local Firmware Update Manager: Firmware Updated from 12.0.40.1433 to 12.0.36.1428
}
