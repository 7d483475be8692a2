package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/amtkit/amtkit/amt"
)

func newInfoCommand() *cobra.Command {
	var f deviceFlags
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show a device's AMT version, SKU, provisioning state, realm, names and UUID",
		Long: "info asks the device who it is (without credentials) and, given a password, reads its inventory:\n" +
			"firmware version and build, SKU (full AMT or Standard Manageability), provisioning state and mode,\n" +
			"digest realm, host name and platform UUID. A wrong password fails at once, without retrying into\n" +
			"the device's account lockout.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client(cmd)
			defer f.close()
			if err != nil {
				return err
			}
			defer c.CloseIdleConnections()
			rec, err := collectInfo(cmd, c, f.credentials)
			if err != nil {
				return err
			}
			return printInfo(cmd.OutOrStdout(), f.output, rec)
		},
	}
	f.register(cmd)
	return cmd
}

// infoRecord is the JSON form of info: one object per host.
type infoRecord struct {
	Host              string       `json:"host"`
	Firmware          string       `json:"firmware,omitempty"`
	ProductVersion    string       `json:"product_version,omitempty"`
	AMTVersion        string       `json:"amt_version"`
	Build             string       `json:"build"`
	SKU               string       `json:"sku"`
	SKUValue          uint32       `json:"sku_value"`
	SKUFeatures       []string     `json:"sku_features"`
	ProvisioningState string       `json:"provisioning_state"`
	ProvisioningMode  string       `json:"provisioning_mode"`
	DigestRealm       string       `json:"digest_realm"`
	Hostname          string       `json:"hostname"`
	DomainName        string       `json:"domain_name"`
	UUID              string       `json:"uuid"`
	PlatformGUID      string       `json:"platform_guid"`
	Ports             []portRecord `json:"ports"`
	Credentials       *credsReport `json:"credentials,omitempty"`
}

// credsReport says which credentials worked, by profile name only, and
// every attempt made.
type credsReport struct {
	Profile  string `json:"profile"`
	Origin   string `json:"origin"`
	Fallback bool   `json:"fallback"` // a candidate after the first worked

	Attempts []attemptRecord `json:"attempts"`
}

type attemptRecord struct {
	Profile string `json:"profile"`
	Origin  string `json:"origin"`
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

func newCredsReport(res *amt.Resolution) *credsReport {
	if res == nil {
		return nil
	}
	r := &credsReport{Profile: res.Profile, Origin: res.Origin.String(), Fallback: usedFallback(res.Attempts), Attempts: []attemptRecord{}}
	for _, a := range res.Attempts {
		ar := attemptRecord{Profile: a.Profile, Origin: a.Origin.String(), Outcome: a.Outcome.String()}
		if a.Err != nil {
			ar.Error = a.Err.Error()
		}
		r.Attempts = append(r.Attempts, ar)
	}
	return r
}

type portRecord struct {
	InstanceID string `json:"instance_id"`
	Wireless   bool   `json:"wireless"`
	MAC        string `json:"mac"`
	IPAddress  string `json:"ip_address,omitempty"`
	DHCP       bool   `json:"dhcp"`
	LinkUp     bool   `json:"link_up"`
}

func collectInfo(cmd *cobra.Command, c *amt.Client, withInventory bool) (*infoRecord, error) {
	ctx := cmd.Context()
	id, err := c.Identify(ctx)
	if err != nil {
		return nil, err
	}
	rec := &infoRecord{Host: c.Host(), Firmware: id.Firmware, ProductVersion: id.ProductVersion, SKUFeatures: []string{}, Ports: []portRecord{}}
	if !withInventory {
		fmt.Fprintln(cmd.ErrOrStderr(), "amtctl: no password given (--password or AMT_PASSWORD): showing what the device tells without credentials")
		return rec, nil
	}
	inv, err := c.Inventory(ctx)
	if err != nil {
		if res := c.Resolution(); res != nil && len(res.Attempts) > 1 {
			for _, a := range res.Attempts {
				fmt.Fprintf(cmd.ErrOrStderr(), "amtctl: credentials %s %q: %s\n", a.Origin, a.Profile, a.Outcome)
			}
		}
		return nil, err
	}
	rec.Credentials = newCredsReport(c.Resolution())
	rec.AMTVersion = inv.AMTVersion
	rec.Build = inv.Build
	rec.SKU = inv.SKU.Kind()
	rec.SKUValue = uint32(inv.SKU)
	if f := inv.SKU.Features(); f != nil {
		rec.SKUFeatures = f
	}
	rec.ProvisioningState = inv.ProvisioningState.String()
	rec.ProvisioningMode = inv.ProvisioningMode.String()
	rec.DigestRealm = inv.DigestRealm
	rec.Hostname = inv.Hostname
	rec.DomainName = inv.DomainName
	rec.UUID = inv.UUID
	rec.PlatformGUID = inv.PlatformGUID
	for _, p := range inv.Ports {
		rec.Ports = append(rec.Ports, portRecord{InstanceID: p.InstanceID, Wireless: p.Wireless, MAC: p.MAC, IPAddress: p.IPAddress, DHCP: p.DHCP, LinkUp: p.LinkUp})
	}
	return rec, nil
}

func printInfo(w io.Writer, format string, rec *infoRecord) error {
	if format == "json" {
		return json.NewEncoder(w).Encode(rec)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("Host", rec.Host)
	row("Firmware", rec.Firmware)
	row("Product", rec.ProductVersion)
	row("AMT version", rec.AMTVersion)
	row("Build", rec.Build)
	if rec.SKUValue != 0 {
		row("SKU", fmt.Sprintf("%s (%d: %s)", rec.SKU, rec.SKUValue, strings.Join(rec.SKUFeatures, ", ")))
	}
	if rec.ProvisioningState != "" {
		row("Provisioning", rec.ProvisioningState+", "+rec.ProvisioningMode)
	}
	row("Digest realm", rec.DigestRealm)
	row("Host name", rec.Hostname)
	row("Domain", rec.DomainName)
	row("UUID", rec.UUID)
	for _, p := range rec.Ports {
		kind := "wired"
		if p.Wireless {
			kind = "wireless"
		}
		link := "down"
		if p.LinkUp {
			link = "up"
		}
		addr := p.IPAddress
		if p.DHCP {
			addr = strings.TrimSpace(addr + " (DHCP)")
		}
		row("Port "+kind, strings.TrimSpace(fmt.Sprintf("%s %s link %s", p.MAC, addr, link)))
	}
	return tw.Flush()
}
