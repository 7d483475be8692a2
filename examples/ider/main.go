// Ider boots a machine once from a CD image served over IDE-R: it enables
// redirection if needed, arms a one-time boot from the image, resets the
// machine and serves the image until the machine has gone quiet, then puts
// every setting back. With no AMT_HOST it starts a simulated machine
// in-process and serves it a small image made on the spot; with AMT_HOST
// it serves AMT_IMAGE (an ISO file) to that machine.
//
//	go run ./examples/ider
//	AMT_HOST=192.0.2.10 AMT_PASSWORD=... AMT_IMAGE=rescue.iso go run ./examples/ider
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/amt/amtsim"
	"github.com/amtkit/amtkit/credentials"
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
	redirAddr := ""
	var dev *amtsim.Device
	if host == "" {
		password = "Example-P@ss1"
		sim, err := amtsim.New(amtsim.Options{User: user, Password: password, TransitionTime: 200 * time.Millisecond})
		if err != nil {
			log.Fatal(err)
		}
		defer sim.Close()
		dev = sim.Devices()[0]
		host, redirAddr = dev.HTTPAddr(), dev.RedirectAddr()
		iso := makeISO()
		image, size = bytes.NewReader(iso), int64(len(iso))
		fmt.Println("simulated machine at", host, "redirection port at", redirAddr)
		// The simulator completes a reset when it is next asked
		// something; waiting for the boot asks.
		go func() { _, _ = dev.WaitIDERBoot(ctx, 1) }()
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

	c, err := amt.New(host, amt.WithCredentials(user, password))
	if err != nil {
		log.Fatal(err)
	}
	if redirAddr == "" {
		h, _, err := net.SplitHostPort(c.Host())
		if err != nil {
			log.Fatal(err)
		}
		redirAddr = net.JoinHostPort(h, "16994")
	}
	dial := redirect.Dialer(redirAddr, credentials.Credential{User: user, Password: password}, redirect.Options{})

	res, err := redirect.BootFromImage(ctx, c.WSMan(), c.Power, dial, redirect.BootOptions{
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

// makeISO makes a 1 MiB CD image that a BIOS can boot: an El Torito boot
// record at sector 17, its catalog at 19 and a 2 KiB boot image at 20.
func makeISO() []byte {
	img := make([]byte, 512*2048)
	br := img[17*2048:]
	br[6] = 1
	copy(br[1:6], "CD001")
	copy(br[7:], "EL TORITO SPECIFICATION")
	binary.LittleEndian.PutUint32(br[0x47:], 19)
	cat := img[19*2048:]
	cat[0], cat[0x1E], cat[0x1F] = 1, 0x55, 0xAA
	var sum uint16
	for i := 0; i < 32; i += 2 {
		sum += binary.LittleEndian.Uint16(cat[i:])
	}
	binary.LittleEndian.PutUint16(cat[0x1C:], -sum)
	cat[32] = 0x88                                // bootable, no emulation
	binary.LittleEndian.PutUint16(cat[32+6:], 4)  // 4 × 512 bytes
	binary.LittleEndian.PutUint32(cat[32+8:], 20) // at sector 20
	copy(img[20*2048:], "a boot loader would be here")
	return img
}
