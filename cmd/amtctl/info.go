package main

import (
	"context"
	"fmt"
	"io"
	"strings"

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
			return f.run(cmd, func(ctx context.Context, c *amt.Client) error {
				rec, err := collectInfo(cmd, c, f.credentials)
				if err != nil {
					return err
				}
				return printInfo(cmd.OutOrStdout(), f.output, rec)
			})
		},
	}
	f.register(cmd)
	f.optionalCredentials = true
	return cmd
}

// infoRecord is the JSON form of info: one object per host. Every key is
// always present; what is not known is null.
type infoRecord struct {
	Host              string       `json:"host"`
	Firmware          *string      `json:"firmware"`
	ProductVersion    *string      `json:"product_version"`
	AMTVersion        *string      `json:"amt_version"`
	Build             *string      `json:"build"`
	SKU               *string      `json:"sku"`
	SKUValue          *uint32      `json:"sku_value"`
	SKUFeatures       []string     `json:"sku_features"`
	ProvisioningState *string      `json:"provisioning_state"`
	ProvisioningMode  *string      `json:"provisioning_mode"`
	DigestRealm       *string      `json:"digest_realm"`
	Hostname          *string      `json:"hostname"`
	DomainName        *string      `json:"domain_name"`
	UUID              *string      `json:"uuid"`
	PlatformGUID      *string      `json:"platform_guid"`
	Ports             []portRecord `json:"ports"`
	Credentials       *credsReport `json:"credentials"`
}

// str is s as a JSON string, null when empty.
func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// val is *p, "" for nil.
func val(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// credsReport says which credentials worked, by profile name only, and
// every attempt made.
type credsReport struct {
	Profile  *string `json:"profile"` // null without a profile (--user/--password)
	Origin   string  `json:"origin"`
	Fallback bool    `json:"fallback"` // a candidate after the first worked

	Attempts []attemptRecord `json:"attempts"`
}

type attemptRecord struct {
	Profile *string `json:"profile"`
	Origin  string  `json:"origin"`
	Outcome string  `json:"outcome"`
	Error   *string `json:"error"`
}

func newCredsReport(res *amt.Resolution) *credsReport {
	if res == nil {
		return nil
	}
	r := &credsReport{Profile: str(res.Profile), Origin: res.Origin.String(), Fallback: usedFallback(res.Attempts), Attempts: []attemptRecord{}}
	for _, a := range res.Attempts {
		ar := attemptRecord{Profile: str(a.Profile), Origin: a.Origin.String(), Outcome: a.Outcome.String()}
		if a.Err != nil {
			ar.Error = str(a.Err.Error())
		}
		r.Attempts = append(r.Attempts, ar)
	}
	return r
}

type portRecord struct {
	InstanceID string  `json:"instance_id"`
	Wireless   bool    `json:"wireless"`
	MAC        string  `json:"mac"`
	IPAddress  *string `json:"ip_address"`
	DHCP       bool    `json:"dhcp"`
	LinkUp     bool    `json:"link_up"`
}

func collectInfo(cmd *cobra.Command, c *amt.Client, withInventory bool) (*infoRecord, error) {
	ctx := cmd.Context()
	id, err := c.Identify(ctx)
	if err != nil {
		return nil, err
	}
	rec := &infoRecord{Host: c.Host(), Firmware: str(id.Firmware), ProductVersion: str(id.ProductVersion), SKUFeatures: []string{}, Ports: []portRecord{}}
	if !withInventory {
		fmt.Fprintln(cmd.ErrOrStderr(), "amtctl: no password given (--password-stdin, AMT_PASSWORD or --profile): showing what the device tells without credentials")
		return rec, nil
	}
	inv, err := c.Inventory(ctx)
	if err != nil {
		if res := c.Resolution(); res != nil && len(res.Attempts) > 1 {
			for _, a := range res.Attempts {
				fmt.Fprintf(cmd.ErrOrStderr(), "amtctl: credentials %s: %s\n", candidateName(a.Origin, a.Profile), a.Outcome)
			}
		}
		return nil, err
	}
	rec.Credentials = newCredsReport(c.Resolution())
	rec.AMTVersion = str(inv.AMTVersion)
	rec.Build = str(inv.Build)
	if rec.Firmware == nil && inv.AMTVersion != "" && inv.Build != "" {
		rec.Firmware = str(inv.AMTVersion + "." + inv.Build)
	}
	rec.SKU = str(inv.SKU.Kind())
	sku := uint32(inv.SKU)
	rec.SKUValue = &sku
	if f := inv.SKU.Features(); f != nil {
		rec.SKUFeatures = f
	}
	rec.ProvisioningState = str(inv.ProvisioningState.String())
	if inv.ProvisioningState == amt.PostProvisioning {
		// An unprovisioned machine has no mode, whatever the register says.
		rec.ProvisioningMode = str(inv.ProvisioningMode.String())
	}
	rec.DigestRealm = str(inv.DigestRealm)
	rec.Hostname = str(inv.Hostname)
	rec.DomainName = str(inv.DomainName)
	rec.UUID = str(inv.UUID)
	rec.PlatformGUID = str(inv.PlatformGUID)
	for _, p := range inv.Ports {
		rec.Ports = append(rec.Ports, portRecord{InstanceID: p.InstanceID, Wireless: p.Wireless, MAC: p.MAC, IPAddress: str(p.IPAddress), DHCP: p.DHCP, LinkUp: p.LinkUp})
	}
	return rec, nil
}

func printInfo(w io.Writer, format string, rec *infoRecord) error {
	if format == "json" {
		return writeJSON(w, rec)
	}
	tw := newTable(w)
	row := func(k string, v *string) {
		if v != nil && *v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, *v)
		}
	}
	row("Host", &rec.Host)
	row("Firmware", rec.Firmware)
	row("Product", rec.ProductVersion)
	row("AMT version", rec.AMTVersion)
	row("Build", rec.Build)
	if rec.SKUValue != nil && *rec.SKUValue != 0 {
		row("SKU", str(fmt.Sprintf("%s (%d: %s)", val(rec.SKU), *rec.SKUValue, strings.Join(rec.SKUFeatures, ", "))))
	}
	if rec.ProvisioningState != nil {
		p := *rec.ProvisioningState
		if rec.ProvisioningMode != nil {
			p += ", " + *rec.ProvisioningMode
		}
		row("Provisioning", &p)
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
		addr := val(p.IPAddress)
		if p.DHCP {
			addr = strings.TrimSpace(addr + " (DHCP)")
		}
		row("Port "+kind, str(strings.TrimSpace(fmt.Sprintf("%s %s link %s", p.MAC, addr, link))))
	}
	return tw.Flush()
}
