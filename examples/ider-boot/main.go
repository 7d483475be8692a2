// Ider boots a machine once from a CD image served over IDE-R: it enables
// redirection if needed, arms a one-time boot from the image, resets the
// machine and serves the image until the machine has gone quiet, then puts
// every setting back. With no AMT_HOST it starts a simulated machine
// in-process and serves it a small image made on the spot; with AMT_HOST
// it serves AMT_IMAGE (an ISO file) to that machine.
//
//	go run ./examples/ider-boot
//	AMT_HOST=192.0.2.10 AMT_PASSWORD=... AMT_IMAGE=rescue.iso go run ./examples/ider-boot-boot
package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/internal/testiso"
	"github.com/amtkit/amtkit/redirect"
)

func main() {
	host, user, password := os.Getenv("AMT_HOST"), os.Getenv("AMT_USER"), os.Getenv("AMT_PASSWORD")
	if user == "" {
		user = "admin"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var image io.ReaderAt
	var size int64
	var dev *amtsim.Device
	var opts []amt.Option
	if host == "" {
		password = "Example-P@ss1"
		sim, err := amtsim.New(amtsim.Options{User: user, Password: password, TransitionTime: 200 * time.Millisecond})
		if err != nil {
			log.Fatal(err)
		}
		defer sim.Close()
		dev = sim.Devices()[0]
		host = dev.HTTPAddr()
		opts = append(opts, amt.WithRedirectPort(sim.RedirectPort()))
		iso := testiso.Make(512, 4) // 1 MiB with an El Torito boot record and a 2 KiB boot image
		image, size = bytes.NewReader(iso), int64(len(iso))
		fmt.Println("simulated machine at", host, "redirection port at", dev.RedirectAddr())
	} else {
		f, err := os.Open(os.Getenv("AMT_IMAGE"))
		if err != nil {
			log.Fatal("AMT_IMAGE: ", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			log.Fatal(err)
		}
		image, size = f, st.Size()
	}

	c, err := amt.New(host, append(opts, amt.WithCredentials(user, password))...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.Redirect.BootFromImage(ctx, redirect.BootOptions{
		Media:       redirect.IDERMedia{CD: &redirect.Medium{Reader: image, Size: size}},
		IdleTimeout: time.Second, // the machine has booted when it stops reading
		ConsentCode: func(context.Context) (string, error) {
			fmt.Print("user consent code shown on the machine: ")
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			return line, err
		},
	})
	if res != nil && res.Stats != nil {
		fmt.Printf("%s sent; served %d bytes in %d commands (%s)\n", res.Action, res.Stats.BytesServed, res.Stats.Commands, res.Stats.Stop)
		fmt.Println("restored:", res.Restored)
	}
	if err != nil {
		log.Fatal(err)
	}
	if dev != nil {
		b, err := dev.WaitIDERBoot(ctx, 1)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("the simulated BIOS booted from the %s: ok=%v, boot image sha256 %s\n", b.Medium, b.OK, b.BootImageSHA256)
	}
}
